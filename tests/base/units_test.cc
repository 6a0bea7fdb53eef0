// ParseBytes and ParseDuration: the one rule behind every size and duration the command line, the
// environment and .env files accept.
#include "base/units.h"

#include <gtest/gtest.h>

#include <optional>

namespace wasmq::base {
namespace {

using std::chrono::milliseconds;

TEST(ParseBytes, AcceptedAndRefused) {
  const struct {
    const char* text;
    std::optional<uint64_t> want;
  } cases[] = {
      {"0", 0},
      {"65536", 65536},
      {"65536b", 65536},
      {"65536B", 65536},
      {"64k", 64 << 10},
      {"64K", 64 << 10},
      {"64kb", 64 << 10},
      {"64KiB", 64 << 10},
      {"64kib", 64 << 10},
      {"16mb", 16 << 20},  // WASMQ_MAX_MEMORY=16mb, as `wasmq run --max-memory 16mb` always took it
      {"16MB", 16 << 20},
      {"16MiB", 16 << 20},
      {"16m", 16 << 20},
      {"16M", 16 << 20},
      {"256MiB", uint64_t{256} << 20},
      {"1g", uint64_t{1} << 30},
      {"1G", uint64_t{1} << 30},
      {"1GiB", uint64_t{1} << 30},
      {"1gb", uint64_t{1} << 30},
      {"17179869183GiB", uint64_t{17179869183} << 30},
      // refused
      {"", std::nullopt},
      {"k", std::nullopt},
      {"MiB", std::nullopt},
      {"1TB", std::nullopt},
      {"1t", std::nullopt},
      {"12parsecs", std::nullopt},
      {"12XB", std::nullopt},
      {"1.5GiB", std::nullopt},
      {"-1", std::nullopt},
      {"+1", std::nullopt},
      {" 1", std::nullopt},
      {"1 MiB", std::nullopt},
      {"1MiB ", std::nullopt},
      {"1mibb", std::nullopt},
      {"17179869184GiB", std::nullopt},        // 2^64: past uint64
      {"99999999999999999999", std::nullopt},  // past uint64 before any unit
  };
  for (const auto& c : cases) EXPECT_EQ(ParseBytes(c.text), c.want) << "'" << c.text << "'";
}

TEST(ParseDuration, AcceptedAndRefused) {
  const struct {
    const char* text;
    std::optional<milliseconds> want;
  } cases[] = {
      {"0", milliseconds(0)},
      {"0s", milliseconds(0)},
      {"250ms", milliseconds(250)},
      {"500ms", milliseconds(500)},
      {"500MS", milliseconds(500)},
      {"2s", milliseconds(2'000)},
      {"30s", milliseconds(30'000)},
      {"30S", milliseconds(30'000)},
      {"5m", milliseconds(300'000)},
      {"5M", milliseconds(300'000)},  // minutes: there is no month unit to confuse it with
      {"2h", milliseconds(7'200'000)},
      {"2H", milliseconds(7'200'000)},
      {"7d", milliseconds(604'800'000)},
      {"7D", milliseconds(604'800'000)},
      // refused
      {"", std::nullopt},
      {"30", std::nullopt},  // a bare number other than 0: seconds or milliseconds?
      {"s", std::nullopt},
      {"-1s", std::nullopt},
      {"+1s", std::nullopt},
      {"1.5s", std::nullopt},
      {"1 s", std::nullopt},
      {" 1s", std::nullopt},
      {"1sec", std::nullopt},
      {"1w", std::nullopt},
      {"1y", std::nullopt},
      {"106751991168d", std::nullopt},  // past int64 milliseconds
  };
  for (const auto& c : cases) EXPECT_EQ(ParseDuration(c.text), c.want) << "'" << c.text << "'";
}

}  // namespace
}  // namespace wasmq::base
