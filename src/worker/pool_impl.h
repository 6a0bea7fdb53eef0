// File: src/worker/pool_impl.h
//
// Internal to the worker part (include worker/worker.h instead): the pool's state, shared by pool.cc
// (threads, dispatch, shutdown), attempt.cc (one attempt), recorder.cc (writing the ends of attempts) and
// supervisor.cc (heartbeats, timeouts, recovery, cleanup).
//
// Locking: mu_ guards everything marked below. The Store is never called with mu_ held — the Store calls
// back into the pool (events) from whatever thread changes a task, and that callback takes mu_. The one
// exception is Store::WakeWaiters, which calls nothing back.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "worker/runner.h"
#include "storage/storage.h"
#include "worker/worker.h"

namespace wasmq::worker {

using storage::Workspace;

using SteadyTime = std::chrono::steady_clock::time_point;

// A task this pool holds a lease on: claimed, then waiting for an executor, then running.
struct Held {
  queue::Claimed claimed;
  RunControl control;
  bool started = false;      // guarded by mu_: an executor runs it
  SteadyTime deadline = {};  // guarded by mu_: when started; the timeout ends it here
};

class WorkerPool::Impl {
 public:
  Impl(queue::Store& store, const PipelineRegistry& pipelines, PoolOptions options);
  queue::Result<void> Start();
  void Shutdown(std::chrono::milliseconds grace);
  void HurryShutdown();
  PoolStats stats() const;

 private:
  // pool.cc
  void DispatchLoop();
  void ExecutorLoop(int slot);
  // How many tasks to hold claimed beyond the idle executors (see PoolOptions::prefetch). REQUIRES: mu_.
  int Prefetch() const;
  // The modes that may be claimed now, and how many tasks at most (per-mode limits). REQUIRES: mu_.
  std::vector<std::string> AllowedModes(int slots, int* max_claim) const;
  // Drops a finished task from held_ and per_mode_, and wakes the dispatcher. REQUIRES: mu_.
  void Forget(const std::shared_ptr<Held>& held);
  void OnEvent(const queue::TaskEvent& e);
  void Log(const std::string& line) const;

  // attempt.cc
  void Execute(const std::shared_ptr<Held>& held, int slot);
  // Decides and hands over the end of an attempt. True when the slot's scratch /out is empty afterwards.
  bool Finish(const std::shared_ptr<Held>& held, const TaskDirs& dirs, const RunOutcome& outcome);
  // Records a failed attempt: Retry after backoff while attempts remain and it is retryable, else Fail.
  void RecordFailure(const std::shared_ptr<Held>& held, queue::TaskError e);

  // recorder.cc
  // Hands the end of an attempt to the recorder thread, which writes it and then forgets the task.
  void Record(const std::shared_ptr<Held>& held, queue::Finish finish);
  void RecorderLoop();
  double Random();
  // Why the store refused a write under a lease we held: the task was cancelled, or is someone else's now.
  StopReason WhyRefused(const std::string& task_id);

  // supervisor.cc
  void SupervisorLoop();
  void Heartbeats(const std::vector<std::shared_ptr<Held>>& held);
  void Recover();
  void Cleanup();

  queue::Store& store_;
  const PipelineRegistry& pipelines_;
  PoolOptions opt_;
  Workspace workspace_;
  std::vector<std::string> modes_;   // set by Start, then read-only
  std::vector<char> scratch_empty_;  // per executor slot, touched only by that executor: its /out is empty

  mutable std::mutex mu_;
  std::condition_variable dispatch_cv_;    // an executor became idle, a slot freed, or stopping
  std::condition_variable exec_cv_;        // a task is ready, or executors must exit
  std::condition_variable done_cv_;        // a held task finished
  std::condition_variable supervisor_cv_;  // a deadline was set, or the supervisor must exit
  std::condition_variable record_cv_;      // a result waits to be written, or the recorder must exit
  struct Pending {
    std::shared_ptr<Held> held;
    queue::Finish finish;
  };
  std::deque<Pending> to_record_;                      // guarded by mu_
  std::deque<std::shared_ptr<Held>> ready_;            // guarded by mu_: claimed, not yet started
  std::map<std::string, std::shared_ptr<Held>> held_;  // guarded by mu_: every task we hold, by id
  std::map<std::string, int> per_mode_;                // guarded by mu_: held tasks per mode
  int idle_ = 0;                                       // guarded by mu_: executors waiting for work
  bool stopping_ = false;                              // guarded by mu_: claim nothing more
  bool executors_exit_ = false;                        // guarded by mu_
  bool supervisor_exit_ = false;                       // guarded by mu_
  bool recorder_exit_ = false;                         // guarded by mu_: exit once to_record_ is empty
  bool deadlines_changed_ = false;  // guarded by mu_: a deadline earlier than supervisor_wake_ appeared
  SteadyTime supervisor_wake_ = SteadyTime::max();  // guarded by mu_: when the supervisor wakes next
  double mean_run_us_ = 0;                    // guarded by mu_: moving average of how long an attempt runs
  bool started_ = false, shut_down_ = false;  // guarded by mu_
  bool hurry_ = false;                        // guarded by mu_: end the grace period now
  PoolStats stats_;                           // guarded by mu_
  std::mt19937_64 rng_;                       // guarded by mu_

  std::atomic<bool> stop_claiming_{false};     // read by the dispatcher's Dequeue wait
  std::atomic<uint64_t> slots_generation_{0};  // bumped when a held task finishes

  std::thread dispatcher_, supervisor_, recorder_;
  std::vector<std::thread> executors_;
  queue::Subscription subscription_;
};

}  // namespace wasmq::worker
