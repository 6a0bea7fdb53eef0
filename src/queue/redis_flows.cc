// File: src/queue/redis_flows.cc
//
// The Redis store's flows (flows.h): create with an idempotency key, tasks that wait on others, batches,
// dead letters. Each is one script (redis_scripts.cc: kCreate, kCreateBatch, kBatch, kDeadLetters), so a
// key is claimed, dependencies checked and the task stored as one step on the server, whichever API node
// sends it; dependencies are resolved by the finishing scripts themselves (`resolve`).
#include "queue/json.h"
#include "queue/redis_store.h"
#include "queue/redis_task.h"

namespace wasmq::queue {

using detail::Int;
using detail::Reply;
using detail::Script;
using detail::Str;

namespace {

// create_task's 12 arguments.
void TaskArgs(const TaskInfo& t, std::vector<std::string>* args) {
  args->insert(args->end(),
               {t.task_id, t.user_id, t.mode, std::to_string(t.priority), t.source_image, t.config.dump(),
                std::to_string(t.max_retries), std::to_string(t.timeout_ms), std::to_string(t.created_at),
                std::to_string(t.run_at ? t.run_at : t.created_at), t.trace_context,
                t.depends_on.empty() ? std::string() : Json(t.depends_on).dump()});
}

// check_deps' refusals ({3, id} and {4, id, status}); nullopt for any other reply.
std::optional<Error> DependencyRefusal(const redisReply* r) {
  const int64_t kind = Int(r->element[0]);
  if (kind == 3) return InvalidArgument("depends_on: no task " + Str(r->element[1]));
  if (kind == 4) {
    Error e = Conflict("depends_on: task " + Str(r->element[1]) + " is " + Str(r->element[2]));
    e.reason = std::string(reason::kDependencyFailed);
    return e;
  }
  return std::nullopt;
}

}  // namespace

// The Create script's arguments for a task stored without key or limits (a schedule firing appends its own
// after them, kFireGuard).
std::vector<std::string> RedisStore::CreateArgs(const TaskInfo& t) {
  std::vector<std::string> args;
  TaskArgs(t, &args);
  args.insert(args.end(), {t.batch_id, "", "", "1", "0", "0"});
  return args;
}

Result<Submitted> RedisStore::Submit(const TaskInfo& t, const SubmitOptions& o) {
  if (auto ok = CheckNew(t); !ok) return ok.error();
  for (const std::string& dep : t.depends_on)
    if (dep == t.task_id) return InvalidArgument("depends_on: a task cannot depend on itself");
  std::vector<std::string> args;
  TaskArgs(t, &args);
  const UserLimits& limits = options_.fairness.For(t.user_id);
  args.insert(args.end(), {t.batch_id, o.idempotency_key, o.fingerprint,
                           std::to_string(std::max<int64_t>(1, o.idempotency_ttl_ms)),
                           std::to_string(limits.max_pending), std::to_string(limits.per_minute)});
  auto r = Call(Script::Create, std::move(args), options_.clock(), /*durable=*/true);
  if (!r) return r.error();
  const redisReply* reply = r->get();
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) return Internal("redis: unexpected create reply");
  if (auto refused = DependencyRefusal(reply)) return *refused;
  Submitted out;
  switch (Int(reply->element[0])) {
    case 1:
      break;
    case 0:
      return Conflict("task " + t.task_id + " already exists");
    case 5: {
      Error e = Conflict("idempotency key '" + o.idempotency_key + "' was used for task " +
                         Str(reply->element[1]) + " with another request body");
      e.reason = std::string(reason::kIdempotencyConflict);
      return e;
    }
    case 8:
      return detail::PendingLimitError(t.user_id, limits.max_pending);
    case 9:
      return detail::RateLimitError(t.user_id, limits.per_minute, reply->elements > 1 ? Int(reply->element[1]) : 1000);
    case 6: {
      auto existing = detail::ReadRedisTask(reply->element[1]);
      if (!existing) return existing.error();
      out.task = std::move(*existing);
      out.existing = true;
      return out;
    }
    default:
      return Internal("redis: unexpected create reply");
  }
  out.task = t;
  if (out.task.run_at == 0) out.task.run_at = out.task.created_at;
  if (!t.depends_on.empty()) {
    // Which dependencies are still to wait for is the store's answer (some may be done already).
    auto g = Get(t.task_id);
    if (g) out.task = std::move(*g);
  }
  if (out.task.waiting_on.empty()) waiters_.NotifyReady();
  hub_.PublishCreated(out.task);
  return out;
}

