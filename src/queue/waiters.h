// File: src/queue/waiters.h
//
// Internal to the queue part (include queue/store.h instead): the blocking half of Dequeue, shared by the
// backends. A backend supplies one claim attempt (its storage-specific part); ReadyWaiters loops over it,
// waiting in between — without polling the store — until a task becomes ready in this process
// (NotifyReady), WakeAll is called, the next delayed task is due, or the request's wait is over.
//
// Wake-ups cannot be lost: a waiter remembers the ready/wake counters from before its claim attempt, so a
// NotifyReady that lands between the attempt and the wait still ends the wait at once. WakeAll is counted
// from the start of the Dequeue call: it ends every call already begun, even one still preparing, but not
// one that begins after it (it is not sticky; a caller that must stop later calls too uses give_up).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "base/mutex.h"
#include "queue/event_hub.h"
#include "queue/store.h"

namespace wasmq::queue::detail {

// What a backend's Dequeue contributes besides the waiting.
struct ClaimSource {
  // Called once before the first claim attempt, after the waiter counts wake-ups: whatever the backend
  // must set up so that no change after that attempt goes unnoticed (a baseline, a subscription).
  std::function<void()> prepare = nullptr;
  // The store's clock (ms since the epoch): next_due is on it.
  std::function<int64_t()> clock = nullptr;
  // One claim attempt. When nothing was claimed, *next_due is the earliest run_at of a delayed task the
  // request could take (0 if none).
  std::function<Result<std::vector<Claimed>>(int64_t* next_due)> try_claim = nullptr;
  // For a backend that does not hear other processes' changes (SQLite): every `poll`, `changed_elsewhere`
  // says whether one may have made a task ready, and the claim is tried again when it did. Unset: the
  // backend hears every change (Redis pub/sub) and calls NotifyReady.
  std::chrono::milliseconds poll{0};
  std::function<bool()> changed_elsewhere = nullptr;
};

class ReadyWaiters {
 public:
  // A task became ready: every waiter tries to claim again.
  void NotifyReady() EXCLUDES(mu_);
  // Every waiter returns now with nothing claimed (Store::WakeWaiters).
  void WakeAll() EXCLUDES(mu_);

  // Store::Dequeue: claims through `source`, waiting as req.wait and req.give_up say; tells `hub` about
  // what was claimed.
  Result<std::vector<Claimed>> Dequeue(const DequeueRequest& req, const ClaimSource& source, EventHub& hub)
      EXCLUDES(mu_);

 private:
  struct Seen {
    uint64_t ready = 0, wake = 0;
  };
  enum class Woke { Ready, Timeout, Stop };
  Seen Snapshot() EXCLUDES(mu_);
  // Blocks until NotifyReady after *seen (Ready, *seen updated), WakeAll or give_up (Stop), or `until`.
  Woke WaitUntil(Seen* seen, std::chrono::steady_clock::time_point until,
                 const std::function<bool()>& give_up) EXCLUDES(mu_);

  base::Mutex mu_;
  base::CondVar cv_;
  uint64_t ready_version_ GUARDED_BY(mu_) = 0;  // bumped when a task becomes ready
  uint64_t wake_version_ GUARDED_BY(mu_) = 0;   // bumped by WakeAll
};

}  // namespace wasmq::queue::detail
