// File: src/worker/supervisor.cc
#include "worker/supervisor.h"

#include <pthread.h>

#include <algorithm>

#include "worker/owner.h"

namespace wasmq::worker {

void Supervisor::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "wq-supervise");
    Loop();
  });
}

void Supervisor::Stop() {
  {
    base::MutexLock lock(mu_);
    exit_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

void Supervisor::DeadlineSet(SteadyTime deadline) {
  bool earlier;
  {
    base::MutexLock lock(mu_);
    earlier = deadline < wake_;
    deadlines_changed_ = deadlines_changed_ || earlier;
  }
  if (earlier) cv_.NotifyAll();
}

void Supervisor::Recover() {
  auto r = store_.RecoverLeases(OwnerIsDead);
  if (!r) {
    Log(opt_, "lease recovery failed: " + r.error().message);
    return;
  }
  for (const std::string& id : r->requeued)
    Log(opt_, "recovered " + id + ": its worker stopped; back to pending");
  for (const std::string& id : r->failed)
    Log(opt_, "recovered " + id + ": its worker stopped and no attempt is left; failed");
  counters_.recovered += static_cast<int64_t>(r->requeued.size() + r->failed.size());
}

void Supervisor::Cleanup() {
  if (opt_.task_ttl_ms <= 0) return;
  constexpr int kBatch = 500;
  for (;;) {
    auto removed = store_.Cleanup(queue::NowMs() - opt_.task_ttl_ms, kBatch);
    if (!removed) {
      Log(opt_, "cleanup failed: " + removed.error().message);
      return;
    }
    for (const std::string& id : *removed) workspace_.Remove(id);
    counters_.cleaned += static_cast<int64_t>(removed->size());
    if (removed->size() < static_cast<size_t>(kBatch)) return;
  }
}

void Supervisor::Heartbeats(const std::vector<std::shared_ptr<Held>>& held) {
  for (const auto& h : held) {
    auto r = store_.Heartbeat(h->claimed.lease, opt_.lease_ms);
    if (r) {
      h->renewed_until.store(*r);  // the recorder sends a late result only while the lease lasts
      continue;
    }
    if (r.error().code == queue::Code::Conflict || r.error().code == queue::Code::NotFound) {
      Log(opt_, h->claimed.task.task_id + ": lease not renewed (" + r.error().message + "); stopping it");
      h->control.Stop(WhyRefused(store_, h->claimed.task.task_id));
    } else {
      Log(opt_, h->claimed.task.task_id + ": heartbeat failed: " + r.error().message);
    }
  }
}

// The worker registry (GET /api/v1/workers) hears from this process at every heartbeat round, tasks or not.
void Supervisor::Announce(int64_t heartbeat_ms) {
  queue::WorkerInfo w = queue::WorkerFromOwner(opt_.owner);
  w.started_at = started_at_;
  w.last_heartbeat = queue::NowMs();
  w.concurrency = opt_.workers;
  w.heartbeat_ms = heartbeat_ms;
  if (auto r = store_.PutWorker(w); !r) Log(opt_, "worker registry: " + r.error().message);
}

void Supervisor::Loop() {
  using namespace std::chrono;
  using Clock = steady_clock;
  const auto heartbeat_every = milliseconds(std::clamp<int64_t>(opt_.lease_ms / 3, 50, 10'000));
  started_at_ = queue::NowMs();
  Announce(heartbeat_every.count());
  const auto recover_every = milliseconds(std::max<int64_t>(opt_.lease_ms / 2, 100));
  const auto cleanup_every = milliseconds(std::max<int64_t>(opt_.cleanup_interval_ms, 10));
  auto next_heartbeat = Clock::now() + heartbeat_every;
  auto next_recover = Clock::now() + recover_every;
  auto next_cleanup = opt_.task_ttl_ms > 0 ? Clock::now() : Clock::time_point::max();

  base::MutexLock lock(mu_);
  for (;;) {
    // Under mu_, so that a deadline set after this look is compared with the wake_ set here (DeadlineSet).
    const auto wake = std::min({next_heartbeat, next_recover, next_cleanup, held_.EarliestDeadline()});
    deadlines_changed_ = false;
    wake_ = wake;
    cv_.WaitUntil(lock, wake, [&]() REQUIRES(mu_) { return exit_ || deadlines_changed_; });
    if (exit_) return;
    const auto now = Clock::now();
    held_.StopOverdue(now);
    std::vector<std::shared_ptr<Held>> to_renew;
    const bool announce = now >= next_heartbeat;
    if (announce) {
      to_renew = held_.All();
      next_heartbeat = now + heartbeat_every;
    }
    bool recover = now >= next_recover, cleanup = now >= next_cleanup;
    if (recover) next_recover = now + recover_every;
    if (cleanup) next_cleanup = now + cleanup_every;
    if (!announce && !recover && !cleanup) continue;
    lock.Unlock();  // the Store is never called with mu_ held
    Heartbeats(to_renew);
    if (announce) Announce(heartbeat_every.count());
    if (recover) Recover();
    if (cleanup) Cleanup();
    lock.Lock();
  }
}

}  // namespace wasmq::worker
