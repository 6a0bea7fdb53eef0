// File: src/queue/ids.cc
#include "queue/ids.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace wasmq::queue {
namespace {

constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";

// `n` characters, each from one random byte by rejection sampling (bytes >= 252 are redrawn) so every
// character is uniform over the 36 symbols.
std::string RandomPart(size_t n) {
  std::string out;
  out.reserve(n);
  unsigned char buf[32];
  while (out.size() < n) {
    ssize_t got = getrandom(buf, sizeof buf, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      // getrandom cannot fail on Linux >= 3.17 once the pool is initialised; a failure is a broken host.
      throw std::runtime_error("getrandom failed");
    }
    for (ssize_t i = 0; i < got && out.size() < n; ++i)
      if (buf[i] < 252) out += kAlphabet[buf[i] % 36];
  }
  return out;
}

std::string Date(int64_t now_ms) {
  time_t secs = static_cast<time_t>(now_ms / 1000);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d%02d%02d", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday);
  return buf;
}

// The millisecond of the UTC day in base 36, 6 characters (86'400'000 < 36^6).
std::string TimeOfDay(int64_t now_ms) {
  int64_t ms = ((now_ms % 86'400'000) + 86'400'000) % 86'400'000;
  std::string out(6, '0');
  for (int i = 5; i >= 0; --i, ms /= 36) out[i] = kAlphabet[ms % 36];
  return out;
}

std::string Unique(int64_t now_ms) { return TimeOfDay(now_ms) + RandomPart(kIdUniqueChars - 6); }

}  // namespace

std::string NewTaskId(int64_t now_ms) { return "task_" + Date(now_ms) + "_" + Unique(now_ms); }
std::string NewFileId(int64_t now_ms) { return "img_" + Date(now_ms) + "_" + Unique(now_ms); }
std::string NewUserId() { return "user_" + RandomPart(16); }

bool IsTaskId(std::string_view id) {
  constexpr std::string_view kPrefix = "task_";
  if (id.size() != kPrefix.size() + 8 + 1 + kIdUniqueChars || !id.starts_with(kPrefix)) return false;
  for (size_t i = 0; i < 8; ++i)
    if (id[kPrefix.size() + i] < '0' || id[kPrefix.size() + i] > '9') return false;
  if (id[kPrefix.size() + 8] != '_') return false;
  for (char c : id.substr(kPrefix.size() + 9))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return false;
  return true;
}

}  // namespace wasmq::queue
