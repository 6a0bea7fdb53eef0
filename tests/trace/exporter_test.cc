// The exporter against a receiver run by the test on 127.0.0.1: spans arrive as OTLP/JSON with their parent
// links; a receiver that never answers costs the threads that end spans nothing (the queue drops, counted).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "../engines/http_server.h"
#include "trace/trace.h"

namespace wasmq::trace {
namespace {

using engines::testing::HttpReply;
using engines::testing::HttpReq;
using engines::testing::TestServer;
using namespace std::chrono_literals;

Settings To(const std::string& url) {
  Settings s;
  s.enabled = true;
  s.traces_url = url + "/v1/traces";
  s.resource = {{"service.name", std::string("exporter-test")}};
  s.delay = 20ms;
  s.timeout = 2s;
  return s;
}

std::vector<nlohmann::json> SpansOf(const std::vector<HttpReq>& requests) {
  std::vector<nlohmann::json> out;
  for (const HttpReq& r : requests) {
    const auto body = nlohmann::json::parse(r.body);
    for (const auto& rs : body["resourceSpans"])
      for (const auto& ss : rs["scopeSpans"])
        for (const auto& s : ss["spans"]) out.push_back(s);
  }
  return out;
}

TEST(Exporter, SendsSpansWithTheirParentLinks) {
  TestServer receiver([](const HttpReq&) { return HttpReply{.body = "{}"}; });
  Start(To(receiver.url()));
  ASSERT_TRUE(Enabled());
  const Stats before = ExportStats();
  std::string trace_id;
  {
    auto remote = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    Span server = StartSpan("POST /api/v1/tasks", {.kind = Kind::Server, .parent = &*remote});
    ASSERT_TRUE(server.recording());
    server.SetAttribute("http.response.status_code", 201);
    Scope scope(server);
    ASSERT_TRUE(CurrentContext());
    EXPECT_EQ(CurrentContext()->span_id, server.context().span_id);
    Span child = StartSpan("child");
    child.AddEvent("something", {{"n", int64_t{3}}});
    child.SetError("it broke");
    trace_id = child.context().TraceIdHex();
    Span root = StartSpan("unrelated", {.root = true});
    EXPECT_NE(root.context().TraceIdHex(), trace_id);
  }
  EXPECT_FALSE(CurrentContext());
  Shutdown(5s);
  EXPECT_FALSE(Enabled());
  EXPECT_EQ(ExportStats().exported - before.exported, 3u);

  auto requests = receiver.requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path(), "/v1/traces");
  EXPECT_EQ(requests[0].headers["content-type"], "application/json");
  auto spans = SpansOf(requests);
  ASSERT_EQ(spans.size(), 3u);
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& s : spans) by_name[s["name"]] = s;
  EXPECT_EQ(trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");  // the client's trace goes on
  EXPECT_EQ(by_name["POST /api/v1/tasks"]["traceId"], trace_id);
  EXPECT_EQ(by_name["POST /api/v1/tasks"]["parentSpanId"], "00f067aa0ba902b7");
  EXPECT_EQ(by_name["POST /api/v1/tasks"]["kind"], 2);
  EXPECT_EQ(by_name["child"]["parentSpanId"], by_name["POST /api/v1/tasks"]["spanId"]);
  EXPECT_EQ(by_name["child"]["status"]["code"], 2);
  EXPECT_EQ(by_name["child"]["events"][0]["name"], "something");
  EXPECT_FALSE(by_name["unrelated"].contains("parentSpanId"));
}

// A lone span does not wait for a full batch nor for shutdown: it is sent once the delay has passed.
TEST(Exporter, ALoneSpanIsSentAfterTheDelay) {
  TestServer receiver([](const HttpReq&) { return HttpReply{.body = "{}"}; });
  Start(To(receiver.url()));
  StartSpan("alone").End();
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (receiver.requests().empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(SpansOf(receiver.requests()).size(), 1u);
  Shutdown(5s);
}

TEST(Exporter, FollowsAnUnsampledParentAndTheSampler) {
  TestServer receiver([](const HttpReq&) { return HttpReply{.body = "{}"}; });
  Settings s = To(receiver.url());
  s.sampler = *ParseSampler("parentbased_always_off", "");
  Start(s);
  {
    Span root = StartSpan("root");
    EXPECT_FALSE(root.recording());  // no parent: always_off
    EXPECT_TRUE(root.context().valid());
    auto remote = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    Span child = StartSpan("child", {.parent = &*remote});
    EXPECT_TRUE(child.recording());  // a sampled parent
    Scope scope(root);
    Span under = StartSpan("under");
    EXPECT_FALSE(under.recording());
    EXPECT_EQ(under.context().trace_id, root.context().trace_id);
    EXPECT_FALSE(under.context().sampled());
  }
  Shutdown(5s);
  EXPECT_EQ(SpansOf(receiver.requests()).size(), 1u);
}

TEST(Exporter, AReceiverThatNeverAnswersDelaysNobody) {
  TestServer receiver([&](const HttpReq&) {
    // Never answers until the test ends (the server's destructor releases it).
    return HttpReply{.body = "{}"};
  });
  TestServer stuck([&stuck](const HttpReq&) {
    stuck.Hold();
    return HttpReply{.body = "{}"};
  });
  Settings s = To(stuck.url());
  s.max_queue = 8;
  s.max_batch = 4;
  s.delay = 5ms;
  s.timeout = 10s;
  Start(s);
  const Stats before = ExportStats();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 2000; ++i) StartSpan("busy").End();
  auto spent = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(spent, 500ms) << "ending spans waited for the receiver";
  auto t1 = std::chrono::steady_clock::now();
  Shutdown(300ms);
  EXPECT_LT(std::chrono::steady_clock::now() - t1, 3s) << "shutdown overran its budget";
  const Stats after = ExportStats();
  EXPECT_GT(after.dropped - before.dropped, 1900u);
  EXPECT_EQ(after.exported, before.exported);
  (void)receiver;
}

}  // namespace
}  // namespace wasmq::trace
