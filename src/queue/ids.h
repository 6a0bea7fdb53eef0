// File: src/queue/ids.h
//
// Ids in the seed's shape: task_20231117_<unique>, img_20231117_<unique>, user_<random>. The date is the
// UTC day of creation (handy when reading logs).
//
// <unique> is 18 characters of [0-9a-z]: the millisecond of the day in base 36 (6 characters), then 12
// random characters from the kernel's CSPRNG (getrandom). The time prefix makes ids of a day sort by
// creation, so a store's id index grows at its end instead of at random places (measurably cheaper
// inserts). Only ids made in the same millisecond can collide: 36^12 ≈ 2^62 values per millisecond, so at a
// sustained 10 000 ids/s the chance of any collision in a year is about 3·10⁻⁷ — and a store refuses a
// duplicate id (Conflict) rather than overwrite, and the service then draws another. No process state is
// involved, so forked processes and restarts cannot repeat an id. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace wasmq::queue {

inline constexpr size_t kIdUniqueChars = 18;  // after "task_YYYYMMDD_"

std::string NewTaskId(int64_t now_ms);  // task_YYYYMMDD_tttttt + 12 random
std::string NewFileId(int64_t now_ms);  // img_YYYYMMDD_tttttt + 12 random
std::string NewUserId();                // user_ + 16 random

// Whether `id` has the shape NewTaskId makes (the date is checked for shape, not for being a real day).
bool IsTaskId(std::string_view id);

}  // namespace wasmq::queue
