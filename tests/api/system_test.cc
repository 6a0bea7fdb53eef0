// The operator's routes (/healthz, /readyz, /metrics), the OpenAPI document checked against the route
// table, and the dashboard's static files.
#include <fstream>
#include <set>

#include "api/app.h"
#include "api/metrics.h"
#include "api/static_files.h"
#include "harness.h"
#include "storage/storage.h"

namespace wasmq::api::testing {
namespace {

class SystemTest : public ApiTest {
 protected:
  void SetUp() override { StartServer(); }
};

TEST_F(SystemTest, HealthAndReadiness) {
  HttpReply h = Get("/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.json()["data"]["status"], "ok");
  HttpReply r = Get("/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["data"]["store"], "sqlite");
}

TEST_F(SystemTest, MetricsCoverTasksRequestsAndDurations) {
  std::string id = Submit();
  Submit();
  queue::Lease lease = Claim();
  ASSERT_TRUE(store_->Complete(lease, {}).ok());
  Get("/api/v1/tasks/" + id);
  server_->ObserveWasmInstantiation("HEAD_SWAP", 0.0002);
  HttpReply m = Get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  for (std::string want : {"wasmq_tasks{status=\"pending\"} 1", "wasmq_tasks{status=\"done\"} 1", "wasmq_queue_depth 1",
                           "wasmq_store_up 1", "wasmq_task_duration_seconds_count{mode=\"HEAD_SWAP\",status=\"done\"} 1",
                           "wasmq_http_request_duration_seconds_count{route=\"/api/v1/tasks/{id}\",method=\"GET\",code=\"200\"} 1",
                           "wasmq_http_request_duration_seconds_count{route=\"/api/v1/tasks\",method=\"POST\",code=\"201\"} 2",
                           "wasmq_wasm_instantiation_seconds_count{mode=\"HEAD_SWAP\"} 1", "wasmq_http_connections "})
    EXPECT_NE(m.body.find(want), std::string::npos) << want;
  // Paths with ids never become label values: the route pattern does.
  EXPECT_EQ(m.body.find(id), std::string::npos);
}

// Every route of the table is in the document under its method, and the document has nothing else.
TEST_F(SystemTest, OpenApiDocumentMatchesTheRoutes) {
  HttpReply r = Get("/api/v1/openapi.json");
  ASSERT_EQ(r.status, 200);
  Json doc = r.json();
  ASSERT_TRUE(doc.is_object()) << "not JSON";
  EXPECT_TRUE(doc["openapi"].get<std::string>().starts_with("3."));

  std::set<std::string> documented;
  for (auto& [path, ops] : doc["paths"].items())
    for (auto& [method, op] : ops.items()) {
      std::string m = method;
      for (char& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert(m + " " + path);
      EXPECT_TRUE(op.contains("responses")) << m << " " << path;
      EXPECT_TRUE(op.contains("operationId")) << m << " " << path;
    }
  auto files = storage::OpenLocalUploadStore(config_.files_dir);
  Metrics metrics;
  StaticFiles web("");
  std::atomic<bool> draining{false};
  App app(ApiContext{config_, *tasks_, **files, metrics, web, draining});
  std::set<std::string> routed;
  for (const Route& route : app.router().routes()) {
    std::string pattern = route.pattern;
    if (auto dots = pattern.find("...}"); dots != std::string::npos) pattern.erase(dots, 3);  // {path...} → {path}
    routed.insert(route.method + " " + pattern);
  }
  EXPECT_EQ(documented, routed);
  // Every $ref resolves.
  std::function<void(const Json&)> check = [&](const Json& j) {
    if (j.is_object()) {
      if (j.contains("$ref")) {
        std::string ref = j["$ref"];
        ASSERT_TRUE(ref.starts_with("#/"));
        Json::json_pointer ptr(ref.substr(1));
        EXPECT_TRUE(doc.contains(ptr)) << ref;
      }
      for (auto& [k, v] : j.items()) check(v);
    } else if (j.is_array()) {
      for (const Json& v : j) check(v);
    }
  };
  check(doc);
}

TEST_F(SystemTest, DashboardIsServedFromTheBinary) {
  HttpReply r = Get("/");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(r.header("content-security-policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(r.header("x-frame-options"), "DENY");
  EXPECT_NE(r.body.find("<html"), std::string::npos);
  EXPECT_EQ(Http(port(), "GET", "/", "", {{"If-None-Match", r.header("etag")}}).status, 304);
  EXPECT_EQ(Get("/index.html").body, r.body);
  EXPECT_EQ(Get("/js/app.js").header("content-type"), "text/javascript; charset=utf-8");  // a module in a subfolder
  EXPECT_EQ(Get("/js/views/task.js").status, 200);
  EXPECT_EQ(Get("/favicon.svg").header("content-type"), "image/svg+xml");
  EXPECT_EQ(Get("/style.css").status, 200);
  EXPECT_EQ(Get("/nope.js").status, 404);
  EXPECT_EQ(Http(port(), "POST", "/index.html", "x").status, 405);
  EXPECT_EQ(Http(port(), "HEAD", "/").status, 200);
}

class WebRootTest : public ApiTest {};

TEST_F(WebRootTest, ServesADirectoryWithoutEscapingIt) {
  std::filesystem::path root = dir_.path() / "web";
  std::filesystem::create_directories(root / "sub");
  std::ofstream(root / "index.html") << "<html>dev</html>";
  std::ofstream(root / "sub" / "a.css") << "body{}";
  std::ofstream(root / ".env") << "SECRET=1";
  std::ofstream(dir_.path() / "outside.txt") << "secret";
  std::filesystem::create_symlink(dir_.path() / "outside.txt", root / "link.txt");
  StartServer({.web_root = root.string()});
  EXPECT_EQ(Get("/").body, "<html>dev</html>");
  EXPECT_EQ(Get("/sub/a.css").body, "body{}");
  EXPECT_EQ(Get("/sub/").status, 404);  // no index there
  for (std::string bad : {"/.env", "/link.txt", "/../outside.txt", "/%2e%2e/outside.txt", "/sub/%2e%2e/%2e%2e/outside.txt",
                          "/sub//a.css", "/%00"})
    EXPECT_EQ(Get(bad).status, 404) << bad;
}

}  // namespace
}  // namespace wasmq::api::testing
