// Auth on: tokens, 401s, and isolation — no user can read, list, cancel, watch or use another's tasks and
// files. Plus CORS and the per-user rate limit.
#include <fstream>

#include "api/jwt.h"
#include "base/encoding.h"
#include "harness.h"

namespace wasmq::api::testing {
namespace {

class AuthTest : public ApiTest {
 protected:
  void SetUp() override { StartServer({.auth_required = true}); }
  const std::string alice_ = Token("alice");
  const std::string bob_ = Token("bob");
};

TEST_F(AuthTest, EveryApiRouteNeedsAToken) {
  for (auto [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/v1/tasks"}, {"POST", "/api/v1/tasks"}, {"GET", "/api/v1/tasks/stats"},
           {"GET", "/api/v1/tasks/task_1"}, {"POST", "/api/v1/tasks/task_1/cancel"},
           {"GET", "/api/v1/tasks/task_1/outputs/a.png"}, {"POST", "/api/v1/files"}, {"GET", "/api/v1/files/img_1"},
           {"GET", "/api/v1/files/img_1/info"}}) {
    HttpReply r = Http(port(), method, target, method == "POST" ? "{}" : "");
    EXPECT_EQ(r.status, 401) << method << " " << target;
    EXPECT_EQ(r.error_code(), "UNAUTHORIZED");
    EXPECT_EQ(r.header("www-authenticate"), "Bearer realm=\"wasmq\"");
  }
  for (std::string open : {"/healthz", "/readyz", "/metrics", "/api/v1/openapi.json", "/"})
    EXPECT_EQ(Get(open).status, 200) << open;
}

TEST_F(AuthTest, BadTokensAre401) {
  auto status = [&](const std::string& authorization) {
    return Http(port(), "GET", "/api/v1/tasks", "", {{"Authorization", authorization}});
  };
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string expired = SignJwt(Json({{"sub", "alice"}, {"exp", now - 3600}}).dump(), kSecret);
  std::string forever = SignJwt(Json({{"sub", "alice"}}).dump(), kSecret);
  std::string forged = SignToken("another-secret-another-secret-another", "alice", std::chrono::hours(1));
  std::string none = base::Base64UrlEncode(R"({"alg":"none"})") + "." + base::Base64UrlEncode(R"({"sub":"alice","exp":9999999999})") + ".";
  for (const std::string& bad : std::vector<std::string>{"Bearer " + expired, "Bearer " + forever, "Bearer " + forged, "Bearer " + none,
                          "Bearer garbage", "Basic YWxpY2U6eA==", "Bearer"}) {
    HttpReply r = status(bad);
    EXPECT_EQ(r.status, 401) << bad;
    EXPECT_NE(r.header("www-authenticate").find("invalid_token"), std::string::npos) << bad;
  }
  EXPECT_NE(status("Bearer " + expired).body.find("expired"), std::string::npos);
  EXPECT_EQ(status("bearer " + alice_).status, 200);  // the scheme is case-insensitive
}

TEST_F(AuthTest, TasksBelongToTheirSubmitter) {
  std::string a = Submit(alice_);
  Submit(alice_);
  std::string b = Submit(bob_);
  HttpReply r = Get("/api/v1/tasks/" + a, alice_);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["data"]["user_id"], "alice");

  HttpReply other = Get("/api/v1/tasks/" + a, bob_);
  EXPECT_EQ(other.status, 404);
  // Exactly what an absent task gets: ids cannot be probed.
  HttpReply absent = Get("/api/v1/tasks/task_20230101_doesnotexist0000", bob_);
  EXPECT_EQ(other.error_code(), absent.error_code());
  EXPECT_EQ(Post("/api/v1/tasks/" + a + "/cancel", nullptr, bob_).status, 404);
  EXPECT_EQ(Get("/api/v1/tasks/" + a, alice_).json()["data"]["status"], "pending");  // bob's cancel did nothing

