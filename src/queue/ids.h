// File: src/queue/ids.h
//
// Ids in the seed's shape: task_20231117_<random>, img_20231117_<random>, user_<random>. The date is the UTC
// day of creation (handy when reading logs); the random part is 16 characters of [0-9a-z] from the kernel's
// CSPRNG (getrandom): 36^16 ≈ 2^82.7 values, so even a billion ids made on the same day collide with
// probability n²/(2·36^16) ≈ 6·10⁻⁸ (ids of different days cannot collide at all). No process state is
// involved, so forked processes and restarts cannot repeat an id. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace wasmq::queue {

inline constexpr size_t kRandomIdChars = 16;

std::string NewTaskId(int64_t now_ms);  // task_YYYYMMDD_xxxxxxxxxxxxxxxx
std::string NewFileId(int64_t now_ms);  // img_YYYYMMDD_xxxxxxxxxxxxxxxx
std::string NewUserId();                // user_xxxxxxxxxxxxxxxx

// Whether `id` has the shape NewTaskId makes (the date is checked for shape, not for being a real day).
bool IsTaskId(std::string_view id);

}  // namespace wasmq::queue
