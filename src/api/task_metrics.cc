// File: src/api/task_metrics.cc
#include "api/task_metrics.h"

namespace wasmq::api {

TaskMetrics::TaskMetrics(queue::Store& store, Metrics& metrics) : metrics_(metrics) {
  subscription_ = store.Subscribe([this](const queue::TaskEvent& e) { OnEvent(e); });
}

void TaskMetrics::OnEvent(const queue::TaskEvent& e) {
  if (e.kind != queue::TaskEvent::Kind::Status) return;
  base::MutexLock lock(mu_);
  if (e.status == queue::TaskStatus::Processing) {
    if (started_.size() >= kMaxRunning) started_.clear();
    started_[e.task_id] = e.at;
    return;
  }
  auto it = started_.find(e.task_id);
  if (it == started_.end()) return;
  int64_t start = it->second;
  // Back to pending (retry, hand-back) ends the attempt; only done and failed are measured.
  started_.erase(it);
  if (e.status == queue::TaskStatus::Done || e.status == queue::TaskStatus::Failed)
    metrics_.ObserveTaskFinished(e.mode, e.status, static_cast<double>(e.at - start) / 1000.0);
}

}  // namespace wasmq::api
