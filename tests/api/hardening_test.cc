// Issue 17, the API's side: what one request, one unauthenticated client or one user can do to the server
// or to another user. Each test reproduces a hole found by the review and the black-box probe.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.h"

namespace wasmq::api::testing {
namespace {

using namespace std::chrono_literals;

// Resident memory of this process (the server runs in it), in bytes.
int64_t RssBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("VmRSS:")) return std::stoll(line.substr(6)) * 1024;
  return -1;
}

int CountResponses(const std::string& answer) {
  int n = 0;
  for (size_t at = answer.find("HTTP/1.1 "); at != std::string::npos; at = answer.find("HTTP/1.1 ", at + 1))
    ++n;
  return n;
}

// Sends `head` and then up to `body_bytes` of body on one connection, and reads the answer at the same
// time. Returns the answer and how much of the body had been sent when its first byte arrived.
struct EarlyAnswer {
  std::string answer;
  uint64_t sent_when_answered = 0;
};
EarlyAnswer SendWhileReading(uint16_t port, const std::string& head, uint64_t body_bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  std::atomic<uint64_t> sent{0};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    if (::send(fd, head.data(), head.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(head.size())) return;
    std::string chunk(64 * 1024, 'x');
    while (!stop && sent < body_bytes) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      ssize_t n = ::send(fd, chunk.data(), std::min<uint64_t>(chunk.size(), body_bytes - sent),
                         MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) return;
      sent += static_cast<uint64_t>(n);
    }
  });
  EarlyAnswer out;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    if (out.answer.empty()) out.sent_when_answered = sent;
    out.answer.append(buf, static_cast<size_t>(n));
    if (out.answer.find("\r\n\r\n") != std::string::npos) break;
  }
  stop = true;
  writer.join();
  ::close(fd);
  return out;
}

// ---- One request must not kill the server

