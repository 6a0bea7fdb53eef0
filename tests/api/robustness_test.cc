// What a hostile or broken client can do: oversized and malformed requests, slow clients, too many
// connections, and a shutdown with requests in flight. The server must answer correctly and keep serving.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <random>
#include <thread>

#include "harness.h"

namespace wasmq::api::testing {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class RobustnessTest : public ApiTest {};

TEST_F(RobustnessTest, OversizedHeadersAre431) {
  StartServer({.max_header_bytes = 2048});
  std::string answer = Raw(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(4096, 'a') + "\r\n\r\n");
  EXPECT_EQ(RawStatus(answer), 431) << answer.substr(0, 100);
  std::string long_target = "GET /" + std::string(4096, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(RawStatus(Raw(port(), long_target)), 431);
  EXPECT_EQ(Get("/healthz").status, 200);
}

TEST_F(RobustnessTest, MalformedRequestsAre400) {
  StartServer();
  for (std::string bad : {"GARBAGE\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n",
                          "POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                          "POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
    std::string answer = Raw(port(), bad);
    EXPECT_EQ(RawStatus(answer), 400) << bad << " → " << answer.substr(0, 80);
  }
  EXPECT_EQ(Get("/healthz").status, 200);
}

// Found by fuzz_api: a target without a leading '/' reached the dashboard's file lookup, which threw
// (std::out_of_range) and made a 500 and an "internal error" log line out of a client's typo.
TEST_F(RobustnessTest, TargetsThatAreNotAPathAre404) {
  StartServer();
  for (std::string target : {"?metrics", "*"}) {
    std::string answer = Raw(port(), "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(RawStatus(answer), 404) << target << " → " << answer.substr(0, 120);
  }
  EXPECT_EQ(Get("/healthz").status, 200);
}

// Found by fuzz_api: an upload's file name that is not UTF-8 — sent so, or a long non-ASCII name cut at 255
// bytes inside a character — made the metadata's JSON serialisation throw: a 500, with the bytes already
// written and never cleaned up.
TEST_F(RobustnessTest, UploadNamesThatAreNotUtf8AreStored) {
  StartServer();
  std::string long_utf8;
  for (int i = 0; i < 200; ++i) long_utf8 += "\xC3\xA9";  // é ×200: cut at 255 bytes, mid-character
  for (const std::string& name : {std::string("a\xFF\xFE.png"), long_utf8 + ".png"}) {
    HttpReply r = Http(port(), "POST", "/api/v1/files", PngBytes(),
                       {{"Content-Type", "image/png"}, {"Content-Disposition", "inline; filename=\"" + name + "\""}});
    ASSERT_EQ(r.status, 201) << r.body;
    std::string id = r.json()["data"].value("file_id", "");
    EXPECT_EQ(Get("/api/v1/files/" + id + "/info").status, 200);
    EXPECT_EQ(Get("/api/v1/files/" + id).status, 200);
  }
}

// Found by fuzz_api: a number beyond a double's range made the JSON parser throw out_of_range, which the
// submit path did not expect (500).
TEST_F(RobustnessTest, OutOfRangeNumbersInJsonAre400) {
  StartServer();
  for (std::string body : {R"({"mode":"HEAD_SWAP","priority":1e999})", R"({"mode":"HEAD_SWAP","x":-4e4444})"}) {
    HttpReply r = Http(port(), "POST", "/api/v1/tasks", body);
    EXPECT_EQ(r.status, 400) << body << " → " << r.body;
    EXPECT_EQ(r.error_code(), "MALFORMED_JSON");
  }
}

TEST_F(RobustnessTest, RandomBytesNeverHurtTheServer) {
  StartServer();
  std::mt19937 rng(7);
  for (int i = 0; i < 60; ++i) {
    std::string junk(rng() % 600, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    if (i % 2) junk = "POST /api/v1/files HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                      "Content-Length: " + std::to_string(junk.size()) + "\r\n\r\n" + junk;
    Raw(port(), junk, std::chrono::milliseconds(200));
  }
  EXPECT_EQ(Get("/healthz").status, 200);
}

TEST_F(RobustnessTest, ASlowClientIsDropped) {
  StartServer({.header_timeout = std::chrono::seconds(1)});
  net::io_context ioc;
  tcp::socket s(ioc);
  s.connect({net::ip::make_address("127.0.0.1"), port()});
  net::write(s, net::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n")));  // never finishes the header
  auto start = std::chrono::steady_clock::now();
  char c;
  boost::system::error_code ec;
  s.read_some(net::buffer(&c, 1), ec);  // blocks until the server hangs up
  EXPECT_TRUE(ec);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(RobustnessTest, ConnectionsAreBounded) {
  StartServer({.max_connections = 2});
  net::io_context ioc;
  tcp::socket a(ioc), b(ioc);
  a.connect({net::ip::make_address("127.0.0.1"), port()});
  b.connect({net::ip::make_address("127.0.0.1"), port()});
  // Both slots are taken once the server has accepted them; a request on each proves it.
  for (tcp::socket* s : {&a, &b}) {
    net::write(*s, net::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")));
    char buf[512];
    EXPECT_GT(s->read_some(net::buffer(buf)), 0u);
  }
  std::string answer = Raw(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(RawStatus(answer), 503) << answer;
  EXPECT_NE(answer.find("too many connections"), std::string::npos);
  a.close();
  b.close();
  // A slot comes back when the server has seen the close, which the client cannot observe: retry a bounded
  // number of times.
  int status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    status = RawStatus(Raw(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(status, 200);
}

TEST_F(RobustnessTest, KeepAliveAndPipelining) {
  StartServer();
  std::string two = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string answer = Raw(port(), two);
  EXPECT_EQ(RawStatus(answer), 200);
  EXPECT_NE(answer.find("\"ready\""), std::string::npos) << answer;
}

TEST_F(RobustnessTest, StopFinishesRequestsInFlightAndRefusesNewOnes) {
  StartServer();
  uint16_t p = port();
  EXPECT_EQ(Get("/readyz").status, 200);
  net::io_context ioc;
  tcp::socket idle(ioc);
  idle.connect({net::ip::make_address("127.0.0.1"), p});
  server_->Stop();  // returns once the idle connection is closed, well before the grace period
  char c;
  boost::system::error_code ec;
  idle.read_some(net::buffer(&c, 1), ec);
  EXPECT_TRUE(ec);  // closed by the server
  tcp::socket late(ioc);
  late.connect({net::ip::make_address("127.0.0.1"), p}, ec);
  EXPECT_TRUE(ec);  // no longer listening
}

TEST_F(RobustnessTest, BadConfigurationsAreRefused) {
  StartServer();
  for (ApiConfig c : {ApiConfig{.addr = "not-an-ip"}, ApiConfig{.threads = -1}, ApiConfig{.max_header_bytes = 10},
                      ApiConfig{.max_connections = 0}, ApiConfig{.cors_origins = {"formy.example"}},
                      ApiConfig{.cors_origins = {"https://x.example/path"}}, ApiConfig{.rate_limit = -1},
                      ApiConfig{.files_dir = ""}}) {
    auto r = ValidateConfig(c);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, queue::Code::InvalidArgument);
  }
  EXPECT_TRUE(ValidateConfig({}).ok());
  ApiServer taken(*tasks_, {.addr = "127.0.0.1", .port = port(), .files_dir = config_.files_dir});
  auto r = taken.Start();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, queue::Code::Unavailable);
}

}  // namespace
}  // namespace wasmq::api::testing
