// The http client against servers on 127.0.0.1 (the engine tests' TestServer): timeouts, retries with
// backoff and Retry-After, no retry of a POST, redirects that keep credentials with their origin,
// streamed bodies and their cap, request bodies from a reader, cancel from another thread, redaction.
#include "http/http.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "base/encoding.h"
#include "engines/http_server.h"

namespace wasmq::http {
namespace {

using namespace std::chrono_literals;
using engines::testing::ClosedPort;
using engines::testing::HttpReply;
using engines::testing::HttpReq;
using engines::testing::TestServer;
using Clock = std::chrono::steady_clock;

TEST(Http, GetsStatusHeadersAndBody) {
  TestServer server([](const HttpReq& r) {
    return HttpReply{200, "text/plain", "hello " + r.path(), {{"X-Thing", "one"}}};
  });
  Request req;
  req.url = server.url() + "/world";
  Response r = Client().Send(req);
  ASSERT_FALSE(r.error) << r.error.reason;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello /world");
  EXPECT_EQ(r.Header("x-thing"), "one");
  EXPECT_EQ(r.ContentType(), "text/plain");
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(server.requests()[0].headers["user-agent"], "wasmq");
}

TEST(Http, ASilentServerTimesOutOnTime) {
  TestServer slow([&slow](const HttpReq&) {
    slow.Hold();
    return HttpReply{};
  });
  Request req;
  req.url = slow.url();
  req.timeouts.total = 300ms;
  req.retry.retries = 2;  // a timeout is not retried unless asked
  auto t0 = Clock::now();
  Response r = Client().Send(req);
  auto took = Clock::now() - t0;
  EXPECT_EQ(r.error.kind, ErrorKind::Timeout) << r.error.reason;
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 2s);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(slow.requests().size(), 1u);
}

TEST(Http, TheDeadlineBoundsTheAttempt) {
  TestServer slow([&slow](const HttpReq&) {
    slow.Hold();
    return HttpReply{};
  });
  Request req;
  req.url = slow.url();
  req.timeouts.total = 60s;
  req.deadline = Clock::now() + 300ms;
  auto t0 = Clock::now();
  EXPECT_EQ(Client().Send(req).error.kind, ErrorKind::Timeout);
  EXPECT_LT(Clock::now() - t0, 2s);
}

TEST(Http, A503WithRetryAfterIsRetriedAfterTheWaitAsked) {
  std::atomic<int> calls{0};
  TestServer server([&](const HttpReq&) {
    return ++calls <= 2 ? HttpReply{503, "text/plain", "busy", {{"Retry-After", "1"}}}
                        : HttpReply{200, "text/plain", "ok"};
  });
  Request req;
  req.url = server.url();
  req.retry.retries = 3;
  req.retry.backoff = 10ms;
  auto t0 = Clock::now();
  Response r = Client().Send(req);
  auto took = Clock::now() - t0;
  ASSERT_FALSE(r.error) << r.error.reason;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(calls.load(), 3);
  EXPECT_GE(took, 1900ms);  // two Retry-After waits of a second, not two 10 ms backoffs
  EXPECT_LT(took, 5s);
}

TEST(Http, ARetryAfterLongerThanTheBoundEndsTheRetries) {
  TestServer server([](const HttpReq&) { return HttpReply{429, "text/plain", "later", {{"Retry-After", "3600"}}}; });
  Request req;
  req.url = server.url();
  req.retry.retries = 3;
  auto t0 = Clock::now();
  Response r = Client().Send(req);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.body, "later");
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_LT(Clock::now() - t0, 2s);
}