Result<void> RedisStore::CreateBatch(const BatchInfo& batch, const std::vector<TaskInfo>& tasks) {
  std::vector<std::string> args = {batch.batch_id, batch.user_id, std::to_string(batch.created_at),
                                   std::to_string(tasks.size())};
  for (const TaskInfo& t : tasks) {
    if (auto ok = CheckNew(t); !ok) return ok;
    TaskArgs(t, &args);
  }
  auto r = Call(Script::CreateBatch, std::move(args), options_.clock(), /*durable=*/true);
  if (!r) return r.error();
  const redisReply* reply = r->get();
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) return Internal("redis: unexpected batch reply");
  if (auto refused = DependencyRefusal(reply)) return *refused;
  switch (Int(reply->element[0])) {
    case 1:
      break;
    case 0:
      return Conflict("task " + Str(reply->element[1]) + " already exists");
    case 7:
      return Conflict("batch " + batch.batch_id + " already exists");
    default:
      return Internal("redis: unexpected batch reply");
  }
  waiters_.NotifyReady();
  for (const TaskInfo& t : tasks) hub_.PublishCreated(t);
  return {};
}

Result<BatchInfo> RedisStore::GetBatch(std::string_view batch_id) {
  auto r = Call(Script::Batch, {std::string(batch_id)}, options_.clock());
  if (!r) return r.error();
  const redisReply* reply = r->get();
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) return Internal("redis: unexpected batch reply");
  if (Int(reply->element[0]) == 0) return NotFound("no batch " + std::string(batch_id));
  BatchInfo b;
  b.batch_id = std::string(batch_id);
  b.user_id = Str(reply->element[1]);
  b.created_at = detail::ToInt(Str(reply->element[2]));
  auto ids = ParseJson(Str(reply->element[3]));
  if (ids && ids->is_array())
    for (const Json& id : *ids) b.task_ids.push_back(id.get<std::string>());
  std::vector<std::pair<TaskStatus, int>> tasks;
  const redisReply* rows = reply->element[4];
  for (size_t i = 0; i < rows->elements; ++i)
    tasks.emplace_back(ParseStatus(Str(rows->element[i]->element[0])).value_or(TaskStatus::Pending),
                       static_cast<int>(detail::ToInt(Str(rows->element[i]->element[1]))));
  TallyBatch(&b, tasks);
  return b;
}

Result<DeadLetterPage> RedisStore::DeadLetters(const DeadLetterQuery& dq) {
  if (dq.page < 1 || dq.page_size < 1 || dq.page_size > kMaxPageSize)
    return InvalidArgument("page_size: must be from 1 to " + std::to_string(kMaxPageSize));
  auto r = Call(Script::DeadLetters,
                {dq.user_id, dq.mode, dq.error_code, std::to_string(int64_t{dq.page - 1} * dq.page_size),
                 std::to_string(dq.page_size)},
                options_.clock());
  if (!r) return r.error();
  const redisReply* reply = r->get();
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) return Internal("redis: unexpected reply");
  DeadLetterPage out;
  out.page = dq.page;
  out.page_size = dq.page_size;
  out.total = Int(reply->element[0]);
  for (size_t i = 1; i < reply->elements; ++i) {
    auto t = detail::ReadRedisTask(reply->element[i]);
    if (!t) return t.error();
    out.tasks.push_back(std::move(*t));
  }
  out.has_more = int64_t{dq.page} * dq.page_size < out.total;
  return out;
}

}  // namespace wasmq::queue
