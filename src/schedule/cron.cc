// File: src/schedule/cron.cc
//
// The five-field parser. Every field becomes a bitset of the values it allows; matching is then a few bit
// tests, and NextRuns (next_runs.cc) walks the calendar skipping whole months, days and hours that cannot
// match.
#include "schedule/cron.h"

#include <array>
#include <cctype>
#include <charconv>

namespace wasmq::schedule {
namespace {

using queue::InvalidArgument;

struct FieldSpec {
  const char* name;
  int lo, hi;
  const std::array<std::string_view, 13>* names;  // names[i] is value i (empty where none); null: no names
};

constexpr std::array<std::string_view, 13> kMonthNames = {"",    "jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 13> kWeekdayNames = {"sun", "mon", "tue", "wed", "thu", "fri", "sat",
                                                            "",    "",    "",    "",    "",    ""};

constexpr FieldSpec kFields[5] = {{"minute", 0, 59, nullptr},
                                  {"hour", 0, 23, nullptr},
                                  {"day of month", 1, 31, nullptr},
                                  {"month", 1, 12, &kMonthNames},
                                  {"day of week", 0, 7, &kWeekdayNames}};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Quote(std::string_view s) {
  std::string out = "'";
  out.append(s.substr(0, 32));
  out.push_back('\'');
  return out;
}

// One value: a number or, where the field has them, a three-letter name.
Result<int> ParseValue(const FieldSpec& f, std::string_view text) {
  if (text.empty()) return InvalidArgument(std::string("cron: ") + f.name + ": a value is missing");
  int v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc() && p == text.data() + text.size()) {
    if (v < f.lo || v > f.hi)
      return InvalidArgument(std::string("cron: ") + f.name + ": " + std::to_string(v) + " is out of range " +
                             std::to_string(f.lo) + "-" + std::to_string(f.hi));
    return v;
  }
  if (f.names) {
    const std::string lower = Lower(text);
    for (size_t i = 0; i < f.names->size(); ++i)
      if (!(*f.names)[i].empty() && (*f.names)[i] == lower) return static_cast<int>(i);
  }
  return InvalidArgument(std::string("cron: ") + f.name + ": " + Quote(text) + " is not a " +
                         (f.names ? "number or name" : "number"));
}

// One field: a comma-separated list of `*`, `a`, `a-b`, each optionally `/step`. Sets bits lo..hi.
Result<std::vector<int>> ParseField(const FieldSpec& f, std::string_view text) {
  std::vector<int> values;
  if (text.empty()) return InvalidArgument(std::string("cron: ") + f.name + ": empty");
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string_view item = text.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                                : comma - start);
    if (item.empty()) return InvalidArgument(std::string("cron: ") + f.name + ": an empty list item");
    int step = 1;
    if (size_t slash = item.find('/'); slash != std::string_view::npos) {
      std::string_view s = item.substr(slash + 1);
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
      if (s.empty() || ec != std::errc() || p != s.data() + s.size() || step < 1 || step > f.hi)
        return InvalidArgument(std::string("cron: ") + f.name + ": step " + Quote(s) +
                               " must be a number from 1 to " + std::to_string(f.hi));
      item = item.substr(0, slash);
    }
    int lo = f.lo, hi = f.hi;
    if (item == "*") {
      // the whole range
    } else if (size_t dash = item.find('-'); dash != std::string_view::npos) {
      auto a = ParseValue(f, item.substr(0, dash));
      if (!a) return a.error();
      auto b = ParseValue(f, item.substr(dash + 1));
      if (!b) return b.error();
      lo = *a, hi = *b;
      if (lo > hi)
        return InvalidArgument(std::string("cron: ") + f.name + ": range " + Quote(item) +
                               " runs backwards");
    } else {
      auto a = ParseValue(f, item);
      if (!a) return a.error();
      lo = *a;
      // "5/15" means from 5 to the end in steps of 15; a bare "5" is just 5.
      if (step == 1) hi = *a;
    }
    for (int v = lo; v <= hi; v += step) values.push_back(v);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return values;
}

std::string_view Macro(std::string_view expr) {
  const std::string lower = Lower(expr);
  if (lower == "@yearly" || lower == "@annually") return "0 0 1 1 *";
  if (lower == "@monthly") return "0 0 1 * *";
  if (lower == "@weekly") return "0 0 * * 0";
  if (lower == "@daily" || lower == "@midnight") return "0 0 * * *";
  if (lower == "@hourly") return "0 * * * *";
  return {};
}

}  // namespace

Result<Cron> Cron::Parse(std::string_view expr) {
  if (expr.size() > 256) return InvalidArgument("cron: longer than 256 characters");
  while (!expr.empty() && std::isspace(static_cast<unsigned char>(expr.front()))) expr.remove_prefix(1);
  while (!expr.empty() && std::isspace(static_cast<unsigned char>(expr.back()))) expr.remove_suffix(1);
  if (expr.starts_with('@')) {
    std::string_view m = Macro(expr);
    if (m.empty())
      return InvalidArgument("cron: unknown macro " + Quote(expr) +
                             " (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)");
    expr = m;
  }
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < expr.size()) {
    while (i < expr.size() && std::isspace(static_cast<unsigned char>(expr[i]))) ++i;
    size_t j = i;
    while (j < expr.size() && !std::isspace(static_cast<unsigned char>(expr[j]))) ++j;
    if (j > i) fields.push_back(expr.substr(i, j - i));
    i = j;
  }
  if (fields.size() != 5)
    return InvalidArgument("cron: expected 5 fields (minute hour day-of-month month day-of-week), got " +
                           std::to_string(fields.size()));
  Cron c;
  for (int k = 0; k < 5; ++k) {
    auto values = ParseField(kFields[k], fields[k]);
    if (!values) return values.error();
    for (int v : *values) {
      switch (k) {
        case 0: c.minutes_.set(v); break;
        case 1: c.hours_.set(v); break;
        case 2: c.days_.set(v); break;
        case 3: c.months_.set(v); break;
        default: c.weekdays_.set(v % 7); break;  // 7 is Sunday too
      }
    }
  }
  c.day_star_ = fields[2].starts_with('*');
  c.weekday_star_ = fields[4].starts_with('*');
  // A day of month that no chosen month has (30 February) never matches when the weekday cannot help.
  if (!c.day_star_ && c.weekday_star_) {
    constexpr int kMaxDays[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool possible = false;
    for (int m = 1; m <= 12 && !possible; ++m)
      for (int d = 1; d <= kMaxDays[m] && !possible; ++d) possible = c.months_[m] && c.days_[d];
    if (!possible) return InvalidArgument("cron: no chosen month has the chosen day of month; it never runs");
  }
  return c;
}

bool Cron::DayMatches(int month_day, int weekday) const {
  const bool dom = days_[month_day], dow = weekdays_[weekday];
  if (day_star_ || weekday_star_) return dom && dow;  // a `*` field allows every day: the other decides
  return dom || dow;
}

bool Cron::Matches(int month, int day, int weekday, int hour, int minute) const {
  return months_[month] && DayMatches(day, weekday) && hours_[hour] && minutes_[minute];
}

}  // namespace wasmq::schedule
