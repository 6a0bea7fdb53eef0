// File: src/queue/redis_history.cc
//
// The Redis store's history and dashboard views (redis_scripts.cc: kHistory, kRequeue, kWorkers,
// kFinished; the events themselves are written by the scripts that make each change).
#include <algorithm>
#include <charconv>

#include "queue/json.h"
#include "queue/redis_store.h"
#include "queue/redis_task.h"

namespace wasmq::queue {
namespace {

using detail::Int;
using detail::Script;
using detail::SplitFields;
using detail::Str;
using detail::ToInt;

}  // namespace

Result<std::vector<HistoryEvent>> RedisStore::History(std::string_view task_id) {
  auto r = Call(Script::History, {std::string(task_id)}, options_.clock());
  if (!r) return r.error();
  const redisReply* reply = r->get();
  if (Int(reply->element[0]) != 0) return NotFound("no task " + std::string(task_id));
  std::vector<HistoryEvent> out;
  const redisReply* hist = reply->element[1];
  const redisReply* prog = reply->element[2];
  size_t p = 0;
  // A progress entry goes after the first n history entries (n: the history's length when it was written).
  auto take_progress = [&](size_t n) {
    for (; p < prog->elements; ++p) {
      std::string text = Str(prog->element[p]);
      auto f = SplitFields(text, 5);
      if (f.size() < 5) continue;
      if (static_cast<size_t>(ToInt(f[0])) > n) break;
      out.push_back({ToInt(f[1]), "progress", static_cast<int>(ToInt(f[2])), static_cast<int>(ToInt(f[3])), "",
                     std::string(f[4])});
    }
  };
  for (size_t i = 0; i < hist->elements; ++i) {
    take_progress(i);
    std::string text = Str(hist->element[i]);
    auto f = SplitFields(text, 6);
    if (f.size() < 6) continue;
    out.push_back({ToInt(f[1]), std::string(f[0]), static_cast<int>(ToInt(f[2])), static_cast<int>(ToInt(f[3])),
                   std::string(f[4]), std::string(f[5])});
  }
  take_progress(SIZE_MAX);
  return out;
}

Result<TaskInfo> RedisStore::Requeue(std::string_view task_id) {
  auto r = Call(Script::Requeue, {std::string(task_id)}, options_.clock());
  if (!r) return r.error();
  const redisReply* reply = r->get();
  switch (Int(reply->element[0])) {
    case 0:
      break;
    case 1:
      return Conflict("task " + std::string(task_id) + " is " + Str(reply->element[1]) +
                      "; only a failed task can be retried");
    default:
      return NotFound("no task " + std::string(task_id));
  }
  auto t = detail::ReadRedisTask(reply->element[1]);
  if (!t) return t.error();
  waiters_.NotifyReady();
  hub_.Publish({TaskEvent{.kind = TaskEvent::Kind::Status, .task_id = t->task_id, .mode = t->mode,
                          .status = TaskStatus::Pending, .at = t->updated_at}});
  return t;
}

Result<void> RedisStore::PutWorker(const WorkerInfo& w) {
  Json j = {{"id", w.id},
            {"owner", w.owner},
            {"host", w.host},
            {"pid", w.pid},
            {"started_at", w.started_at},
            {"last_heartbeat", w.last_heartbeat},
            {"concurrency", w.concurrency},
            {"heartbeat_ms", w.heartbeat_ms}};
  auto c = pool_.Get();
  if (!c) return c.error();
  auto r = (*c)->Command({"HSET", prefix_ + ":workers", w.id, j.dump()});
  if (!r) return r.error();
  if ((*r)->type == REDIS_REPLY_ERROR) return Unavailable("redis: " + Str(r->get()));
  return {};
}

Result<std::vector<WorkerInfo>> RedisStore::Workers() {
  auto r = Call(Script::Workers, {}, options_.clock());
  if (!r) return r.error();
  const redisReply* reply = r->get();
  std::vector<WorkerInfo> out;
  const redisReply* live = reply->element[0];
  for (size_t i = 0; i < live->elements; ++i) {
    auto j = ParseJson(Str(live->element[i]));
    if (!j || !j->is_object()) continue;
    WorkerInfo w;
    w.id = j->value("id", "");
    w.owner = j->value("owner", "");
    w.host = j->value("host", "");
    w.pid = j->value("pid", int64_t{0});
    w.started_at = j->value("started_at", int64_t{0});
    w.last_heartbeat = j->value("last_heartbeat", int64_t{0});
    w.concurrency = j->value("concurrency", 0);
    w.heartbeat_ms = j->value("heartbeat_ms", int64_t{0});
    out.push_back(std::move(w));
  }
  std::sort(out.begin(), out.end(), [](const WorkerInfo& a, const WorkerInfo& b) {
    return a.started_at != b.started_at ? a.started_at < b.started_at : a.id < b.id;
  });
  const redisReply* running = reply->element[1];
  for (size_t i = 0; i < running->elements; ++i) {
    const redisReply* f = running->element[i];
    const std::string owner = Str(f->element[0]);
    for (WorkerInfo& w : out)
      if (w.owner == owner)
        w.running.push_back({Str(f->element[1]), Str(f->element[2]), ToInt(Str(f->element[3])),
                             static_cast<int>(ToInt(Str(f->element[4])))});
  }
  for (WorkerInfo& w : out)
    std::sort(w.running.begin(), w.running.end(),
              [](const RunningTask& a, const RunningTask& b) { return a.started_at < b.started_at; });
  return out;
}

Result<std::vector<FinishedTask>> RedisStore::Finished(int64_t from, int64_t to, const std::string* user) {
  auto r = Call(Script::Finished,
                {std::to_string(from), std::to_string(to), user ? *user : std::string(), user ? "1" : "0"},
                options_.clock());
  if (!r) return r.error();
  const redisReply* reply = r->get();
  std::vector<FinishedTask> out;
  for (size_t i = 0; i < reply->elements; ++i) {
    const redisReply* f = reply->element[i];
    out.push_back({Str(f->element[0]), ParseStatus(Str(f->element[1])).value_or(TaskStatus::Failed),
                   ToInt(Str(f->element[2])), ToInt(Str(f->element[3]))});
  }
  return out;
}

}  // namespace wasmq::queue
