// File: src/api/app.cc
#include "api/app.h"

#include <chrono>
#include <cstdio>
#include <exception>

#include "api/auth.h"
#include "api/envelope.h"
#include "api/query.h"
#include "trace/trace.h"

namespace wasmq::api {
namespace {

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string JoinAllowed(std::vector<std::string> methods) {
  std::sort(methods.begin(), methods.end());
  methods.erase(std::unique(methods.begin(), methods.end()), methods.end());
  std::string out;
  for (const std::string& m : methods) out += (out.empty() ? "" : ", ") + m;
  return out + ", OPTIONS";
}

// With auth off nothing but the network guards the API, and a browser sends another site's form post or
// fetch to it without asking first (a CORS "simple request", multipart/form-data included; CORS only hides
// the answer). So a state-changing request from a page of an origin the operator did not allow is refused,
// whatever its route. Clients that are not browsers send no Origin. With auth on, a token is needed, which a
// page of another site does not have.
std::optional<Response> RefuseForeignOrigin(const ApiConfig& config, const Request& req) {
  if (config.auth_required || req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS")
    return std::nullopt;
  std::string_view origin = req.Header("origin");
  if (origin.empty() || SameOrigin(req) || OriginAllowed(config, origin)) return std::nullopt;
  return Fail(
      403, code::kForbidden,
      "origin " + std::string(origin.substr(0, 256)) + " may not change anything here (WASMQ_CORS_ORIGINS)");
}

}  // namespace

App::App(ApiContext ctx) : ctx_(ctx), limiter_(ctx.config.rate_limit, ctx.config.rate_burst) {
  AddSystemRoutes(router_, ctx_);
  AddTaskRoutes(router_, ctx_);
  AddFileRoutes(router_, ctx_);
  AddDashboardRoutes(router_, ctx_);
  AddFlowRoutes(router_, ctx_);
  AddScheduleRoutes(router_, ctx_);
  router_.Add({.method = "GET", .pattern = "/api/v1/tasks/{id}/ws", .websocket = true});
  router_.Add({.method = "GET", .pattern = "/api/v1/batches/{id}/ws", .websocket = true});
  router_.Add({.method = "GET", .pattern = "/api/v1/ws", .websocket = true});
}

uint64_t App::BodyLimit(std::string_view method, std::string_view path) const {
  // Room for the multipart framing around the file; the file's own size is checked once it is parsed.
  if (StreamsBody(method, path)) return ctx_.config.max_upload_bytes + 64 * 1024;
  return ctx_.config.max_json_bytes;
}

bool App::StreamsBody(std::string_view method, std::string_view path) const {
  return method == "POST" && path == "/api/v1/files";
}

std::variant<Caller, Response> App::Admit(const Request& req, const Route& route,
                                          std::optional<std::string_view> token) {
  Caller caller;
  if (route.authenticated) {
    auto who = Authenticate(ctx_.config, req, token, NowSeconds());
    if (auto* refusal = std::get_if<Response>(&who)) return std::move(*refusal);
    caller = std::get<Caller>(std::move(who));
  }
  if (route.rate_limited && limiter_.enabled()) {
    std::string key = ctx_.config.auth_required ? "u:" + caller.user : "ip:" + req.remote;
    int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch()).count();
    if (int64_t wait_ms = limiter_.Acquire(key, now_ms); wait_ms > 0) {
      Response r = Fail(429, code::kRateLimited, "rate limit exceeded; retry in " + std::to_string(wait_ms) + " ms");
      r.Set("Retry-After", std::to_string((wait_ms + 999) / 1000));
      return r;
    }
  }
  return caller;
}

Response App::Dispatch(const Request& req, std::string& route_name, const std::optional<Caller>& admitted) {
  if (auto pre = Preflight(ctx_.config, req)) {
    route_name = "preflight";
    return std::move(*pre);
  }
  if (auto refusal = RefuseForeignOrigin(ctx_.config, req)) return std::move(*refusal);
  Router::Match m = router_.Find(req.method, req.path);
  if (!m.route) {
    if (!m.allowed.empty()) {
      route_name = "unmatched";
      Response r = Fail(405, code::kMethodNotAllowed, "method " + req.method.substr(0, 16) + " is not allowed here");
      r.Set("Allow", JoinAllowed(m.allowed));
      return r;
    }
    if (req.path.starts_with("/api/")) {
      route_name = "unmatched";
      return Fail(404, code::kNotFound, "no route " + req.path.substr(0, 256));
    }
    route_name = "static";
    if (req.method != "GET" && req.method != "HEAD") {
      Response r = Fail(405, code::kMethodNotAllowed, "the dashboard's files are read-only");
      r.Set("Allow", "GET, HEAD, OPTIONS");
      return r;
    }
    return ctx_.web.Serve(req);
  }
  route_name = m.route->pattern;
  if (m.route->websocket) {
    Response r = Fail(426, "UPGRADE_REQUIRED", "this route is a WebSocket: send an Upgrade: websocket request");
    r.Set("Upgrade", "websocket");
    return r;
  }
  if (admitted) return m.route->handler(req, m.params, *admitted);
  auto caller = Admit(req, *m.route, std::nullopt);
  if (auto* refusal = std::get_if<Response>(&caller)) return std::move(*refusal);
  return m.route->handler(req, m.params, std::get<Caller>(caller));
}

void App::Finish(const Request& req, Response& res, const std::string& route,
                 std::chrono::steady_clock::time_point start) {
  AddCorsHeaders(ctx_.config, req, res);
  res.Set("X-Content-Type-Options", "nosniff");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ctx_.metrics.ObserveHttp(route, req.method, res.status, seconds);
}

// The request's server span: a child of the client's `traceparent` when it sends a valid one. Empty when
// tracing is off (then nothing here costs more than an atomic load).
trace::Span StartServerSpan(const Request& req) {
  if (!trace::Enabled()) return {};
  auto parent = trace::ParseTraceparent(req.Header("traceparent"), req.Header("tracestate"));
  trace::Span span = trace::StartSpan(req.method, {.kind = trace::Kind::Server, .parent = parent ? &*parent : nullptr,
                                                   .root = !parent});
  if (span.recording()) {
    span.SetAttribute("http.request.method", req.method);
    span.SetAttribute("url.path", req.path.substr(0, 256));
    span.SetAttribute("client.address", req.remote);
    if (std::string_view agent = req.Header("user-agent"); !agent.empty())
      span.SetAttribute("user_agent.original", agent.substr(0, 256));
  }
  return span;
}

void EndServerSpan(trace::Span& span, const Request& req, const std::string& route, const Response& res) {
  if (!span.recording()) return;
  span.SetName(req.method + " " + route);
  span.SetAttribute("http.route", route);
  span.SetAttribute("http.response.status_code", res.status);
  if (res.status >= 500) span.SetError("HTTP " + std::to_string(res.status));
}

Response App::Handle(const Request& req, const std::optional<Caller>& admitted) {
  auto start = std::chrono::steady_clock::now();
  std::string route = "unmatched";
  Response res;
  trace::Span span = StartServerSpan(req);
  trace::Scope scope(span);  // a task created here keeps this span's context (routes_tasks.cc)
  try {
    res = Dispatch(req, route, admitted);
  } catch (const std::exception& e) {
    // A bug, not bad input: say so in the log, and keep serving.
    std::fprintf(stderr, "wasmq api: %s %s: internal error: %s\n", req.method.c_str(), req.path.c_str(), e.what());
    res = Fail(500, code::kInternal, "internal error");
  }
  Finish(req, res, route, start);
  EndServerSpan(span, req, route, res);
  return res;
}

std::variant<std::monostate, Caller, Response> App::Screen(const Request& head) {
  auto start = std::chrono::steady_clock::now();
  if (head.method == "OPTIONS")
    return std::monostate{};  // a preflight, or OPTIONS with a body: Handle decides
  Router::Match m = router_.Find(head.method, head.path);
  std::string route = m.route ? m.route->pattern : "unmatched";
  std::variant<Caller, Response> caller;
  if (auto refusal = RefuseForeignOrigin(ctx_.config, head))
    caller = std::move(*refusal);
  else if (!m.route || m.route->websocket)
    return std::monostate{};
  else
    caller = Admit(head, *m.route, std::nullopt);
  if (auto* refusal = std::get_if<Response>(&caller)) {
    refusal->close = true;  // the body stays unread
    Finish(head, *refusal, route, start);
    return std::move(*refusal);
  }
  return std::get<Caller>(std::move(caller));
}

std::variant<WatchTarget, Response> App::AuthorizeWatch(const Request& req) {
  auto start = std::chrono::steady_clock::now();
  std::string route = "unmatched";
  auto result = [&]() -> std::variant<WatchTarget, Response> {
    Router::Match m = router_.Find(req.method, req.path);
    if (!m.route || !m.route->websocket) return Fail(404, code::kNotFound, "no WebSocket route " + req.path.substr(0, 256));
    route = m.route->pattern;
    // Browsers send Origin on every WebSocket; a page of another origin must be one the operator allowed.
    std::string_view origin = req.Header("origin");
    if (!origin.empty() && !SameOrigin(req) && !OriginAllowed(ctx_.config, origin))
      return Fail(403, code::kForbidden, "origin " + std::string(origin.substr(0, 256)) + " may not open a WebSocket here");
    auto params = ParseQuery(req.query);
    if (!params) return Fail(400, code::kBadRequest, params.error().message);
    std::optional<std::string> token = QueryValue(*params, "token");
    auto admitted = Admit(req, *m.route, token ? std::optional<std::string_view>(*token) : std::nullopt);
    if (auto* refusal = std::get_if<Response>(&admitted)) return std::move(*refusal);
    WatchTarget target{std::get<Caller>(std::move(admitted)), m.params.Get("id")};
    if (m.route->pattern.starts_with("/api/v1/batches/")) {
      auto b = GetOwnedBatch(ctx_, target.caller, target.task_id);
      if (!b) return FromError(b.error());
      target.task_id.clear();
      target.batch_id = b->batch_id;
      target.batch_tasks = b->task_ids;
    } else if (!target.task_id.empty()) {
      auto t = GetOwnedTask(ctx_, target.caller, target.task_id);
      if (!t) return FromError(t.error());
    }
    return target;
  }();
  if (auto* res = std::get_if<Response>(&result)) {
    AddCorsHeaders(ctx_.config, req, *res);
    ctx_.metrics.ObserveHttp(route, req.method, res->status,
                             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return result;
}

}  // namespace wasmq::api
