// File: src/api/rate_limiter.h
//
// Internal to the api part: a token bucket per key (a user id, or a client IP with auth off). A key may
// spend `burst` requests at once, refilled at `rate` per second. Bounded: at most kMaxKeys buckets; when
// that many are live, buckets that have refilled (equivalent to absent ones) are dropped first, and if
// every bucket is busy the least recently used half goes. Clearing everything instead would let a client
// that sprays new keys reset every other client's limit.
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/mutex.h"

namespace wasmq::api {

class RateLimiter {
 public:
  static constexpr size_t kMaxKeys = 100'000;

  // rate <= 0 turns limiting off. burst <= 0 means 2 × rate (at least 1).
  RateLimiter(double rate, int burst);

  bool enabled() const { return rate_ > 0; }
  // 0 when the request may go ahead (a token is taken); otherwise the milliseconds until one is available.
  int64_t Acquire(std::string_view key, int64_t now_ms);
  size_t size();  // live buckets

 private:
  struct Bucket {
    double tokens;
    int64_t updated_ms;
  };
  void Evict(int64_t now_ms) REQUIRES(mu_);

  const double rate_;
  const double burst_;
  base::Mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_ GUARDED_BY(mu_);
};

}  // namespace wasmq::api
