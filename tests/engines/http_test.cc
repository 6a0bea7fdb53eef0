// The http engine against a local server: image in/out, JSON answers, retries on 5xx, timeouts, refused
// connections, 4xx, the auth header from the environment (and never in a message), multipart, cancel.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>

#include "engines/engines.h"
#include "http_server.h"

namespace wasmq::engines {
namespace {

using namespace std::chrono_literals;
using testing::HttpReply;
using testing::HttpReq;
using testing::TestServer;
using Json = nlohmann::json;

const std::string kPng = std::string("\x89PNG\r\n\x1a\n", 8) + "fake pixels";

std::unique_ptr<EngineRegistry> Registry(Json engine) {
  auto r = EngineRegistry::Parse(Json{{"engines", {{"api", engine}}}}.dump(), "test.json");
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(*r) : nullptr;
}

TEST(HttpEngine, SendsTheImageAndReturnsTheImageItGetsBack) {
  TestServer server([](const HttpReq& r) { return HttpReply{200, "image/png", "OUT:" + r.body}; });
  auto reg =
      Registry({{"kind", "http"}, {"url", server.url() + "/v1/edit"}, {"headers", {{"X-Client", "wasmq"}}}});
  Response r = reg->Call("api", {R"({"size":512,"style":"a b","nested":{"x":1}})", kPng});
  ASSERT_EQ(r.status, Status::Ok) << r.message;
  EXPECT_EQ(r.payload, "OUT:" + kPng);
  EXPECT_EQ(Json::parse(r.json)["content_type"], "image/png");
  auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].path(), "/v1/edit");
  EXPECT_EQ(seen[0].query(), "size=512&style=a%20b");  // top-level scalars; objects are not sent
  EXPECT_EQ(seen[0].headers["content-type"], "image/png");
  EXPECT_EQ(seen[0].headers["x-client"], "wasmq");
  EXPECT_EQ(seen[0].body, kPng);
}

TEST(HttpEngine, AJsonAnswerIsTheResponseJson) {
  TestServer server([](const HttpReq& r) {
    return HttpReply{200, "application/json; charset=utf-8", R"({"got":)" + r.body + "}"};
  });
  auto reg = Registry({{"kind", "http"}, {"url", server.url()}});
  Response r = reg->Call("api", {R"({"prompt":"a cat"})", ""});
  ASSERT_EQ(r.status, Status::Ok) << r.message;
  EXPECT_EQ(Json::parse(r.json), Json::parse(R"({"got":{"prompt":"a cat"}})"));
  EXPECT_TRUE(r.payload.empty());
  EXPECT_EQ(server.requests()[0].headers["content-type"], "application/json");
}

TEST(HttpEngine, A5xxIsRetriedWithBackoffAndAFinal5xxIsFailed) {
  std::atomic<int> calls{0};
  TestServer server([&](const HttpReq&) {
    return ++calls == 1 ? HttpReply{500, "text/plain", "overloaded"}
                        : HttpReply{200, "application/json", "{}"};
  });
  auto reg = Registry({{"kind", "http"}, {"url", server.url()}, {"retries", 2}, {"retry_backoff_ms", 10}});
  EXPECT_EQ(reg->Call("api", {"{}", ""}).status, Status::Ok);
  EXPECT_EQ(calls.load(), 2);

  TestServer down([](const HttpReq&) { return HttpReply{503, "text/plain", "maintenance"}; });
  auto reg2 = Registry({{"kind", "http"}, {"url", down.url()}, {"retries", 2}, {"retry_backoff_ms", 5}});
  Response r = reg2->Call("api", {"{}", ""});
  EXPECT_EQ(r.status, Status::Failed);
  EXPECT_NE(r.message.find("HTTP 503: maintenance"), std::string::npos) << r.message;
  EXPECT_EQ(down.requests().size(), 3u);  // 1 + 2 retries
}

