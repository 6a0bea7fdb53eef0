// Fuzz target: the schedule part's cron parser and occurrence walk. The input is "ZONE-BYTE EXPRESSION":
// the first byte picks one of a few zones (with daylight-saving changes, and UTC), the rest is parsed as a
// cron expression. A parsed expression's next occurrences are computed from an instant also taken from the
// input, and checked against what cron.h promises (aborting on a broken promise, so libFuzzer keeps the
// input): refusals name the cron field, a known zone is accepted, occurrences are strictly increasing and
// strictly after the start, each formats as RFC 3339; and no exception escapes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "schedule/cron.h"

namespace {

constexpr const char* kZones[] = {"UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe",
                                  "Asia/Kolkata", "America/Sao_Paulo", "Pacific/Chatham", "Nowhere/Zone"};

[[noreturn]] void Broken(const char* what, std::string_view input) {
  std::fprintf(stderr, "broken promise: %s on input '%.*s'\n", what, static_cast<int>(input.size()), input.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const char* zone = kZones[data[0] % (sizeof(kZones) / sizeof(kZones[0]))];
  const std::string_view expr(reinterpret_cast<const char*>(data + 1), size - 1);
  auto cron = wasmq::schedule::Cron::Parse(expr);
  if (!cron) {
    if (cron.error().message.rfind("cron: ", 0) != 0) Broken("an error message not naming cron", expr);
    return 0;
  }
  // A start between 1970 and ~2100, from the input's bytes.
  uint64_t seed = 0;
  for (size_t i = 0; i < size; ++i) seed = seed * 131 + data[i];
  const int64_t after = static_cast<int64_t>(seed % 4'102'444'800'000ULL);
  auto runs = wasmq::schedule::NextRuns(*cron, zone, after, 3);
  if (!runs) {
    if (std::string_view(zone) != "Nowhere/Zone") Broken("a known zone refused", expr);
    return 0;
  }
  int64_t last = after;
  for (int64_t t : *runs) {
    if (t <= last) Broken("occurrences not strictly increasing after the start", expr);
    last = t;
    const std::string text = wasmq::schedule::FormatInZone(t, zone);
    if (text.size() < 20) Broken("a formatted occurrence too short", expr);
  }
  return 0;
}
