// File: src/queue/redis_schedules.cc
//
// The Redis store's schedules. Keys, for prefix P:
//
//   P:schedule:data:{id}   Hash   next_due, paused (0/1), updated_at, last_run_at, last_task_id, and `doc`:
//                                 the rest of the schedule as JSON (owner, cron, zone, task, catch_up,
//                                 created_at), which never changes after creation
//   P:schedule:due         ZSet   unpaused schedules by next_due (the firing loop's "what is due")
//   P:schedule:all         ZSet   every schedule by created_at (lists, oldest first)
//
// The claim of an occurrence (FireSchedule) is one script: a compare-and-set of next_due, then the Create
// script's own text (redis_scripts.h) creating the task. Redis runs a script without interleaving any other
// command, so two nodes firing the same occurrence cannot both see the old next_due.
//
// These scripts are sent with EVAL (Redis caches them by SHA all the same): schedules change rarely, and the
// task scripts' EVALSHA table stays as it is.
#include "queue/json.h"
#include "queue/redis_store.h"

namespace wasmq::queue {

using detail::Reply;
using detail::Str;

namespace {

constexpr const char* kSchedulePrelude = R"lua(
local P, NOW = ARGV[1], tonumber(ARGV[3])
local function S(s) return P .. ':schedule:' .. s end
)lua";

// ARGV: id, doc, paused, next_due, created_at. 1, or 0 when the id exists.
constexpr const char* kCreateSchedule = R"lua(
local id = ARGV[4]
if redis.call('EXISTS', S('data:' .. id)) == 1 then return 0 end
redis.call('HSET', S('data:' .. id), 'doc', ARGV[5], 'paused', ARGV[6], 'next_due', ARGV[7],
  'updated_at', ARGV[8], 'last_run_at', 0, 'last_task_id', '')
redis.call('ZADD', S('all'), ARGV[8], id)
if ARGV[6] == '0' then redis.call('ZADD', S('due'), ARGV[7], id) end
return 1
)lua";

// ARGV: id, paused, next_due. 1, or 0 for an unknown id.
constexpr const char* kSetPaused = R"lua(
local id = ARGV[4]
if redis.call('EXISTS', S('data:' .. id)) == 0 then return 0 end
redis.call('HSET', S('data:' .. id), 'paused', ARGV[5], 'next_due', ARGV[6], 'updated_at', ARGV[3])
if ARGV[5] == '1' then redis.call('ZREM', S('due'), id) else redis.call('ZADD', S('due'), ARGV[6], id) end
return 1
)lua";

// ARGV: id. 1, or 0 for an unknown id.
constexpr const char* kDeleteSchedule = R"lua(
local id = ARGV[4]
if redis.call('DEL', S('data:' .. id)) == 0 then return 0 end
redis.call('ZREM', S('due'), id)
redis.call('ZREM', S('all'), id)
return 1
)lua";

// ARGV: the Create script's arguments, then schedule id, expected next_due, new next_due, with_task (1/0).
// The four are taken off the end of ARGV so that what follows sees exactly the Create script's ARGV.
// -1: not claimed (changed, paused, deleted or claimed elsewhere); 1: claimed (the task created when asked).
constexpr const char* kFireGuard = R"lua(
local with_task = table.remove(ARGV)
local new_due = table.remove(ARGV)
local expected = table.remove(ARGV)
local sid = table.remove(ARGV)
local SK = ARGV[1] .. ':schedule:data:' .. sid
local f = redis.call('HMGET', SK, 'next_due', 'paused')
if not f[1] or f[1] ~= expected or f[2] ~= '0' then return -1 end
if with_task == '1' and redis.call('EXISTS', D(ARGV[4])) == 1 then return -1 end
redis.call('HSET', SK, 'next_due', new_due, 'updated_at', ARGV[3])
redis.call('ZADD', ARGV[1] .. ':schedule:due', new_due, sid)
if with_task ~= '1' then return 1 end
redis.call('HSET', SK, 'last_run_at', ARGV[3], 'last_task_id', ARGV[4])
)lua";

