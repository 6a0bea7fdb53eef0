// File: src/worker/dispatcher.h
//
// Internal to the worker part: the dispatcher — one thread that claims tasks from the Store (blocking
// Dequeue, no polling) for the executors that are idle plus a prefetch, and only for modes with room under
// their limit; and the hand-off of claimed tasks to the executors.
//
// Executors: the pool's concurrency (PoolOptions::workers) is how many tasks it holds at once, not how many
// threads run them. It starts as many executor threads as the CPUs can run; the rest of the concurrency is
// claimed tasks waiting here (counted as idle executors when claims are sized). A second thread, the grower,
// starts another executor (up to `workers`) only when claimed tasks wait while an executor is stuck on one
// task: blocked (I/O, an engine call, a sleep: its thread is not runnable) for kStuckAfter, or running for
// kLongRun. So tiny tasks run on as many threads as CPUs, without dozens of threads switching on the CPUs,
// and tasks that wait on something still run `workers` at once (see executor_growth.cc).
//
// Locking: its own mutex guards the hand-off (ready tasks, idle executors) and the claim sizing; it may
// take the held-tasks table's lock inside its own, never the reverse. The Store is never called with it held.
#pragma once

#include <atomic>
#include <sys/types.h>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "worker/held_tasks.h"
#include "worker/pool_report.h"

namespace wasmq::worker {

class Dispatcher {
 public:
  Dispatcher(queue::Store& store, const PoolOptions& opt, HeldTasks& held, PoolCounters& counters)
      : store_(store), opt_(opt), held_(held), counters_(counters) {}
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Starts `executors` executor threads (start_executor(slot) runs one in slot 0, 1, ...: the pool's), then
  // claims tasks of `modes`, and grows the executors when tasks wait on stuck ones.
  void Start(std::vector<std::string> modes, int executors, std::function<void(int slot)> start_executor);

  // For an executor thread, first: which thread runs `slot` (the grower reads its state).
  void ExecutorStarted(int slot) EXCLUDES(mu_);
  // For the executor of `slot`: blocks until a claimed task is ready for it (and returns it), or until
  // executors must exit (nullptr).
  std::shared_ptr<Held> NextTask(int slot) EXCLUDES(mu_);
  // An executor is done with a task, or a held task was forgotten: a claim sized before (for the slots and
  // mode limits then) must look again.
  void RoomFreed() EXCLUDES(mu_);
  // How long a module ran (µs): the adaptive prefetch holds about 20 ms of work.
  void NoteRunTime(double run_us) EXCLUDES(mu_);

  // Claims nothing more; returns when the dispatcher thread has stopped, with the tasks claimed but not
  // started (to hand back).
  std::deque<std::shared_ptr<Held>> StopClaiming() EXCLUDES(mu_);
  // Every NextTask returns nullptr from now on.
  void ReleaseExecutors() EXCLUDES(mu_);

 private:
  void Loop() EXCLUDES(mu_);
  // How many tasks to hold claimed beyond the idle executors (see PoolOptions::prefetch).
  int Prefetch() const REQUIRES(mu_);
  // The modes that may be claimed now, and how many tasks at most (per-mode limits).
  std::vector<std::string> AllowedModes(int slots, int* max_claim) const;
  // Executors free for a task: those waiting in NextTask, and those not started yet.
  int Idle() const REQUIRES(mu_) { return idle_ + opt_.workers - static_cast<int>(executors_.size()); }

  // executor_growth.cc: the grower thread's loop, and its look at the executors.
  void GrowLoop() EXCLUDES(mu_);
  // How many executors to add now: one per stuck executor, as far as tasks wait and `workers` allows.
  int StuckExecutors() REQUIRES(mu_);
  struct Executor {
    pid_t tid = 0;                 // its thread (0 until ExecutorStarted)
    bool busy = false;             // running a task, since `since`
    bool replaced = false;         // the grower started another executor for this task already
    std::chrono::steady_clock::time_point since = {};
  };

  queue::Store& store_;
  const PoolOptions& opt_;
  HeldTasks& held_;
  PoolCounters& counters_;
  std::vector<std::string> modes_;  // set by Start, then read by the dispatcher thread only

  base::Mutex mu_;
  base::CondVar claim_cv_;  // an executor became idle, room freed, or stopping
  base::CondVar ready_cv_;  // a task is ready, or executors must exit
  std::deque<std::shared_ptr<Held>> ready_ GUARDED_BY(mu_);  // claimed, not yet started
  int idle_ GUARDED_BY(mu_) = 0;                             // executors waiting for work
  bool stopping_ GUARDED_BY(mu_) = false;                    // claim nothing more
  bool executors_exit_ GUARDED_BY(mu_) = false;
  double mean_run_us_ GUARDED_BY(mu_) = 0;  // moving average of how long an attempt runs

  std::vector<Executor> executors_ GUARDED_BY(mu_);  // the executors started so far, by slot
  base::CondVar grow_cv_;                            // tasks wait for an executor, or stopping
  std::function<void(int slot)> start_executor_;     // set by Start

  std::atomic<bool> stop_claiming_{false};     // read by the Dequeue wait's give_up
  std::atomic<uint64_t> slots_generation_{0};  // bumped by RoomFreed: a waiting Dequeue gives up
  std::thread thread_, grower_;
};

}  // namespace wasmq::worker
