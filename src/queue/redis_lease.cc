// File: src/queue/redis_lease.cc
//
// The Redis store's worker side: Dequeue (claim under a lease) and every lease-guarded write. Each is one
// script that checks the lease — status = processing, lease_owner and lease_token — and applies the change in
// the same atomic step; a refusal says why (LeaseRefusal, store_rules.h, as for the SQLite store). The
// waiting of a blocked Dequeue is ReadyWaiters' (waiters.h), woken by the subscriber thread.
#include <algorithm>

#include "queue/json.h"
#include "queue/redis_store.h"
#include "queue/redis_task.h"
#include "queue/store_rules.h"

namespace wasmq::queue {

using detail::Int;
using detail::Script;
using detail::Str;

namespace {

// A guarded script's refusal ({1, status, owner, token} or {2}) as the error a caller sees.
Error LeaseError(const Lease& lease, const redisReply* reply, TaskStatus to) {
  std::optional<detail::FoundTask> found;
  if (Int(reply->element[0]) == 1)
    found = detail::FoundTask{Str(reply->element[1]), Str(reply->element[2]), Str(reply->element[3])};
  return detail::LeaseRefusal(lease, found, to, "redis");
}

// A guarded script's success {0, mode, attempt, progress, step, at} as an event.
TaskEvent EventFrom(const Lease& lease, const redisReply* reply, TaskEvent::Kind kind, TaskStatus status) {
  return detail::GuardedEvent(
      lease, kind, status,
      {Str(reply->element[1]), static_cast<int>(Int(reply->element[2])),
       static_cast<int>(Int(reply->element[3])), Str(reply->element[4]), Int(reply->element[5])});
}

bool IsGuardReply(const redisReply* r) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1) return false;
  switch (Int(r->element[0])) {
    case 0:
    case 3:  // a finish already applied (FinishMany)
      return r->elements == 6;
    case 2:
      return true;
    default:
      return r->elements == 4;
  }
}

const char* KindName(Finish::Kind k) {
  switch (k) {
    case Finish::Kind::Complete:
      return "complete";
    case Finish::Kind::Fail:
      return "fail";
    case Finish::Kind::Retry:
      return "retry";
    case Finish::Kind::Release:
      return "release";
  }
  return "?";
}

}  // namespace

