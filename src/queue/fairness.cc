// File: src/queue/fairness.cc
#include "queue/fairness.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace wasmq::queue {

bool FairnessOptions::AnyRunningLimit() const {
  if (defaults.max_running > 0) return true;
  return std::any_of(users.begin(), users.end(), [](const auto& u) { return u.second.max_running > 0; });
}

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

Result<void> SetLimit(UserLimits* l, std::string_view key, std::string_view value, const std::string& where) {
  const std::string v(value);
  char* end = nullptr;
  if (key == "weight") {
    double w = std::strtod(v.c_str(), &end);
    if (v.empty() || *end || !(w > 0) || w > 1e6) return InvalidArgument(where + ": weight must be above 0");
    l->weight = w;
    return {};
  }
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || n < 0 || n > 1'000'000'000)
    return InvalidArgument(where + ": " + std::string(key) + " must be an integer from 0");
  if (key == "max_running") l->max_running = static_cast<int>(n);
  else if (key == "max_pending") l->max_pending = static_cast<int>(n);
  else if (key == "per_minute") l->per_minute = static_cast<int>(n);
  else
    return InvalidArgument(where + ": unknown key '" + std::string(key) +
                           "' (weight, max_running, max_pending, per_minute)");
  return {};
}

}  // namespace

Result<std::map<std::string, UserLimits, std::less<>>> ParseUserLimits(std::string_view text,
                                                                       const UserLimits& defaults) {
  std::map<std::string, UserLimits, std::less<>> out;
  while (!text.empty()) {
    const size_t semi = text.find(';');
    std::string_view entry = Trim(text.substr(0, semi));
    text = semi == std::string_view::npos ? std::string_view() : text.substr(semi + 1);
    if (entry.empty()) continue;
    const size_t colon = entry.find(':');
    if (colon == std::string_view::npos)
      return InvalidArgument("user limits: '" + std::string(entry) + "' is not USER:key=value,…");
    std::string user(Trim(entry.substr(0, colon)));
    const std::string where = "user limits of '" + user + "'";
    UserLimits l = defaults;
    std::string_view pairs = entry.substr(colon + 1);
    while (!pairs.empty()) {
      const size_t comma = pairs.find(',');
      std::string_view kv = Trim(pairs.substr(0, comma));
      pairs = comma == std::string_view::npos ? std::string_view() : pairs.substr(comma + 1);
      if (kv.empty()) continue;
      const size_t eq = kv.find('=');
      if (eq == std::string_view::npos) return InvalidArgument(where + ": '" + std::string(kv) + "' is not key=value");
      if (auto r = SetLimit(&l, Trim(kv.substr(0, eq)), Trim(kv.substr(eq + 1)), where); !r) return r.error();
    }
    out[user] = l;
  }
  return out;
}

namespace detail {

int64_t TakeToken(int per_minute, int64_t now, double* tokens, int64_t* tokens_at) {
  // Multiplied before divided, so that whole minutes' fractions come out exact (30 s of 2/min is 1 token).
  const double cap = per_minute;
  double t = *tokens < 0 ? cap
                         : std::min(cap, *tokens + static_cast<double>(std::max<int64_t>(0, now - *tokens_at)) *
                                                       per_minute / 60'000.0);
  if (t < 1) return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1 - t) * 60'000.0 / per_minute)));
  *tokens = t - 1;
  *tokens_at = now;
  return 0;
}

Error PendingLimitError(std::string_view user, int max_pending) {
  Error e{Code::RateLimited, "user " + (user.empty() ? std::string("(anonymous)") : std::string(user)) +
                                 " already has " + std::to_string(max_pending) +
                                 " pending tasks (the most allowed); retry when some have started"};
  e.retry_after_ms = 1000;
  return e;
}

Error RateLimitError(std::string_view user, int per_minute, int64_t retry_after_ms) {
  Error e{Code::RateLimited, "user " + (user.empty() ? std::string("(anonymous)") : std::string(user)) +
                                 " may create " + std::to_string(per_minute) + " tasks per minute; retry in " +
                                 std::to_string(retry_after_ms) + " ms"};
  e.retry_after_ms = retry_after_ms;
  return e;
}

}  // namespace detail
}  // namespace wasmq::queue
