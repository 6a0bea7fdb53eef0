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

Result<TaskInfo> TaskService::MakeTask(const TaskCreateRequest& req, int64_t now) const {
  if (!IsValidModeName(req.mode)) return InvalidArgument("mode: '" + req.mode + "' is not a valid mode name");
  if (!IsKnownMode(req.mode)) {
    std::string known;
    for (const std::string& m : KnownModes()) known += (known.empty() ? "" : ", ") + m;
    return InvalidArgument("mode: unknown mode '" + req.mode + "' (known: " + known + ")");
  }
  if (req.priority < kMinPriority || req.priority > kMaxPriority)
    return InvalidArgument("priority: must be an integer from -100 to 100");
  if (req.depends_on.size() > kMaxDependencies)
    return InvalidArgument("depends_on: must list at most " + std::to_string(kMaxDependencies) + " task ids");
  for (const std::string& dep : req.depends_on)
    if (auto r = CheckTaskId(dep); !r) return InvalidArgument("depends_on: no task " + dep.substr(0, 128));
  if (req.run_at && req.delay_ms) return InvalidArgument("delay_ms: give either run_at or delay_ms, not both");
  if (req.delay_ms && (*req.delay_ms < 0 || *req.delay_ms > kMaxDelayMs))
    return InvalidArgument("delay_ms: must be from 0 to " + std::to_string(kMaxDelayMs));
  TaskInfo t;
  t.created_at = t.updated_at = t.run_at = now;
  // A delayed task: a run_at in the past is simply ready now (clocks differ a little between nodes).
  if (req.delay_ms) t.run_at = t.created_at + *req.delay_ms;
  if (req.run_at > t.created_at) {
    if (req.run_at - t.created_at > kMaxDelayMs)
      return InvalidArgument("run_at: must be at most " + std::to_string(kMaxDelayMs / 86'400'000) +
                             " days ahead");
    t.run_at = req.run_at;
  }

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
  t.depends_on = req.depends_on;
  return t;
}

Result<TaskInfo> TaskService::NewTask(const TaskCreateRequest& req) const {
  auto t = MakeTask(req, options_.clock());
  if (!t) return t;
  t->task_id = NewTaskId(t->created_at);
  return t;
}

Result<TaskInfo> TaskService::Create(const TaskCreateRequest& req) {
  auto s = Submit(req);
  if (!s) return s.error();
  return std::move(s->task);
}

Result<Submitted> TaskService::Submit(const TaskCreateRequest& req) {
  auto t = MakeTask(req, options_.clock());
  if (!t) return t.error();
  SubmitOptions o;
  if (!req.idempotency_key.empty()) {
    o.idempotency_key = req.idempotency_key;
    o.fingerprint = IdempotencyFingerprint(req);
    o.idempotency_ttl_ms = options_.idempotency_ttl_ms;
  }
  // A duplicate id is refused by the store, never overwritten; draw another (ids.h: practically never).
  for (int tries = 0;; ++tries) {
    t->task_id = NewTaskId(t->created_at);
    auto r = store_.Submit(*t, o);
    if (r) return r;
    if (r.error().code != Code::Conflict || !r.error().reason.empty() || tries == 2) return r.error();
  }
}

Result<BatchInfo> TaskService::CreateBatch(const std::vector<TaskCreateRequest>& reqs, const std::string& user_id) {
  if (reqs.empty() || reqs.size() > kMaxBatchSize)
    return InvalidArgument("tasks: must hold 1 to " + std::to_string(kMaxBatchSize) + " create requests");
  const int64_t now = options_.clock();
  BatchInfo b;
  b.user_id = user_id;
  b.created_at = now;
  std::vector<TaskInfo> tasks;
  for (size_t i = 0; i < reqs.size(); ++i) {
    const std::string at = "tasks[" + std::to_string(i) + "].";
    if (!reqs[i].idempotency_key.empty())
      return InvalidArgument(at + "idempotency_key: is not accepted inside a batch");
    auto t = MakeTask(reqs[i], now);
    if (!t) return InvalidArgument(at + t.error().message);
    t->user_id = user_id;
    tasks.push_back(std::move(*t));
  }
  for (int tries = 0;; ++tries) {
    b.batch_id = "batch_" + NewTaskId(now).substr(5);
    b.task_ids.clear();
    for (TaskInfo& t : tasks) {
      t.task_id = NewTaskId(now);
      t.batch_id = b.batch_id;
      b.task_ids.push_back(t.task_id);
    }
    auto r = store_.CreateBatch(b, tasks);
    if (r) break;
    if (r.error().code != Code::Conflict || !r.error().reason.empty() || tries == 2) return r.error();
  }
  std::vector<std::pair<TaskStatus, int>> tally(tasks.size(), {TaskStatus::Pending, 0});
  TallyBatch(&b, tally);
  return b;
}

Result<BatchInfo> TaskService::GetBatch(std::string_view batch_id) { return store_.GetBatch(batch_id); }

Result<DeadLetterPage> TaskService::DeadLetters(const DeadLetterQuery& q) { return store_.DeadLetters(q); }

Result<RetryReport> TaskService::RetryDeadLetters(DeadLetterQuery q, int limit) {
  // Always the first page: each retried task leaves the set, so the next page is the next batch.
  q.page = 1;
  q.page_size = kMaxPageSize;
  RetryReport report;
  std::set<std::string> seen;
  while (static_cast<int>(report.retried.size() + report.refused.size()) < limit) {
    auto page = store_.DeadLetters(q);
    if (!page) return page.error();
    bool progressed = false;
    for (const TaskInfo& t : page->tasks) {
      if (static_cast<int>(report.retried.size() + report.refused.size()) >= limit) break;
      if (!seen.insert(t.task_id).second) continue;
      progressed = true;
      auto r = store_.Requeue(t.task_id);
      if (r) report.retried.push_back(t.task_id);
      else report.refused.emplace_back(t.task_id, r.error());
    }
    if (!progressed || !page->has_more) break;
  }
  return report;
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