TEST(HttpEngine, A4xxIsABadRequestAndNotRetried) {
  TestServer server([](const HttpReq&) {
    return HttpReply{422, "application/json", R"({"error":"size too big"})"};
  });
  auto reg = Registry({{"kind", "http"}, {"url", server.url()}, {"retries", 3}});
  Response r = reg->Call("api", {"{}", kPng});
  EXPECT_EQ(r.status, Status::BadRequest);
  EXPECT_NE(r.message.find("size too big"), std::string::npos) << r.message;
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(HttpEngine, A429IsRetriedAndThenUnavailable) {
  std::atomic<int> calls{0};
  TestServer server([&](const HttpReq&) {
    return ++calls <= 2 ? HttpReply{429, "text/plain", "slow down"} : HttpReply{200, "application/json", "{}"};
  });
  auto reg = Registry({{"kind", "http"}, {"url", server.url()}, {"retries", 2}, {"retry_backoff_ms", 5}});
  EXPECT_EQ(reg->Call("api", {"{}", ""}).status, Status::Ok);
  EXPECT_EQ(calls.load(), 3);

  TestServer busy([](const HttpReq&) { return HttpReply{429, "text/plain", "quota exceeded"}; });
  auto reg2 = Registry({{"kind", "http"}, {"url", busy.url()}, {"retries", 1}, {"retry_backoff_ms", 5}});
  Response r = reg2->Call("api", {"{}", ""});
  EXPECT_EQ(r.status, Status::Unavailable) << r.message;  // retryable for the pipeline and the worker
  EXPECT_NE(r.message.find("HTTP 429: quota exceeded"), std::string::npos) << r.message;
  EXPECT_EQ(busy.requests().size(), 2u);
}

TEST(HttpEngine, ASlowServerTimesOut) {
  TestServer slow([&slow](const HttpReq&) {
    slow.Hold();
    return HttpReply{};
  });
  auto reg = Registry(
      {{"kind", "http"}, {"url", slow.url()}, {"timeout_ms", 200}, {"retries", 1}, {"retry_backoff_ms", 1}});
  auto t0 = std::chrono::steady_clock::now();
  Response r = reg->Call("api", {"{}", ""});
  EXPECT_EQ(r.status, Status::Timeout) << r.message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_EQ(slow.requests().size(), 2u);  // a timeout is retried
}

TEST(HttpEngine, ARefusedConnectionIsUnavailable) {
  auto reg = Registry({{"kind", "http"},
                       {"url", "http://127.0.0.1:" + std::to_string(testing::ClosedPort()) + "/x?key=hidden"},
                       {"retries", 1},
                       {"retry_backoff_ms", 1}});
  Response r = reg->Call("api", {"{}", ""});
  EXPECT_EQ(r.status, Status::Unavailable);
  EXPECT_EQ(r.message.find("hidden"), std::string::npos) << "the query may hold a key: " << r.message;
}

TEST(HttpEngine, TheAuthSecretComesFromTheEnvironmentAndIsNeverInAMessage) {
  setenv("WASMQ_TEST_API_KEY", "s3cr3t-value", 1);
  TestServer server([](const HttpReq& r) {
    return r.headers.count("authorization") ? HttpReply{401, "text/plain", "bad token"}
                                            : HttpReply{500, "", ""};
  });
  auto reg = Registry({{"kind", "http"},
                       {"url", server.url()},
                       {"auth", {{"type", "bearer"}, {"env", "WASMQ_TEST_API_KEY"}}}});
  Response r = reg->Call("api", {"{}", ""});
  EXPECT_EQ(r.status, Status::BadRequest);
  EXPECT_EQ(server.requests()[0].headers["authorization"], "Bearer s3cr3t-value");
  EXPECT_EQ(r.message.find("s3cr3t"), std::string::npos) << r.message;

  auto reg2 =
      Registry({{"kind", "http"},
                {"url", server.url()},
                {"retries", 0},
                {"auth", {{"type", "header"}, {"header", "X-Api-Key"}, {"env", "WASMQ_TEST_API_KEY"}}}});
  reg2->Call("api", {"{}", ""});
  EXPECT_EQ(server.requests()[1].headers["x-api-key"], "s3cr3t-value");

  unsetenv("WASMQ_TEST_API_KEY");
  auto bad = EngineRegistry::Parse(Json{{"engines",
                                         {{"api",
                                           {{"kind", "http"},
                                            {"url", server.url()},
                                            {"auth", {{"type", "bearer"}, {"env", "WASMQ_TEST_API_KEY"}}}}}}}}
                                       .dump(),
                                   "engines.json");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "engine config engines.json: engines.api.auth.env: the environment variable WASMQ_TEST_API_KEY "
            "is not set");
}

TEST(HttpEngine, MultipartSendsTheJsonAndTheImageAsFields) {
  TestServer server([](const HttpReq&) { return HttpReply{200, "application/json", "{}"}; });
  auto reg =
      Registry({{"kind", "http"}, {"url", server.url()}, {"request", "multipart"}, {"file_field", "file"}});
  ASSERT_EQ(reg->Call("api", {R"({"mode":"x"})", kPng}).status, Status::Ok);
  HttpReq seen = server.requests()[0];
  EXPECT_EQ(seen.headers["content-type"].rfind("multipart/form-data; boundary=", 0), 0u)
      << seen.headers["content-type"];
  EXPECT_NE(seen.body.find("name=\"request\""), std::string::npos);
  EXPECT_NE(seen.body.find(R"({"mode":"x"})"), std::string::npos);
  EXPECT_NE(seen.body.find("name=\"file\""), std::string::npos);
  EXPECT_NE(seen.body.find(kPng), std::string::npos);
}

TEST(HttpEngine, AnAnswerOverTheLimitIsTooLarge) {
  TestServer server([](const HttpReq&) { return HttpReply{200, "image/png", std::string(5000, 'x')}; });
  auto reg = Registry({{"kind", "http"}, {"url", server.url()}, {"max_response_bytes", 1000}});
  EXPECT_EQ(reg->Call("api", {"{}", ""}).status, Status::TooLarge);
}

TEST(HttpEngine, CancelAbortsABlockedCallAtOnce) {
  TestServer slow([&slow](const HttpReq&) {
    slow.Hold();
    return HttpReply{};
  });
  auto reg = Registry({{"kind", "http"}, {"url", slow.url()}, {"timeout_ms", 60'000}});
  CancelToken cancel;
  std::thread stopper([&] {
    while (slow.requests().empty()) std::this_thread::sleep_for(5ms);
    cancel.Cancel();
  });
  auto t0 = std::chrono::steady_clock::now();
  Response r = reg->Call("api", {"{}", ""}, &cancel);
  stopper.join();
  EXPECT_EQ(r.status, Status::Cancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

}  // namespace
}  // namespace wasmq::engines