std::string WithPrelude(const char* body) { return std::string(kSchedulePrelude) + body; }

// The immutable part of a schedule, as kept in `doc`.
std::string Doc(const ScheduleInfo& s) {
  return Json{{"user_id", s.user_id},   {"cron", s.cron},
              {"timezone", s.timezone}, {"task", s.task},
              {"catch_up", ToString(s.catch_up)}, {"created_at", s.created_at}}
      .dump();
}

// A schedule from HGETALL's flat field/value array; NotFound when empty.
Result<ScheduleInfo> FromHash(std::string_view id, const redisReply* r) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) return NotFound("no schedule " + std::string(id));
  ScheduleInfo s;
  s.schedule_id = std::string(id);
  for (size_t i = 0; i + 1 < r->elements; i += 2) {
    const std::string k = Str(r->element[i]), v = Str(r->element[i + 1]);
    if (k == "doc") {
      auto j = ParseJson(v);
      if (!j || !j->is_object()) return Internal("schedule " + s.schedule_id + ": corrupt doc");
      s.user_id = j->value("user_id", "");
      s.cron = j->value("cron", "");
      s.timezone = j->value("timezone", "UTC");
      s.task = j->value("task", Json::object());
      s.catch_up = j->value("catch_up", "once") == "skip" ? CatchUp::Skip : CatchUp::Once;
      s.created_at = j->value("created_at", int64_t{0});
    } else if (k == "paused") {
      s.paused = v == "1";
    } else if (k == "next_due") {
      s.next_due = detail::ToInt(v);
    } else if (k == "updated_at") {
      s.updated_at = detail::ToInt(v);
    } else if (k == "last_run_at") {
      s.last_run_at = detail::ToInt(v);
    } else if (k == "last_task_id") {
      s.last_task_id = v;
    }
  }
  return s;
}

}  // namespace

