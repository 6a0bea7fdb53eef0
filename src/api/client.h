// File: src/api/client.h
//
// A client of wasmq's REST API and WebSocket streams, for `wasmq task --server URL --token T` and for tests
// and benchmarks. Synchronous: each call opens a connection, sends one request, and returns the envelope's
// `data` — or an Error whose code follows the HTTP status (404 NotFound, 409 Conflict, 503 and connection
// failures Unavailable, other 4xx InvalidArgument, the rest Internal) and whose message is the server's
// "CODE: message". Plain http:// only (put TLS in a proxy in front of the server).
//
//   wasmq::api::Client c({.server = "http://127.0.0.1:8080", .token = jwt});
//   auto task = c.Submit({{"mode", "HEAD_SWAP"}, {"source_image", "img_…"}});
//   c.Watch((*task)["task_id"].get<std::string>(), [](const Json& m) { …; return true; });
//
// Thread-compatible: one Client per thread, or external locking.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "queue/queue.h"

namespace wasmq::api {

struct ClientOptions {
  std::string server = "http://127.0.0.1:8080";  // http://HOST[:PORT]
  std::string token = {};                        // a JWT; empty when the server runs without auth
  std::chrono::seconds timeout{30};              // per request (connect, send, receive)
};

struct ListOptions {
  int page = 1;
  int page_size = 20;
  std::string status = {};  // empty: any
  std::string mode = {};    // empty: any
};

class Client {
 public:
  explicit Client(ClientOptions options);

  queue::Result<queue::Json> Submit(const queue::Json& request);  // → TaskInfo
  queue::Result<queue::Json> Get(std::string_view task_id);       // → TaskInfo
  queue::Result<queue::Json> List(const ListOptions& options);    // → TaskListResponse
  queue::Result<queue::Json> Cancel(std::string_view task_id);    // → TaskInfo
  queue::Result<queue::Json> Retry(std::string_view task_id);     // a failed task back to pending → TaskInfo
  queue::Result<queue::Json> Stats();                             // → QueueStats
  queue::Result<queue::Json> Upload(const std::string& path);     // → FileInfo

  // Streams /api/v1/tasks/{id}/ws: `on_message` gets every message, the snapshot first, until the server
  // closes the stream (the task finished: OK) or `on_message` returns false (OK). A connection failure
  // or a refusal (404, 401) is an Error.
  queue::Result<void> Watch(std::string_view task_id, const std::function<bool(const queue::Json&)>& on_message);

  // One request with any method and path; the whole envelope comes back as `data` is, errors as above.
  queue::Result<queue::Json> Call(std::string_view method, std::string_view target, std::string_view body = {},
                                  std::string_view content_type = "application/json");
  // GET of a file (an upload, a task's output): the body as it is.
  queue::Result<std::string> Fetch(std::string_view target);

 private:
  // One request; the status and the body. Unavailable when the server cannot be reached in time.
  queue::Result<std::pair<int, std::string>> Exchange(std::string_view method, std::string_view target,
                                                      std::string_view body, std::string_view content_type);

  ClientOptions options_;
  std::string host_, port_;
  std::optional<queue::Error> bad_url_;
};

// A terminal progress line: "[##########----------]  50%  processing  resizing".
std::string ProgressLine(int percent, std::string_view status, std::string_view step, int width = 30);

}  // namespace wasmq::api
