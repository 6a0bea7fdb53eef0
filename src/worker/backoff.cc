// File: src/worker/backoff.cc
#include "worker/backoff.h"

#include <algorithm>

namespace wasmq::worker {

int64_t RetryDelayMs(int attempt, int64_t base_ms, int64_t max_ms, double unit_random) {
  if (base_ms <= 0 || max_ms <= 0) return 0;
  int64_t delay = base_ms;
  for (int i = 1; i < attempt && delay < max_ms; ++i) delay *= 2;  // no overflow: stops at the cap
  delay = std::min(delay, max_ms);
  unit_random = std::clamp(unit_random, 0.0, 1.0);
  return delay / 2 + static_cast<int64_t>(static_cast<double>(delay - delay / 2) * unit_random);
}

}  // namespace wasmq::worker
