// File: src/queue/waiters.cc
#include "queue/waiters.h"

#include <algorithm>

namespace wasmq::queue::detail {

void ReadyWaiters::NotifyReady() {
  {
    base::MutexLock lock(mu_);
    ++ready_version_;
  }
  cv_.NotifyAll();
}

void ReadyWaiters::WakeAll() {
  {
    base::MutexLock lock(mu_);
    ++wake_version_;
  }
  cv_.NotifyAll();
}

ReadyWaiters::Seen ReadyWaiters::Snapshot() {
  base::MutexLock lock(mu_);
  return {ready_version_, wake_version_};
}

ReadyWaiters::Woke ReadyWaiters::WaitUntil(Seen* seen, std::chrono::steady_clock::time_point until,
                                           const std::function<bool()>& give_up) {
  base::MutexLock lock(mu_);
  // give_up is checked under mu_: whoever makes it true calls WakeAll (which takes mu_) afterwards.
  const bool signalled = cv_.WaitUntil(lock, until, [&]() REQUIRES(mu_) {
    return ready_version_ != seen->ready || wake_version_ != seen->wake || (give_up && give_up());
  });
  if (wake_version_ != seen->wake || (give_up && give_up())) return Woke::Stop;
  if (!signalled) return Woke::Timeout;
  seen->ready = ready_version_;
  return Woke::Ready;
}

Result<std::vector<Claimed>> ReadyWaiters::Dequeue(const DequeueRequest& req, const ClaimSource& source,
                                                   EventHub& hub) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + req.wait;
  // WakeAll is counted from the call's start, so that one landing while prepare runs (the Redis store may
  // take a while to subscribe) still ends this call: a dispatcher that resized its request, or a shutdown,
  // is never left waiting out a whole req.wait.
  const uint64_t wake_at_start = Snapshot().wake;
  // Readiness is counted after prepare (the Redis store subscribes there, and wakes waiters once
  // subscribed): what was notified before it is covered by the first claim below, which comes after it.
  if (source.prepare) source.prepare();
  Seen seen = Snapshot();
  seen.wake = wake_at_start;
  for (;;) {
    if (req.give_up && req.give_up()) return std::vector<Claimed>{};
    int64_t next_due = 0;
    auto claimed = source.try_claim(&next_due);
    if (!claimed) return claimed.error();
    if (!claimed->empty()) {
      hub.PublishClaimed(*claimed);
      return claimed;
    }
    // Nothing ready: wait for a task to become ready, WakeAll, the next delayed task, or — for a polling
    // backend — the next look at other processes' changes.
    for (;;) {
      const auto now = Clock::now();
      if (now >= deadline) return std::vector<Claimed>{};
      auto wake_at = deadline;
      if (source.changed_elsewhere) wake_at = std::min(deadline, now + source.poll);
      bool due = false;
      if (next_due) {
        // Clamped to a day: a far run_at (a task held for its dependencies sits at 2^62) would overflow the
        // clock's nanoseconds into the past, and the wait would spin.
        constexpr int64_t kDayMs = 86'400'000;
        auto until_due = std::chrono::milliseconds(std::clamp<int64_t>(next_due - source.clock(), 0, kDayMs));
        if (now + until_due <= wake_at) wake_at = now + until_due, due = true;
      }
      const Woke woke = WaitUntil(&seen, wake_at, req.give_up);
      if (woke == Woke::Stop) return std::vector<Claimed>{};
      if (woke == Woke::Ready || due || !source.changed_elsewhere || source.changed_elsewhere()) break;
    }
  }
}

}  // namespace wasmq::queue::detail