Result<Reply> RedisStore::Eval(const std::string& script, std::vector<std::string> args, int64_t now,
                               bool durable) {
  auto c = pool_.Get();
  if (!c) return c.error();
  std::vector<std::string> cmd = {"EVAL", script, "0", prefix_, origin_, std::to_string(now)};
  cmd.insert(cmd.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
  auto r = (*c)->Command(cmd);
  if (!r) return r.error();
  if ((*r)->type == REDIS_REPLY_ERROR) return Unavailable("redis: " + Str(r->get()));
  if (!durable || wait_replicas_ <= 0) return r;
  auto w = (*c)->Command(
      {"WAIT", std::to_string(wait_replicas_), std::to_string(options_.redis_wait_timeout_ms)});
  if (!w) return w.error();
  if ((*w)->type != REDIS_REPLY_INTEGER || (*w)->integer < wait_replicas_)
    return Unavailable("redis: the schedule change was not confirmed by " + std::to_string(wait_replicas_) +
                       " replicas in time; it may or may not apply");
  return r;
}

Result<void> RedisStore::CreateSchedule(const ScheduleInfo& s) {
  auto r = Eval(WithPrelude(kCreateSchedule),
                {s.schedule_id, Doc(s), s.paused ? "1" : "0", std::to_string(s.next_due),
                 std::to_string(s.created_at)},
                options_.clock(), /*durable=*/true);
  if (!r) return r.error();
  if (detail::Int(r->get()) == 0) return Conflict("schedule " + s.schedule_id + " already exists");
  return {};
}

Result<ScheduleInfo> RedisStore::GetSchedule(std::string_view id) {
  auto c = pool_.Get();
  if (!c) return c.error();
  auto r = (*c)->Command({"HGETALL", prefix_ + ":schedule:data:" + std::string(id)});
  if (!r) return r.error();
  return FromHash(id, r->get());
}

Result<std::vector<ScheduleInfo>> RedisStore::ListSchedules(const std::string* user) {
  auto c = pool_.Get();
  if (!c) return c.error();
  auto ids = (*c)->Command({"ZRANGE", prefix_ + ":schedule:all", "0", "-1"});
  if (!ids) return ids.error();
  std::vector<std::string> names;
  std::vector<std::vector<std::string>> cmds;
  for (size_t i = 0; (*ids)->type == REDIS_REPLY_ARRAY && i < (*ids)->elements; ++i) {
    names.push_back(Str((*ids)->element[i]));
    cmds.push_back({"HGETALL", prefix_ + ":schedule:data:" + names.back()});
  }
  std::vector<ScheduleInfo> out;
  if (cmds.empty()) return out;
  auto replies = (*c)->Pipeline(cmds);
  if (!replies) return replies.error();
  for (size_t i = 0; i < names.size(); ++i) {
    auto s = FromHash(names[i], (*replies)[i].get());
    if (!s) continue;  // deleted between the two reads
    if (!user || s->user_id == *user) out.push_back(std::move(*s));
  }
  return out;
}

Result<ScheduleInfo> RedisStore::SetSchedulePaused(std::string_view id, bool paused, int64_t next_due) {
  auto r = Eval(WithPrelude(kSetPaused), {std::string(id), paused ? "1" : "0", std::to_string(next_due)},
                options_.clock(), /*durable=*/true);
  if (!r) return r.error();
  if (detail::Int(r->get()) == 0) return NotFound("no schedule " + std::string(id));
  return GetSchedule(id);
}

Result<void> RedisStore::DeleteSchedule(std::string_view id) {
  auto r = Eval(WithPrelude(kDeleteSchedule), {std::string(id)}, options_.clock(), /*durable=*/true);
  if (!r) return r.error();
  if (detail::Int(r->get()) == 0) return NotFound("no schedule " + std::string(id));
  return {};
}

Result<std::vector<ScheduleInfo>> RedisStore::DueSchedules(int64_t due_by, int limit) {
  std::vector<ScheduleInfo> out;
  auto c = pool_.Get();
  if (!c) return c.error();
  auto ids = (*c)->Command({"ZRANGEBYSCORE", prefix_ + ":schedule:due", "-inf", std::to_string(due_by), "LIMIT",
                            "0", std::to_string(limit)});
  if (!ids) return ids.error();
  for (size_t i = 0; (*ids)->type == REDIS_REPLY_ARRAY && i < (*ids)->elements; ++i) {
    const std::string id = Str((*ids)->element[i]);
    auto r = (*c)->Command({"HGETALL", prefix_ + ":schedule:data:" + id});
    if (!r) return r.error();
    auto s = FromHash(id, r->get());
    if (s && !s->paused) out.push_back(std::move(*s));
  }
  return out;
}

Result<bool> RedisStore::FireSchedule(std::string_view id, int64_t expected_due, int64_t new_due,
                                      const TaskInfo* task) {
  if (task)
    if (auto ok = CheckNew(*task); !ok) return ok.error();
  // Without a task the guard's own `return 1` ends the script before the Create text; its ARGV[4] (read by
  // the guard's EXISTS only with a task) is then a placeholder.
  std::vector<std::string> args = task ? CreateArgs(*task) : std::vector<std::string>{""};
  args.insert(args.end(), {std::string(id), std::to_string(expected_due), std::to_string(new_due),
                           task ? "1" : "0"});
  auto r = Eval(std::string(detail::ScriptPrelude()) + kFireGuard + detail::ScriptBody(detail::Script::Create),
                std::move(args), options_.clock(), /*durable=*/true);
  if (!r) return r.error();
  // The guard answers a number; the Create script after it a table ({1} created, anything else refused).
  const redisReply* reply = r->get();
  if (reply->type == REDIS_REPLY_ARRAY) {
    if (reply->elements < 1 || detail::Int(reply->element[0]) != 1) return false;
  } else if (detail::Int(reply) != 1) {
    return false;
  }
  if (task) {
    waiters_.NotifyReady();
    hub_.PublishCreated(*task);
  }
  return true;
}

}  // namespace wasmq::queue
