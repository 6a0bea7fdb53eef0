// File: src/api/app.h
//
// Internal to the api part: the whole HTTP behaviour above the socket. App::Handle takes one complete
// request and returns its response — CORS preflight, routing (404 / 405 with Allow), authentication,
// the per-user rate limit, the handler, CORS and security headers, metrics — so that tests and the fuzzer
// can drive it without a connection. The Beast sessions only read, write, and upgrade.
//
// Thread-safe: Handle runs on any I/O thread, concurrently.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "api/handlers.h"
#include "api/rate_limiter.h"
#include "api/router.h"

namespace wasmq::api {

// Who watches what over a WebSocket.
struct WatchTarget {
  Caller caller;
  std::string task_id;  // empty: every task of the caller (/api/v1/ws)
};

class App {
 public:
  explicit App(ApiContext ctx);

  // Never throws; a handler's exception becomes 500.
  Response Handle(const Request& req);

  // The largest body the request may send, known from its method and path before the body is read.
  uint64_t BodyLimit(std::string_view method, std::string_view path) const;

  // For a WebSocket upgrade request: the watch it asks for if it may (route, origin, token, rate limit, and
  // the task's owner), or the error response to send instead of upgrading.
  std::variant<WatchTarget, Response> AuthorizeWatch(const Request& req);

  const Router& router() const { return router_; }

 private:
  // Handle without the bookkeeping; sets `route` to the matched pattern for the metrics.
  Response Dispatch(const Request& req, std::string& route);
  // The caller for `route`, or the refusal (401, 429).
  std::variant<Caller, Response> Admit(const Request& req, const Route& route, std::optional<std::string_view> token);

  ApiContext ctx_;
  Router router_;
  RateLimiter limiter_;
};

}  // namespace wasmq::api
