// The dashboard's routes (issue #23), on SQLite and on a real redis-server: GET /api/v1/pipelines, a task's
// attempts and timeline, POST /api/v1/tasks/{id}/retry, GET /api/v1/workers, GET
// /api/v1/tasks/stats/history — with auth off, and with auth on for two users and an admin.
#include "../queue/redis_harness.h"
#include "harness.h"

namespace wasmq::api::testing {
namespace {

enum class Backend { Sqlite, Redis };

class DashboardTest : public ApiTest, public ::testing::WithParamInterface<Backend> {
 protected:
  void Start(ApiConfig config = {}) {
    if (GetParam() == Backend::Redis) {
      auto* redis = wasmq::testing::SharedRedis();
      ASSERT_NE(redis, nullptr) << wasmq::testing::RedisServer::last_error();
      store_url_ = redis->url() + "?prefix=" + wasmq::testing::UniquePrefix("api");
    }
    StartServer(std::move(config));
  }
  void StartWithAuth() {
    ApiConfig c;
    c.auth_required = true;
    Start(c);
  }
  std::string Admin() const { return SignToken(kSecret, "root", std::chrono::hours(1), /*admin=*/true); }

  // Claims the next task as a worker process named by `owner` would.
  queue::Lease ClaimAs(const std::string& owner) {
    auto c = inner().Dequeue({.owner = owner, .lease_ms = 60'000});
    EXPECT_TRUE(c.ok() && !c->empty());
    return c.ok() && !c->empty() ? c->front().lease : queue::Lease{};
  }
  void FailIt(const queue::Lease& l, const std::string& code = "EXIT") {
    auto r = inner().Fail(l, {.code = code, .message = "exit 3", .attempt = l.attempt, .stderr_tail = "oops"});
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
};

const std::string kOwner = "wasmq/hostA/4242/n0nce/boot/ns";

TEST_P(DashboardTest, PipelinesListsWhatTheServerWasGiven) {
  ApiConfig c;
  c.pipelines = [] {
    return Json::array({{{"mode", "HEAD_SWAP"},
                         {"source", "builtin"},
                         {"config_schema", {{"type", "object"}}}}});
  };
  Start(c);
  HttpReply r = Get("/api/v1/pipelines");
  ASSERT_EQ(r.status, 200) << r.body;
  Json list = r.json()["data"]["pipelines"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["mode"], "HEAD_SWAP");
  EXPECT_EQ(list[0]["config_schema"]["type"], "object");
}

TEST_P(DashboardTest, PipelinesIsEmptyWithoutARegistryAndNeedsATokenWithAuth) {
  StartWithAuth();
  EXPECT_EQ(Get("/api/v1/pipelines").status, 401);
  HttpReply r = Get("/api/v1/pipelines", Token("alice"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["data"]["pipelines"], Json::array());
}

TEST_P(DashboardTest, TaskShowsItsAttemptsAndTimeline) {
  Start();
  const std::string id = Submit("", {{"mode", "HEAD_SWAP"}, {"max_retries", 1}});
  queue::Lease l = ClaimAs(kOwner);
  ASSERT_TRUE(inner().Progress(l, 40, "warping").ok());
  ASSERT_TRUE(inner().Retry(l, {.code = "TIMEOUT", .message = "too slow", .attempt = 1}, 0).ok());
  l = ClaimAs(kOwner);
  ASSERT_TRUE(inner().Complete(l, queue::TaskResult{.duration_ms = 5}).ok());
  HttpReply r = Get("/api/v1/tasks/" + id);
  ASSERT_EQ(r.status, 200) << r.body;
  Json d = r.json()["data"];
  EXPECT_EQ(d["status"], "done");  // the existing fields are still there
  ASSERT_EQ(d["attempts"].size(), 2u) << d.dump();
  EXPECT_EQ(d["attempts"][0]["attempt"], 1);
  EXPECT_EQ(d["attempts"][0]["outcome"], "timeout");
  EXPECT_EQ(d["attempts"][0]["error"]["code"], "TIMEOUT");
  EXPECT_EQ(d["attempts"][0]["worker"], "hostA:4242");
  EXPECT_TRUE(d["attempts"][0]["finished_at"].is_string());
  EXPECT_EQ(d["attempts"][1]["outcome"], "done");
  std::vector<std::string> kinds;
  for (const Json& e : d["timeline"]) kinds.push_back(e["kind"]);
  EXPECT_EQ(kinds, (std::vector<std::string>{"created", "started", "progress", "retry_scheduled", "started", "done"}));
  EXPECT_EQ(d["timeline"][2]["progress"], 40);
  EXPECT_EQ(d["timeline"][2]["step"], "warping");
  EXPECT_EQ(d["timeline"][2]["attempt"], 1);
}

TEST_P(DashboardTest, RetryRefusesAnythingButAFailedTask) {
  Start();
  const std::string id = Submit();
  HttpReply r = Post("/api/v1/tasks/" + id + "/retry", nullptr);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.error_code(), "NOT_FAILED");
  queue::Lease l = ClaimAs(kOwner);
  EXPECT_EQ(Post("/api/v1/tasks/" + id + "/retry", nullptr).error_code(), "NOT_FAILED");  // processing
  ASSERT_TRUE(inner().Complete(l, {}).ok());
  EXPECT_EQ(Post("/api/v1/tasks/" + id + "/retry", nullptr).error_code(), "NOT_FAILED");  // done
  const std::string gone = Submit();
  ASSERT_EQ(Post("/api/v1/tasks/" + gone + "/cancel", nullptr).status, 200);
  EXPECT_EQ(Post("/api/v1/tasks/" + gone + "/retry", nullptr).error_code(), "NOT_FAILED");  // cancelled
  EXPECT_EQ(Post("/api/v1/tasks/task_20990101_nope/retry", nullptr).status, 404);
}

TEST_P(DashboardTest, RetryPutsAFailedTaskBackAndKeepsItsHistory) {
  Start();
  const std::string id = Submit("", {{"mode", "HEAD_SWAP"}, {"max_retries", 0}});
  FailIt(ClaimAs(kOwner));
  HttpReply r = Post("/api/v1/tasks/" + id + "/retry", nullptr);
  ASSERT_EQ(r.status, 200) << r.body;
  Json d = r.json()["data"];
  EXPECT_EQ(d["status"], "pending");
  EXPECT_EQ(d["attempt"], 0);
  EXPECT_EQ(d["max_retries"], 0);
  ASSERT_EQ(d["attempts"].size(), 1u);
  EXPECT_EQ(d["attempts"][0]["outcome"], "failed");
  EXPECT_EQ(d["attempts"][0]["error"]["stderr"], "oops");
  EXPECT_EQ(d["timeline"].back()["kind"], "retry_scheduled");
  // It runs again and succeeds; both attempts are in its history.
  ASSERT_TRUE(inner().Complete(ClaimAs(kOwner), {}).ok());
  d = Get("/api/v1/tasks/" + id).json()["data"];
  EXPECT_EQ(d["status"], "done");
  ASSERT_EQ(d["attempts"].size(), 2u);
  EXPECT_EQ(d["attempts"][1]["outcome"], "done");
}

TEST_P(DashboardTest, AnotherUsersTaskAndItsRetryAre404ButAnAdminSeesThem) {
  StartWithAuth();
  const std::string alice = Token("alice"), bob = Token("bob");
  const std::string id = Submit(alice);
  FailIt(ClaimAs(kOwner));
  EXPECT_EQ(Get("/api/v1/tasks/" + id, bob).status, 404);
  HttpReply r = Post("/api/v1/tasks/" + id + "/retry", nullptr, bob);
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(Get("/api/v1/tasks/" + id, alice).json()["data"]["status"], "failed");  // bob changed nothing
  EXPECT_EQ(Get("/api/v1/tasks/" + id, Admin()).status, 200);
  EXPECT_EQ(Post("/api/v1/tasks/" + id + "/retry", nullptr, Admin()).status, 200);
  // The admin's list holds everyone's tasks and filters by user; a user's holds their own.
  Submit(bob);
  EXPECT_EQ(Get("/api/v1/tasks", Admin()).json()["data"]["total"], 2);
  EXPECT_EQ(Get("/api/v1/tasks?user=bob", Admin()).json()["data"]["total"], 1);
  EXPECT_EQ(Get("/api/v1/tasks", alice).json()["data"]["total"], 1);
  EXPECT_EQ(Get("/api/v1/tasks?user=bob", alice).status, 422);
}

TEST_P(DashboardTest, WorkersAreForAdminsAndShowWhatEachRuns) {
  StartWithAuth();
  queue::WorkerInfo w = queue::WorkerFromOwner(kOwner);
  w.started_at = w.last_heartbeat = queue::NowMs();
  w.concurrency = 2;
  w.heartbeat_ms = 10'000;
  ASSERT_TRUE(inner().PutWorker(w).ok());
  const std::string id = Submit(Token("alice"), {{"mode", "POSE_CHANGE"}});
  queue::Lease l = ClaimAs(kOwner);
  ASSERT_TRUE(inner().Progress(l, 40, "x").ok());
  EXPECT_EQ(Get("/api/v1/workers").status, 401);
  HttpReply r = Get("/api/v1/workers", Token("alice"));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.error_code(), "FORBIDDEN");
  r = Get("/api/v1/workers", Admin());
  ASSERT_EQ(r.status, 200) << r.body;
  Json ws = r.json()["data"]["workers"];
  ASSERT_EQ(ws.size(), 1u) << ws.dump();
  EXPECT_EQ(ws[0]["id"], "hostA:4242:n0nce");
  EXPECT_EQ(ws[0]["host"], "hostA");
  EXPECT_EQ(ws[0]["pid"], 4242);
  EXPECT_EQ(ws[0]["concurrency"], 2);
  EXPECT_TRUE(ws[0]["last_heartbeat"].is_string());
  ASSERT_EQ(ws[0]["running"].size(), 1u);
  EXPECT_EQ(ws[0]["running"][0]["task_id"], id);
  EXPECT_EQ(ws[0]["running"][0]["mode"], "POSE_CHANGE");
  EXPECT_EQ(ws[0]["running"][0]["progress"], 40);
}

TEST_P(DashboardTest, WorkersNeedNoAdminWithAuthOff) {
  Start();
  HttpReply r = Get("/api/v1/workers");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["data"]["workers"], Json::array());
}

TEST_P(DashboardTest, StatsHistoryCountsFinishedTasksPerModeAndStep) {
  StartWithAuth();
  const std::string alice = Token("alice"), bob = Token("bob");
  for (int i = 0; i < 3; ++i) Submit(alice, {{"mode", "HEAD_SWAP"}, {"max_retries", 0}});
  Submit(bob, {{"mode", "POSE_CHANGE"}});
  for (int i = 0; i < 3; ++i) {
    queue::Lease l = ClaimAs(kOwner);
    if (i == 0)
      FailIt(l);
    else
      ASSERT_TRUE(inner().Complete(l, {}).ok());
  }
  ASSERT_TRUE(inner().Complete(ClaimAs(kOwner), {}).ok());  // bob's
  HttpReply r = Get("/api/v1/tasks/stats/history?window=1h&step=1m", alice);
  ASSERT_EQ(r.status, 200) << r.body;
  Json d = r.json()["data"];
  EXPECT_EQ(d["step_ms"], 60000);
  EXPECT_TRUE(d["from"].is_string());
  ASSERT_EQ(d["series"].size(), 1u) << d.dump();  // alice's mode only
  EXPECT_EQ(d["series"][0]["mode"], "HEAD_SWAP");
  Json points = d["series"][0]["points"];
  EXPECT_EQ(points.size(), 60u);
  int64_t done = 0, failed = 0;
  for (const Json& p : points) {
    done += p["done"].get<int64_t>();
    failed += p["failed"].get<int64_t>();
  }
  EXPECT_EQ(done, 2);
  EXPECT_EQ(failed, 1);
  EXPECT_TRUE(points.back()["mean_ms"].is_number());
  EXPECT_EQ(Get("/api/v1/tasks/stats/history", Admin()).json()["data"]["series"].size(), 2u);
  EXPECT_EQ(Get("/api/v1/tasks/stats/history?step=1s", alice).status, 422);
  EXPECT_EQ(Get("/api/v1/tasks/stats/history?window=48h", alice).status, 422);
  EXPECT_EQ(Get("/api/v1/tasks/stats/history?window=1m&step=5m", alice).status, 422);
  EXPECT_EQ(Get("/api/v1/tasks/stats/history?bogus=1", alice).status, 422);
  EXPECT_EQ(Get("/api/v1/tasks/stats/history?window=10m&step=10s", alice).json()["data"]["series"][0]["points"].size(),
            60u);
}

INSTANTIATE_TEST_SUITE_P(Backends, DashboardTest, ::testing::Values(Backend::Sqlite, Backend::Redis),
                         [](const auto& p) { return p.param == Backend::Sqlite ? "sqlite" : "redis"; });

}  // namespace
}  // namespace wasmq::api::testing
