// File: src/worker/held_tasks.h
//
// Internal to the worker part (include worker/worker.h instead): the tasks this pool holds under a lease —
// claimed by the dispatcher, then waiting for an executor, then running, until the recorder has written how
// the attempt ended (or the attempt gave the task up). The parts of the pool meet here: the dispatcher adds,
// an executor marks a task started with its deadline, the supervisor reads deadlines and renews leases,
// the pool's event callback stops a cancelled task, and whoever is done with a task forgets it.
//
// Locking: one mutex of its own, never held while calling out (Forget's callback runs after it is
// released). Callers may hold their own lock while calling in: the dispatcher's and the supervisor's come
// before this one.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "queue/queue.h"
#include "worker/runner.h"

namespace wasmq::worker {

using SteadyTime = std::chrono::steady_clock::time_point;

// One held task: its claim (fixed once claimed), the handle that stops its run (thread-safe itself), and
// how far the supervisor's last successful heartbeat extended the lease.
struct Held {
  queue::Claimed claimed;
  RunControl control;
  std::atomic<int64_t> renewed_until{0};  // ms since the epoch (the store's clock); 0 until renewed

  // When the lease runs out unless renewed again (ms since the epoch).
  int64_t LeaseExpiresAt() const { return std::max(claimed.lease.expires_at, renewed_until.load()); }
};

class HeldTasks {
 public:
  // Told without the table's lock: `on_forget` after every Forget (room for another task has opened),
  // `on_started` after every Started (a new deadline to watch).
  HeldTasks(std::function<void()> on_forget, std::function<void(SteadyTime deadline)> on_started)
      : on_forget_(std::move(on_forget)), on_started_(std::move(on_started)) {}

  void Add(std::shared_ptr<Held> held) EXCLUDES(mu_);
  // An executor started the task; the timeout ends it at `deadline`.
  void Started(const std::shared_ptr<Held>& held, SteadyTime deadline) EXCLUDES(mu_);
  // The pool is done with the task (recorded, given up, or handed back). The same id may already be held
  // again under a new lease (retried and re-claimed): that entry stays.
  void Forget(const std::shared_ptr<Held>& held) EXCLUDES(mu_);

  size_t size() const EXCLUDES(mu_);
  // Held tasks per mode (for the per-mode limits).
  std::map<std::string, int> CountByMode() const EXCLUDES(mu_);
  std::vector<std::shared_ptr<Held>> All() const EXCLUDES(mu_);

  // Stops the run of task `task_id` if it is held here.
  void Stop(const std::string& task_id, StopReason reason) EXCLUDES(mu_);
  // Stops every held task; returns how many there were.
  size_t StopAll(StopReason reason) EXCLUDES(mu_);
  // The earliest deadline of a started task that is not stopped yet (SteadyTime::max() if none).
  SteadyTime EarliestDeadline() const EXCLUDES(mu_);
  // Stops (Timeout) every started task whose deadline is at or before `now`.
  void StopOverdue(SteadyTime now) EXCLUDES(mu_);

  // Waits up to `grace` for the table to empty; Hurry ends the wait at once. True when empty.
  bool WaitEmpty(std::chrono::milliseconds grace) EXCLUDES(mu_);
  void Hurry() EXCLUDES(mu_);

 private:
  struct Entry {
    std::shared_ptr<Held> held;
    bool started = false;  // an executor runs it
    SteadyTime deadline = {};
  };

  mutable base::Mutex mu_;
  base::CondVar forgotten_;                             // a task was forgotten, or Hurry
  std::map<std::string, Entry> tasks_ GUARDED_BY(mu_);  // by task id
  std::map<std::string, int> per_mode_ GUARDED_BY(mu_);
  bool hurry_ GUARDED_BY(mu_) = false;
  const std::function<void()> on_forget_;
  const std::function<void(SteadyTime)> on_started_;
};

// Why the store refused a write under a lease this pool held: the task was cancelled, or is someone else's
// now.
StopReason WhyRefused(queue::Store& store, const std::string& task_id);

}  // namespace wasmq::worker
