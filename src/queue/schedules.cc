// File: src/queue/schedules.cc
//
// The schedule record's JSON, and the Store's default schedule operations: Unavailable, for a store that
// keeps no schedules (test doubles).
#include "queue/schedules.h"

#include "queue/store.h"

namespace wasmq::queue {

std::string_view ToString(CatchUp c) { return c == CatchUp::Skip ? "skip" : "once"; }

Json ToJson(const ScheduleInfo& s) {
  auto time = [](int64_t ms) { return ms ? Json(FormatTime(ms)) : Json(nullptr); };
  return Json{{"schedule_id", s.schedule_id},
              {"user_id", s.user_id},
              {"cron", s.cron},
              {"timezone", s.timezone},
              {"task", s.task},
              {"paused", s.paused},
              {"catch_up", ToString(s.catch_up)},
              {"next_due", time(s.next_due)},
              {"created_at", time(s.created_at)},
              {"updated_at", time(s.updated_at)},
              {"last_run_at", time(s.last_run_at)},
              {"last_task_id", s.last_task_id.empty() ? Json(nullptr) : Json(s.last_task_id)}};
}

Result<ScheduleInfo> ScheduleFromJson(const Json& j) {
  if (!j.is_object()) return InvalidArgument("schedule: must be an object");
  ScheduleInfo s;
  auto text = [&](const char* k) -> std::string {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto time = [&](const char* k) -> int64_t {
    auto v = ParseTime(text(k));
    return v ? *v : 0;
  };
  s.schedule_id = text("schedule_id");
  s.user_id = text("user_id");
  s.cron = text("cron");
  s.timezone = text("timezone");
  if (auto it = j.find("task"); it != j.end() && it->is_object()) s.task = *it;
  if (auto it = j.find("paused"); it != j.end() && it->is_boolean()) s.paused = it->get<bool>();
  s.catch_up = text("catch_up") == "skip" ? CatchUp::Skip : CatchUp::Once;
  s.next_due = time("next_due");
  s.created_at = time("created_at");
  s.updated_at = time("updated_at");
  s.last_run_at = time("last_run_at");
  s.last_task_id = text("last_task_id");
  if (s.schedule_id.empty() || s.cron.empty()) return InvalidArgument("schedule: schedule_id and cron are required");
  return s;
}

Result<void> Store::CreateSchedule(const ScheduleInfo&) { return Unavailable("this store keeps no schedules"); }
Result<ScheduleInfo> Store::GetSchedule(std::string_view) { return Unavailable("this store keeps no schedules"); }
Result<std::vector<ScheduleInfo>> Store::ListSchedules(const std::string*) {
  return Unavailable("this store keeps no schedules");
}
Result<ScheduleInfo> Store::SetSchedulePaused(std::string_view, bool, int64_t) {
  return Unavailable("this store keeps no schedules");
}
Result<void> Store::DeleteSchedule(std::string_view) { return Unavailable("this store keeps no schedules"); }
Result<std::vector<ScheduleInfo>> Store::DueSchedules(int64_t, int) {
  return Unavailable("this store keeps no schedules");
}
Result<bool> Store::FireSchedule(std::string_view, int64_t, int64_t, const TaskInfo*) {
  return Unavailable("this store keeps no schedules");
}

}  // namespace wasmq::queue