  Json bobs = Get("/api/v1/tasks", bob_).json()["data"];
  EXPECT_EQ(bobs["total"], 1);
  EXPECT_EQ(bobs["tasks"][0]["task_id"], b);
  EXPECT_EQ(Get("/api/v1/tasks?status=pending", alice_).json()["data"]["total"], 2);
  EXPECT_EQ(Post("/api/v1/tasks/" + a + "/cancel", nullptr, alice_).status, 200);
}

TEST_F(AuthTest, NobodySubmitsInAnothersName) {
  HttpReply r = Post("/api/v1/tasks", {{"mode", "HEAD_SWAP"}, {"user_id", "bob"}}, alice_);
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("user_id"), std::string::npos);
  r = Post("/api/v1/tasks", {{"mode", "HEAD_SWAP"}, {"user_id", "alice"}}, alice_);
  EXPECT_EQ(r.status, 201);
}

TEST_F(AuthTest, FilesBelongToTheirUploader) {
  std::string img = Upload(alice_);
  EXPECT_EQ(Get("/api/v1/files/" + img, alice_).status, 200);
  EXPECT_EQ(Get("/api/v1/files/" + img, bob_).status, 404);
  EXPECT_EQ(Get("/api/v1/files/" + img + "/info", bob_).status, 404);
  EXPECT_EQ(Get("/api/v1/files/" + img + "/info", alice_).json()["data"]["user_id"], "alice");
  // Bob cannot have a pipeline read Alice's upload, directly or through config.
  EXPECT_EQ(Post("/api/v1/tasks", {{"mode", "HEAD_SWAP"}, {"source_image", img}}, bob_).status, 422);
  EXPECT_EQ(Post("/api/v1/tasks", {{"mode", "HEAD_SWAP"}, {"config", {{"reference_image", img}}}}, bob_).status, 422);
  EXPECT_EQ(Post("/api/v1/tasks", {{"mode", "HEAD_SWAP"}, {"source_image", img}}, alice_).status, 201);
}

TEST_F(AuthTest, OutputsBelongToTheTasksOwner) {
  std::string a = Submit(alice_);
  queue::Lease lease = Claim();
  std::filesystem::create_directories(std::filesystem::path(config_.tasks_dir) / a / "out");
  std::ofstream(std::filesystem::path(config_.tasks_dir) / a / "out" / "r.png") << PngBytes();
  ASSERT_TRUE(store_->Complete(lease, {.output_files = {"r.png"}}).ok());
  EXPECT_EQ(Get("/api/v1/tasks/" + a + "/outputs/r.png", alice_).status, 200);
  EXPECT_EQ(Get("/api/v1/tasks/" + a + "/outputs/r.png", bob_).status, 404);
}

TEST_F(AuthTest, WebSocketsNeedATokenAndSeeOnlyTheirOwnTasks) {
  std::string a = Submit(alice_);
  WsClient anonymous;
  EXPECT_EQ(anonymous.Connect(port(), "/api/v1/ws"), 401);
  WsClient wrong;
  EXPECT_EQ(wrong.Connect(port(), "/api/v1/tasks/" + a + "/ws?token=" + bob_), 404);
  WsClient header;
  EXPECT_EQ(header.Connect(port(), "/api/v1/tasks/" + a + "/ws", Auth(alice_)), 101);
  EXPECT_EQ(header.Read()["task"]["task_id"], a);

  WsClient bob_all;
  ASSERT_EQ(bob_all.Connect(port(), "/api/v1/ws?token=" + bob_), 101);
  EXPECT_TRUE(bob_all.Read()["tasks"].empty());  // alice's pending task is not in bob's snapshot
  WsClient alice_all;
  ASSERT_EQ(alice_all.Connect(port(), "/api/v1/ws?token=" + alice_), 101);
  EXPECT_EQ(alice_all.Read()["tasks"].size(), 1u);

  // Alice submits and cancels, then Bob submits: Bob's stream must show his task and nothing of Alice's.
  std::string a2 = Submit(alice_);
  Post("/api/v1/tasks/" + a2 + "/cancel", nullptr, alice_);
  std::string b = Submit(bob_);
  Json first = bob_all.Read();
  EXPECT_EQ(first["task_id"], b) << first;
  EXPECT_EQ(first["type"], "created");
  // Alice's stream has her two events, in order, and not Bob's.
  Json e1 = alice_all.Read(), e2 = alice_all.Read();
  EXPECT_EQ(e1["task_id"], a2);
  EXPECT_EQ(e1["type"], "created");
  EXPECT_EQ(e2["task_id"], a2);
  EXPECT_EQ(e2["status"], "cancelled");
}

