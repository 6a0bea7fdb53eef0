// File: src/schedule/service.cc
//
// Creating, reading, pausing and deleting schedules, and the firing of due occurrences. The store keeps
// the schedules and makes each claim atomic; everything about time (the cron expression, the zone, what
// counts as missed) is decided here.
#include <limits>

#include "schedule/schedule.h"

namespace wasmq::schedule {
namespace {

using queue::InvalidArgument;

// Far enough to never come: for an expression with no occurrence within NextRuns' horizon.
constexpr int64_t kNever = std::numeric_limits<int64_t>::max() / 2;

int64_t NextAfter(const Cron& cron, const std::string& tz, int64_t after) {
  auto runs = NextRuns(cron, tz, after, 1);
  return runs && !runs->empty() ? runs->front() : kNever;
}

std::string NewScheduleId(int64_t now) { return "sched_" + queue::NewTaskId(now).substr(5); }

// Ids come from URLs and command lines: refuse what cannot be one before asking the store.
Result<void> CheckScheduleId(std::string_view id) {
  bool ok = id.starts_with("sched_") && id.size() <= queue::kMaxIdLength;
  for (char c : id)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-');
  if (ok) return {};
  return queue::NotFound("no schedule " + std::string(id.substr(0, 64)));
}

}  // namespace

Result<ScheduleRequest> ScheduleRequestFromJson(const Json& j) {
  if (!j.is_object()) return InvalidArgument("the schedule must be a JSON object");
  ScheduleRequest r;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const Json& v = *it;
    if (k == "cron") {
      if (!v.is_string()) return InvalidArgument("cron: must be a string such as \"*/5 * * * *\"");
      r.cron = v.get<std::string>();
    } else if (k == "timezone") {
      if (!v.is_string()) return InvalidArgument("timezone: must be a string such as \"Europe/Paris\"");
      r.timezone = v.get<std::string>();
    } else if (k == "task") {
      if (!v.is_object()) return InvalidArgument("task: must be a task create request (an object)");
      r.task = v;
    } else if (k == "paused") {
      if (!v.is_boolean()) return InvalidArgument("paused: must be true or false");
      r.paused = v.get<bool>();
    } else if (k == "catch_up") {
      if (!v.is_string() || (v != "once" && v != "skip"))
        return InvalidArgument("catch_up: must be \"once\" (run one task for missed occurrences) or \"skip\"");
      r.catch_up = v == "skip" ? queue::CatchUp::Skip : queue::CatchUp::Once;
    } else {
      return InvalidArgument("unknown field '" + k.substr(0, 64) + "' (cron, timezone, task, paused, catch_up)");
    }
  }
  if (r.cron.empty()) return InvalidArgument("cron: is required");
  if (!j.contains("task")) return InvalidArgument("task: is required");
  return r;
}

ScheduleService::ScheduleService(queue::TaskService& tasks, ServiceOptions options)
    : tasks_(tasks), options_(std::move(options)) {}

Result<ScheduleInfo> ScheduleService::Create(const ScheduleRequest& req, const std::string& user_id) {
  auto cron = Cron::Parse(req.cron);
  if (!cron) return cron.error();
  if (!IsKnownTimeZone(req.timezone))
    return InvalidArgument("timezone: '" + req.timezone.substr(0, 64) +
                           "' is not a time zone this server knows (an IANA name such as Europe/Paris)");
  auto task = queue::CreateRequestFromJson(req.task);
  if (!task) return InvalidArgument("task." + task.error().message);
  if (!task->user_id.empty() && task->user_id != user_id)
    return InvalidArgument("task.user_id: is the schedule's owner; it cannot name another user");
  task->user_id = user_id;
  // The same checks a submission gets (mode known, priority in range), now rather than at every firing.
  if (auto t = tasks_.NewTask(*task); !t) return InvalidArgument("task." + t.error().message);
  const int64_t now = options_.clock();
  ScheduleInfo s;
  s.user_id = user_id;
  s.cron = req.cron;
  s.timezone = req.timezone;
  s.task = req.task;
  s.task.erase("user_id");  // always the owner's, set at each firing
  s.paused = req.paused;
  s.catch_up = req.catch_up;
  s.created_at = s.updated_at = now;
  s.next_due = NextAfter(*cron, s.timezone, now);
  for (int tries = 0;; ++tries) {
    s.schedule_id = NewScheduleId(now);
    auto r = tasks_.store().CreateSchedule(s);
    if (r) return s;
    if (r.error().code != queue::Code::Conflict || tries == 2) return r.error();
  }
}

