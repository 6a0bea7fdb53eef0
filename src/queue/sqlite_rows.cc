// File: src/queue/sqlite_rows.cc
#include "queue/sqlite_rows.h"

#include "queue/json.h"

namespace wasmq::queue::detail {

Result<TaskInfo> ReadTask(const Query& q, Lease* lease) {
  TaskInfo t;
  t.task_id = q.Text(0);
  t.user_id = q.Text(1);
  t.mode = q.Text(2);
  auto status = ParseStatus(q.Text(3));
  if (!status) return Internal("task " + t.task_id + ": unknown status '" + q.Text(3) + "' in the database");
  t.status = *status;
  t.priority = static_cast<int>(q.Int(4));
  t.source_image = q.Text(5);
  auto config = ParseJson(q.Text(6));
  if (!config) return Internal("task " + t.task_id + ": corrupt config column: " + config.error().message);
  t.config = std::move(*config);
  t.progress = static_cast<int>(q.Int(7));
  t.current_step = q.Text(8);
  t.attempt = static_cast<int>(q.Int(9));
  t.max_retries = static_cast<int>(q.Int(10));
  t.timeout_ms = q.Int(11);
  t.created_at = q.Int(12);
  t.started_at = q.Int(13);
  t.updated_at = q.Int(14);
  t.finished_at = q.Int(15);
  t.run_at = q.Int(16);
  if (!q.IsNull(17)) {
    auto j = ParseJson(q.Text(17));
    auto r = j ? TaskResultFromJson(*j) : Result<TaskResult>(j.error());
    if (!r) return Internal("task " + t.task_id + ": corrupt result column: " + r.error().message);
    t.result = std::move(*r);
  }
  if (!q.IsNull(18)) {
    auto j = ParseJson(q.Text(18));
    auto e = j ? TaskErrorFromJson(*j) : Result<TaskError>(j.error());
    if (!e) return Internal("task " + t.task_id + ": corrupt error column: " + e.error().message);
    t.error = std::move(*e);
  }
  t.trace_context = q.Text(22);
  auto ids = [&](int col, std::vector<std::string>* out) {
    const std::string text = q.Text(col);
    if (text.empty()) return;
    auto j = ParseJson(text);
    if (j && j->is_array())
      for (const Json& id : *j)
        if (id.is_string()) out->push_back(id.get<std::string>());
  };
  ids(23, &t.depends_on);
  ids(24, &t.waiting_on);
  if (t.run_at == kBlockedRunAt) t.run_at = q.Int(25);
  t.batch_id = q.Text(26);
  if (lease) {
    lease->task_id = t.task_id;
    lease->owner = q.Text(19);
    lease->token = q.Int(20);
    lease->attempt = t.attempt;
    lease->expires_at = q.Int(21);
  }
  return t;
}

std::string FromStatusesSql(TaskStatus to) {
  std::string out;
  for (TaskStatus from : kAllStatuses) {
    if (!CanTransition(from, to)) continue;
    if (!out.empty()) out += ",";
    out.append("'").append(ToString(from)).append("'");  // (append: GCC 12 misreports + as -Wrestrict)
  }
  return out.empty() ? "NULL" : out;
}

}  // namespace wasmq::queue::detail