TEST_F(AuthTest, SecretsShorterThan32BytesAreRefused) {
  queue::TaskService& svc = *tasks_;
  ApiServer weak(svc, {.port = 0, .auth_required = true, .jwt_secret = "short", .files_dir = config_.files_dir});
  auto r = weak.Start();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("jwt_secret"), std::string::npos);
}

class RateLimitTest : public ApiTest {
 protected:
  void SetUp() override { StartServer({.auth_required = true, .rate_limit = 0.001, .rate_burst = 3}); }
};

TEST_F(RateLimitTest, EachUserHasABucket) {
  std::string alice = Token("alice"), bob = Token("bob");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Get("/api/v1/tasks", alice).status, 200);
  HttpReply r = Get("/api/v1/tasks", alice);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.error_code(), "RATE_LIMITED");
  EXPECT_FALSE(r.header("retry-after").empty());
  EXPECT_EQ(Get("/api/v1/tasks", bob).status, 200);  // bob is not alice
  EXPECT_EQ(Get("/healthz").status, 200);             // operators' routes are not limited
  WsClient ws;
  EXPECT_EQ(ws.Connect(port(), "/api/v1/ws?token=" + alice), 429);
}

class CorsTest : public ApiTest {
 protected:
  void SetUp() override { StartServer({.cors_origins = {"https://formy.example"}}); }
};

TEST_F(CorsTest, PreflightAndResponsesForAllowedOrigins) {
  HttpReply pre = Http(port(), "OPTIONS", "/api/v1/tasks", "",
                       {{"Origin", "https://formy.example"}, {"Access-Control-Request-Method", "POST"},
                        {"Access-Control-Request-Headers", "authorization, content-type"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.header("access-control-allow-origin"), "https://formy.example");
  EXPECT_NE(pre.header("access-control-allow-methods").find("POST"), std::string::npos);
  EXPECT_NE(pre.header("access-control-allow-headers").find("Authorization"), std::string::npos);
  HttpReply bad = Http(port(), "OPTIONS", "/api/v1/tasks", "",
                       {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(bad.status, 403);
  EXPECT_EQ(bad.error_code(), "FORBIDDEN");
  EXPECT_EQ(bad.header("access-control-allow-origin"), "");

  HttpReply get = Http(port(), "GET", "/api/v1/tasks", "", {{"Origin", "https://formy.example"}});
  EXPECT_EQ(get.header("access-control-allow-origin"), "https://formy.example");
  EXPECT_EQ(get.header("vary"), "Origin");
  EXPECT_EQ(Http(port(), "GET", "/api/v1/tasks", "", {{"Origin", "https://evil.example"}}).header("access-control-allow-origin"), "");
}

TEST_F(CorsTest, CrossOriginWebSocketsNeedAnAllowedOrigin) {
  WsClient evil, formy, same, tool;
  EXPECT_EQ(evil.Connect(port(), "/api/v1/ws", {{"Origin", "https://evil.example"}}), 403);
  EXPECT_EQ(formy.Connect(port(), "/api/v1/ws", {{"Origin", "https://formy.example"}}), 101);
  EXPECT_EQ(same.Connect(port(), "/api/v1/ws", {{"Origin", "http://127.0.0.1:" + std::to_string(port())}}), 101);
  EXPECT_EQ(tool.Connect(port(), "/api/v1/ws"), 101);  // no Origin: not a browser
}

}  // namespace
}  // namespace wasmq::api::testing