Result<std::vector<Claimed>> RedisStore::TryClaim(const DequeueRequest& req, int64_t* next_due) {
  *next_due = 0;
  // The weights and running limits the claim applies (fairness.h), for the users that have their own.
  auto limits = [](const UserLimits& l) { return Json{{"w", l.weight}, {"r", l.max_running}}; };
  Json users = Json::object();
  for (const auto& [user, l] : options_.fairness.users) users[user] = limits(l);
  const Json fairness = {{"d", limits(options_.fairness.defaults)},
                         {"u", users},
                         {"any_r", options_.fairness.AnyRunningLimit()}};
  std::vector<std::string> args = {req.owner, std::to_string(req.lease_ms),
                                   std::to_string(std::max(1, req.max_tasks)), fairness.dump()};
  args.insert(args.end(), req.modes.begin(), req.modes.end());
  auto r = Call(Script::Claim, std::move(args), options_.clock());
  if (!r) return r.error();
  const redisReply* reply = r->get();
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
    return Internal("redis: unexpected claim reply");
  std::vector<Claimed> out;
  if (Int(reply->element[0]) == 0) {
    *next_due = Int(reply->element[1]);
    return out;
  }
  const redisReply* tasks = reply->element[1];
  for (size_t i = 0; i < tasks->elements; ++i) {
    Claimed c;
    auto t = detail::ReadRedisTask(tasks->element[i], &c.lease);
    if (!t) return t.error();
    c.task = std::move(*t);
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::vector<Claimed>> RedisStore::Dequeue(const DequeueRequest& req) {
  // Subscribed before the first look: a task made ready after it is announced to this waiter, which waits
  // sending nothing.
  detail::ClaimSource source{.clock = options_.clock,
                             .try_claim = [&](int64_t* next_due) { return TryClaim(req, next_due); }};
  if (req.wait.count() > 0) source.prepare = [this] { EnsureSubscriber(); };
  return waiters_.Dequeue(req, source, hub_);
}

Result<int64_t> RedisStore::Heartbeat(const Lease& lease, int64_t lease_ms) {
  auto r = Call(Script::Heartbeat,
                {lease.task_id, lease.owner, std::to_string(lease.token), std::to_string(lease_ms)},
                options_.clock());
  if (!r) return r.error();
  if (!IsGuardReply(r->get())) return Internal("redis: unexpected heartbeat reply");
  if (Int((*r)->element[0]) != 0) return LeaseError(lease, r->get(), TaskStatus::Processing);
  return Int((*r)->element[5]);
}

Result<void> RedisStore::Progress(const Lease& lease, int percent, std::string_view step) {
  if (auto ok = detail::CheckProgress(percent, &step); !ok) return ok;
  auto r = Call(
      Script::Progress,
      {lease.task_id, lease.owner, std::to_string(lease.token), std::to_string(percent), std::string(step)},
      options_.clock());
  if (!r) return r.error();
  if (!IsGuardReply(r->get())) return Internal("redis: unexpected progress reply");
  if (Int((*r)->element[0]) != 0) return LeaseError(lease, r->get(), TaskStatus::Processing);
  hub_.Publish({EventFrom(lease, r->get(), TaskEvent::Kind::Progress, TaskStatus::Processing)});
  return {};
}

std::string RedisStore::FinishMark(const Finish& f) {
  return f.lease.owner + "|" + std::to_string(f.lease.token) + "|" + KindName(f.kind);
}

std::vector<Result<void>> RedisStore::FinishMany(const std::vector<Finish>& items) {
  if (items.empty()) return {};
  std::vector<std::string> marks;
  std::vector<bool> doubtful;
  {
    base::MutexLock lock(unknown_mu_);
    for (const Finish& f : items) {
      marks.push_back(FinishMark(f));
      doubtful.push_back(unknown_finishes_.contains(marks.back()));
    }
  }
  std::vector<std::string> args = {std::to_string(items.size())};
  args.reserve(1 + items.size() * 7);
  for (size_t i = 0; i < items.size(); ++i) {
    const Finish& f = items[i];
    args.push_back(KindName(f.kind));
    args.push_back(f.lease.task_id);
    args.push_back(f.lease.owner);
    args.push_back(std::to_string(f.lease.token));
    switch (f.kind) {
      case Finish::Kind::Complete:
        args.push_back(ToJson(f.result).dump());
        break;
      case Finish::Kind::Fail:
      case Finish::Kind::Retry:
        args.push_back(ToJson(f.error).dump());
        break;
      case Finish::Kind::Release:
        args.emplace_back();
        break;
    }
    args.push_back(std::to_string(f.run_at));
    args.push_back(doubtful[i] ? "1" : "0");
  }
  auto r = Call(Script::Finish, std::move(args), options_.clock(), /*durable=*/true);
  {
    // Unavailable: the script may have run (the reply or the WAIT was lost). The caller's next try of
    // these finishes may then find them applied, and is told so instead of being refused.
    base::MutexLock lock(unknown_mu_);
    for (const std::string& m : marks) {
      if (r) {
        unknown_finishes_.erase(m);
      } else if (r.error().code == Code::Unavailable) {
        if (unknown_finishes_.size() >= kMaxUnknownFinishes) unknown_finishes_.clear();
        unknown_finishes_.insert(m);
      }
    }
  }
  if (!r) return std::vector<Result<void>>(items.size(), r.error());
  const redisReply* reply = r->get();
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != items.size())
    return std::vector<Result<void>>(items.size(), Internal("redis: unexpected finish reply"));
  std::vector<Result<void>> out;
  std::vector<TaskEvent> events;
  bool ready = false;
  for (size_t i = 0; i < items.size(); ++i) {
    const redisReply* one = reply->element[i];
    const TaskStatus to = detail::StatusAfter(items[i].kind);
    if (!IsGuardReply(one)) {
      out.push_back(Internal("redis: unexpected finish reply"));
    } else if (Int(one->element[0]) == 3) {
      out.emplace_back();  // applied by an earlier try of this call: its event went out then
    } else if (Int(one->element[0]) != 0) {
      out.push_back(LeaseError(items[i].lease, one, to));
    } else {
      events.push_back(EventFrom(items[i].lease, one, TaskEvent::Kind::Status, to));
      // A finished attempt also frees a slot of its user's running limit.
      ready = ready || to == TaskStatus::Pending || options_.fairness.AnyRunningLimit();
      out.emplace_back();
    }
  }
  if (ready) waiters_.NotifyReady();
  hub_.Publish(events);
  return out;
}

}  // namespace wasmq::queue
