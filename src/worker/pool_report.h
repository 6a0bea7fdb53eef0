// File: src/worker/pool_report.h
//
// Internal to the worker part: what the pool's parts report — the counters behind PoolStats (atomic, so
// counting needs no lock) and the log lines that go to PoolOptions::log.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "worker/worker.h"

namespace wasmq::worker {

struct PoolCounters {
  std::atomic<int64_t> started{0}, completed{0}, failed{0}, retried{0}, cancelled{0}, released{0}, lost{0};
  std::atomic<int64_t> recovered{0}, cleaned{0};

  PoolStats Snapshot() const {
    PoolStats s;
    s.started = started;
    s.completed = completed;
    s.failed = failed;
    s.retried = retried;
    s.cancelled = cancelled;
    s.released = released;
    s.lost = lost;
    s.recovered = recovered;
    s.cleaned = cleaned;
    return s;
  }
};

inline void Log(const PoolOptions& opt, const std::string& line) {
  if (opt.log) opt.log(line);
}

}  // namespace wasmq::worker
