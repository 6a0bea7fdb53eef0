// File: src/queue/redis_store.cc
//
// The Redis store: opening, the client operations (create, get, list, cancel, stats) and maintenance (lease
// recovery, cleanup). The worker operations are in redis_lease.cc, the event subscriber in redis_events.cc,
// the scripts (and the key layout) in redis_scripts.cc.
#include "queue/redis_store.h"

#include <sys/random.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <map>

#include "queue/json.h"
#include "queue/redis_task.h"
#include "queue/store_rules.h"

namespace wasmq::queue {

using detail::CallScript;
using detail::Int;
using detail::Reply;
using detail::Script;
using detail::Str;

namespace {

// Connections per store: the worker pool's threads (dispatcher, recorder, supervisor, executors reporting
// progress) each hold one for a call at a time.
constexpr size_t kMaxConnections = 8;

std::string RandomHex() {
  unsigned char b[8] = {};
  while (getrandom(b, sizeof b, 0) < 0 && errno == EINTR) {
  }
  char hex[17];
  for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02x", b[i]);
  return hex;
}

}  // namespace

Result<std::unique_ptr<RedisStore>> RedisStore::Open(const detail::RedisAddress& address,
                                                     const std::string& prefix, StoreOptions options) {
  if (prefix.empty() || prefix.find_first_of(" {}|") != std::string::npos)
    return InvalidArgument("redis prefix: must be non-empty, without spaces, braces or '|' (got '" + prefix +
                           "')");
  if (options.redis_wait_timeout_ms <= 0) options.redis_wait_timeout_ms = 1000;
  std::unique_ptr<RedisStore> store(new RedisStore(address, prefix, std::move(options)));
  // Connect now, so that a wrong address or password stops start-up with its reason.
  {
    auto c = store->pool_.Get();
    if (!c) return c.error();
    if (auto r = detail::LoadScripts(**c); !r) return r.error();
  }
  if (address.sentinel()) {
    base::MutexLock lock(store->sub_mu_);
    store->sentinel_watcher_ = std::thread([s = store.get()] { s->SentinelWatchLoop(); });
  }
  return store;
}

RedisStore::RedisStore(const detail::RedisAddress& address, std::string prefix, StoreOptions options)
    : options_(std::move(options)),
      prefix_(std::move(prefix)),
      origin_(RandomHex()),
      wait_replicas_(options_.redis_wait_replicas >= 0 ? options_.redis_wait_replicas
                     : address.sentinel()              ? 1
                                                       : 0),
      pool_(address, kMaxConnections) {}

RedisStore::~RedisStore() {
  {
    base::MutexLock lock(sub_mu_);
    stopping_ = true;
    if (sub_conn_) sub_conn_->Interrupt();
    if (watch_conn_) watch_conn_->Interrupt();
  }
  sub_cv_.NotifyAll();
  if (subscriber_.joinable()) subscriber_.join();
  if (sentinel_watcher_.joinable()) sentinel_watcher_.join();
}

Result<Reply> RedisStore::Call(Script script, std::vector<std::string> args, int64_t now, bool durable) {
  auto c = pool_.Get();
  if (!c) return c.error();
  args.insert(args.begin(), {prefix_, origin_, std::to_string(now)});
  auto r = CallScript(**c, script, args);
  if (!r || !durable || wait_replicas_ <= 0) return r;
  // Replication is asynchronous: without this, a primary lost right after its reply takes the change with
  // it. WAIT returns once that many replicas have everything this connection wrote (or at the timeout).
  auto w = (*c)->Command(
      {"WAIT", std::to_string(wait_replicas_), std::to_string(options_.redis_wait_timeout_ms)});
  if (!w) return w.error();
  if ((*w)->type != REDIS_REPLY_INTEGER) return Unavailable("redis: WAIT: " + Str(w->get()));
  if ((*w)->integer < wait_replicas_)
    return Unavailable("redis: the change reached the primary but " + std::to_string((*w)->integer) +
                       " of the " + std::to_string(wait_replicas_) + " replicas required confirmed it within " +
                       std::to_string(options_.redis_wait_timeout_ms) +
                       " ms (WASMQ_REDIS_WAIT_REPLICAS); it is not acknowledged and may or may not apply");
  return r;
}

Result<void> RedisStore::Ping() {
  auto c = pool_.Get();
  if (!c) return c.error();
  auto r = (*c)->Command({"PING"});
  if (!r) return r.error();
  if ((*r)->type == REDIS_REPLY_ERROR) return Unavailable("redis: " + Str(r->get()));
  return {};
}

void RedisStore::WakeWaiters() { waiters_.WakeAll(); }

std::vector<std::string> RedisStore::CreateArgs(const TaskInfo& t) {
  return {t.task_id, t.user_id, t.mode, std::to_string(t.priority), t.source_image, t.config.dump(),
          std::to_string(t.max_retries), std::to_string(t.timeout_ms), std::to_string(t.created_at),
          std::to_string(t.run_at ? t.run_at : t.created_at), t.trace_context};
}

Result<void> RedisStore::Create(const TaskInfo& t) {
  if (auto ok = CheckNew(t); !ok) return ok;
  const int64_t now = options_.clock();
  auto r = Call(Script::Create, CreateArgs(t), now, /*durable=*/true);
  if (!r) return r.error();
  if (Int(r->get()) == 0) return Conflict("task " + t.task_id + " already exists");
  waiters_.NotifyReady();
  hub_.PublishCreated(t);
  return {};
}

Result<TaskInfo> RedisStore::Get(std::string_view task_id) {
  auto c = pool_.Get();
  if (!c) return c.error();
  auto r = (*c)->Command({"HGETALL", prefix_ + ":task:data:" + std::string(task_id)});
  if (!r) return r.error();
  if ((*r)->type == REDIS_REPLY_ERROR) return Unavailable("redis: " + Str(r->get()));
  if ((*r)->elements == 0) return NotFound("no task " + std::string(task_id));
  return detail::ReadRedisTask(r->get());
}

Result<TaskListResponse> RedisStore::List(const ListQuery& lq) {
  if (auto ok = detail::CheckPage(lq); !ok) return ok.error();
  auto r = Call(Script::List,
                {lq.status ? std::string(ToString(*lq.status)) : "", lq.mode, lq.user_id,
                 std::to_string(int64_t{lq.page - 1} * lq.page_size), std::to_string(lq.page_size)},
                options_.clock());
  if (!r) return r.error();
  const redisReply* reply = r->get();
  TaskListResponse out;
  out.page = lq.page;
  out.page_size = lq.page_size;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1)
    return Internal("redis: unexpected list reply");
  out.total = Int(reply->element[0]);
  for (size_t i = 1; i < reply->elements; ++i) {
    auto t = detail::ReadRedisTask(reply->element[i]);
    if (!t) return t.error();
    out.tasks.push_back(Summarise(*t));
  }
  out.has_more = int64_t{lq.page} * lq.page_size < out.total;
  return out;
}

