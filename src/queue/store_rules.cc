// File: src/queue/store_rules.cc
#include "queue/store_rules.h"

namespace wasmq::queue::detail {

Error LeaseRefusal(const Lease& lease, const std::optional<FoundTask>& found, TaskStatus to,
                   std::string_view where) {
  if (!found) return NotFound("no task " + lease.task_id);
  auto st = ParseStatus(found->status);
  if (!st) return Internal("task " + lease.task_id + ": unknown status in " + std::string(where));
  if (*st != TaskStatus::Processing) {
    auto t = CheckTransition(lease.task_id, *st, to);
    return Conflict("lease lost: task " + lease.task_id + " is " + std::string(ToString(*st)) +
                    (t ? "" : "; it cannot become " + std::string(ToString(to))));
  }
  return Conflict("lease lost: task " + lease.task_id + " is now held by " + found->owner + " (token " +
                  found->token + ", this lease had token " + std::to_string(lease.token) + ")");
}

Error CancelRefusal(std::string_view task_id, const std::optional<std::string>& status,
                    std::string_view where) {
  if (!status) return NotFound("no task " + std::string(task_id));
  auto st = ParseStatus(*status);
  if (!st) return Internal("task " + std::string(task_id) + ": unknown status in " + std::string(where));
  auto check = CheckTransition(task_id, *st, TaskStatus::Cancelled);
  return check ? Internal("cancel refused from " + *status) : check.error();
}

Result<void> CheckProgress(int percent, std::string_view* step) {
  if (percent < 0 || percent > 100)
    return InvalidArgument("progress: must be from 0 to 100 (got " + std::to_string(percent) + ")");
  if (step->size() > kMaxStepLength) *step = step->substr(0, kMaxStepLength);
  return {};
}

Result<void> CheckPage(const ListQuery& q) {
  if (q.page < 1) return InvalidArgument("page: must be 1 or more");
  if (q.page_size < 1 || q.page_size > kMaxPageSize)
    return InvalidArgument("page_size: must be from 1 to " + std::to_string(kMaxPageSize));
  return {};
}

TaskStatus StatusAfter(Finish::Kind kind) {
  switch (kind) {
    case Finish::Kind::Complete:
      return TaskStatus::Done;
    case Finish::Kind::Fail:
      return TaskStatus::Failed;
    case Finish::Kind::Retry:
    case Finish::Kind::Release:
      return TaskStatus::Pending;
  }
  return TaskStatus::Pending;
}

TaskEvent GuardedEvent(const Lease& lease, TaskEvent::Kind kind, TaskStatus to, ChangedRow row) {
  TaskEvent e;
  e.kind = kind;
  e.task_id = lease.task_id;
  e.status = to;
  e.mode = std::move(row.mode);
  e.attempt = row.attempt;
  e.progress = row.progress;
  e.current_step = std::move(row.current_step);
  e.at = row.at;
  return e;
}

void NoteRecovered(std::string task_id, std::string_view status, std::string mode, int attempt, int64_t now,
                   RecoveryReport* report, std::vector<TaskEvent>* events) {
  TaskEvent e;
  e.task_id = std::move(task_id);
  e.status = ParseStatus(status).value_or(TaskStatus::Pending);
  e.mode = std::move(mode);
  e.attempt = attempt;
  e.at = now;
  (e.status == TaskStatus::Pending ? report->requeued : report->failed).push_back(e.task_id);
  events->push_back(std::move(e));
}

}  // namespace wasmq::queue::detail
