// The per-user token bucket.
#include "api/rate_limiter.h"

#include <gtest/gtest.h>

namespace wasmq::api {
namespace {

TEST(RateLimiter, SpendsTheBurstThenRefillsAtTheRate) {
  RateLimiter r(2, 3);  // 2/s, bursts of 3
  for (int i = 0; i < 3; ++i) EXPECT_EQ(r.Acquire("u", 1000), 0);
  int64_t wait = r.Acquire("u", 1000);
  EXPECT_EQ(wait, 500);                 // one token every 500 ms
  EXPECT_EQ(r.Acquire("other", 1000), 0);  // buckets are per key
  EXPECT_GT(r.Acquire("u", 1400), 0);
  EXPECT_EQ(r.Acquire("u", 1500), 0);
  EXPECT_GT(r.Acquire("u", 1500), 0);
  EXPECT_EQ(r.Acquire("u", 100'000), 0);  // long idle: full again, never more than the burst
  EXPECT_EQ(r.Acquire("u", 100'000), 0);
  EXPECT_EQ(r.Acquire("u", 100'000), 0);
  EXPECT_GT(r.Acquire("u", 100'000), 0);
}

TEST(RateLimiter, OffWhenTheRateIsZeroAndBurstDefaultsToTwiceTheRate) {
  RateLimiter off(0, 0);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(off.Acquire("u", 0), 0);
  RateLimiter r(5, 0);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(r.Acquire("u", 0), 0);
  EXPECT_GT(r.Acquire("u", 0), 0);
}

TEST(RateLimiter, StaysBoundedUnderManyKeys) {
  RateLimiter r(1, 1);
  for (size_t i = 0; i < 3 * RateLimiter::kMaxKeys; ++i) {
    r.Acquire("k" + std::to_string(i), 0);
    ASSERT_LE(r.size(), RateLimiter::kMaxKeys) << "after " << i + 1 << " keys";
  }
  EXPECT_GT(r.size(), RateLimiter::kMaxKeys / 4) << "eviction keeps about half, not nothing";
  EXPECT_EQ(r.Acquire("fresh", 0), 0);  // still answers; old buckets were dropped
  EXPECT_GT(r.Acquire("fresh", 0), 0) << "a key arriving at a full table must still be limited";
}

// Issue 17: eviction cleared the whole table once 100 000 busy buckets were live, so a client spraying new
// keys (one per source address) reset the limit of everyone else. Recent buckets must survive it.
TEST(RateLimiter, EvictionKeepsRecentBuckets) {
  RateLimiter r(0.001, 1);  // one request, then one per 1 000 s: every bucket below stays busy
  int64_t t = 0;
  for (size_t i = 0; i < RateLimiter::kMaxKeys - 1; ++i) r.Acquire("old" + std::to_string(i), t++);
  ASSERT_EQ(r.Acquire("alice", t++), 0);
  ASSERT_GT(r.Acquire("alice", t), 0);
  for (size_t i = 0; i < 1000; ++i) r.Acquire("new" + std::to_string(i), t++);  // past kMaxKeys: evicts
  EXPECT_LE(r.size(), RateLimiter::kMaxKeys);
  EXPECT_GT(r.Acquire("alice", t), 0) << "alice's busy, recent bucket was dropped: her limit was reset";
  EXPECT_EQ(r.Acquire("old0", t), 0) << "the oldest buckets are the ones to go";
}

}  // namespace
}  // namespace wasmq::api
