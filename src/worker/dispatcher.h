// File: src/worker/dispatcher.h
//
// Internal to the worker part: the dispatcher — one thread that claims tasks from the Store (blocking
// Dequeue, no polling) for the executors that are idle plus a prefetch, and only for modes with room under
// their limit; and the hand-off of claimed tasks to the executors.
//
// Locking: its own mutex guards the hand-off (ready tasks, idle executors) and the claim sizing; it may
// take the held-tasks table's lock inside its own, never the reverse. The Store is never called with it held.
#pragma once

#include <atomic>
#include <deque>
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

  // Starts claiming tasks of `modes`.
  void Start(std::vector<std::string> modes);

  // For an executor: blocks until a claimed task is ready for it (and returns it), or until executors must
  // exit (nullptr).
  std::shared_ptr<Held> NextTask() EXCLUDES(mu_);
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

  std::atomic<bool> stop_claiming_{false};     // read by the Dequeue wait's give_up
  std::atomic<uint64_t> slots_generation_{0};  // bumped by RoomFreed: a waiting Dequeue gives up
  std::thread thread_;
};

}  // namespace wasmq::worker
