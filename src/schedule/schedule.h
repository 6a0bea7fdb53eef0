// File: src/schedule/schedule.h
//
// The schedule part's public header: cron schedules that enqueue a task at each occurrence.
//
//   wasmq::schedule::ScheduleService schedules(tasks, {});         // over the queue's TaskService
//   auto req = wasmq::schedule::ScheduleRequestFromJson(body);     // {"cron", "timezone", "task", …}
//   auto s = schedules.Create(*req, user);                         // stored with its next_due
//   wasmq::schedule::FiringLoop loop(schedules, {});               // in `wasmq serve`: fires due occurrences
//
// Exactly one task per occurrence however many loops run (nodes, processes): each claims an occurrence with
// Store::FireSchedule, a compare-and-set of the schedule's next_due that creates the task in the same
// transaction (SQLite) or script (Redis). Missed occurrences (found more than queue::kScheduleLateMs late,
// after downtime) give one task ("catch_up": "once") or none ("skip"); the next occurrence is then the first
// one after now. Cron syntax and daylight-saving rules: cron.h.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "queue/queue.h"
#include "schedule/cron.h"

namespace wasmq::schedule {

using queue::Json;
using queue::ScheduleInfo;

inline constexpr int kNextRunsShown = 5;

// What a client posts to create a schedule.
struct ScheduleRequest {
  std::string cron = {};
  std::string timezone = "UTC";
  Json task = Json::object();  // a task create request (queue/json.h), checked as POST /api/v1/tasks checks it
  bool paused = false;
  queue::CatchUp catch_up = queue::CatchUp::Once;
};
// Strict, like the task create request: unknown fields and wrong types are refused naming the field.
Result<ScheduleRequest> ScheduleRequestFromJson(const Json& j);

struct ServiceOptions {
  std::function<int64_t()> clock = queue::NowMs;
  int64_t late_ms = queue::kScheduleLateMs;  // an occurrence found later than this was missed
};

class ScheduleService {
 public:
  // `tasks` (and its store) must outlive the service.
  ScheduleService(queue::TaskService& tasks, ServiceOptions options);

  // Validates the cron expression, the zone and the task (its mode, priority, … as a submission would be),
  // names the schedule (sched_YYYYMMDD_…) and stores it with its first occurrence after now.
  Result<ScheduleInfo> Create(const ScheduleRequest& req, const std::string& user_id);
  Result<ScheduleInfo> Get(std::string_view schedule_id);
  Result<std::vector<ScheduleInfo>> List(const std::string* user);  // every user's when null
  // Pause stops firing; Resume restarts from the first occurrence after now (nothing is caught up for the
  // time it was paused). Both are idempotent.
  Result<ScheduleInfo> Pause(std::string_view schedule_id);
  Result<ScheduleInfo> Resume(std::string_view schedule_id);
  Result<void> Delete(std::string_view schedule_id);

  // A schedule as the API shows it: the stored fields plus "next_runs", its next kNextRunsShown occurrences
  // (RFC 3339 with the zone's offset; empty while paused).
  Json ToJson(const ScheduleInfo& s) const;

  // One pass of the firing loop: claims every due occurrence. Returns how many tasks this call created.
  Result<int> FireDue();

 private:
  queue::TaskService& tasks_;
  ServiceOptions options_;
};

// A thread calling FireDue every `interval` (and logging what fails) until destroyed.
class FiringLoop {
 public:
  struct Options {
    std::chrono::milliseconds interval{1000};
  };
  FiringLoop(ScheduleService& schedules, Options options);
  ~FiringLoop();
  FiringLoop(const FiringLoop&) = delete;
  FiringLoop& operator=(const FiringLoop&) = delete;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace wasmq::schedule