TEST(Http, BackoffDoublesBetweenAttempts) {
  TestServer server([](const HttpReq&) { return HttpReply{503, "text/plain", "down"}; });
  Request req;
  req.url = server.url();
  req.retry.retries = 3;
  req.retry.backoff = 100ms;
  req.retry.jitter = false;
  auto t0 = Clock::now();
  Response r = Client().Send(req);
  auto took = Clock::now() - t0;
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.attempts, 4);
  EXPECT_EQ(server.requests().size(), 4u);
  EXPECT_GE(took, 700ms);  // 100 + 200 + 400
  EXPECT_LT(took, 3s);

  // With jitter each wait is 50..100 % of the doubled backoff.
  TestServer again([](const HttpReq&) { return HttpReply{503, "text/plain", "down"}; });
  req.url = again.url();
  req.retry.jitter = true;
  t0 = Clock::now();
  EXPECT_EQ(Client().Send(req).attempts, 4);
  took = Clock::now() - t0;
  EXPECT_GE(took, 350ms);
  EXPECT_LT(took, 3s);
}

TEST(Http, APostIsNotRetriedUnlessTheCallerSaysItIsSafe) {
  TestServer server([](const HttpReq&) { return HttpReply{503, "text/plain", "down"}; });
  Request req;
  req.method = "POST";
  req.url = server.url();
  req.body = "{}";
  req.retry.retries = 3;
  req.retry.backoff = 1ms;
  Response r = Client().Send(req);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(server.requests().size(), 1u);

  req.retry.any_method = true;
  EXPECT_EQ(Client().Send(req).attempts, 4);
  EXPECT_EQ(server.requests().size(), 5u);
  EXPECT_EQ(server.requests()[4].body, "{}");
}

TEST(Http, ARefusedConnectionIsRetriedAndNamed) {
  Request req;
  req.url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/x";
  req.retry.retries = 2;
  req.retry.backoff = 1ms;
  std::vector<Exchange> seen;
  Client client({.on_exchange = [&](const Exchange& e) { seen.push_back(e); }});
  Response r = client.Send(req);
  EXPECT_EQ(r.error.kind, ErrorKind::Connect) << r.error.reason;
  EXPECT_EQ(r.attempts, 3);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].status, 0);
  EXPECT_FALSE(seen[0].error.empty());
}

TEST(Http, ARedirectToAnotherOriginDropsCredentials) {
  TestServer storage([](const HttpReq&) { return HttpReply{200, "application/octet-stream", "blob bytes"}; });
  TestServer registry([&](const HttpReq&) {
    return HttpReply{307, "text/plain", "", {{"Location", storage.url() + "/bucket/blob?X-Amz-Signature=sig"}}};
  });
  Request req;
  req.url = registry.url() + "/v2/app/blobs/sha256:1";
  req.headers = {"Authorization: Bearer registry-token", "Cookie: session=abc", "X-Api-Key: key-value",
                 "Range: bytes=0-"};
  req.secret_headers = {"X-Api-Key"};
  req.follow_redirects = true;
  std::vector<Exchange> seen;
  Client client({.on_exchange = [&](const Exchange& e) { seen.push_back(e); }});
  Response r = client.Send(req);
  ASSERT_FALSE(r.error) << r.error.reason;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "blob bytes");
  EXPECT_EQ(r.url, storage.url() + "/bucket/blob?X-Amz-Signature=sig");
  ASSERT_EQ(registry.requests().size(), 1u);
  EXPECT_EQ(registry.requests()[0].headers["authorization"], "Bearer registry-token");
  ASSERT_EQ(storage.requests().size(), 1u);
  HttpReq at_storage = storage.requests()[0];
  EXPECT_EQ(at_storage.headers.count("authorization"), 0u);
  EXPECT_EQ(at_storage.headers.count("cookie"), 0u);
  EXPECT_EQ(at_storage.headers.count("x-api-key"), 0u);
  EXPECT_EQ(at_storage.headers["range"], "bytes=0-");  // not a credential
  EXPECT_EQ(at_storage.query(), "X-Amz-Signature=sig");
  ASSERT_EQ(seen.size(), 2u);  // both hops, redacted
  EXPECT_EQ(seen[0].status, 307);
  for (const Exchange& e : seen) {
    EXPECT_EQ(e.url.find("sig"), std::string::npos) << e.url;
    for (const auto& [k, v] : e.headers) EXPECT_EQ(v.find("=sig"), std::string::npos) << k << ": " << v;
  }
}

