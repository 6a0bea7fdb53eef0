// File: src/worker/supervisor.h
//
// Internal to the worker part: the supervisor — one thread, the pool's clock. It sleeps until the next of:
// a running task's deadline (interrupt it), the next heartbeat round (renew every lease we hold; a refused
// renewal means the task was cancelled elsewhere or re-queued, so its run is stopped; and tell the store's
// worker registry this process is alive), the next lease
// recovery (any process's expired leases), the next cleanup (finished tasks past their TTL, and their
// directories).
//
// Locking: its own mutex guards when it wakes next; it may take the held-tasks table's lock inside its own.
// The Store is never called with it held.
#pragma once

#include <thread>

#include "base/mutex.h"
#include "worker/held_tasks.h"
#include "worker/pool_report.h"
#include "storage/storage.h"

namespace wasmq::worker {

class Supervisor {
 public:
  Supervisor(queue::Store& store, const PoolOptions& opt, const storage::Workspace& workspace, HeldTasks& held,
             PoolCounters& counters)
      : store_(store), opt_(opt), workspace_(workspace), held_(held), counters_(counters) {}
  ~Supervisor() { Stop(); }
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  void Start();
  void Stop() EXCLUDES(mu_);
  // A task started with this deadline: wakes the supervisor only when it comes before its next planned
  // wake-up (rarely: the heartbeat round is usually sooner than any timeout).
  void DeadlineSet(SteadyTime deadline) EXCLUDES(mu_);
  // Puts back every expired or orphaned lease (at the pool's start, then every lease/2).
  void Recover();

 private:
  void Loop() EXCLUDES(mu_);
  void Heartbeats(const std::vector<std::shared_ptr<Held>>& held);
  void Announce(int64_t heartbeat_ms);
  void Cleanup();

  queue::Store& store_;
  const PoolOptions& opt_;
  const storage::Workspace& workspace_;
  HeldTasks& held_;
  PoolCounters& counters_;

  base::Mutex mu_;
  base::CondVar cv_;  // an earlier deadline appeared, or exit
  bool exit_ GUARDED_BY(mu_) = false;
  bool deadlines_changed_ GUARDED_BY(mu_) = false;       // a deadline earlier than wake_ appeared
  SteadyTime wake_ GUARDED_BY(mu_) = SteadyTime::max();  // when the supervisor wakes next
  int64_t started_at_ = 0;  // ms since the epoch; written by the supervisor thread only
  std::thread thread_;
};

}  // namespace wasmq::worker
