// File: src/worker/recorder.h
//
// Internal to the worker part: the recorder — one thread that writes the ends of attempts in batches, one
// transaction each (Store::FinishMany). An executor hands its result over and takes its next task at once;
// while one batch commits, the next one gathers — so under load many short tasks share a commit, and when
// idle a result is written as soon as it arrives. A task stays held (its lease renewed by the supervisor)
// until its result is written; then the recorder forgets it, which frees its room under a mode limit.
//
// A store that answers Unavailable (busy past its timeout, a Redis Sentinel failover of a few seconds) does
// not lose the results: each one is tried again with backoff for as long as its lease lasts (less a margin),
// the task still held and its lease renewed meanwhile. Results waiting for a retry join the batches of new
// ones, so nothing waits behind them; once a lease would be gone the result is not sent (the task will be
// recovered and run again).
//
// Locking: its own mutex guards the queue of results to write; the Store is never called with it held.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "worker/held_tasks.h"
#include "worker/pool_report.h"
#include "storage/storage.h"

namespace wasmq::worker {

class Recorder {
 public:
  Recorder(queue::Store& store, const PoolOptions& opt, const storage::Workspace& workspace, HeldTasks& held,
           PoolCounters& counters)
      : store_(store), opt_(opt), workspace_(workspace), held_(held), counters_(counters) {}
  ~Recorder() { Stop(); }
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  void Start();
  // Hands over the end of an attempt: written soon, then the task is forgotten.
  void Record(const std::shared_ptr<Held>& held, queue::Finish finish) EXCLUDES(mu_);
  // Writes everything handed over, then stops the thread.
  void Stop() EXCLUDES(mu_);

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    std::shared_ptr<Held> held;
    queue::Finish finish;
    int tries = 0;              // FinishMany calls that answered Unavailable
    Clock::time_point next_try = {};  // when retried
  };
  void Loop() EXCLUDES(mu_);
  // Writes one batch; what the store was unavailable for goes to retrying_ while its lease lasts (unless
  // this is the last try, at exit). Settles the others' outputs and forgets them.
  void Write(std::vector<Pending> batch, bool last_try);
  // The end of a result: its outputs settled, counted, the task forgotten.
  void Settle(const Pending& p, const queue::Result<void>& result);
  // Whether a retry may still be sent: the lease outlasts now by a margin (a call's time, clock skew).
  bool LeaseLasts(const Pending& p) const;

  queue::Store& store_;
  const PoolOptions& opt_;
  const storage::Workspace& workspace_;
  HeldTasks& held_;
  PoolCounters& counters_;

  // Results the store was unavailable for, each with its next try (the recorder thread's own).
  std::vector<Pending> retrying_;
  std::minstd_rand random_{std::random_device{}()};

  base::Mutex mu_;
  base::CondVar cv_;  // a result waits to be written, or exit
  std::deque<Pending> to_record_ GUARDED_BY(mu_);
  bool exit_ GUARDED_BY(mu_) = false;  // exit once to_record_ is empty
  std::thread thread_;
};

}  // namespace wasmq::worker