TEST(Http, ASameOriginRedirectKeepsCredentials) {
  TestServer server([](const HttpReq& r) {
    if (r.path() == "/old") return HttpReply{302, "text/plain", "", {{"Location", "/new"}}};
    return HttpReply{200, "text/plain", "auth=" + r.headers.at("authorization")};
  });
  Request req;
  req.url = server.url() + "/old";
  req.headers = {"Authorization: Basic YTpi"};
  req.follow_redirects = true;
  Response r = Client().Send(req);
  ASSERT_FALSE(r.error) << r.error.reason;
  EXPECT_EQ(r.body, "auth=Basic YTpi");

  req.follow_redirects = false;  // not asked: the redirect is the answer
  r = Client().Send(req);
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.Header("location"), "/new");
}

TEST(Http, A303TurnsAPostIntoAGetWithoutTheBody) {
  TestServer server([](const HttpReq& r) {
    if (r.path() == "/form") return HttpReply{303, "text/plain", "", {{"Location", "/done"}}};
    return HttpReply{200, "text/plain", r.method + ":" + r.body};
  });
  Request req;
  req.method = "POST";
  req.url = server.url() + "/form";
  req.body = "a=1";
  req.headers = {"Content-Type: application/x-www-form-urlencoded"};
  req.follow_redirects = true;
  Response r = Client().Send(req);
  ASSERT_FALSE(r.error) << r.error.reason;
  EXPECT_EQ(r.body, "GET:");
}

TEST(Http, AStreamedBodyGoesToTheSinkAndIsCapped) {
  const std::string big(3 << 20, 'b');
  TestServer server([&](const HttpReq& r) {
    return r.path() == "/missing" ? HttpReply{404, "application/json", R"({"errors":[]})"}
                                  : HttpReply{200, "application/octet-stream", big};
  });
  Request req;
  req.url = server.url() + "/blob";
  size_t got = 0;
  req.sink = [&](std::string_view chunk) {
    got += chunk.size();
    return true;
  };
  Response r = Client().Send(req);
  ASSERT_FALSE(r.error) << r.error.reason;
  EXPECT_EQ(got, big.size());
  EXPECT_EQ(r.streamed_bytes, big.size());
  EXPECT_TRUE(r.body.empty());  // never held in memory

  got = 0;
  req.max_body_bytes = 1 << 20;
  r = Client().Send(req);
  EXPECT_EQ(r.error.kind, ErrorKind::TooLarge) << r.error.reason;
  EXPECT_LE(got, size_t{1} << 20);

  req.url = server.url() + "/missing";  // an error answer is kept for the message, not streamed
  got = 0;
  r = Client().Send(req);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"errors":[]})");
  EXPECT_EQ(got, 0u);

  // In memory the same cap holds.
  Request mem;
  mem.url = server.url() + "/blob";
  mem.max_body_bytes = 1000;
  EXPECT_EQ(Client().Send(mem).error.kind, ErrorKind::TooLarge);

  // A sink that refuses stops the transfer.
  req.url = server.url() + "/blob";
  req.sink = [](std::string_view) { return false; };
  EXPECT_EQ(Client().Send(req).error.kind, ErrorKind::Aborted);
}

TEST(Http, ARequestBodyComesFromAReaderAgainOnEachAttempt) {
  std::atomic<int> calls{0};
  TestServer server([&](const HttpReq& r) {
    return ++calls == 1 ? HttpReply{503, "text/plain", "again"} : HttpReply{201, "text/plain", r.body};
  });
  const std::string data(200'000, 'z');
  Request req;
  req.method = "PUT";
  req.url = server.url() + "/upload";
  req.body_reader.size = static_cast<int64_t>(data.size());
  req.body_reader.read = [&](int64_t offset, char* buf, size_t max) {
    size_t n = std::min(max, data.size() - static_cast<size_t>(offset));
    std::memcpy(buf, data.data() + offset, n);
    return n;
  };
  req.retry.retries = 1;
  req.retry.backoff = 1ms;
  req.max_body_bytes = 1 << 20;
  Response r = Client().Send(req);
  ASSERT_FALSE(r.error) << r.error.reason;
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.attempts, 2);
  EXPECT_EQ(r.body, data);
  EXPECT_EQ(server.requests()[0].method, "PUT");
}

