// File: src/api/metrics.cc
#include "api/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace wasmq::api {
namespace {

std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as the same double ("0.1", "2.5e-05"), as Prometheus clients print.
  char buf[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string_view NormalMethod(std::string_view m) {
  for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
    if (m == known) return known;
  return "other";
}

}  // namespace

std::string EscapeLabel(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

HistogramFamily::HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                                 std::vector<double> bounds)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)), bounds_(std::move(bounds)) {}

void HistogramFamily::Observe(const std::vector<std::string_view>& label_values, double value) {
  std::string key;
  for (size_t i = 0; i < label_names_.size() && i < label_values.size(); ++i) {
    if (i) key += ',';
    key += label_names_[i] + "=\"" + EscapeLabel(label_values[i]) + "\"";
  }
  base::MutexLock lock(mu_);
  auto it = series_.find(key);
  if (it == series_.end()) {
    if (series_.size() >= kMaxSeries) {
      key.clear();
      for (size_t i = 0; i < label_names_.size(); ++i) key += (i ? "," : "") + label_names_[i] + "=\"other\"";
      it = series_.find(key);
    }
    if (it == series_.end()) it = series_.emplace(key, Series{std::vector<uint64_t>(bounds_.size() + 1), 0, 0}).first;
  }
  Series& s = it->second;
  size_t b = 0;
  while (b < bounds_.size() && value > bounds_[b]) ++b;
  s.counts[b]++;
  s.sum += value;
  s.count++;
}

void HistogramFamily::Render(std::string& out) const {
  out += "# HELP " + name_ + " " + help_ + "\n# TYPE " + name_ + " histogram\n";
  base::MutexLock lock(mu_);
  for (const auto& [labels, s] : series_) {
    std::string sep = labels.empty() ? "" : ",";
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= bounds_.size(); ++b) {
      cumulative += s.counts[b];
      std::string le = b < bounds_.size() ? FormatValue(bounds_[b]) : "+Inf";
      out += name_ + "_bucket{" + labels + sep + "le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
    }
    std::string braces = labels.empty() ? "" : "{" + labels + "}";
    out += name_ + "_sum" + braces + " " + FormatValue(s.sum) + "\n";
    out += name_ + "_count" + braces + " " + std::to_string(s.count) + "\n";
  }
}

Metrics::Metrics()
    : http_("wasmq_http_request_duration_seconds", "Time to answer an HTTP request, by route pattern.",
            {"route", "method", "code"},
            {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}),
      tasks_("wasmq_task_duration_seconds", "Time from a task's start to its end (done or failed), by mode.",
             {"mode", "status"}, {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}),
      instantiation_("wasmq_wasm_instantiation_seconds", "Time to instantiate a pipeline module, by mode.", {"mode"},
                     {1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 1}) {
  base::MutexLock lock(pull_mu_);
  for (const char* cause : {"network", "auth", "denied", "repo-not-found", "tag-not-found", "unsupported-format",
                            "rate-limited", "registry-error", "digest-mismatch", "not-cached"})
    pull_failures_[cause] = 0;
}

void Metrics::ObserveHttp(std::string_view route, std::string_view method, int status, double seconds) {
  std::string code = std::to_string(status);
  http_.Observe({route, NormalMethod(method), code}, seconds);
}

void Metrics::ObserveTaskFinished(std::string_view mode, queue::TaskStatus status, double seconds) {
  tasks_.Observe({mode, queue::ToString(status)}, seconds);
}

void Metrics::ObserveInstantiation(std::string_view mode, double seconds) { instantiation_.Observe({mode}, seconds); }

void Metrics::ObservePullFailure(std::string_view cause) {
  base::MutexLock lock(pull_mu_);
  auto it = pull_failures_.find(cause);
  if (it == pull_failures_.end()) it = pull_failures_.find("registry-error");  // the set is fixed
  it->second++;
}

std::string Metrics::Render(const std::optional<queue::QueueStats>& stats) const {
  std::string out;
  out += "# HELP wasmq_store_up Whether the task store answered this scrape.\n# TYPE wasmq_store_up gauge\n";
  out += "wasmq_store_up " + std::string(stats ? "1" : "0") + "\n";
  if (stats) {
    out += "# HELP wasmq_tasks Tasks in the store, by status.\n# TYPE wasmq_tasks gauge\n";
    for (queue::TaskStatus s : queue::kAllStatuses) {
      auto it = stats->counts.find(s);
      out += "wasmq_tasks{status=\"" + std::string(queue::ToString(s)) + "\"} " +
             std::to_string(it == stats->counts.end() ? 0 : it->second) + "\n";
    }
    out += "# HELP wasmq_queue_depth Pending tasks ready to run now.\n# TYPE wasmq_queue_depth gauge\n";
    out += "wasmq_queue_depth " + std::to_string(stats->queue_length) + "\n";
    out += "# HELP wasmq_queue_delayed Pending tasks waiting out a retry backoff.\n# TYPE wasmq_queue_delayed gauge\n";
    out += "wasmq_queue_delayed " + std::to_string(stats->delayed) + "\n";
    out += "# HELP wasmq_tasks_processing Tasks being run by a worker.\n# TYPE wasmq_tasks_processing gauge\n";
    out += "wasmq_tasks_processing " + std::to_string(stats->processing) + "\n";
  }
  tasks_.Render(out);
  instantiation_.Render(out);
  out += "# HELP wasmq_module_pull_failures_total Module pulls that failed in this process, by wasmq doctor's cause.\n"
         "# TYPE wasmq_module_pull_failures_total counter\n";
  {
    base::MutexLock lock(pull_mu_);
    for (const auto& [cause, n] : pull_failures_)
      out += "wasmq_module_pull_failures_total{cause=\"" + cause + "\"} " + std::to_string(n) + "\n";
  }
  http_.Render(out);
  out += "# HELP wasmq_http_connections Open HTTP connections.\n# TYPE wasmq_http_connections gauge\n";
  out += "wasmq_http_connections " + std::to_string(http_connections.load()) + "\n";
  out += "# HELP wasmq_websocket_connections Open WebSocket connections.\n# TYPE wasmq_websocket_connections gauge\n";
  out += "wasmq_websocket_connections " + std::to_string(websocket_connections.load()) + "\n";
  return out;
}

}  // namespace wasmq::api
