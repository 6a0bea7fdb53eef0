#include "base/units.h"

#include <charconv>
#include <string>

#include "base/strings.h"

namespace wasmq::base {
namespace {

// The leading digits of `text` as a number and what follows them, lowercased; nullopt without digits.
template <typename N>
std::optional<std::pair<N, std::string>> NumberAndUnit(std::string_view text) {
  N n = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, n);
  if (ec != std::errc() || p == text.data()) return std::nullopt;
  return std::pair{n, Lower(std::string_view(p, static_cast<size_t>(end - p)))};
}

}  // namespace

std::optional<uint64_t> ParseBytes(std::string_view text) {
  if (text.empty() || text[0] < '0' || text[0] > '9') return std::nullopt;  // no sign, no space
  auto parsed = NumberAndUnit<uint64_t>(text);
  if (!parsed) return std::nullopt;
  const auto& [n, unit] = *parsed;
  uint64_t mul;
  if (unit.empty() || unit == "b")
    mul = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib")
    mul = uint64_t{1} << 10;
  else if (unit == "m" || unit == "mb" || unit == "mib")
    mul = uint64_t{1} << 20;
  else if (unit == "g" || unit == "gb" || unit == "gib")
    mul = uint64_t{1} << 30;
  else
    return std::nullopt;
  if (n > UINT64_MAX / mul) return std::nullopt;
  return n * mul;
}

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.empty() || text[0] < '0' || text[0] > '9') return std::nullopt;  // no sign, no space
  auto parsed = NumberAndUnit<int64_t>(text);
  if (!parsed) return std::nullopt;
  const auto& [n, unit] = *parsed;
  int64_t mul;
  if (unit == "ms")
    mul = 1;
  else if (unit == "s")
    mul = 1000;
  else if (unit == "m")
    mul = 60'000;
  else if (unit == "h")
    mul = 3'600'000;
  else if (unit == "d")
    mul = 86'400'000;
  else
    return std::nullopt;
  if (n > INT64_MAX / mul) return std::nullopt;
  return std::chrono::milliseconds(n * mul);
}

}  // namespace wasmq::base