TEST(Http, CancelFromAnotherThreadEndsATransferAtOnce) {
  TestServer slow([&slow](const HttpReq&) {
    slow.Hold();
    return HttpReply{};
  });
  std::atomic<bool> cancel{false};
  Request req;
  req.url = slow.url();
  req.timeouts.total = 60s;
  req.cancelled = [&] { return cancel.load(); };
  std::thread stopper([&] {
    while (slow.requests().empty()) std::this_thread::sleep_for(5ms);
    cancel = true;
  });
  auto t0 = Clock::now();
  Response r = Client().Send(req);
  stopper.join();
  EXPECT_EQ(r.error.kind, ErrorKind::Cancelled);
  EXPECT_LT(Clock::now() - t0, 1s);
}

TEST(Http, CancelEndsABackoffWait) {
  TestServer server([](const HttpReq&) { return HttpReply{503, "text/plain", "down"}; });
  std::atomic<bool> cancel{false};
  Request req;
  req.url = server.url();
  req.retry.retries = 1;
  req.retry.backoff = 20s;
  req.retry.jitter = false;
  req.cancelled = [&] { return cancel.load(); };
  std::thread stopper([&] {
    while (server.requests().empty()) std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(50ms);
    cancel = true;
  });
  auto t0 = Clock::now();
  Response r = Client().Send(req);
  stopper.join();
  EXPECT_EQ(r.error.kind, ErrorKind::Cancelled);
  EXPECT_LT(Clock::now() - t0, 2s);
}

TEST(Http, SecretsAreRedacted) {
  EXPECT_EQ(RedactUrl("https://auth.example/token?service=reg&scope=repository:a:pull&password=hunter2"),
            "https://auth.example/token?service=reg&scope=repository:a:pull&password=REDACTED");
  EXPECT_EQ(RedactUrl("https://s3.example/b/o?X-Amz-Signature=abc&X-Amz-Credential=k&digest=sha256:1"),
            "https://s3.example/b/o?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&digest=sha256:1");
  EXPECT_EQ(RedactUrl("https://plain.example/v2/"), "https://plain.example/v2/");
  EXPECT_EQ(RedactHeader("Authorization: Bearer abc.def"), "Authorization: REDACTED");
  EXPECT_EQ(RedactHeader("cookie: a=b"), "cookie: REDACTED");
  EXPECT_EQ(RedactHeader("X-Api-Key: k"), "X-Api-Key: REDACTED");
  EXPECT_EQ(RedactHeader("X-Auth-Token: t"), "X-Auth-Token: REDACTED");
  EXPECT_EQ(RedactHeader("Accept: */*"), "Accept: */*");

  // A transcript keeps allow-listed response headers only: never Set-Cookie.
  TestServer server([](const HttpReq&) {
    return HttpReply{200, "text/plain", "x", {{"Set-Cookie", "session=secret"}, {"Docker-Content-Digest", "sha256:1"}}};
  });
  std::vector<Exchange> seen;
  Client client({.on_exchange = [&](const Exchange& e) { seen.push_back(e); }});
  Request req;
  req.url = server.url() + "/v2/?token=abc";
  req.headers = {"Authorization: Bearer abc"};
  ASSERT_FALSE(client.Send(req).error);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].url, server.url() + "/v2/?token=REDACTED");
  bool digest = false;
  for (const auto& [k, v] : seen[0].headers) {
    EXPECT_NE(k, "set-cookie");
    EXPECT_EQ(v.find("abc"), std::string::npos);
    digest = digest || k == "docker-content-digest";
  }
  EXPECT_TRUE(digest);
}

TEST(Http, UrlEncodeKeepsUnreservedCharacters) {
  EXPECT_EQ(base::PercentEncode("a b/c~d_e.f-g"), "a%20b%2Fc~d_e.f-g");
}

}  // namespace
}  // namespace wasmq::http
