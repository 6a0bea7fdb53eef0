// Sizes and durations as people type them, one rule for every place that reads one: the command line
// (`wasmq run --max-memory 16mb`), the settings table's flags, environment and .env (WASMQ_MAX_MEMORY=16mb,
// WASMQ_TASK_TIMEOUT=5m) and `wasmq token --ttl`. Units are case-insensitive; no space between number and
// unit; whole numbers only.
#ifndef WASMQ_BASE_UNITS_H_
#define WASMQ_BASE_UNITS_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace wasmq::base {

// Bytes in powers of 1024: a bare number or B, K/KB/KiB, M/MB/MiB, G/GB/GiB ("65536", "64k", "16mb",
// "256MiB", "1g"). nullopt when malformed or past uint64.
std::optional<uint64_t> ParseBytes(std::string_view text);

// A duration with a unit: ms, s, m (minutes), h, d ("250ms", "30s", "5m", "2h", "7d"). A bare number other
// than 0 is refused, so "30" cannot be misread. nullopt when malformed, negative or past int64 ms.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace wasmq::base

#endif  // WASMQ_BASE_UNITS_H_
