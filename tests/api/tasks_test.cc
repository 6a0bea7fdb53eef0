// /api/v1/tasks against the real server: submit, list, get, cancel, stats, outputs, and every error path.
#include <unistd.h>

#include <fstream>

#include "harness.h"

namespace wasmq::api::testing {
namespace {

class TasksTest : public ApiTest {
 protected:
  void SetUp() override { StartServer(); }
};

TEST_F(TasksTest, SubmitAnswers201WithTheTaskAndItsLocation) {
  HttpReply r = Post("/api/v1/tasks", {{"mode", "HEAD_SWAP"}, {"priority", 5}, {"config", {{"k", 1}}}});
  ASSERT_EQ(r.status, 201) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["success"], true);
  const Json& t = j["data"];
  EXPECT_TRUE(t["task_id"].get<std::string>().starts_with("task_"));
  EXPECT_EQ(t["status"], "pending");
  EXPECT_EQ(t["mode"], "HEAD_SWAP");
  EXPECT_EQ(t["priority"], 5);
  EXPECT_EQ(t["config"]["k"], 1);
  EXPECT_EQ(t["user_id"], nullptr);  // auth off: the anonymous user
  EXPECT_EQ(r.header("location"), "/api/v1/tasks/" + t["task_id"].get<std::string>());
  EXPECT_EQ(r.header("content-type"), "application/json");
}

// A delayed task: delay_ms (or run_at) at create; it is pending with its run_at, in GET and in the list.
TEST_F(TasksTest, SubmitADelayedTask) {
  HttpReply r = Post("/api/v1/tasks", {{"mode", "HEAD_SWAP"}, {"delay_ms", 3'600'000}});
  ASSERT_EQ(r.status, 201) << r.body;
  const Json t = r.json()["data"];
  EXPECT_EQ(t["status"], "pending");
  auto run_at = queue::ParseTime(t["run_at"].get<std::string>());
  auto created = queue::ParseTime(t["created_at"].get<std::string>());
  ASSERT_TRUE(run_at && created);
  EXPECT_EQ(*run_at - *created, 3'600'000);
  HttpReply at = Post("/api/v1/tasks", {{"mode", "HEAD_SWAP"}, {"run_at", "2999-01-01T00:00:00Z"}});
  EXPECT_EQ(at.status, 422) << at.body;  // more than 366 days ahead
  HttpReply both = Post("/api/v1/tasks", {{"mode", "HEAD_SWAP"}, {"run_at", t["run_at"]}, {"delay_ms", 1}});
  EXPECT_EQ(both.status, 422) << both.body;
  HttpReply list = Get("/api/v1/tasks");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.json()["data"]["tasks"][0]["run_at"], t["run_at"]);
}

TEST_F(TasksTest, SubmitRefusesWhatIsNotAValidTask) {
  auto post = [&](const std::string& body, const std::string& type = "application/json") {
    return Http(port(), "POST", "/api/v1/tasks", body, {{"Content-Type", type}});
  };
  HttpReply r = post("{\"mode\": ");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_code(), "MALFORMED_JSON");
  EXPECT_EQ(r.json()["success"], false);
  EXPECT_FALSE(r.json()["error"]["message"].get<std::string>().empty());
  EXPECT_EQ(Http(port(), "POST", "/api/v1/tasks").status, 415);  // no body, no type
  r = post(R"({"mode":"HEAD_SWAP"})", "text/plain");
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(r.error_code(), "UNSUPPORTED_MEDIA_TYPE");
  EXPECT_EQ(post(R"({"mode":"HEAD_SWAP"})", "application/vnd.x+json; charset=utf-8").status, 201);
  for (const char* bad : {R"([1])", R"({})", R"({"mode":"NOPE"})", R"({"mode":"HEAD_SWAP","priorty":1})",
                          R"({"mode":"HEAD_SWAP","priority":500})", R"({"mode":"HEAD_SWAP","config":[]})",
                          R"({"mode":"HEAD_SWAP","timeout_ms":0})", R"({"mode":"HEAD_SWAP","source_image":"../x"})"}) {
    r = post(bad);
    EXPECT_EQ(r.status, 422) << bad << " → " << r.body;
    EXPECT_EQ(r.error_code(), "VALIDATION_FAILED") << bad;
  }
  r = post(R"({"mode":"HEAD_SWAP","source_image":"img_20230101_nosuchfile"})");
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("source_image"), std::string::npos);
  r = post(R"({"mode":"HEAD_SWAP","config":{"reference_image":"img_20230101_nosuchfile"}})");
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("config.reference_image"), std::string::npos);
}

