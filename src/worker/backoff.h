// File: src/worker/backoff.h
//
// The delay before retry number `attempt` (1 for the first retry): exponential — base, 2·base, 4·base, …
// capped at max — with "equal jitter": half the delay is fixed, the other half random. The fixed half keeps
// a failing task from hammering a struggling dependency; the random half keeps many tasks that failed
// together (a dependency went down) from all coming back at the same instant.
#pragma once

#include <cstdint>

namespace wasmq::worker {

// `unit_random` is uniform in [0, 1) (injected so tests are deterministic).
int64_t RetryDelayMs(int attempt, int64_t base_ms, int64_t max_ms, double unit_random);

}  // namespace wasmq::worker