Result<ScheduleInfo> ScheduleService::Get(std::string_view id) {
  if (auto ok = CheckScheduleId(id); !ok) return ok.error();
  return tasks_.store().GetSchedule(id);
}

Result<std::vector<ScheduleInfo>> ScheduleService::List(const std::string* user) {
  return tasks_.store().ListSchedules(user);
}

Result<ScheduleInfo> ScheduleService::Pause(std::string_view id) {
  auto s = Get(id);
  if (!s) return s;
  if (s->paused) return s;
  return tasks_.store().SetSchedulePaused(id, true, s->next_due);
}

Result<ScheduleInfo> ScheduleService::Resume(std::string_view id) {
  auto s = Get(id);
  if (!s) return s;
  if (!s->paused) return s;
  auto cron = Cron::Parse(s->cron);
  if (!cron) return queue::Internal("schedule " + s->schedule_id + ": stored cron: " + cron.error().message);
  return tasks_.store().SetSchedulePaused(id, false, NextAfter(*cron, s->timezone, options_.clock()));
}

Result<void> ScheduleService::Delete(std::string_view id) {
  if (auto ok = CheckScheduleId(id); !ok) return ok.error();
  return tasks_.store().DeleteSchedule(id);
}

Json ScheduleService::ToJson(const ScheduleInfo& s) const {
  ScheduleInfo shown = s;
  if (shown.next_due >= kNever) shown.next_due = 0;  // null: no occurrence within NextRuns' horizon
  Json j = queue::ToJson(shown);
  Json runs = Json::array();
  if (!s.paused)
    if (auto cron = Cron::Parse(s.cron))
      // From next_due on: an occurrence due but not fired yet is shown first.
      if (auto next = NextRuns(*cron, s.timezone, s.next_due - 1, kNextRunsShown))
        for (int64_t t : *next) runs.push_back(FormatInZone(t, s.timezone));
  j["next_runs"] = std::move(runs);
  return j;
}

Result<int> ScheduleService::FireDue() {
  const int64_t now = options_.clock();
  auto due = tasks_.store().DueSchedules(now, 100);
  if (!due) return due.error();
  int created = 0;
  std::string failures;
  for (const ScheduleInfo& s : *due) {
    // A store may list a schedule as due and read its row after another node claimed it (Redis: the due
    // set, then the hash); its next_due is then in the future, and claiming *that* would fire it early.
    if (s.next_due > now) continue;
    auto cron = Cron::Parse(s.cron);
    const int64_t next = cron ? NextAfter(*cron, s.timezone, now) : kNever;
    const bool missed = now - s.next_due > options_.late_ms;
    std::optional<queue::TaskInfo> task;
    if (!missed || s.catch_up == queue::CatchUp::Once) {
      auto req = queue::CreateRequestFromJson(s.task);
      if (req) {
        req->user_id = s.user_id;
        auto t = tasks_.NewTask(*req);
        if (t) task = std::move(*t);
        else failures += " " + s.schedule_id + ": " + t.error().message + ";";
      } else {
        failures += " " + s.schedule_id + ": " + req.error().message + ";";
      }
    }
    // A task that can no longer be made (its mode was unregistered) still moves the schedule on: the
    // failure is reported, and the occurrence is not retried every second.
    auto fired = tasks_.store().FireSchedule(s.schedule_id, s.next_due, next, task ? &*task : nullptr);
    if (!fired) return fired.error();
    if (*fired && task) ++created;
  }
  if (!failures.empty()) return queue::InvalidArgument("schedules whose task cannot be made:" + failures);
  return created;
}

}  // namespace wasmq::schedule