TEST_F(TasksTest, SubmitWithAnUploadedImage) {
  std::string img = Upload();
  HttpReply r = Post("/api/v1/tasks", {{"mode", "HEAD_SWAP"}, {"source_image", img}, {"config", {{"reference_image", img}}}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["data"]["source_image"], img);
}

TEST_F(TasksTest, SubmitRefusesAnOversizedBody) {
  std::string big = R"({"mode":"HEAD_SWAP","config":{"pad":")" + std::string(2 << 20, 'a') + "\"}}";
  HttpReply r = Http(port(), "POST", "/api/v1/tasks", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.error_code(), "PAYLOAD_TOO_LARGE");
  // Chunked, so the size is only known while reading.
  std::string chunked = "POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n";
  std::string answer = Raw(port(), chunked + "200000\r\n" + std::string(0x200000, 'a') + "\r\n0\r\n\r\n");
  EXPECT_EQ(RawStatus(answer), 413) << answer.substr(0, 200);
}

TEST_F(TasksTest, GetReturnsTheTaskOr404) {
  std::string id = Submit();
  HttpReply r = Get("/api/v1/tasks/" + id);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["data"]["task_id"], id);
  EXPECT_EQ(r.json()["data"]["progress"], 0);
  for (const std::string& missing : std::vector<std::string>{"task_20230101_doesnotexist0000", "not-a-task", "task_%2e%2e", "task_" + std::string(300, 'x')}) {
    r = Get("/api/v1/tasks/" + missing);
    EXPECT_EQ(r.status, 404) << missing;
    EXPECT_EQ(r.error_code(), "NOT_FOUND");
  }
  EXPECT_EQ(Http(port(), "HEAD", "/api/v1/tasks/" + id).status, 200);
}

TEST_F(TasksTest, ListPagesAndFilters) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Submit("", {{"mode", i < 3 ? "HEAD_SWAP" : "POSE_CHANGE"}}));
  HttpReply r = Get("/api/v1/tasks?page=1&page_size=2");
  ASSERT_EQ(r.status, 200) << r.body;
  Json d = r.json()["data"];
  EXPECT_EQ(d["total"], 5);
  EXPECT_EQ(d["page_size"], 2);
  EXPECT_EQ(d["has_more"], true);
  ASSERT_EQ(d["tasks"].size(), 2u);
  EXPECT_EQ(d["tasks"][0]["task_id"], ids[4]);  // newest first
  EXPECT_EQ(Get("/api/v1/tasks?mode=POSE_CHANGE").json()["data"]["total"], 2);
  EXPECT_EQ(Get("/api/v1/tasks?status=pending&mode=HEAD_SWAP").json()["data"]["total"], 3);
  EXPECT_EQ(Get("/api/v1/tasks?status=done").json()["data"]["total"], 0);
  EXPECT_EQ(Get("/api/v1/tasks?page=3&page_size=2").json()["data"]["tasks"].size(), 1u);
  for (const char* bad : {"page=0", "page=x", "page_size=201", "page_size=0", "status=running", "stauts=done",
                          "page=1e3", "page=-1", "mode=bad%20mode"}) {
    r = Get(std::string("/api/v1/tasks?") + bad);
    EXPECT_EQ(r.status, 422) << bad << " → " << r.body;
  }
  r = Get("/api/v1/tasks?page=%zz");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_code(), "BAD_REQUEST");
}

TEST_F(TasksTest, CancelAPendingTaskThenConflict) {
  std::string id = Submit();
  HttpReply r = Post("/api/v1/tasks/" + id + "/cancel", nullptr);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["data"]["status"], "cancelled");
  r = Post("/api/v1/tasks/" + id + "/cancel", nullptr);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.error_code(), "CONFLICT");
  EXPECT_EQ(Post("/api/v1/tasks/task_20230101_nothere/cancel", nullptr).status, 404);
}

TEST_F(TasksTest, CancelAProcessingTaskRevokesItsLease) {
  std::string id = Submit();
  queue::Lease lease = Claim();
  EXPECT_EQ(Get("/api/v1/tasks/" + id).json()["data"]["status"], "processing");
  EXPECT_EQ(Post("/api/v1/tasks/" + id + "/cancel", nullptr).status, 200);
  EXPECT_FALSE(store_->Complete(lease, {}).ok());  // the worker's late result is refused
}

TEST_F(TasksTest, StatsCountsEveryStatus) {
  Submit();
  std::string c = Submit();
  Post("/api/v1/tasks/" + c + "/cancel", nullptr);
  HttpReply r = Get("/api/v1/tasks/stats");
  ASSERT_EQ(r.status, 200) << r.body;
  Json d = r.json()["data"];
  EXPECT_EQ(d["counts"]["pending"], 1);
  EXPECT_EQ(d["counts"]["cancelled"], 1);
  EXPECT_EQ(d["counts"]["done"], 0);
  EXPECT_EQ(d["queue_length"], 1);
}

