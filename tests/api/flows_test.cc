// Flows through the API (docs/api.md), on SQLite and on a real redis-server: the Idempotency-Key header and
// concurrent creates with one key, depends_on (waiting, cancelled with DEPENDENCY_FAILED, foreign ids
// refused), batches (create, counts, WebSocket), dead letters (list, filtered retry, NOT_FAILED).
#include <set>
#include <thread>

#include "../queue/redis_harness.h"
#include "harness.h"

namespace wasmq::api::testing {
namespace {

enum class Backend { Sqlite, Redis };

class FlowsApiTest : public ApiTest, public ::testing::WithParamInterface<Backend> {
 protected:
  void Start(ApiConfig config = {}) {
    if (GetParam() == Backend::Redis) {
      auto* redis = wasmq::testing::SharedRedis();
      ASSERT_NE(redis, nullptr) << wasmq::testing::RedisServer::last_error();
      store_url_ = redis->url() + "?prefix=" + wasmq::testing::UniquePrefix("api");
    }
    StartServer(std::move(config));
  }
  HttpReply PostWithKey(const Json& body, const std::string& key) {
    return Http(port(), "POST", "/api/v1/tasks", body.dump(),
                {{"Content-Type", "application/json"}, {"Idempotency-Key", key}});
  }
  queue::Lease ClaimId(const std::string& id) {
    auto c = inner().Dequeue({.owner = "w", .lease_ms = 60'000, .max_tasks = 20});
    EXPECT_TRUE(c.ok());
    queue::Lease found;
    for (const queue::Claimed& x : c.ok() ? *c : std::vector<queue::Claimed>{}) {
      if (x.task.task_id == id) found = x.lease;
      else EXPECT_TRUE(inner().Release(x.lease).ok());
    }
    EXPECT_EQ(found.task_id, id);
    return found;
  }
};

TEST_P(FlowsApiTest, IdempotencyKeyReturnsTheSameTask) {
  Start();
  Json body = {{"mode", "HEAD_SWAP"}, {"config", {{"k", 1}}}};
  HttpReply first = PostWithKey(body, "order-1");
  ASSERT_EQ(first.status, 201) << first.body;
  HttpReply again = PostWithKey(body, "order-1");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json()["data"]["task_id"], first.json()["data"]["task_id"]);
  EXPECT_EQ(again.header("idempotent-replayed"), "true");
  // The body's field is the same key.
  Json with_field = body;
  with_field["idempotency_key"] = "order-1";
  HttpReply field = Post("/api/v1/tasks", with_field);
  EXPECT_EQ(field.status, 200) << field.body;
  HttpReply other = PostWithKey({{"mode", "HEAD_SWAP"}, {"config", {{"k", 2}}}}, "order-1");
  EXPECT_EQ(other.status, 409);
  EXPECT_EQ(other.error_code(), "IDEMPOTENCY_CONFLICT");
  Json mismatch = body;
  mismatch["idempotency_key"] = "order-2";
  EXPECT_EQ(PostWithKey(mismatch, "order-1").status, 422);
  EXPECT_EQ(Get("/api/v1/tasks").json()["data"]["total"], 1);
}

// Many concurrent creates with one key, on several connections at once: one task.
TEST_P(FlowsApiTest, ConcurrentCreatesWithOneKeyMakeOneTask) {
  Start();
  std::mutex mu;
  std::set<std::string> ids;
  std::map<int, int> statuses;
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      for (int j = 0; j < 5; ++j) {
        HttpReply r = PostWithKey({{"mode", "HEAD_SWAP"}}, "race");
        std::lock_guard lock(mu);
        ++statuses[r.status];
        if (r.status == 200 || r.status == 201) ids.insert(r.json()["data"]["task_id"].get<std::string>());
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(statuses[201], 1);
  EXPECT_EQ(statuses[200], 39);
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(Get("/api/v1/tasks").json()["data"]["total"], 1);
}

TEST_P(FlowsApiTest, DependsOnWaitsAndIsCancelledWhenADependencyFails) {
  ApiConfig c;
  c.auth_required = true;
  Start(c);
  const std::string alice = Token("alice"), bob = Token("bob");
  const std::string a = Submit(alice);
  HttpReply b = Post("/api/v1/tasks", {{"mode", "HEAD_SWAP"}, {"depends_on", {a}}}, alice);
  ASSERT_EQ(b.status, 201) << b.body;
  EXPECT_EQ(b.json()["data"]["waiting_on"], Json::array({a}));
  const std::string b_id = b.json()["data"]["task_id"];
  // Another user's task and an unknown id get the same refusal.
  HttpReply foreign = Post("/api/v1/tasks", {{"mode", "HEAD_SWAP"}, {"depends_on", {a}}}, bob);
  HttpReply unknown = Post("/api/v1/tasks", {{"mode", "HEAD_SWAP"}, {"depends_on", {"task_20231117_nope"}}}, bob);
  EXPECT_EQ(foreign.status, 422);
  EXPECT_EQ(unknown.status, 422);
  EXPECT_EQ(foreign.json()["error"]["message"].get<std::string>().find(a) != std::string::npos, true);
  queue::Lease l = ClaimId(a);
  ASSERT_TRUE(inner().Fail(l, {.code = "TRAP", .message = "x", .attempt = 1}).ok());
  Json got = Get("/api/v1/tasks/" + b_id, alice).json()["data"];
  EXPECT_EQ(got["status"], "cancelled");
  EXPECT_EQ(got["error"]["code"], "DEPENDENCY_FAILED");
  HttpReply late = Post("/api/v1/tasks", {{"mode", "HEAD_SWAP"}, {"depends_on", {a}}}, alice);
  EXPECT_EQ(late.status, 409);
  EXPECT_EQ(late.error_code(), "DEPENDENCY_FAILED");
}

TEST_P(FlowsApiTest, BatchesAreCreatedTogetherAndCounted) {
  Start();
  HttpReply r = Post("/api/v1/batches", {{"tasks", {{{"mode", "HEAD_SWAP"}}, {{"mode", "POSE_CHANGE"}}, {{"mode", "HEAD_SWAP"}}}}});
  ASSERT_EQ(r.status, 201) << r.body;
  Json b = r.json()["data"];
  const std::string id = b["batch_id"];
  EXPECT_EQ(b["size"], 3);
  EXPECT_EQ(r.header("location"), "/api/v1/batches/" + id);
  // One bad request: nothing is created.
  HttpReply bad = Post("/api/v1/batches", {{"tasks", {{{"mode", "HEAD_SWAP"}}, {{"mode", "NOPE"}}}}});
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(Get("/api/v1/tasks").json()["data"]["total"], 3);
  WsClient ws;
  ASSERT_EQ(ws.Connect(port(), "/api/v1/batches/" + id + "/ws"), 101);
  Json snap = ws.Read();
  EXPECT_EQ(snap["type"], "snapshot");
  EXPECT_EQ(snap["batch"]["counts"]["pending"], 3);
  EXPECT_EQ(snap["tasks"].size(), 3u);
  // The only POSE_CHANGE task: claimed alone, so the stream's next event is its claim.
  auto claimed = inner().Dequeue({.owner = "w", .lease_ms = 60'000, .modes = {"POSE_CHANGE"}});
  ASSERT_TRUE(claimed.ok() && claimed->size() == 1);
  queue::Lease l = claimed->front().lease;
  Json event = ws.Read();
  EXPECT_EQ(event["task_id"], b["task_ids"][1]);
  EXPECT_EQ(event["status"], "processing");
  ASSERT_TRUE(inner().Complete(l, {}).ok());
  Json got = Get("/api/v1/batches/" + id).json()["data"];
  EXPECT_EQ(got["counts"]["done"], 1);
  EXPECT_EQ(got["counts"]["pending"], 2);
  EXPECT_EQ(got["finished"], 1);
  EXPECT_EQ(Get("/api/v1/batches/batch_nope").status, 404);
}

TEST_P(FlowsApiTest, DeadLettersAreListedAndRetried) {
  Start();
  const std::string a = Submit(), b = Submit("", {{"mode", "POSE_CHANGE"}}), c = Submit();
  ASSERT_TRUE(inner().Fail(ClaimId(a), {.code = "TRAP", .message = "t", .attempt = 1}).ok());
  ASSERT_TRUE(inner().Fail(ClaimId(b), {.code = "TIMEOUT", .message = "slow", .attempt = 1}).ok());
  Json all = Get("/api/v1/dead-letters").json()["data"];
  EXPECT_EQ(all["total"], 2);
  EXPECT_TRUE(all["tasks"][0].contains("attempts"));
  Json trap = Get("/api/v1/dead-letters?error_code=TRAP").json()["data"];
  ASSERT_EQ(trap["total"], 1);
  EXPECT_EQ(trap["tasks"][0]["task_id"], a);
  EXPECT_EQ(Get("/api/v1/dead-letters?mode=POSE_CHANGE").json()["data"]["tasks"][0]["task_id"], b);
  EXPECT_EQ(Get("/api/v1/dead-letters?bogus=1").status, 422);
  HttpReply listed = Post("/api/v1/dead-letters/retry", {{"task_ids", {a, c}}});
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.json()["data"]["retried"], Json::array({a}));
  EXPECT_EQ(listed.json()["data"]["refused"][0]["code"], "NOT_FAILED");
  HttpReply filtered = Post("/api/v1/dead-letters/retry", {{"mode", "POSE_CHANGE"}});
  ASSERT_EQ(filtered.status, 200) << filtered.body;
  EXPECT_EQ(filtered.json()["data"]["retried"], Json::array({b}));
  EXPECT_EQ(Get("/api/v1/dead-letters").json()["data"]["total"], 0);
}

std::string BackendName(const ::testing::TestParamInfo<Backend>& p) {
  return p.param == Backend::Sqlite ? "sqlite" : "redis";
}

INSTANTIATE_TEST_SUITE_P(Backends, FlowsApiTest, ::testing::Values(Backend::Sqlite, Backend::Redis), BackendName);

}  // namespace
}  // namespace wasmq::api::testing
