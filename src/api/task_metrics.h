// File: src/api/task_metrics.h
//
// Internal to the api part: feeds wasmq_task_duration_seconds from the store's events. A task's start is
// its event to `processing`; its end the event to done or failed. Only tasks whose start this process saw
// are timed (a task started before the server did is not). Bounded: at most kMaxRunning start times (the
// table is cleared when full, losing those tasks' durations, never memory).
// Thread-safe.
#pragma once

#include <string>
#include <unordered_map>

#include "api/metrics.h"
#include "base/mutex.h"
#include "queue/queue.h"

namespace wasmq::api {

class TaskMetrics {
 public:
  static constexpr size_t kMaxRunning = 100'000;
  // Subscribes to `store`; unsubscribes when destroyed.
  TaskMetrics(queue::Store& store, Metrics& metrics);

 private:
  void OnEvent(const queue::TaskEvent& e);

  Metrics& metrics_;
  base::Mutex mu_;
  std::unordered_map<std::string, int64_t> started_ GUARDED_BY(mu_);  // task → start ms
  queue::Subscription subscription_;                  // last: destroyed first
};

}  // namespace wasmq::api
