// File: src/api/metrics.h
//
// Internal to the api part: the counters and histograms behind /metrics, rendered in the Prometheus text
// exposition format 0.0.4. Families (docs/api.md lists them with their labels):
//
//   wasmq_tasks{status}                          gauge, from the store at scrape time
//   wasmq_queue_depth, wasmq_queue_delayed, wasmq_tasks_processing   gauges, idem
//   wasmq_store_up                               1 when the store answered this scrape
//   wasmq_task_duration_seconds{mode,status}     histogram: started → done | failed, seen in this process
//   wasmq_http_request_duration_seconds{route,method,code}  histogram; route is the pattern, not the path
//   wasmq_wasm_instantiation_seconds{mode}       histogram, fed by the worker
//   wasmq_module_pull_failures_total{cause}      counter, fed by the worker: failed pulls by doctor cause
//   wasmq_http_connections, wasmq_websocket_connections     gauges
//
// Label values come from bounded sets (route patterns, known methods, status codes, registered modes); as
// a last guard each family keeps at most kMaxSeries label sets and counts the rest under "other".
// Thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "queue/queue.h"

namespace wasmq::api {

class HistogramFamily {
 public:
  static constexpr size_t kMaxSeries = 2000;
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds);
  void Observe(const std::vector<std::string_view>& label_values, double value);
  void Render(std::string& out) const;

 private:
  struct Series {
    std::vector<uint64_t> counts;  // per bucket (not cumulative), plus +Inf last
    double sum = 0;
    uint64_t count = 0;
  };
  const std::string name_, help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
  mutable base::Mutex mu_;
  std::map<std::string, Series> series_ GUARDED_BY(mu_);  // key: rendered label set
};

class Metrics {
 public:
  Metrics();

  void ObserveHttp(std::string_view route, std::string_view method, int status, double seconds);
  void ObserveTaskFinished(std::string_view mode, queue::TaskStatus status, double seconds);
  void ObserveInstantiation(std::string_view mode, double seconds);
  void ObservePullFailure(std::string_view cause);

  std::atomic<int64_t> http_connections{0};
  std::atomic<int64_t> websocket_connections{0};

  // The whole exposition. `stats` is the store's answer, or nullopt when it is down.
  std::string Render(const std::optional<queue::QueueStats>& stats) const;

 private:
  HistogramFamily http_, tasks_, instantiation_;
  mutable base::Mutex pull_mu_;
  // Every cause `wasmq doctor` names, at 0 from the start (a rate needs the series before the first failure).
  std::map<std::string, uint64_t, std::less<>> pull_failures_ GUARDED_BY(pull_mu_);
};

// Escapes a label value for the exposition format (backslash, double quote, newline).
std::string EscapeLabel(std::string_view v);

}  // namespace wasmq::api
