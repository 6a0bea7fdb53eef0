// File: src/schedule/cron.h
//
// Five-field cron expressions (minute hour day-of-month month day-of-week) and their occurrences in an IANA
// time zone. Public: the API, the CLI and the firing loop use it.
//
//   auto cron = wasmq::schedule::Cron::Parse("*/5 9-17 * * mon-fri");          // Result<Cron>
//   auto runs = wasmq::schedule::NextRuns(*cron, "Europe/Paris", now_ms, 5);    // Result<vector<int64_t>>
//
// Syntax, per field: `*`, a value, a range `a-b`, any of them with a step `/n` (`a/n` means a to the
// field's end), and lists of these separated by commas. Months take jan..dec, weekdays sun..sat (0 and 7
// are both Sunday), case-insensitive. The macros @yearly (@annually), @monthly, @weekly, @daily (@midnight)
// and @hourly stand for their usual five fields. Day of month and day of week follow the usual rule: when
// both are restricted (neither starts with `*`), a day matching either one matches.
//
// Daylight saving (the zone's rules come from the system's tzdata through abseil's time zones):
// - a wall-clock time that a spring-forward skips runs once, at the transition instant (02:30 on the night
//   Paris jumps from 02:00 to 03:00 runs at 03:00 CEST);
// - a wall-clock time that a fall-back repeats runs once, at its first (daylight-time) instant.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "queue/error.h"

namespace wasmq::schedule {

using queue::Result;

class Cron {
 public:
  // InvalidArgument naming the field and the problem ("cron: hour: 24 is out of range 0-23"); also for an
  // expression that can never match (30 February).
  static Result<Cron> Parse(std::string_view expr);

  // Whether the wall-clock minute matches (month 1-12, weekday 0-6 with 0 = Sunday).
  bool Matches(int month, int day, int weekday, int hour, int minute) const;
  bool MonthMatches(int month) const { return months_[month]; }
  bool DayMatches(int month_day, int weekday) const;
  bool HourMatches(int hour) const { return hours_[hour]; }
  bool MinuteMatches(int minute) const { return minutes_[minute]; }

 private:
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;    // 1..31
  std::bitset<13> months_;  // 1..12
  std::bitset<7> weekdays_;  // 0..6, Sunday = 0
  bool day_star_ = false, weekday_star_ = false;
};

// Whether `name` is a time zone this host's tzdata knows ("UTC", "Europe/Paris"; not "CET+1" strings).
bool IsKnownTimeZone(std::string_view name);

// The first `n` occurrences of `cron` strictly after `after_ms` (ms since the epoch), in `tz`. Fewer than n
// only when none comes within the next ten years. InvalidArgument for an unknown zone.
Result<std::vector<int64_t>> NextRuns(const Cron& cron, std::string_view tz, int64_t after_ms, int n);

// RFC 3339 with the zone's offset at that instant, to the second ("2026-03-29T03:00:00+02:00").
std::string FormatInZone(int64_t ms, std::string_view tz);

}  // namespace wasmq::schedule