Result<TaskInfo> RedisStore::Cancel(std::string_view task_id) {
  auto r = Call(Script::Cancel, {std::string(task_id)}, options_.clock(), /*durable=*/true);
  if (!r) return r.error();
  const redisReply* reply = r->get();
  switch (Int(reply->element[0])) {
    case 0:
      break;
    case 1:
      return detail::CancelRefusal(task_id, Str(reply->element[1]), "redis");
    default:
      return detail::CancelRefusal(task_id, std::nullopt, "redis");
  }
  auto t = detail::ReadRedisTask(reply->element[1]);
  if (!t) return t.error();
  hub_.PublishCancelled(*t);
  return t;
}

Result<QueueStats> RedisStore::Stats() { return StatsOf({}); }
Result<QueueStats> RedisStore::UserStats(std::string_view user_id) {
  return StatsOf({"1", std::string(user_id)});
}

Result<QueueStats> RedisStore::StatsOf(std::vector<std::string> args) {
  auto r = Call(Script::Stats, std::move(args), options_.clock());
  if (!r) return r.error();
  const redisReply* reply = r->get();
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3)
    return Internal("redis: unexpected stats reply");
  QueueStats s;
  size_t i = 0;
  for (TaskStatus st : kAllStatuses) s.counts[st] = Int(reply->element[0]->element[i++]);
  s.queue_length = Int(reply->element[1]);
  s.delayed = s.counts[TaskStatus::Pending] - s.queue_length;
  s.processing = s.counts[TaskStatus::Processing];
  const redisReply* modes = reply->element[2];
  for (size_t m = 0; m < modes->elements; ++m) {
    const redisReply* row = modes->element[m];
    ModeStats& ms = s.modes[Str(row->element[0])];
    ms.done = Int(row->element[1]);
    ms.failed = Int(row->element[2]);
    if (ms.done > 0) {
      ms.mean_ms = static_cast<double>(Int(row->element[3])) / static_cast<double>(ms.done);
      ms.p95_ms = std::stod(Str(row->element[4]));
    }
  }
  return s;
}

Result<RecoveryReport> RedisStore::RecoverLeases(
    const std::function<bool(std::string_view owner)>& owner_dead) {
  const int64_t now = options_.clock();
  std::vector<std::string> args = {FormatTime(now)};
  if (owner_dead) {
    auto owners = Call(Script::Owners, {}, now);
    if (!owners) return owners.error();
    for (size_t i = 0; i < (*owners)->elements; ++i) {
      std::string o = Str((*owners)->element[i]);
      if (owner_dead(o)) args.push_back(std::move(o));
    }
  }
  auto r = Call(Script::Recover, std::move(args), now);
  if (!r) return r.error();
  RecoveryReport report;
  std::vector<TaskEvent> events;
  for (size_t i = 0; i < (*r)->elements; ++i) {
    const redisReply* row = (*r)->element[i];
    detail::NoteRecovered(Str(row->element[0]), Str(row->element[1]), Str(row->element[2]),
                          static_cast<int>(Int(row->element[3])), now, &report, &events);
  }
  if (!report.requeued.empty()) waiters_.NotifyReady();
  hub_.Publish(events);
  return report;
}

Result<std::vector<std::string>> RedisStore::Cleanup(int64_t finished_before, int limit) {
  auto r = Call(Script::Cleanup, {std::to_string(finished_before), std::to_string(std::max(0, limit))},
                options_.clock());
  if (!r) return r.error();
  std::vector<std::string> ids;
  for (size_t i = 0; i < (*r)->elements; ++i) ids.push_back(Str((*r)->element[i]));
  return ids;
}

}  // namespace wasmq::queue
