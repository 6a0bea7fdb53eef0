// File: src/queue/redis_task.cc
#include "queue/redis_task.h"

#include <charconv>
#include <map>

#include "queue/json.h"

namespace wasmq::queue::detail {

Result<TaskInfo> ReadRedisTask(const redisReply* fields, Lease* lease) {
  if (!fields || fields->type != REDIS_REPLY_ARRAY || fields->elements % 2 != 0)
    return Internal("redis: a task hash was expected");
  std::map<std::string, std::string, std::less<>> f;
  for (size_t i = 0; i + 1 < fields->elements; i += 2)
    f[Str(fields->element[i])] = Str(fields->element[i + 1]);
  auto text = [&](std::string_view k) -> std::string {
    auto it = f.find(k);
    return it == f.end() ? std::string() : it->second;
  };
  TaskInfo t;
  t.task_id = text("id");
  bool ok = true;
  auto number = [&](std::string_view k) -> int64_t {
    std::string v = text(k);
    int64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size()) ok = false;
    return n;
  };
  t.user_id = text("user_id");
  t.mode = text("mode");
  auto status = ParseStatus(text("status"));
  if (!status) return Internal("task " + t.task_id + ": unknown status '" + text("status") + "' in redis");
  t.status = *status;
  t.priority = static_cast<int>(number("priority"));
  t.source_image = text("source_image");
  t.trace_context = text("trace_context");
  auto config = ParseJson(text("config"));
  if (!config) return Internal("task " + t.task_id + ": corrupt config field: " + config.error().message);
  t.config = std::move(*config);
  t.progress = static_cast<int>(number("progress"));
  t.current_step = text("current_step");
  t.attempt = static_cast<int>(number("attempt"));
  t.max_retries = static_cast<int>(number("max_retries"));
  t.timeout_ms = number("timeout_ms");
  t.created_at = number("created_at");
  t.started_at = number("started_at");
  t.updated_at = number("updated_at");
  t.finished_at = number("finished_at");
  t.run_at = number("run_at");
  if (std::string r = text("result"); !r.empty()) {
    auto j = ParseJson(r);
    auto res = j ? TaskResultFromJson(*j) : Result<TaskResult>(j.error());
    if (!res) return Internal("task " + t.task_id + ": corrupt result field: " + res.error().message);
    t.result = std::move(*res);
  }
  if (std::string e = text("error"); !e.empty()) {
    auto j = ParseJson(e);
    auto err = j ? TaskErrorFromJson(*j) : Result<TaskError>(j.error());
    if (!err) return Internal("task " + t.task_id + ": corrupt error field: " + err.error().message);
    t.error = std::move(*err);
  }
  auto ids = [&](std::string_view k, std::vector<std::string>* out) {
    const std::string v = text(k);
    if (v.empty()) return;
    auto j = ParseJson(v);
    if (j && j->is_array())
      for (const Json& id : *j)
        if (id.is_string()) out->push_back(id.get<std::string>());
  };
  ids("depends_on", &t.depends_on);
  ids("waiting_on", &t.waiting_on);
  t.batch_id = text("batch_id");
  if (lease) {
    lease->task_id = t.task_id;
    lease->owner = text("lease_owner");
    lease->token = number("lease_token");
    lease->attempt = t.attempt;
    lease->expires_at = number("lease_expires_at");
  }
  if (!ok) return Internal("task " + t.task_id + ": a numeric field in redis is not a number");
  return t;
}

}  // namespace wasmq::queue::detail
