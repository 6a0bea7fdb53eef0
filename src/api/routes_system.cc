// File: src/api/routes_system.cc
//
// The routes an operator's tools call: liveness (/healthz: the process answers), readiness (/readyz: the
// store answers and the server is not shutting down — a load balancer stops sending work), Prometheus
// metrics, and the OpenAPI document. None needs a token, none is rate limited.
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

Response MetricsText(ApiContext& ctx) {
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
  add("/metrics", [&ctx](const Request&, const PathParams&, const Caller&) { return MetricsText(ctx); });
  add("/api/v1/openapi.json", [](const Request&, const PathParams&, const Caller&) { return OpenApi(); });
}

}  // namespace wasmq::api
