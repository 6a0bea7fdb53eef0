// File: src/queue/model.cc
//
// Statuses, transitions, mode names and time formatting. The transition table below is the single source
// of truth: every store checks a change against CanTransition before applying it.
#include "queue/model.h"

#include <cstdio>
#include <ctime>

namespace wasmq::queue {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::InvalidArgument:
      return "INVALID_ARGUMENT";
    case Code::NotFound:
      return "NOT_FOUND";
    case Code::Conflict:
      return "CONFLICT";
    case Code::Unavailable:
      return "UNAVAILABLE";
    case Code::Internal:
      return "INTERNAL";
    case Code::RateLimited:
      return "RATE_LIMITED";
  }
  return "INTERNAL";
}

int HttpStatus(Code code) {
  switch (code) {
    case Code::InvalidArgument:
      return 400;
    case Code::NotFound:
      return 404;
    case Code::Conflict:
      return 409;
    case Code::Unavailable:
      return 503;
    case Code::Internal:
      return 500;
    case Code::RateLimited:
      return 429;
  }
  return 500;
}

std::string_view ToString(TaskStatus s) {
  switch (s) {
    case TaskStatus::Pending:
      return "pending";
    case TaskStatus::Processing:
      return "processing";
    case TaskStatus::Done:
      return "done";
    case TaskStatus::Failed:
      return "failed";
    case TaskStatus::Cancelled:
      return "cancelled";
  }
  return "?";
}

std::optional<TaskStatus> ParseStatus(std::string_view s) {
  for (TaskStatus st : kAllStatuses)
    if (ToString(st) == s) return st;
  return std::nullopt;
}

bool IsTerminal(TaskStatus s) {
  return s == TaskStatus::Done || s == TaskStatus::Failed || s == TaskStatus::Cancelled;
}

bool CanTransition(TaskStatus from, TaskStatus to) {
  using S = TaskStatus;
  switch (from) {
    case S::Pending:  // claimed by a worker, or cancelled before it ran
      return to == S::Processing || to == S::Cancelled;
    case S::Processing:  // finished, failed, cancelled while running, or back to the queue (retry,
                         // graceful hand-back, expired lease)
      return to == S::Done || to == S::Failed || to == S::Cancelled || to == S::Pending;
    case S::Done:
    case S::Failed:
    case S::Cancelled:
      return false;
  }
  return false;
}

Result<void> CheckTransition(std::string_view task_id, TaskStatus from, TaskStatus to) {
  if (CanTransition(from, to)) return {};
  return Conflict("task " + std::string(task_id) + " is " + std::string(ToString(from)) +
                  "; it cannot become " + std::string(ToString(to)));
}

const std::vector<std::string>& BuiltinModes() {
  static const std::vector<std::string> modes = {std::string(kHeadSwap), std::string(kBackgroundChange),
                                                 std::string(kPoseChange)};
  return modes;
}

bool IsValidModeName(std::string_view mode) {
  if (mode.empty() || mode.size() > 64) return false;
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  if (!alpha(mode[0])) return false;
  for (char c : mode)
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '_' && c != '-' && c != '.') return false;
  return true;
}

TaskSummary Summarise(const TaskInfo& t) {
  TaskSummary s;
  s.task_id = t.task_id;
  s.mode = t.mode;
  s.status = t.status;
  s.priority = t.priority;
  s.progress = t.progress;
  s.current_step = t.current_step;
  s.created_at = t.created_at;
  s.updated_at = t.updated_at;
  s.finished_at = t.finished_at;
  s.run_at = t.run_at;
  return s;
}

std::string_view ToString(TaskEvent::Kind k) {
  switch (k) {
    case TaskEvent::Kind::Created:
      return "created";
    case TaskEvent::Kind::Progress:
      return "progress";
    case TaskEvent::Kind::Status:
      return "status";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------------------
// Time

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

std::string FormatTime(int64_t ms) {
  time_t secs = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int frac = static_cast<int>(ms - static_cast<int64_t>(secs) * 1000);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[96];  // sized for any int values, so the compiler can prove no truncation
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900, t.tm_mon + 1,
                t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, frac);
  return buf;
}

namespace {

// Parses exactly `n` digits at text[*pos].
bool Digits(std::string_view text, size_t* pos, int n, int* out) {
  int v = 0;
  for (int i = 0; i < n; ++i, ++*pos) {
    if (*pos >= text.size() || text[*pos] < '0' || text[*pos] > '9') return false;
    v = v * 10 + (text[*pos] - '0');
  }
  *out = v;
  return true;
}

bool Expect(std::string_view text, size_t* pos, char c) {
  if (*pos >= text.size() || text[*pos] != c) return false;
  ++*pos;
  return true;
}

}  // namespace

std::optional<int64_t> ParseTime(std::string_view text) {
  size_t p = 0;
  int y, mo, d, h, mi, s;
  if (!Digits(text, &p, 4, &y) || !Expect(text, &p, '-') || !Digits(text, &p, 2, &mo) ||
      !Expect(text, &p, '-') || !Digits(text, &p, 2, &d) || !Expect(text, &p, 'T') ||
      !Digits(text, &p, 2, &h) || !Expect(text, &p, ':') || !Digits(text, &p, 2, &mi) ||
      !Expect(text, &p, ':') || !Digits(text, &p, 2, &s))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  int64_t frac_ms = 0;
  if (p < text.size() && text[p] == '.') {
    ++p;
    int digits = 0;
    while (p < text.size() && text[p] >= '0' && text[p] <= '9') {
      if (digits < 3) frac_ms = frac_ms * 10 + (text[p] - '0');
      ++digits, ++p;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 3; ++i) frac_ms *= 10;
  }
  int64_t offset_s = 0;
  if (p < text.size() && text[p] == 'Z') {
    ++p;
  } else if (p < text.size() && (text[p] == '+' || text[p] == '-')) {
    int sign = text[p] == '-' ? -1 : 1;
    ++p;
    int oh, om;
    if (!Digits(text, &p, 2, &oh) || !Expect(text, &p, ':') || !Digits(text, &p, 2, &om)) return std::nullopt;
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  if (p != text.size()) return std::nullopt;
  tm t{};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = s;
  int64_t secs = static_cast<int64_t>(timegm(&t)) - offset_s;
  return secs * 1000 + frac_ms;
}

}  // namespace wasmq::queue
