// File: src/worker/pool_impl.h
//
// Internal to the worker part (include worker/worker.h instead): the pool, wired from parts that each do
// one job under their own lock and meet at the held-tasks table:
//
//   Dispatcher  (dispatcher.h)  claims tasks and hands them to the executors
//   executors   (pool.cc)       threads, each running one attempt at a time (Attempts, attempt.h): as many
//                               as CPUs, more (up to `workers`) when tasks wait on blocked ones (dispatcher.h)
//   Recorder    (recorder.h)    writes the ends of attempts in batches, then forgets the tasks
//   Supervisor  (supervisor.h)  heartbeats, timeouts, lease recovery, cleanup
//   HeldTasks   (held_tasks.h)  the tasks held under lease, with their deadlines and stop handles
//
// Locks are only nested as dispatcher → held tasks and supervisor → held tasks; the Store is called with
// none of them held (it calls back into the pool — events — from whatever thread changes a task).
#pragma once

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "worker/attempt.h"
#include "worker/dispatcher.h"
#include "worker/held_tasks.h"
#include "worker/pool_report.h"
#include "worker/recorder.h"
#include "worker/supervisor.h"
#include "storage/storage.h"
#include "worker/worker.h"

namespace wasmq::worker {

class WorkerPool::Impl {
 public:
  Impl(queue::Store& store, const PipelineRegistry& pipelines, PoolOptions options);
  queue::Result<void> Start() EXCLUDES(mu_);
  void Shutdown(std::chrono::milliseconds grace) EXCLUDES(mu_);
  void HurryShutdown() { held_.Hurry(); }
  PoolStats stats() const;

 private:
  // Runs an executor thread in `slot` (for the dispatcher).
  void StartExecutor(int slot) EXCLUDES(executors_mu_);
  void ExecutorLoop(int slot);
  void OnEvent(const queue::TaskEvent& e);

  queue::Store& store_;
  const PipelineRegistry& pipelines_;
  const PoolOptions opt_;  // with its defaults filled in
  storage::Workspace workspace_;
  PoolCounters counters_;
  HeldTasks held_;
  Dispatcher dispatcher_;
  Supervisor supervisor_;
  Recorder recorder_;
  Attempts attempts_;

  base::Mutex mu_;
  bool started_ GUARDED_BY(mu_) = false;
  bool shut_down_ GUARDED_BY(mu_) = false;
  base::Mutex executors_mu_;
  std::vector<std::thread> executors_ GUARDED_BY(executors_mu_);  // started by the dispatcher, joined by Shutdown
  queue::Subscription subscription_;    // last: unsubscribed before the parts its callback reaches go
};

}  // namespace wasmq::worker
