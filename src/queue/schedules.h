// File: src/queue/schedules.h
//
// A cron schedule as the stores keep it. The queue part only stores schedules and applies the atomic claim
// of an occurrence (Store::FireSchedule); what the cron expression means and when the next occurrence is
// are the schedule part's (src/schedule), which computes `next_due` and hands it over.
#pragma once

#include <cstdint>
#include <string>

#include "queue/model.h"

namespace wasmq::queue {

// What to do with the occurrences missed while no node was firing (downtime, a pause is not one):
// run one task for all of them, or none. An occurrence is missed when it is found more than
// kScheduleLateMs after its time.
enum class CatchUp { Once, Skip };
inline constexpr int64_t kScheduleLateMs = 60'000;
std::string_view ToString(CatchUp c);  // "once", "skip"

struct ScheduleInfo {
  std::string schedule_id = {};  // sched_YYYYMMDD_…
  std::string user_id = {};      // the owner; "" is the anonymous user
  std::string cron = {};         // as given ("*/5 * * * *")
  std::string timezone = "UTC";  // IANA name
  Json task = Json::object();    // the task create request, as JSON (json.h's TaskCreateRequest form)
  bool paused = false;
  CatchUp catch_up = CatchUp::Once;
  int64_t next_due = 0;  // the next occurrence not yet claimed, ms since the epoch
  int64_t created_at = 0, updated_at = 0;
  int64_t last_run_at = 0;         // when the last task was enqueued (0: never)
  std::string last_task_id = {};   // that task
};

Json ToJson(const ScheduleInfo& s);  // without next_runs (the schedule part adds them)
// Reads what ToJson wrote (the stores' rows); InvalidArgument on a malformed value.
Result<ScheduleInfo> ScheduleFromJson(const Json& j);

}  // namespace wasmq::queue
