// File: src/queue/service.cc
#include "queue/service.h"

#include <algorithm>

#include "queue/ids.h"

namespace wasmq::queue {

TaskService::TaskService(Store& store, ServiceOptions options)
    : store_(store), options_(std::move(options)) {}

bool TaskService::IsKnownMode(std::string_view mode) const {
  const auto& builtin = BuiltinModes();
  return std::find(builtin.begin(), builtin.end(), mode) != builtin.end() ||
         options_.extra_modes.count(std::string(mode)) != 0;
}

std::vector<std::string> TaskService::KnownModes() const {
  std::set<std::string> all(BuiltinModes().begin(), BuiltinModes().end());
  all.insert(options_.extra_modes.begin(), options_.extra_modes.end());
  return {all.begin(), all.end()};
}

// Ids come from URLs and command lines; refuse what cannot be one before asking the store. The shape is
// checked loosely (prefix and characters) so that ids made by other tools in the seed's shape still work.
Result<void> TaskService::CheckTaskId(std::string_view id) const {
  bool ok = id.starts_with("task_") && id.size() <= kMaxIdLength;
  for (char c : id)
    ok = ok &&
         ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-');
  if (ok) return {};
  return InvalidArgument("task_id: '" + std::string(id) + "' is not a task id (task_YYYYMMDD_…)");
}

Result<TaskInfo> TaskService::Create(const TaskCreateRequest& req) {
  auto t = NewTask(req);
  if (!t) return t;
  // A duplicate id is refused by the store, never overwritten; draw another (ids.h: practically never).
  for (int tries = 0;; ++tries) {
    auto r = store_.Create(*t);
    if (r) return t;
    if (r.error().code != Code::Conflict || tries == 2) return r.error();
    t->task_id = NewTaskId(t->created_at);
  }
}

Result<TaskInfo> TaskService::NewTask(const TaskCreateRequest& req) const {
  if (!IsValidModeName(req.mode)) return InvalidArgument("mode: '" + req.mode + "' is not a valid mode name");
  if (!IsKnownMode(req.mode)) {
    std::string known;
    for (const std::string& m : KnownModes()) known += (known.empty() ? "" : ", ") + m;
    return InvalidArgument("mode: unknown mode '" + req.mode + "' (known: " + known + ")");
  }
  if (req.priority < kMinPriority || req.priority > kMaxPriority)
    return InvalidArgument("priority: must be an integer from -100 to 100");
  TaskInfo t;
  t.created_at = t.updated_at = t.run_at = options_.clock();

  t.user_id = req.user_id;
  t.mode = req.mode;
  t.status = TaskStatus::Pending;
  t.priority = req.priority;
  t.source_image = req.source_image;
  // Only what the API made from a traceparent it parsed; bounded anyway, so a row stays small.
  if (req.trace_context.size() <= kMaxTraceContext) t.trace_context = req.trace_context;
  t.config = req.config.is_null() ? Json::object() : req.config;
  t.max_retries = req.max_retries.value_or(options_.default_max_retries);
  t.timeout_ms = req.timeout_ms.value_or(options_.default_timeout_ms);
  t.task_id = NewTaskId(t.created_at);
  return t;
}

Result<TaskInfo> TaskService::Get(std::string_view task_id) {
  if (auto r = CheckTaskId(task_id); !r) return r.error();
  return store_.Get(task_id);
}

Result<TaskListResponse> TaskService::List(const ListQuery& q) {
  if (!q.mode.empty() && !IsValidModeName(q.mode))
    return InvalidArgument("mode: '" + q.mode + "' is not a valid mode name");
  return store_.List(q);
}

Result<TaskInfo> TaskService::Cancel(std::string_view task_id) {
  if (auto r = CheckTaskId(task_id); !r) return r.error();
  return store_.Cancel(task_id);
}

Result<QueueStats> TaskService::Stats() { return store_.Stats(); }
Result<QueueStats> TaskService::UserStats(std::string_view user_id) { return store_.UserStats(user_id); }

Result<void> TaskService::UpdateProgress(const Lease& lease, int percent, std::string_view step) {
  return store_.Progress(lease, percent, step);
}

Result<void> TaskService::Complete(const Lease& lease, const TaskResult& result) {
  return store_.Complete(lease, result);
}

Result<void> TaskService::Fail(const Lease& lease, const TaskError& error) {
  return store_.Fail(lease, error);
}

}  // namespace wasmq::queue
