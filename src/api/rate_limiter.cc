// File: src/api/rate_limiter.cc
#include "api/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace wasmq::api {

RateLimiter::RateLimiter(double rate, int burst)
    : rate_(rate > 0 ? rate : 0), burst_(burst > 0 ? burst : std::max(1.0, std::floor(2 * rate))) {}

int64_t RateLimiter::Acquire(std::string_view key, int64_t now_ms) {
  if (!enabled()) return 0;
  base::MutexLock lock(mu_);
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

size_t RateLimiter::size() {
  base::MutexLock lock(mu_);
  return buckets_.size();
}

void RateLimiter::Evict(int64_t now_ms) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    double refilled = it->second.tokens + (now_ms - it->second.updated_ms) * rate_ / 1000.0;
    it = refilled >= burst_ ? buckets_.erase(it) : std::next(it);
  }
  if (buckets_.size() < kMaxKeys) return;
  // Every bucket is busy (a client spraying keys, one per source address): drop the least recently used
  // half, found in linear time, so that the busy buckets of recent clients keep their limit. Half, so that
  // the next eviction is kMaxKeys / 2 new keys away and the cost per request stays constant.
  std::vector<int64_t> times;
  times.reserve(buckets_.size());
  for (const auto& [key, b] : buckets_) times.push_back(b.updated_ms);
  auto mid = times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2);
  std::nth_element(times.begin(), mid, times.end());
  const int64_t cutoff = *mid;
  size_t to_drop = buckets_.size() - kMaxKeys / 2;
  for (auto it = buckets_.begin(); it != buckets_.end() && to_drop > 0;) {
    if (it->second.updated_ms <= cutoff) {
      it = buckets_.erase(it);
      --to_drop;
    } else {
      ++it;
    }
  }
}

}  // namespace wasmq::api
