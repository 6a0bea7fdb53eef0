// `wasmq serve` end to end with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a receiver this test runs on
// 127.0.0.1: a task created with a client's `traceparent` is one trace from the API's span through the
// worker's attempt to the run and its engine call, which carries `traceparent` to the HTTP engine; the log
// lines (the access log's too) are JSON objects with the ids; a receiver that never answers delays no task.
#ifndef WASMQ_TRACE_NO_SERVE
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "../engines/http_server.h"
#include "http/http.h"

namespace wasmq::trace {
namespace {

using engines::testing::HttpReply;
using engines::testing::HttpReq;
using engines::testing::TestServer;
using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kClientTrace = "0af7651916cd43dd8448eb211c80319c";
constexpr const char* kClientSpan = "b7ad6b7169203331";

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = 30s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// The spans in every OTLP/JSON body the receiver got, and the resources they came with.
struct Received {
  std::vector<Json> spans;
  std::vector<Json> resources;
};
Received Collect(const std::vector<HttpReq>& requests) {
  Received out;
  for (const HttpReq& r : requests) {
    if (r.path() != "/v1/traces") continue;
    const Json body = Json::parse(r.body);
    for (const auto& rs : body["resourceSpans"]) {
      out.resources.push_back(rs["resource"]);
      for (const auto& ss : rs["scopeSpans"])
        for (const auto& s : ss["spans"]) out.spans.push_back(s);
    }
  }
  return out;
}

const Json* Named(const std::vector<Json>& spans, std::string_view name) {
  for (const Json& s : spans)
    if (s["name"] == name) return &s;
  return nullptr;
}

Json Attr(const Json& span, std::string_view key) {
  for (const auto& kv : span["attributes"])
    if (kv["key"] == key) return kv["value"];
  return nullptr;
}

class ServeTraceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("wasmq-trace-" + std::to_string(getpid()) + "-" +
                                                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  // Starts `wasmq serve` with one worker, the abi test module as mode "abi" and an http engine "echo" at
  // `engine_url`, exporting to `otlp_endpoint`; waits for its ready line.
  void StartServe(const std::string& otlp_endpoint, const std::string& engine_url) {
    std::ofstream(file("engines.json")) << Json{{"engines", {{"echo", {{"kind", "http"}, {"url", engine_url},
                                                                         {"retries", 0}, {"timeout_ms", 5000}}}}}}
                                               .dump();
    std::vector<std::string> env = {
        "WASMQ_STORE=sqlite:" + file("tasks.db"), "WASMQ_DATA_DIR=" + file("data"), "WASMQ_ADDR=127.0.0.1:0",
        "WASMQ_PIPELINES=abi=" + std::string(WORKER_MODULES_DIR) + "/abi.wasm",
        "ENGINE_CONFIG_PATH=" + file("engines.json"), "WASMQ_LOG_FORMAT=json", "WASMQ_ACCESS_LOG=on", "WASMQ_RETRY_BACKOFF=10ms",
        "OTEL_EXPORTER_OTLP_ENDPOINT=" + otlp_endpoint, "OTEL_SERVICE_NAME=wasmq-trace-test",
        "OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_EXPORTER_OTLP_TIMEOUT=60000"};
    std::filesystem::remove(file("serve.err"));
    api_.clear();
    pid_ = fork();
    if (pid_ == 0) {
      if (chdir(dir_.c_str()) != 0) _exit(120);
      int err = open("serve.err", O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(err, 2);
      for (const std::string& e : env) putenv(strdup(e.c_str()));
      execl(WASMQ_BINARY, WASMQ_BINARY, "serve", "--workers", "1", static_cast<char*>(nullptr));
      _exit(121);
    }
    ASSERT_TRUE(WaitUntil([&] { return Slurp(file("serve.err")).find("ready (pid") != std::string::npos; }))
        << Slurp(file("serve.err"));
    for (const Json& line : LogLines()) {
      std::string m = line["message"];
      if (size_t at = m.find("on http://"); at != std::string::npos) api_ = m.substr(at + 10, m.find('/', at + 10) - at - 10);
    }
    ASSERT_FALSE(api_.empty()) << Slurp(file("serve.err"));
  }

  // Every line serve wrote to stderr, each parsed as a JSON object (a line that is not one fails the test).
  std::vector<Json> LogLines() {
    std::vector<Json> out;
    std::istringstream in(Slurp(file("serve.err")));
    for (std::string line; std::getline(in, line);) {
      Json j = Json::parse(line, nullptr, false);
      EXPECT_TRUE(j.is_object()) << "not a JSON object: " << line;
      if (j.is_object()) out.push_back(std::move(j));
    }
    return out;
  }

  http::Response Api(const std::string& method, const std::string& path, const std::string& body = "",
                     std::vector<std::string> headers = {}) {
    http::Request req;
    req.method = method;
    req.url = "http://" + api_ + path;
    req.body = body;
    req.headers = std::move(headers);
    if (!body.empty()) req.headers.push_back("Content-Type: application/json");
    req.timeouts.total = 10s;
    return http::Client().Send(req);
  }

  // Submits a task for mode abi with this config; its id.
  std::string Submit(const Json& config, std::vector<std::string> headers = {}) {
    http::Response r = Api("POST", "/api/v1/tasks", Json{{"mode", "abi"}, {"config", config}, {"max_retries", 0}}.dump(),
                           std::move(headers));
    EXPECT_EQ(r.status, 201) << r.body << r.error.reason;
    Json j = Json::parse(r.body, nullptr, false);
    return j.is_object() ? j.value("/data/task_id"_json_pointer, std::string()) : "";
  }

  std::string WaitFinished(const std::string& id, std::chrono::milliseconds limit = 30s) {
    std::string status;
    WaitUntil(
        [&] {
          Json j = Json::parse(Api("GET", "/api/v1/tasks/" + id).body, nullptr, false);
          status = j.is_object() ? j.value("/data/status"_json_pointer, std::string()) : "";
          return status == "done" || status == "failed";
        },
        limit);
    return status;
  }

  int Stop() {
    kill(pid_, SIGTERM);
    int status = 0;
    WaitUntil([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, 30s);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::string api_;
};

TEST_F(ServeTraceTest, OneTraceFromTheRequestToTheEngineCall) {
  TestServer receiver([](const HttpReq&) { return HttpReply{.body = R"({"ok":true})"}; });
  ASSERT_NO_FATAL_FAILURE(StartServe(receiver.url(), receiver.url() + "/engine"));

  const std::string traceparent = std::string("00-") + kClientTrace + "-" + kClientSpan + "-01";
  std::string id = Submit({{"action", "engine"}, {"engine", "echo"}, {"request", {{"size", 2}}}},
                          {"traceparent: " + traceparent, "tracestate: vendor=x"});
  ASSERT_EQ(WaitFinished(id), "done");
  // A task whose engine is unknown fails; its failure is logged inside its attempt's span.
  std::string failing = Submit({{"action", "engine"}, {"engine", "nope"}});
  ASSERT_EQ(WaitFinished(failing), "failed");

  Received got;
  ASSERT_TRUE(WaitUntil([&] {
    got = Collect(receiver.requests());
    int attempts = 0;
    for (const Json& s : got.spans) attempts += s["name"] == "task.attempt";
    return attempts >= 2 && Named(got.spans, "engine.call");
  })) << got.spans.size() << " spans; " << receiver.requests().size() << " requests\n" << Slurp(file("serve.err"));

  // The client's trace, end to end.
  std::vector<Json> ours;
  for (const Json& s : got.spans)
    if (s["traceId"] == kClientTrace) ours.push_back(s);
  const Json* server = Named(ours, "POST /api/v1/tasks");
  const Json* attempt = Named(ours, "task.attempt");
  const Json* resolve = Named(ours, "pipeline.resolve");
  const Json* stage = Named(ours, "inputs.stage");
  const Json* run = Named(ours, "wasm.run");
  const Json* engine = Named(ours, "engine.call");
  ASSERT_TRUE(server && attempt && resolve && stage && run && engine) << Json(ours).dump(1);
  EXPECT_EQ((*server)["parentSpanId"], kClientSpan);
  EXPECT_EQ((*server)["kind"], 2);
  EXPECT_EQ((*server)["traceState"], "vendor=x");
  EXPECT_EQ(Attr(*server, "http.route")["stringValue"], "/api/v1/tasks");
  EXPECT_EQ(Attr(*server, "http.request.method")["stringValue"], "POST");
  EXPECT_EQ(Attr(*server, "http.response.status_code")["intValue"], "201");

  EXPECT_EQ((*attempt)["parentSpanId"], (*server)["spanId"]);
  EXPECT_EQ((*attempt)["kind"], 5);
  EXPECT_EQ(Attr(*attempt, "wasmq.task.id")["stringValue"], id);
  EXPECT_EQ(Attr(*attempt, "wasmq.mode")["stringValue"], "abi");
  EXPECT_EQ(Attr(*attempt, "wasmq.attempt")["intValue"], "1");
  EXPECT_EQ(Attr(*attempt, "wasmq.outcome")["stringValue"], "done");
  EXPECT_TRUE(Attr(*attempt, "wasmq.queue_wait_ms").contains("intValue"));

  for (const Json* child : {resolve, stage, run}) EXPECT_EQ((*child)["parentSpanId"], (*attempt)["spanId"]);
  EXPECT_EQ(Attr(*run, "wasmq.exit_code")["intValue"], "0");
  EXPECT_EQ((*engine)["parentSpanId"], (*run)["spanId"]);
  EXPECT_EQ((*engine)["kind"], 3);
  EXPECT_EQ(Attr(*engine, "wasmq.engine.name")["stringValue"], "echo");
  EXPECT_EQ(Attr(*engine, "wasmq.engine.kind")["stringValue"], "http");
  EXPECT_EQ(Attr(*engine, "wasmq.engine.status")["stringValue"], "OK");
  // Times are unix nanoseconds as strings, and a child lies within its parent.
  auto ns = [](const Json& s, const char* k) { return std::stoll(s[k].get<std::string>()); };
  EXPECT_GT(ns(*server, "startTimeUnixNano"), 1'600'000'000'000'000'000LL);
  EXPECT_LE(ns(*server, "startTimeUnixNano"), ns(*attempt, "startTimeUnixNano"));
  EXPECT_LE(ns(*run, "startTimeUnixNano"), ns(*engine, "startTimeUnixNano"));
  EXPECT_LE(ns(*engine, "endTimeUnixNano"), ns(*run, "endTimeUnixNano"));

  // The engine got the call's context.
  std::string sent;
  for (const HttpReq& r : receiver.requests())
    if (r.path() == "/engine") sent = r.headers.count("traceparent") ? r.headers.at("traceparent") : "none";
  EXPECT_EQ(sent, std::string("00-") + kClientTrace + "-" + (*engine)["spanId"].get<std::string>() + "-01");

  // The failed task: a trace of its own (no traceparent sent), its attempt failed with an error status.
  const Json* failed_attempt = nullptr;
  for (const Json& s : got.spans)
    if (s["name"] == "task.attempt" && Attr(s, "wasmq.task.id")["stringValue"] == failing) failed_attempt = &s;
  ASSERT_TRUE(failed_attempt);
  EXPECT_NE((*failed_attempt)["traceId"], kClientTrace);
  EXPECT_EQ(Attr(*failed_attempt, "wasmq.outcome")["stringValue"], "failed");
  EXPECT_EQ((*failed_attempt)["status"]["code"], 2);

  bool resource_named = false;
  for (const Json& r : got.resources)
    for (const auto& kv : r["attributes"])
      resource_named |= kv["key"] == "service.name" && kv["value"]["stringValue"] == "wasmq-trace-test";
  EXPECT_TRUE(resource_named);

  EXPECT_EQ(Stop(), 0);
  // JSON log lines: every one an object with the fields; the failure's line carries its attempt's ids.
  bool failure_logged = false, access_logged = false;
  for (const Json& line : LogLines()) {
    access_logged |= line.value("message", "").starts_with("api: 127.0.0.1 POST /api/v1/tasks 201 ");
    EXPECT_TRUE(line.contains("time") && line.contains("level") && line.contains("message") && line.contains("fields"))
        << line.dump();
    EXPECT_EQ(line["fields"]["command"], "serve");
    const std::string m = line.value("message", "");
    if (m.find(failing) != std::string::npos && m.find("failed (") != std::string::npos) {
      failure_logged = true;
      EXPECT_EQ(line.value("trace_id", ""), (*failed_attempt)["traceId"]) << line.dump();
      EXPECT_EQ(line.value("span_id", ""), (*failed_attempt)["spanId"]) << line.dump();
    }
  }
  EXPECT_TRUE(failure_logged) << Slurp(file("serve.err"));
  EXPECT_TRUE(access_logged) << Slurp(file("serve.err"));  // --access-log's lines are JSON objects too
}

// A collector that accepts connections and never answers, then one that is not there: tasks run as fast as
// without tracing, and shutdown still ends within its flush budget.
TEST_F(ServeTraceTest, AReceiverThatIsSlowOrDownDelaysNoTask) {
  TestServer engine([](const HttpReq&) { return HttpReply{.body = R"({"ok":true})"}; });
  TestServer stuck([&stuck](const HttpReq&) {
    stuck.Hold();
    return HttpReply{};
  });
  ASSERT_NO_FATAL_FAILURE(StartServe(stuck.url(), engine.url() + "/engine"));
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Submit({{"action", "engine"}, {"engine", "echo"}}));
  for (const std::string& id : ids) EXPECT_EQ(WaitFinished(id, 10s), "done");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 8s);
  auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(Stop(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t1, 15s);  // the flush gives up after its 5 s budget

  const int closed = engines::testing::ClosedPort();
  ASSERT_NO_FATAL_FAILURE(StartServe("http://127.0.0.1:" + std::to_string(closed), engine.url() + "/engine"));
  std::string id = Submit({{"action", "engine"}, {"engine", "echo"}});
  EXPECT_EQ(WaitFinished(id, 10s), "done");
  EXPECT_TRUE(WaitUntil([&] { return Slurp(file("serve.err")).find("traces: export to") != std::string::npos; }, 10s))
      << Slurp(file("serve.err"));
  EXPECT_EQ(Stop(), 0);
}

}  // namespace
}  // namespace wasmq::trace
#endif  // WASMQ_TRACE_NO_SERVE
