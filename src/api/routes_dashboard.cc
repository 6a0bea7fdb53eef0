// File: src/api/routes_dashboard.cc
//
// The routes the dashboard reads besides the tasks themselves (issue #23): the registered pipelines with
// their config schemas, a task's attempts and timeline (added to GET /api/v1/tasks/{id}), the retry of a
// failed task, the workers and what each is running, and throughput and durations per mode over time.
// Ownership as everywhere: with auth on a caller sees only their own tasks, an admin (a token with
// "admin": true) everything; /workers is for admins only.
#include <algorithm>
#include <cmath>

#include "api/envelope.h"
#include "api/handlers.h"
#include "api/query.h"
#include "base/units.h"

namespace wasmq::api {
namespace {

using queue::Json;

constexpr int64_t kMaxWindowMs = 24 * 3600 * 1000LL;
constexpr int64_t kMinStepMs = 10'000;

Response Pipelines(ApiContext& ctx) {
  Json list = ctx.config.pipelines ? ctx.config.pipelines() : Json::array();
  if (!list.is_array()) list = Json::array();
  return Ok({{"pipelines", std::move(list)}});
}

Response Retry(ApiContext& ctx, const PathParams& p, const Caller& caller) {
  auto t = GetOwnedTask(ctx, caller, p.Get("id"));
  if (!t) return FromError(t.error());
  auto r = ctx.tasks.store().Requeue(t->task_id);
  if (!r) {
    if (r.error().code == queue::Code::Conflict) return Fail(409, "NOT_FAILED", r.error().message);
    return FromError(r.error());
  }
  return Ok(TaskWithHistoryJson(ctx, *r));
}

Response Workers(ApiContext& ctx, const Caller& caller) {
  if (!IsAdmin(ctx.config, caller)) return Fail(403, code::kForbidden, "the workers are for admins only");
  auto ws = ctx.tasks.store().Workers();
  if (!ws) return FromError(ws.error());
  Json list = Json::array();
  for (const queue::WorkerInfo& w : *ws) {
    Json running = Json::array();
    for (const queue::RunningTask& r : w.running)
      running.push_back({{"task_id", r.task_id},
                         {"mode", r.mode},
                         {"started_at", queue::FormatTime(r.started_at)},
                         {"progress", r.progress}});
    list.push_back({{"id", w.id},
                    {"host", w.host},
                    {"pid", w.pid},
                    {"started_at", queue::FormatTime(w.started_at)},
                    {"last_heartbeat", queue::FormatTime(w.last_heartbeat)},
                    {"concurrency", w.concurrency},
                    {"running", std::move(running)}});
  }
  return Ok({{"workers", std::move(list)}});
}

// ?window=1h&step=1m: buckets of `step` ending with the one that holds now; per mode that finished anything
// in the window, every bucket (zeros included) with its done and failed counts and the done tasks' mean and
// nearest-rank p95 duration.
Response StatsHistory(ApiContext& ctx, const Request& req, const Caller& caller) {
  auto params = ParseQuery(req.query);
  if (!params) return Fail(400, code::kBadRequest, params.error().message);
  int64_t window = 3600 * 1000LL, step = 60 * 1000LL;
  for (const auto& [name, value] : *params) {
    if (name != "window" && name != "step")
      return Fail(422, code::kValidationFailed, "unknown query parameter '" + name.substr(0, 64) + "' (window, step)");
    auto d = base::ParseDuration(value);
    if (!d || d->count() <= 0)
      return Fail(422, code::kValidationFailed, name + ": must be a duration (10s, 5m, 1h)");
    (name == "window" ? window : step) = d->count();
  }
  if (window > kMaxWindowMs) return Fail(422, code::kValidationFailed, "window: must be at most 24h");
  if (step < kMinStepMs) return Fail(422, code::kValidationFailed, "step: must be at least 10s");
  if (step > window) return Fail(422, code::kValidationFailed, "step: must not be longer than the window");
  const int64_t buckets = (window + step - 1) / step;
  const int64_t to = (queue::NowMs() / step + 1) * step;
  const int64_t from = to - buckets * step;
  const bool own = ctx.config.auth_required && !IsAdmin(ctx.config, caller);
  auto finished = ctx.tasks.store().Finished(from, to, own ? &caller.user : nullptr);
  if (!finished) return FromError(finished.error());

  struct Bucket {
    int64_t done = 0, failed = 0;
    std::vector<int64_t> durations;
  };
  std::map<std::string, std::vector<Bucket>> modes;
  for (const queue::FinishedTask& f : *finished) {
    auto& series = modes[f.mode];
    if (series.empty()) series.resize(static_cast<size_t>(buckets));
    Bucket& b = series[static_cast<size_t>(std::clamp<int64_t>((f.finished_at - from) / step, 0, buckets - 1))];
    if (f.status == queue::TaskStatus::Done) {
      ++b.done;
      b.durations.push_back(f.duration_ms);
    } else {
      ++b.failed;
    }
  }
  Json series = Json::array();
  for (auto& [mode, bs] : modes) {
    Json points = Json::array();
    for (size_t i = 0; i < bs.size(); ++i) {
      Bucket& b = bs[i];
      double mean = 0, p95 = 0;
      if (!b.durations.empty()) {
        std::sort(b.durations.begin(), b.durations.end());
        double sum = 0;
        for (int64_t d : b.durations) sum += static_cast<double>(d);
        mean = sum / static_cast<double>(b.durations.size());
        p95 = static_cast<double>(b.durations[(95 * b.durations.size() + 99) / 100 - 1]);
      }
      points.push_back({{"at", queue::FormatTime(from + static_cast<int64_t>(i) * step)},
                        {"done", b.done},
                        {"failed", b.failed},
                        {"mean_ms", mean},
                        {"p95_ms", p95}});
    }
    series.push_back({{"mode", mode}, {"points", std::move(points)}});
  }
  return Ok({{"step_ms", step},
             {"from", queue::FormatTime(from)},
             {"to", queue::FormatTime(to)},
             {"series", std::move(series)}});
}

}  // namespace

bool IsAdmin(const ApiConfig& config, const Caller& caller) {
  if (!config.auth_required) return true;  // one user, who sees everything anyway
  return caller.claims && caller.claims->is_object() && caller.claims->value("admin", false) == true;
}

Json TaskWithHistoryJson(ApiContext& ctx, const queue::TaskInfo& t) {
  Json j = TaskJson(ctx.config, t);
  auto events = ctx.tasks.store().History(t.task_id);
  // A store that keeps no history (or a task deleted meanwhile) still has the row's own account.
  std::vector<queue::HistoryEvent> none;
  const auto& ev = events ? *events : none;
  // As for the task's own error (TaskJson): the server's directories never appear.
  auto scrub = [&](Json& entry) {
    if (!entry.contains("error") || !entry["error"].is_object()) return;
    for (const char* field : {"message", "stderr"})
      if (entry["error"][field].is_string())
        entry["error"][field] = WithoutServerPaths(ctx.config, entry["error"][field].get<std::string>());
  };
  Json attempts = queue::AttemptsJson(t, ev);
  for (Json& a : attempts) scrub(a);
  Json timeline = queue::TimelineJson(t, ev);
  for (Json& e : timeline) scrub(e);
  j["attempts"] = std::move(attempts);
  j["timeline"] = std::move(timeline);
  return j;
}

void AddDashboardRoutes(Router& router, ApiContext& ctx) {
  router.Add({"GET", "/api/v1/pipelines", [&ctx](const Request&, const PathParams&, const Caller&) { return Pipelines(ctx); }});
  router.Add({"GET", "/api/v1/workers",
              [&ctx](const Request&, const PathParams&, const Caller& c) { return Workers(ctx, c); }});
  router.Add({"GET", "/api/v1/tasks/stats/history",
              [&ctx](const Request& r, const PathParams&, const Caller& c) { return StatsHistory(ctx, r, c); }});
  router.Add({"POST", "/api/v1/tasks/{id}/retry",
              [&ctx](const Request&, const PathParams& p, const Caller& c) { return Retry(ctx, p, c); }});
}

}  // namespace wasmq::api
