// File: src/api/rate_limiter.cc
#include "api/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace wasmq::api {

RateLimiter::RateLimiter(double rate, int burst)
    : rate_(rate > 0 ? rate : 0), burst_(burst > 0 ? burst : std::max(1.0, std::floor(2 * rate))) {}

int64_t RateLimiter::Acquire(std::string_view key, int64_t now_ms) {
  if (!enabled()) return 0;
  std::lock_guard lock(mu_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxKeys) Evict(now_ms);
    it = buckets_.emplace(std::string(key), Bucket{burst_, now_ms}).first;
  }
  Bucket& b = it->second;
  if (now_ms > b.updated_ms) {
    b.tokens = std::min(burst_, b.tokens + (now_ms - b.updated_ms) * rate_ / 1000.0);
    b.updated_ms = now_ms;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1 - b.tokens) * 1000.0 / rate_)));
}

void RateLimiter::Evict(int64_t now_ms) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    double refilled = it->second.tokens + (now_ms - it->second.updated_ms) * rate_ / 1000.0;
    it = refilled >= burst_ ? buckets_.erase(it) : std::next(it);
  }
  if (buckets_.size() >= kMaxKeys) buckets_.clear();
}

}  // namespace wasmq::api
