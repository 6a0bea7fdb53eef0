// File: src/worker/supervisor.cc
//
// The supervisor thread: the pool's clock. It sleeps until the next of: a running task's deadline
// (interrupt it), the next heartbeat round (renew every lease we hold; a refused renewal means the task was
// cancelled elsewhere or re-queued, so its run is stopped), the next lease recovery (any process's expired
// leases), the next cleanup (finished tasks past their TTL, and their directories).
#include <algorithm>

#include "worker/owner.h"
#include "worker/pool_impl.h"

namespace wasmq::worker {

void WorkerPool::Impl::Recover() {
  auto r = store_.RecoverLeases(OwnerIsDead);
  if (!r) {
    Log("lease recovery failed: " + r.error().message);
    return;
  }
  for (const std::string& id : r->requeued) Log("recovered " + id + ": its worker stopped; back to pending");
  for (const std::string& id : r->failed)
    Log("recovered " + id + ": its worker stopped and no attempt is left; failed");
  std::lock_guard lock(mu_);
  stats_.recovered += static_cast<int64_t>(r->requeued.size() + r->failed.size());
}

void WorkerPool::Impl::Cleanup() {
  if (opt_.task_ttl_ms <= 0) return;
  constexpr int kBatch = 500;
  for (;;) {
    auto removed = store_.Cleanup(queue::NowMs() - opt_.task_ttl_ms, kBatch);
    if (!removed) {
      Log("cleanup failed: " + removed.error().message);
      return;
    }
    for (const std::string& id : *removed) workspace_.Remove(id);
    {
      std::lock_guard lock(mu_);
      stats_.cleaned += static_cast<int64_t>(removed->size());
    }
    if (removed->size() < static_cast<size_t>(kBatch)) return;
  }
}

void WorkerPool::Impl::Heartbeats(const std::vector<std::shared_ptr<Held>>& held) {
  for (const auto& h : held) {
    auto r = store_.Heartbeat(h->claimed.lease, opt_.lease_ms);
    if (r) continue;
    if (r.error().code == queue::Code::Conflict || r.error().code == queue::Code::NotFound) {
      Log(h->claimed.task.task_id + ": lease not renewed (" + r.error().message + "); stopping it");
      h->control.Stop(WhyRefused(h->claimed.task.task_id));
    } else {
      Log(h->claimed.task.task_id + ": heartbeat failed: " + r.error().message);
    }
  }
}

void WorkerPool::Impl::SupervisorLoop() {
  using namespace std::chrono;
  using Clock = steady_clock;
  const auto heartbeat_every = milliseconds(std::clamp<int64_t>(opt_.lease_ms / 3, 50, 10'000));
  const auto recover_every = milliseconds(std::max<int64_t>(opt_.lease_ms / 2, 100));
  const auto cleanup_every = milliseconds(std::max<int64_t>(opt_.cleanup_interval_ms, 10));
  auto next_heartbeat = Clock::now() + heartbeat_every;
  auto next_recover = Clock::now() + recover_every;
  auto next_cleanup = opt_.task_ttl_ms > 0 ? Clock::now() : Clock::time_point::max();

  std::unique_lock lock(mu_);
  for (;;) {
    auto wake = std::min({next_heartbeat, next_recover, next_cleanup});
    for (const auto& [id, h] : held_)
      if (h->started && h->control.reason() == StopReason::None) wake = std::min(wake, h->deadline);
    deadlines_changed_ = false;
    supervisor_wake_ = wake;
    supervisor_cv_.wait_until(lock, wake, [&] { return supervisor_exit_ || deadlines_changed_; });
    if (supervisor_exit_) return;
    const auto now = Clock::now();
    for (const auto& [id, h] : held_)
      if (h->started && h->deadline <= now) h->control.Stop(StopReason::Timeout);
    std::vector<std::shared_ptr<Held>> to_renew;
    if (now >= next_heartbeat) {
      for (const auto& [id, h] : held_) to_renew.push_back(h);
      next_heartbeat = now + heartbeat_every;
    }
    bool recover = now >= next_recover, cleanup = now >= next_cleanup;
    if (recover) next_recover = now + recover_every;
    if (cleanup) next_cleanup = now + cleanup_every;
    if (to_renew.empty() && !recover && !cleanup) continue;
    lock.unlock();  // the Store is never called with mu_ held
    Heartbeats(to_renew);
    if (recover) Recover();
    if (cleanup) Cleanup();
    lock.lock();
  }
}

}  // namespace wasmq::worker