TEST_F(TasksTest, OutputsOfADoneTaskAreFiles) {
  std::string id = Submit();
  queue::Lease lease = Claim();
  std::filesystem::path out = std::filesystem::path(config_.tasks_dir) / id / "out";
  std::filesystem::create_directories(out / "sub");
  std::ofstream(out / "result.png") << PngBytes();
  std::ofstream(out / "sub" / "page.html") << "<script>alert(1)</script>";
  std::ofstream(dir_.path() / "secret.txt") << "secret";
  std::filesystem::create_symlink(dir_.path() / "secret.txt", out / "link.txt");
  ASSERT_TRUE(store_->Complete(lease, {.output_files = {"link.txt", "result.png", "sub/page.html"}}).ok());

  HttpReply t = Get("/api/v1/tasks/" + id);
  EXPECT_EQ(t.json()["data"]["result"]["output_urls"][1], "/api/v1/tasks/" + id + "/outputs/result.png");
  HttpReply r = Get("/api/v1/tasks/" + id + "/outputs/result.png");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, PngBytes());
  EXPECT_EQ(r.header("content-type"), "image/png");
  EXPECT_EQ(r.header("content-security-policy"), "sandbox");
  r = Get("/api/v1/tasks/" + id + "/outputs/sub/page.html");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.header("content-disposition").starts_with("attachment"));  // never rendered on our origin
  EXPECT_EQ(Get("/api/v1/tasks/" + id + "/outputs/link.txt").status, 404);   // a symlink is not followed
  EXPECT_EQ(Get("/api/v1/tasks/" + id + "/outputs/missing.png").status, 404);  // not in the result
  EXPECT_EQ(Get("/api/v1/tasks/" + id + "/outputs/..%2F..%2Fsecret.txt").status, 404);
  EXPECT_EQ(Get("/api/v1/tasks/" + id + "/outputs/../../secret.txt").status, 404);
  std::filesystem::remove(out / "result.png");
  EXPECT_EQ(Get("/api/v1/tasks/" + id + "/outputs/result.png").status, 404);  // cleaned up meanwhile
  std::string pending = Submit();
  EXPECT_EQ(Get("/api/v1/tasks/" + pending + "/outputs/result.png").status, 404);
}

TEST_F(TasksTest, UnknownRoutesAndMethods) {
  HttpReply r = Get("/api/v1/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.error_code(), "NOT_FOUND");
  r = Http(port(), "DELETE", "/api/v1/tasks/task_1");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.error_code(), "METHOD_NOT_ALLOWED");
  EXPECT_EQ(r.header("allow"), "GET, HEAD, OPTIONS");
  r = Http(port(), "PUT", "/api/v1/tasks");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET, HEAD, POST, OPTIONS");
  EXPECT_EQ(Get("/api/v1/tasks/task_1/ws").status, 426);  // a WebSocket route without the upgrade
}

TEST_F(TasksTest, StoreDownIs503AndComesBack) {
  std::string id = Submit();
  store_->down = true;
  for (HttpReply r : {Post("/api/v1/tasks", {{"mode", "HEAD_SWAP"}}), Get("/api/v1/tasks"), Get("/api/v1/tasks/" + id),
                      Post("/api/v1/tasks/" + id + "/cancel", nullptr), Get("/api/v1/tasks/stats"), Get("/readyz")}) {
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(r.error_code(), "UNAVAILABLE");
  }
  EXPECT_EQ(Get("/healthz").status, 200);  // the process itself is fine
  EXPECT_NE(Get("/metrics").body.find("wasmq_store_up 0"), std::string::npos);
  store_->down = false;
  EXPECT_EQ(Get("/readyz").status, 200);
  EXPECT_EQ(Get("/api/v1/tasks/" + id).status, 200);
}

// Past a per-user limit the create answers 429 RATE_LIMITED with Retry-After.
class LimitedTasksTest : public ApiTest {
 protected:
  void SetUp() override {
    fairness_.defaults.per_minute = 1;
    StartServer();
  }
};

TEST_F(LimitedTasksTest, SubmitPastThePerMinuteLimitAnswers429WithRetryAfter) {
  ASSERT_EQ(Post("/api/v1/tasks", {{"mode", "HEAD_SWAP"}}).status, 201);
  HttpReply r = Post("/api/v1/tasks", {{"mode", "HEAD_SWAP"}});
  ASSERT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "RATE_LIMITED");
  const int retry_after = std::stoi(r.header("retry-after"));
  EXPECT_GE(retry_after, 59);
  EXPECT_LE(retry_after, 60);
}

}  // namespace
}  // namespace wasmq::api::testing
