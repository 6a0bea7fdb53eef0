// File: src/schedule/next_runs.cc
//
// Occurrences of a cron expression in a time zone. The walk is over wall-clock (civil) minutes of the zone,
// skipping whole months, days and hours that cannot match; each matching wall-clock minute becomes an
// instant through abseil's TimeZone::At, which tells a unique minute from one a daylight-saving change
// skipped or repeated (docs on the rule in cron.h). Instants come out in non-decreasing order as the walk
// goes forward, so the first one past `after` is the next occurrence.
#include <absl/time/civil_time.h>
#include <absl/time/time.h>

#include "schedule/cron.h"

namespace wasmq::schedule {
namespace {

// Zone names come from requests: only the shape of a tzdata name ("Area/City_Name", "UTC", "Etc/GMT+5"),
// never a path that could leave the zoneinfo directory.
bool IsZoneNameShape(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '/' || name.find("..") != std::string_view::npos)
    return false;
  for (char c : name)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' || c == '_' ||
          c == '-' || c == '+'))
      return false;
  return true;
}

bool LoadZone(std::string_view name, absl::TimeZone* tz) {
  return IsZoneNameShape(name) && absl::LoadTimeZone(std::string(name), tz);
}

int CronWeekday(absl::CivilDay d) {
  // absl: Monday = 0 … Sunday = 6; cron: Sunday = 0 … Saturday = 6.
  return (static_cast<int>(absl::GetWeekday(d)) + 1) % 7;
}

}  // namespace

bool IsKnownTimeZone(std::string_view name) {
  absl::TimeZone tz;
  return LoadZone(name, &tz);
}

Result<std::vector<int64_t>> NextRuns(const Cron& cron, std::string_view tz_name, int64_t after_ms, int n) {
  absl::TimeZone tz;
  if (!LoadZone(tz_name, &tz))
    return queue::InvalidArgument("timezone: '" + std::string(tz_name.substr(0, 64)) +
                                  "' is not a time zone this server knows (an IANA name such as Europe/Paris)");
  std::vector<int64_t> out;
  const absl::Time after = absl::FromUnixMillis(after_ms);
  absl::CivilMinute t = absl::ToCivilMinute(after, tz) + 1;
  // Ten years covers every leap day (at most eight years apart) and every weekday of it.
  const absl::CivilMinute limit = absl::CivilMinute(absl::CivilYear(t) + 10);
  absl::Time last = after;
  while (static_cast<int>(out.size()) < n && t < limit) {
    if (!cron.MonthMatches(t.month())) {
      t = absl::CivilMinute(absl::CivilMonth(t) + 1);
      continue;
    }
    const absl::CivilDay day(t);
    if (!cron.DayMatches(t.day(), CronWeekday(day))) {
      t = absl::CivilMinute(day + 1);
      continue;
    }
    if (!cron.HourMatches(t.hour())) {
      t = absl::CivilMinute(absl::CivilHour(t) + 1);
      continue;
    }
    if (cron.MinuteMatches(t.minute())) {
      const absl::TimeZone::TimeInfo info = tz.At(t);
      // Skipped (spring forward): at the transition. Repeated (fall back): the first instant only; the
      // second pass through the same wall-clock minutes finds instants already behind it.
      const absl::Time at = info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
      if (at > last) {
        out.push_back(absl::ToUnixMillis(at));
        last = at;
      }
    }
    t += 1;
  }
  return out;
}

std::string FormatInZone(int64_t ms, std::string_view tz_name) {
  absl::TimeZone tz = absl::UTCTimeZone();
  (void)LoadZone(tz_name, &tz);
  return absl::FormatTime(absl::RFC3339_sec, absl::FromUnixMillis(ms), tz);
}

}  // namespace wasmq::schedule
