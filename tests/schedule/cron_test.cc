// File: tests/schedule/cron_test.cc
//
// The cron parser and occurrences in real zones (the host's tzdata), around daylight-saving changes.
#include <gtest/gtest.h>

#include "queue/model.h"
#include "schedule/cron.h"

namespace wasmq::schedule {
namespace {

int64_t At(const char* utc) { return *queue::ParseTime(utc); }

// The next n occurrences after `after` (UTC text), shown in `tz`.
std::vector<std::string> Runs(const char* expr, const char* tz, const char* after, int n) {
  auto cron = Cron::Parse(expr);
  EXPECT_TRUE(cron.ok()) << expr << ": " << cron.error().message;
  if (!cron) return {};
  auto runs = NextRuns(*cron, tz, At(after), n);
  EXPECT_TRUE(runs.ok()) << runs.error().message;
  std::vector<std::string> out;
  if (runs)
    for (int64_t t : *runs) out.push_back(FormatInZone(t, tz));
  return out;
}

std::string ParseError(const char* expr) {
  auto c = Cron::Parse(expr);
  return c ? "(parsed)" : c.error().message;
}

TEST(CronTest, EveryFiveMinutes) {
  EXPECT_EQ(Runs("*/5 * * * *", "UTC", "2026-01-01T10:02:30Z", 3),
            (std::vector<std::string>{"2026-01-01T10:05:00+00:00", "2026-01-01T10:10:00+00:00",
                                      "2026-01-01T10:15:00+00:00"}));
}

TEST(CronTest, StrictlyAfterAnOccurrence) {
  EXPECT_EQ(Runs("0 * * * *", "UTC", "2026-01-01T10:00:00Z", 1),
            (std::vector<std::string>{"2026-01-01T11:00:00+00:00"}));
}

TEST(CronTest, RangesStepsAndLists) {
  EXPECT_EQ(Runs("10-20/5,45 9 * * *", "UTC", "2026-01-01T00:00:00Z", 5),
            (std::vector<std::string>{"2026-01-01T09:10:00+00:00", "2026-01-01T09:15:00+00:00",
                                      "2026-01-01T09:20:00+00:00", "2026-01-01T09:45:00+00:00",
                                      "2026-01-02T09:10:00+00:00"}));
  // "a/n": from a to the end of the field.
  EXPECT_EQ(Runs("50/5 0 * * *", "UTC", "2026-01-01T00:00:00Z", 3),
            (std::vector<std::string>{"2026-01-01T00:50:00+00:00", "2026-01-01T00:55:00+00:00",
                                      "2026-01-02T00:50:00+00:00"}));
}

TEST(CronTest, MonthAndWeekdayNames) {
  // 2026-03-02 is a Monday.
  EXPECT_EQ(Runs("0 8 * MAR mon-wed", "UTC", "2026-03-01T00:00:00Z", 4),
            (std::vector<std::string>{"2026-03-02T08:00:00+00:00", "2026-03-03T08:00:00+00:00",
                                      "2026-03-04T08:00:00+00:00", "2026-03-09T08:00:00+00:00"}));
  EXPECT_EQ(Runs("0 0 * * sun", "UTC", "2026-03-01T00:00:00Z", 1), Runs("0 0 * * 7", "UTC", "2026-03-01T00:00:00Z", 1));
}

TEST(CronTest, DayOfMonthOrDayOfWeek) {
  // Both restricted: the 13th OR any Friday. 2026-02-06 is a Friday.
  EXPECT_EQ(Runs("0 0 13 * fri", "UTC", "2026-02-01T00:00:00Z", 4),
            (std::vector<std::string>{"2026-02-06T00:00:00+00:00", "2026-02-13T00:00:00+00:00",
                                      "2026-02-20T00:00:00+00:00", "2026-02-27T00:00:00+00:00"}));
  // Day of week `*`: only the 13th.
  EXPECT_EQ(Runs("0 0 13 * *", "UTC", "2026-02-01T00:00:00Z", 2),
            (std::vector<std::string>{"2026-02-13T00:00:00+00:00", "2026-03-13T00:00:00+00:00"}));
  // A step on `*` still counts as unrestricted (starts with *): the 1st, 3rd, … that are Mondays.
  EXPECT_EQ(Runs("0 0 */2 * mon", "UTC", "2026-02-01T00:00:00Z", 2),
            (std::vector<std::string>{"2026-02-09T00:00:00+00:00", "2026-02-23T00:00:00+00:00"}));
}

TEST(CronTest, February29) {
  EXPECT_EQ(Runs("0 12 29 2 *", "UTC", "2025-01-01T00:00:00Z", 2),
            (std::vector<std::string>{"2028-02-29T12:00:00+00:00", "2032-02-29T12:00:00+00:00"}));
}

TEST(CronTest, Macros) {
  EXPECT_EQ(Runs("@daily", "UTC", "2026-01-01T10:00:00Z", 1), (std::vector<std::string>{"2026-01-02T00:00:00+00:00"}));
  EXPECT_EQ(Runs("@hourly", "UTC", "2026-01-01T10:00:00Z", 1), (std::vector<std::string>{"2026-01-01T11:00:00+00:00"}));
}

TEST(CronTest, ParisSpringForwardRunsTheSkippedTimeOnceAtTheTransition) {
  // 2026-03-29: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that night.
  EXPECT_EQ(Runs("30 2 * * *", "Europe/Paris", "2026-03-27T12:00:00Z", 3),
            (std::vector<std::string>{"2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00",
                                      "2026-03-30T02:30:00+02:00"}));
  // Every 15 minutes: the skipped hour's four collapse into one run at 03:00, which is also 03:00's own.
  EXPECT_EQ(Runs("*/15 * * * *", "Europe/Paris", "2026-03-29T00:40:00Z", 4),
            (std::vector<std::string>{"2026-03-29T01:45:00+01:00", "2026-03-29T03:00:00+02:00",
                                      "2026-03-29T03:15:00+02:00", "2026-03-29T03:30:00+02:00"}));
}

TEST(CronTest, ParisFallBackRunsTheRepeatedTimeOnce) {
  // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice and runs at the first.
  EXPECT_EQ(Runs("30 2 * * *", "Europe/Paris", "2026-10-24T12:00:00Z", 3),
            (std::vector<std::string>{"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00",
                                      "2026-10-27T02:30:00+01:00"}));
  // Asked from inside the second pass of the repeated hour: the next is the next day's.
  EXPECT_EQ(Runs("30 2 * * *", "Europe/Paris", "2026-10-25T01:10:00Z", 1),
            (std::vector<std::string>{"2026-10-26T02:30:00+01:00"}));
  // Hourly through the change: 02:00 once (CEST), then 03:00 CET, an hour of wall clock later but two real.
  EXPECT_EQ(Runs("0 * * * *", "Europe/Paris", "2026-10-24T23:30:00Z", 3),
            (std::vector<std::string>{"2026-10-25T02:00:00+02:00", "2026-10-25T03:00:00+01:00",
                                      "2026-10-25T04:00:00+01:00"}));
}

TEST(CronTest, NewYorkSpringForwardAndFallBack) {
  // 2026-03-08: 02:00 EST becomes 03:00 EDT. 2026-11-01: 02:00 EDT becomes 01:00 EST (01:xx repeats).
  EXPECT_EQ(Runs("15 2 * * *", "America/New_York", "2026-03-07T05:00:00Z", 3),
            (std::vector<std::string>{"2026-03-07T02:15:00-05:00", "2026-03-08T03:00:00-04:00",
                                      "2026-03-09T02:15:00-04:00"}) );
  EXPECT_EQ(Runs("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2),
            (std::vector<std::string>{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}));
}

TEST(CronTest, InvalidExpressionsSayWhatIsWrong) {
  EXPECT_EQ(ParseError("* * * *"), "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 4");
  EXPECT_EQ(ParseError("60 * * * *"), "cron: minute: 60 is out of range 0-59");
  EXPECT_EQ(ParseError("* 24 * * *"), "cron: hour: 24 is out of range 0-23");
  EXPECT_EQ(ParseError("* * 0 * *"), "cron: day of month: 0 is out of range 1-31");
  EXPECT_EQ(ParseError("* * * foo *"), "cron: month: 'foo' is not a number or name");
  EXPECT_EQ(ParseError("* * * * 8"), "cron: day of week: 8 is out of range 0-7");
  EXPECT_EQ(ParseError("*/0 * * * *"), "cron: minute: step '0' must be a number from 1 to 59");
  EXPECT_EQ(ParseError("5-1 * * * *"), "cron: minute: range '5-1' runs backwards");
  EXPECT_EQ(ParseError("1,,2 * * * *"), "cron: minute: an empty list item");
  EXPECT_EQ(ParseError("x * * * *"), "cron: minute: 'x' is not a number");
  EXPECT_EQ(ParseError("0 0 30 2 *"), "cron: no chosen month has the chosen day of month; it never runs");
  EXPECT_EQ(ParseError("@often"),
            "cron: unknown macro '@often' (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)");
  EXPECT_EQ(ParseError(""), "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 0");
}

TEST(CronTest, UnknownZonesAreRefused) {
  EXPECT_TRUE(IsKnownTimeZone("Europe/Paris"));
  EXPECT_TRUE(IsKnownTimeZone("UTC"));
  EXPECT_FALSE(IsKnownTimeZone("Mars/Olympus_Mons"));
  EXPECT_FALSE(IsKnownTimeZone("../../etc/passwd"));
  EXPECT_FALSE(IsKnownTimeZone("/usr/share/zoneinfo/UTC"));
  auto cron = Cron::Parse("* * * * *");
  ASSERT_TRUE(cron.ok());
  auto runs = NextRuns(*cron, "Nowhere/Town", 0, 1);
  ASSERT_FALSE(runs.ok());
  EXPECT_EQ(runs.error().message,
            "timezone: 'Nowhere/Town' is not a time zone this server knows (an IANA name such as Europe/Paris)");
}

}  // namespace
}  // namespace wasmq::schedule
