// File: src/api/routes_system.cc
//
// The routes an operator's tools call: liveness (/healthz: the process answers), readiness (/readyz: the
// store answers and the server is not shutting down — a load balancer stops sending work), Prometheus
// metrics, and the OpenAPI document. None needs a user's token, none is rate limited; /metrics needs the
// metrics token when one is set (ApiConfig::metrics_token).
#include <cctype>

#include "api/envelope.h"
#include "api/handlers.h"

namespace wasmq::api {
namespace {

Response Healthz() { return Ok({{"status", "ok"}}); }

Response Readyz(ApiContext& ctx) {
  if (ctx.draining.load()) return Fail(503, code::kUnavailable, "shutting down");
  if (auto r = ctx.tasks.store().Ping(); !r) return Fail(503, code::kUnavailable, "store: " + r.error().message);
  return Ok({{"status", "ready"}, {"store", ctx.tasks.store().backend()}});
}

bool IEqualsAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// Compares without an early exit, so that the time taken says nothing about how much of a guess was right.
bool SameSecret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

Response MetricsText(ApiContext& ctx, const Request& req) {
  // The metrics name every mode and the load of every user's work: with metrics_token set, only a scraper
  // that has it may read them.
  if (!ctx.config.metrics_token.empty()) {
    std::string_view auth = req.Header("authorization");
    bool bearer = auth.size() > 7 && IEqualsAscii(auth.substr(0, 7), "bearer ");
    if (!bearer || !SameSecret(auth.substr(7), ctx.config.metrics_token)) {
      Response r = Fail(401, code::kUnauthorized, "/metrics needs 'Authorization: Bearer <metrics token>'");
      r.Set("WWW-Authenticate", R"(Bearer realm="wasmq-metrics")");
      return r;
    }
  }
  auto stats = ctx.tasks.Stats();
  Response r;
  r.body = ctx.metrics.Render(stats ? std::optional<queue::QueueStats>(std::move(*stats)) : std::nullopt);
  r.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  r.Set("Cache-Control", "no-store");
  return r;
}

Response OpenApi() {
  Response r;
  r.body = std::string(OpenApiDocument());
  r.Set("Content-Type", "application/json");
  return r;
}

}  // namespace

void AddSystemRoutes(Router& router, ApiContext& ctx) {
  auto add = [&router](std::string pattern, Handler h) {
    router.Add({.method = "GET", .pattern = std::move(pattern), .handler = std::move(h), .authenticated = false,
                .rate_limited = false});
  };
  add("/healthz", [](const Request&, const PathParams&, const Caller&) { return Healthz(); });
  add("/readyz", [&ctx](const Request&, const PathParams&, const Caller&) { return Readyz(ctx); });
  add("/metrics", [&ctx](const Request& r, const PathParams&, const Caller&) { return MetricsText(ctx, r); });
  add("/api/v1/openapi.json", [](const Request&, const PathParams&, const Caller&) { return OpenApi(); });
}

}  // namespace wasmq::api
