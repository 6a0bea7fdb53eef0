// File: src/queue/redis_events.cc
//
// The Redis store's subscriber: one connection SUBSCRIBEd to `{prefix}:task:events`, read by one thread.
// Every script publishes its committed change there as `origin|kind|id|mode|status|progress|attempt|at|step`
// (step last: it may hold '|'). Messages from this very store object are skipped (it already told its
// subscribers, synchronously); the others go to the subscribers — and, when they say a task became ready, to
// the blocked Dequeue calls.
//
// The thread blocks in a read with no timeout: an idle store sends and receives nothing. When the
// connection breaks (Redis restarted, network cut, a failover) it reconnects with backoff — at once when
// the sentinel watcher says the primary moved — and then wakes every waiter once, because changes
// announced while it was away were not heard.
#include <charconv>

#include "queue/redis_store.h"

namespace wasmq::queue {

using detail::SplitFields;
using detail::ToInt;

Subscription RedisStore::Subscribe(EventCallback callback) {
  EnsureSubscriber();
  return hub_.Subscribe(std::move(callback));
}

void RedisStore::EnsureSubscriber() {
  base::MutexLock lock(sub_mu_);
  if (!sub_started_) {
    sub_started_ = true;
    subscriber_ = std::thread([this] { SubscriberLoop(); });
  }
  // Bounded: with Redis down, callers go on (their own calls will say Unavailable).
  sub_cv_.WaitFor(lock, std::chrono::seconds(6),
                  [&]() REQUIRES(sub_mu_) { return sub_first_try_done_ || stopping_; });
}

bool RedisStore::OnMessage(std::string_view payload) {
  auto f = SplitFields(payload, 9);
  if (f.size() != 9) return false;
  if (f[0] == origin_) return true;
  TaskEvent e;
  if (f[1] == "created") {
    e.kind = TaskEvent::Kind::Created;
  } else if (f[1] == "progress") {
    e.kind = TaskEvent::Kind::Progress;
  } else if (f[1] == "status") {
    e.kind = TaskEvent::Kind::Status;
  } else {
    return false;
  }
  auto status = ParseStatus(f[4]);
  if (!status) return false;
  e.task_id = std::string(f[2]);
  e.mode = std::string(f[3]);
  e.status = *status;
  e.progress = static_cast<int>(ToInt(f[5]));
  e.attempt = static_cast<int>(ToInt(f[6]));
  e.at = ToInt(f[7]);
  e.current_step = std::string(f[8]);
  // With a running limit, any task leaving `processing` may let a held-back user's task go.
  if (e.kind == TaskEvent::Kind::Created ||
      (e.kind == TaskEvent::Kind::Status &&
       (e.status == TaskStatus::Pending ||
        (e.status != TaskStatus::Processing && options_.fairness.AnyRunningLimit()))))
    waiters_.NotifyReady();
  hub_.Publish({e});
  return true;
}

void RedisStore::SubscriberLoop() {
  const std::string channel = prefix_ + ":task:events";
  int failures = 0;
  for (;;) {
    {
      base::MutexLock lock(sub_mu_);
      if (stopping_) return;
    }
    std::unique_ptr<detail::Connection> conn;
    if (auto c = detail::Connection::Open(pool_.address(), std::chrono::seconds(5))) {
      auto r = (*c)->Command({"SUBSCRIBE", channel});
      if (r && (*r)->type == REDIS_REPLY_ARRAY) conn = std::move(*c);
    }
    // Subscribed: whatever became ready while nobody listened is looked at again. Before EnsureSubscriber
    // returns, so a waiter starting now counts this wake-up as already seen (its first claim follows it)
    // instead of claiming once more for nothing.
    if (conn) waiters_.NotifyReady();
    {
      base::MutexLock lock(sub_mu_);
      sub_first_try_done_ = true;
      if (stopping_) return;
      sub_conn_ = conn.get();
    }
    sub_cv_.NotifyAll();
    if (conn) {
      failures = 0;
      conn->SetReadTimeout(std::nullopt);
      for (;;) {
        auto m = conn->Read();
        if (!m) break;
        const redisReply* r = m->get();
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && detail::Str(r->element[0]) == "message")
          OnMessage(detail::Str(r->element[2]));
      }
      base::MutexLock lock(sub_mu_);
      sub_conn_ = nullptr;
    }
    base::MutexLock lock(sub_mu_);
    sub_cv_.WaitFor(lock, detail::ReconnectBackoff(++failures),
                    [&]() REQUIRES(sub_mu_) { return stopping_ || reconnect_now_; });
    if (reconnect_now_) failures = 0;
    reconnect_now_ = false;
  }
}

}  // namespace wasmq::queue
