// File: src/api/app.h
//
// Internal to the api part: the whole HTTP behaviour above the socket. App::Handle takes one complete
// request and returns its response — CORS preflight, routing (404 / 405 with Allow), authentication,
// the per-user rate limit, the handler, CORS and security headers, metrics — so that tests and the fuzzer
// can drive it without a connection. The Beast sessions only read, write, and upgrade.
//
// Thread-safe: Handle runs on any I/O thread, concurrently.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "api/handlers.h"
#include "api/rate_limiter.h"
#include "api/router.h"

namespace wasmq::api {

// Who watches what over a WebSocket.
struct WatchTarget {
  Caller caller;
  std::string task_id;  // empty: every task of the caller (/api/v1/ws), or a batch's
  std::string batch_id = {};                  // /api/v1/batches/{id}/ws: the tasks of this batch
  std::vector<std::string> batch_tasks = {};  // (its tasks, read when it was authorized)
};

class App {
 public:
  explicit App(ApiContext ctx);

  // Never throws; a handler's exception becomes 500. `admitted`: the caller Screen() admitted when the
  // headers came in (its token and rate-limit token are not taken a second time).
  Response Handle(const Request& req, const std::optional<Caller>& admitted = std::nullopt);

  // For a request whose body is still to come, `head` being everything but the body: what the headers
  // alone decide. A Response (401, 429, 403) is the answer to send without reading the body, then close;
  // a Caller is admitted (pass it to Handle); nothing means the headers decide nothing (no such route, a
  // preflight: Handle decides once the body is in). So a client without a valid token cannot make the
  // server read, buffer or store a body.
  std::variant<std::monostate, Caller, Response> Screen(const Request& head);

  // The largest body the request may send, known from its method and path before the body is read.
  uint64_t BodyLimit(std::string_view method, std::string_view path) const;
  // Whether the body goes to a file rather than memory (uploads): the session streams it to disk.
  bool StreamsBody(std::string_view method, std::string_view path) const;

  // For a WebSocket upgrade request: the watch it asks for if it may (route, origin, token, rate limit, and
  // the task's owner), or the error response to send instead of upgrading.
  std::variant<WatchTarget, Response> AuthorizeWatch(const Request& req);

  const Router& router() const { return router_; }

 private:
  // Handle without the bookkeeping; sets `route` to the matched pattern for the metrics.
  Response Dispatch(const Request& req, std::string& route, const std::optional<Caller>& admitted);
  // The caller for `route`, or the refusal (401, 429).
  std::variant<Caller, Response> Admit(const Request& req, const Route& route, std::optional<std::string_view> token);
  // What every answer gets: CORS and security headers, and the request's metrics.
  void Finish(const Request& req, Response& res, const std::string& route,
              std::chrono::steady_clock::time_point start);

  ApiContext ctx_;
  Router router_;
  RateLimiter limiter_;
};

}  // namespace wasmq::api