// 70 000 '[' (140 KB, under the 1 MiB body limit) parsed, then serialised to preview it: a stack overflow
// that took the whole process down.
TEST_F(ApiTest, DeeplyNestedJsonIs400AndTheServerSurvives) {
  StartServer();
  const int kDepth = 70'000;
  std::string arrays = std::string(kDepth, '[') + std::string(kDepth, ']');
  for (const std::string& body :
       {arrays, std::string(kDepth, '['), R"({"mode":"HEAD_SWAP","config":{"a":)" + arrays + "}}",
        R"({"mode":"HEAD_SWAP","priority":)" + arrays + "}"}) {
    HttpReply r = Http(port(), "POST", "/api/v1/tasks", body, {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 400) << r.body.substr(0, 200);
    EXPECT_EQ(r.error_code(), "MALFORMED_JSON");
    EXPECT_NE(r.body.find("nested deeper than 64 levels"), std::string::npos) << r.body.substr(0, 200);
  }
  EXPECT_EQ(Get("/healthz").status, 200);
  // 64 levels are still a task's config.
  std::string ok =
      R"({"mode":"HEAD_SWAP","config":{"a":)" + std::string(62, '[') + std::string(62, ']') + "}}";
  EXPECT_EQ(Http(port(), "POST", "/api/v1/tasks", ok, {{"Content-Type", "application/json"}}).status, 201);
}

// ---- Authenticate before reading a body

class AuthOnTest : public ApiTest {
 protected:
  void SetUp() override { StartServer({.auth_required = true}); }
};

TEST_F(AuthOnTest, An100ContinueIsNotSentWithoutAValidToken) {
  for (std::string auth : {"", "Authorization: Bearer not.a.token\r\n"}) {
    std::string answer = Raw(port(),
                             "POST /api/v1/files HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n" + auth +
                                 "Content-Length: 33554432\r\nExpect: 100-continue\r\n\r\n",
                             3000ms);
    EXPECT_EQ(RawStatus(answer), 401) << answer.substr(0, 120);
    EXPECT_EQ(answer.find("100 Continue"), std::string::npos) << answer.substr(0, 120);
  }
  // With a valid token the client is told to go on.
  std::string png = PngBytes(10);
  std::string answer = Raw(port(),
                           "POST /api/v1/files HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                           "Authorization: Bearer " +
                               Token("alice") +
                               "\r\nConnection: close\r\n"
                               "Content-Length: " +
                               std::to_string(png.size()) + "\r\nExpect: 100-continue\r\n\r\n" + png);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201")) << answer.substr(0, 120);
}

TEST_F(AuthOnTest, An32MiBUploadWithoutATokenIs401BeforeItIsRead) {
  const uint64_t kSize = 32ull << 20;
  int64_t rss_before = RssBytes();
  EarlyAnswer a[3];
  std::thread clients[3];
  for (int i = 0; i < 3; ++i)
    clients[i] = std::thread([&, i] {
      a[i] = SendWhileReading(port(),
                              "POST /api/v1/files HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                              "Content-Length: " +
                                  std::to_string(kSize) + "\r\n\r\n",
                              kSize);
    });
  for (auto& t : clients) t.join();
  int64_t grown = RssBytes() - rss_before;
  for (const EarlyAnswer& e : a) {
    EXPECT_EQ(RawStatus(e.answer), 401) << e.answer.substr(0, 120);
    EXPECT_LT(e.sent_when_answered, kSize / 2) << "the server read the body before answering";
  }
  EXPECT_LT(grown, 48ll << 20) << "three unauthenticated 32 MiB uploads grew the server by " << grown
                               << " bytes";
  EXPECT_EQ(Get("/healthz").status, 200);
}

// A valid token's upload still works when it is large, and past the limit is 413.
TEST_F(AuthOnTest, LargeUploadsAreStreamedAndTheLimitHolds) {
  StopServer();
  StartServer({.auth_required = true, .max_upload_bytes = 8 << 20});
  std::string alice = Token("alice");
  std::string big = PngBytes((6 << 20) - 64);
  Headers h = Auth(alice);
  h.emplace_back("Content-Type", "image/png");
  HttpReply r = Http(port(), "POST", "/api/v1/files", big, h);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["data"]["size"], big.size());
  EXPECT_EQ(r.json()["data"]["sha256"], Sha256Hex(big));
  EXPECT_EQ(
      Http(port(), "GET", "/api/v1/files/" + r.json()["data"].value("file_id", ""), "", Auth(alice)).body,
      big);
  std::string boundary = "b0undary";
  Headers mh = Auth(alice);
  mh.emplace_back("Content-Type", "multipart/form-data; boundary=" + boundary);
  HttpReply m =
      Http(port(), "POST", "/api/v1/files", Multipart(boundary, "file", "a.png", "image/png", big), mh);
  EXPECT_EQ(m.status, 201) << m.body;
  HttpReply over = Http(port(), "POST", "/api/v1/files", PngBytes(9 << 20), h);
  EXPECT_EQ(over.status, 413);
  // Nothing of the bodies stays behind but the stored files (no temporary files).
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path() / "files"))
    entries += !e.path().empty();
  EXPECT_EQ(entries, 4);  // two files, two metadata files
}

// ---- HTTP framing (RFC 9112 §6.3)

TEST_F(ApiTest, TransferEncodingNotEndingInChunkedIs400AndCloses) {
  StartServer();
  std::string body = R"({"mode":"HEAD_SWAP"})";
  std::string smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  for (std::string te : {"gzip", "chunked, identity", "xchunked", "identity"}) {
    std::string answer = Raw(
        port(),
        "POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: " +
            te + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body + smuggled,
        3000ms);
    EXPECT_EQ(RawStatus(answer), 400) << te << " → " << answer.substr(0, 120);
    EXPECT_EQ(CountResponses(answer), 1) << te << ": a second request was parsed from the rest";
  }
  EXPECT_EQ(Get("/healthz").status, 200);
}

TEST_F(ApiTest, MalformedPercentEncodingInAStaticPathIs404) {
  StartServer();
  for (std::string bad : {"/%zz", "/%", "/index%2", "/%G0.html"}) EXPECT_EQ(Get(bad).status, 404) << bad;
  EXPECT_EQ(Get("/").status, 200);
}

TEST_F(ApiTest, MalformedPercentEncodingInAStaticPathIs404WithAWebRoot) {
  std::filesystem::create_directories(dir_.path() / "web");
  std::ofstream(dir_.path() / "web" / "index.html") << "<html>dev</html>";
  StartServer({.web_root = (dir_.path() / "web").string()});
  for (std::string bad : {"/%zz", "/%", "/index%2", "/%G0.html"}) EXPECT_EQ(Get(bad).status, 404) << bad;
  EXPECT_EQ(Get("/").status, 200);
}

// ---- Per-user views

