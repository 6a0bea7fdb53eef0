// File: src/queue/fairness.h
//
// Per-user fairness and limits, applied by both stores in their create and claim paths (docs/queue.md,
// "Fairness and per-user limits"):
//
// - Hand-out order: the queue serves users round-robin (start-time fair queueing: each user's next turn
//   is max(V, finish[user]); a claim moves finish[user] on by 1/weight and V to the turn it served), so a
//   user with 10 000 tasks waiting delays another user's single new task by at most one claim per worker.
// - Within one user: by run_at − priority · kPriorityAgingMs, oldest first — higher priority first, but a
//   task is never passed by a task of its user that became ready more than
//   (priority difference) · kPriorityAgingMs after it (at most 200 · 10 s ≈ 33 min): no starvation.
// - Limits per user (0: none): tasks processing at once (the claim skips that user's tasks), tasks
//   pending (create refused, RateLimited), tasks created per minute (a token bucket of that size refilled
//   at that rate; create refused, RateLimited with retry_after_ms).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "queue/error.h"

namespace wasmq::queue {

// One priority point is worth this much waiting: the within-user order is run_at − priority · this.
inline constexpr int64_t kPriorityAgingMs = 10'000;

struct UserLimits {
  double weight = 1;     // share of the claims relative to other users with ready tasks (> 0)
  int max_running = 0;   // processing at once; 0: no limit
  int max_pending = 0;   // pending (ready or delayed) at once; 0: no limit
  int per_minute = 0;    // tasks created per minute; 0: no limit
};

struct FairnessOptions {
  UserLimits defaults = {};
  std::map<std::string, UserLimits, std::less<>> users = {};  // whole limits per user (defaults merged in)

  const UserLimits& For(std::string_view user) const {
    auto it = users.find(user);
    return it == users.end() ? defaults : it->second;
  }
  bool AnyRunningLimit() const;
};

// Parses per-user overrides over `defaults`: "USER:key=value,key=value;USER:…" with keys weight,
// max_running, max_pending, per_minute (WASMQ_USER_LIMITS). InvalidArgument naming the bad part.
Result<std::map<std::string, UserLimits, std::less<>>> ParseUserLimits(std::string_view text,
                                                                       const UserLimits& defaults);

namespace detail {
// The token bucket of the per-minute limit: `tokens` (-1: never used, a full bucket) refilled since
// `tokens_at`. Takes one token and returns 0, or returns how long until one is there (ms, ≥ 1) and
// leaves the bucket unchanged.
int64_t TakeToken(int per_minute, int64_t now, double* tokens, int64_t* tokens_at);
// The RateLimited errors of the create path.
Error PendingLimitError(std::string_view user, int max_pending);
Error RateLimitError(std::string_view user, int per_minute, int64_t retry_after_ms);
}  // namespace detail

}  // namespace wasmq::queue
