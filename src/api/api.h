// File: src/api/api.h
//
// The api part's public header: wasmq's HTTP server. One ApiServer serves, on one port,
//
//   /api/v1/tasks…, /api/v1/files…   REST, answers in the envelope {"success": true, "data": …} or
//                                    {"success": false, "error": {"code", "message"}} (docs/api.md)
//   /api/v1/tasks/{id}/ws, /api/v1/ws  WebSocket streams of task events (docs/api.md, "WebSocket")
//   /api/v1/openapi.json             the OpenAPI 3 description of all of it
//   /healthz, /readyz, /metrics      liveness, readiness (the store answers), Prometheus text format
//   /                                the dashboard (web/, compiled into the binary; ApiConfig::web_root
//                                    serves a directory instead)
//
//   wasmq::queue::TaskService tasks(*store, {});
//   wasmq::api::ApiServer server(tasks, {.addr = "127.0.0.1", .port = 8080, .files_dir = "data/files"});
//   if (auto r = server.Start(); !r) die(r.error().message);   // listening when this returns
//   ... wait for SIGTERM ...
//   server.Stop();                                             // graceful: see Stop()
//
// Threads: the server runs its own I/O threads (ApiConfig::threads); request handlers call the TaskService
// and the Store from them. Every public method is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/queue.h"

namespace wasmq::storage {
class UploadStore;
class ObjectStore;
}  // namespace wasmq::storage

namespace wasmq::api {

struct ApiConfig {
  // ---- Listening
  std::string addr = "127.0.0.1";  // an IP address (v4 or v6); "0.0.0.0" for every interface
  uint16_t port = 8080;            // 0: any free port (read it back with ApiServer::port())
  int threads = 0;                 // I/O threads; 0: one per CPU, at least 2

  // ---- Auth. Off (the edge default): every caller is the one anonymous user "". On: every /api/v1 request
  // except openapi.json needs `Authorization: Bearer <JWT>` (WebSocket: `?token=<JWT>` also works); the
  // token's `sub` owns what it creates and sees nothing else.
  bool auth_required = false;
  std::string jwt_secret = {};  // HS256 key; at least 32 bytes when auth_required
  std::string jwt_issuer = {};  // when set, the token's `iss` must equal it
  std::string jwt_audience = {};  // when set, the token's `aud` must equal it (or contain it)
  std::chrono::seconds jwt_leeway{30};  // clock skew allowed on exp / nbf

  // ---- CORS: origins allowed to call the API from a browser ("*" = any). Empty: no CORS headers, and a
  // cross-origin WebSocket is refused (a page elsewhere cannot read the tasks of an auth-off server).
  std::vector<std::string> cors_origins = {};

  // ---- Limits
  uint64_t max_upload_bytes = 32ull << 20;  // one uploaded file (413 past it)
  uint64_t max_json_bytes = 1ull << 20;     // any other request body (413 past it)
  uint32_t max_header_bytes = 16 * 1024;    // request line + headers (431 past it)
  int max_connections = 1024;               // HTTP and WebSocket together; more are answered 503 and closed
  double rate_limit = 0;                    // requests per second per user (per client IP with auth off); 0: off
  int rate_burst = 0;                       // bucket size; 0: 2 × rate_limit, at least 1
  std::chrono::seconds header_timeout{10};  // to receive a request's headers (slow clients are dropped)
  std::chrono::seconds body_timeout{60};    // to receive its body
  std::chrono::seconds idle_timeout{60};    // a keep-alive connection with no request; a silent WebSocket
  std::chrono::seconds shutdown_grace{10};  // Stop() waits this long for requests in flight

  // ---- Storage
  // Uploaded files: FILES_DIR/<img_id> holds the bytes, FILES_DIR/<img_id>.json their metadata (owner,
  // content type, size, sha256). A worker stages a task's source_image from FILES_DIR/<source_image>.
  std::string files_dir = "wasmq-data/files";
  // Task directories (storage::TasksDir): a done task's outputs are served from the attempt directory its
  // result names (storage.h).
  std::string tasks_dir = "wasmq-data/tasks";
  // Object storage (--storage s3://…, docs/storage.md): uploads go to `upload_store` instead of a directory
  // store on files_dir (which then only holds request bodies while they arrive), and a done task's outputs
  // are read from `bucket` (storage::TaskOutputKey) instead of tasks_dir: streamed through the API, or, with
  // `redirect_downloads`, answered 302 to a presigned URL valid for `presign_ttl`.
  std::shared_ptr<storage::UploadStore> upload_store = nullptr;
  std::shared_ptr<storage::ObjectStore> bucket = nullptr;
  bool redirect_downloads = false;
  std::chrono::seconds presign_ttl{900};
  // The dashboard: empty serves the copy compiled into the binary; a directory serves its files instead.
  std::string web_root = {};

  bool access_log = false;  // one line per request on stderr
  // Where the access log's lines go (serve passes its own log, so that --log-format applies to them); unset:
  // stderr, as "wasmq api: LINE". Called on the API's threads, concurrently.
  std::function<void(std::string_view line)> log = {};

  // ---- Metrics. A token: /metrics answers only `Authorization: Bearer <metrics_token>` (401 otherwise).
  // An address ("IP:PORT", port 0 picks one): /metrics is served there alone, and no longer on `addr`.
  std::string metrics_token = {};
  std::string metrics_addr = {};

  // ---- Admission (--admission-policy). Asked before a task is created, with {"request": the body,
  // "user": the token's claims ({"sub": ""} with auth off), "queue": the queue's stats}; a message means
  // "denied" (403 FORBIDDEN with that message). Called on the API's threads, concurrently.
  std::function<std::optional<std::string>(const nlohmann::json& input)> admit_task = {};

  // ---- The registered pipelines, as GET /api/v1/pipelines lists them (worker::PipelineRegistry::Describe);
  // unset: an empty list. Called on the API's threads, concurrently.
  std::function<nlohmann::json()> pipelines = {};
};

// Checks a configuration without starting anything: InvalidArgument naming the field.
queue::Result<void> ValidateConfig(const ApiConfig& config);

class ApiServer {
 public:
  // `tasks` (and its Store) must outlive the server.
  ApiServer(queue::TaskService& tasks, ApiConfig config);
  ~ApiServer();  // Stop()s
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Validates the configuration, creates files_dir, binds and starts serving. Returns once the socket
  // listens. InvalidArgument for a bad configuration, Unavailable when the address cannot be bound.
  queue::Result<void> Start();

  // Graceful: stops accepting, turns /readyz to 503, closes WebSockets with 1001 "going away", lets
  // requests in flight finish for up to shutdown_grace, then closes everything and joins the threads.
  // Idempotent; blocks until done.
  void Stop();

  uint16_t port() const;  // the bound port (after Start)
  uint16_t metrics_port() const;  // the metrics listener's bound port; 0 without metrics_addr

  // Observations from other parts for /metrics (the worker's hook): a pipeline module instantiated.
  void ObserveWasmInstantiation(std::string_view mode, double seconds);
  // ... a module pull failed, by `wasmq doctor`'s cause ("network", "auth", "tag-not-found", ...).
  void ObserveModulePullFailure(std::string_view cause);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Signs an HS256 JWT for `subject`, valid for `ttl` (tests, benchmarks, `wasmq token`). `admin`: the token
// carries "admin": true (sees every user's tasks, and the workers).
std::string SignToken(std::string_view secret, std::string_view subject, std::chrono::seconds ttl,
                      bool admin = false);

}  // namespace wasmq::api