TEST_F(AuthOnTest, StatsCountOnlyTheCallersTasks) {
  std::string alice = Token("alice"), bob = Token("bob");
  Submit(alice);
  Submit(alice);
  Submit(bob);
  auto count = [&](const std::string& token, const std::string& status) {
    HttpReply r = Get("/api/v1/tasks/stats", token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["data"]["counts"].value(status, -1);
  };
  EXPECT_EQ(count(alice, "pending"), 2);
  EXPECT_EQ(count(bob, "pending"), 1);
  EXPECT_EQ(count(Token("carol"), "pending"), 0);
  EXPECT_EQ(Get("/api/v1/tasks/stats", bob).json()["data"].value("queue_length", -1), 1);
}

TEST_F(ApiTest, MetricsCanRequireAToken) {
  StartServer({.metrics_token = "metrics-token-0123456789"});
  EXPECT_EQ(Get("/metrics").status, 401);
  EXPECT_EQ(Http(port(), "GET", "/metrics", "", {{"Authorization", "Bearer wrong"}}).status, 401);
  HttpReply ok = Http(port(), "GET", "/metrics", "", {{"Authorization", "Bearer metrics-token-0123456789"}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_NE(ok.body.find("wasmq_tasks"), std::string::npos);
  EXPECT_EQ(Get("/healthz").status, 200);  // only /metrics
}

TEST_F(ApiTest, MetricsCanListenOnTheirOwnAddress) {
  StartServer({.metrics_addr = "127.0.0.1:0"});
  ASSERT_NE(server_->metrics_port(), 0);
  ASSERT_NE(server_->metrics_port(), port());
  EXPECT_EQ(Get("/metrics").status, 404);
  HttpReply m = Http(server_->metrics_port(), "GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("wasmq_http_connections"), std::string::npos);
  EXPECT_EQ(Http(server_->metrics_port(), "GET", "/api/v1/tasks").status, 404);  // nothing else there
}

TEST_F(ApiTest, ListeningBeyondLoopbackWithAuthOffIsWarnedAbout) {
  auto start = [&](std::string addr, bool auth) {
    ApiConfig c{.addr = addr, .port = 0, .threads = 1, .auth_required = auth, .jwt_secret = kSecret};
    c.files_dir = (dir_.path() / "files").string();
    c.tasks_dir = (dir_.path() / "tasks").string();
    sqlite_ = std::move(*queue::SqliteStore::Open((dir_.path() / "w.db").string()));
    queue::TaskService tasks(*sqlite_, {});
    ::testing::internal::CaptureStderr();
    {
      ApiServer s(tasks, c);
      EXPECT_TRUE(s.Start().ok());
    }
    return ::testing::internal::GetCapturedStderr();
  };
  std::string open = start("0.0.0.0", false);
  EXPECT_NE(open.find("warning"), std::string::npos) << open;
  EXPECT_NE(open.find("WASMQ_AUTH"), std::string::npos) << open;
  EXPECT_EQ(start("127.0.0.1", false).find("warning"), std::string::npos);
  EXPECT_EQ(start("0.0.0.0", true).find("warning"), std::string::npos);
  sqlite_.reset();
}

TEST_F(ApiTest, CrossOriginStateChangesAreRefusedWithAuthOff) {
  StartServer({.cors_origins = {"https://formy.example"}});
  std::string boundary = "b0undary";
  std::string form = Multipart(boundary, "file", "a.png", "image/png", PngBytes());
  Headers evil = {{"Origin", "https://evil.example"},
                  {"Content-Type", "multipart/form-data; boundary=" + boundary}};
  HttpReply r = Http(port(), "POST", "/api/v1/files", form, evil);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.error_code(), "FORBIDDEN");
  std::string task = Submit();
  for (std::string method : {"POST", "PUT", "PATCH", "DELETE"})
    EXPECT_EQ(Http(port(), method, "/api/v1/tasks/" + task + "/cancel", "", {{"Origin", "null"}}).status, 403)
        << method;
  EXPECT_EQ(Get("/api/v1/tasks/" + task).json()["data"]["status"], "pending");
  // Allowed origins, the server's own origin and clients without Origin go on; so do reads.
  Headers formy = {{"Origin", "https://formy.example"},
                   {"Content-Type", "multipart/form-data; boundary=" + boundary}};
  EXPECT_EQ(Http(port(), "POST", "/api/v1/files", form, formy).status, 201);
  Headers same = {{"Origin", "http://127.0.0.1:" + std::to_string(port())},
                  {"Content-Type", "multipart/form-data; boundary=" + boundary}};
  EXPECT_EQ(Http(port(), "POST", "/api/v1/files", form, same).status, 201);
  EXPECT_EQ(Http(port(), "POST", "/api/v1/files", form, {evil[1]}).status, 201);
  EXPECT_EQ(Http(port(), "GET", "/api/v1/tasks", "", {{"Origin", "https://evil.example"}}).status, 200);
}

// ---- Inputs are only the caller's own uploads

TEST_F(AuthOnTest, ImageInputsAreExactUploadIdsOfTheCaller) {
  std::string alice = Token("alice"), bob = Token("bob");
  std::string victim = Upload(alice);
  std::string mine = Upload(bob);
  auto submit = [&](Json body) {
    Headers h = Auth(bob);
    h.emplace_back("Content-Type", "application/json");
    return Http(port(), "POST", "/api/v1/tasks", body.dump(), h);
  };
  // The metadata file next to the victim's upload, and other names that are not an id of the id shape.
  for (std::string value :
       {victim + ".json", victim + ".tmp", "../files/" + victim, victim + "/", std::string("img_")}) {
    HttpReply r = submit({{"mode", "HEAD_SWAP"}, {"config", {{"mask_image", value}}}});
    EXPECT_EQ(r.status, 422) << value << " → " << r.body;
  }
  for (Json bad : {Json(42), Json::array({victim}), Json::object()}) {
    HttpReply r = submit({{"mode", "HEAD_SWAP"}, {"config", {{"reference_image", bad}}}});
    EXPECT_EQ(r.status, 422) << bad << " → " << r.body;
  }
  // Another user's id and an id that does not exist: the same answer, word for word.
  HttpReply foreign = submit({{"mode", "HEAD_SWAP"}, {"config", {{"mask_image", victim}}}});
  HttpReply unknown =
      submit({{"mode", "HEAD_SWAP"}, {"config", {{"mask_image", "img_20990101_000000nothing"}}}});
  EXPECT_EQ(foreign.status, 422);
  EXPECT_EQ(foreign.body, unknown.body);
  HttpReply foreign_src = submit({{"mode", "HEAD_SWAP"}, {"source_image", victim}});
  HttpReply unknown_src = submit({{"mode", "HEAD_SWAP"}, {"source_image", "img_20990101_000000nothing"}});
  EXPECT_EQ(foreign_src.status, 422);
  EXPECT_EQ(foreign_src.body, unknown_src.body);
  // The caller's own upload goes through, in both places.
  EXPECT_EQ(
      submit({{"mode", "HEAD_SWAP"}, {"source_image", mine}, {"config", {{"mask_image", mine}}}}).status,
      201);
}

// ---- Error messages never carry server paths

TEST_F(ApiTest, FileStoreErrorsDoNotShowServerPaths) {
  StartServer();
  std::filesystem::remove_all(dir_.path() / "files");
  std::ofstream(dir_.path() / "files") << "not a directory";
  HttpReply r = Http(port(), "POST", "/api/v1/files", PngBytes(), {{"Content-Type", "image/png"}});
  EXPECT_GE(r.status, 500) << r.body;
  EXPECT_EQ(r.body.find(dir_.path().string()), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("/files"), std::string::npos) << r.body;
  std::filesystem::remove(dir_.path() / "files");
}

// The worker writes where an input was missing into the task's error (INPUT_NOT_FOUND named the absolute
// data directory); the API does not pass the server's directories on.
TEST_F(ApiTest, TaskErrorsDoNotShowServerPaths) {
  StartServer();
  std::string id = Submit();
  queue::Lease lease = Claim();
  std::string files = std::filesystem::absolute(dir_.path() / "files").string();
  ASSERT_TRUE(store_
                  ->Fail(lease, {"INPUT_NOT_FOUND", "config.mask_image: no uploaded file img_x in " + files,
                                 1, false, "open " + config_.tasks_dir + "/" + id + "/in: denied", 0})
                  .ok());
  HttpReply r = Get("/api/v1/tasks/" + id);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find(dir_.path().string()), std::string::npos) << r.body;
  EXPECT_EQ(r.json()["data"]["error"]["message"], "config.mask_image: no uploaded file img_x in <files>");
  EXPECT_EQ(r.json()["data"]["error"]["stderr"], "open <tasks>/" + id + "/in: denied");
}

}  // namespace
}  // namespace wasmq::api::testing
