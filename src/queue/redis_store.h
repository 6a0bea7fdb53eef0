// File: src/queue/redis_store.h
//
// The fleet Store: tasks in Redis, shared by API nodes and worker processes on many machines. The key layout
// (the seed's `{prefix}:task:queue`, `{prefix}:task:data:{id}`, `{prefix}:task:processing`, plus the sorted
// sets that priorities, delays and leases need) is documented in redis_scripts.cc and docs/queue.md.
//
// - Atomic: every state change is one Lua script (loaded once, called by SHA): Redis runs it without
//   interleaving anything else, so a check (the lease guard, the transition table) and the change it allows
//   are one step, whichever node runs it. A crash of the calling process at any instant leaves either the old
//   state or the new one.
// - Durable as far as Redis is: with appendonly on, a change is in the AOF (the kernel's page cache) before
//   its reply is sent, so killing redis-server loses nothing acknowledged; appendfsync decides about power
//   cuts.
// - Events: each script PUBLISHes its change on `{prefix}:task:events`. Subscribe delivers this store's own
//   changes synchronously on the calling thread (as the SQLite store does) and every other process's
//   changes from a subscriber thread, so a WebSocket watcher on any API node and a worker pool on any machine
//   (cancel) hear about every change.
// - Blocking claim: an idle Dequeue sends no command. It waits on a condition variable that the subscriber
//   thread signals when a task becomes ready anywhere (a `created` event or a status event to `pending`);
//   the subscriber connection is idle meanwhile. A delayed task's due time wakes it too.
// - Connection loss: a call fails with Unavailable (the pool retries it later); connections reconnect with
//   backoff (100 ms doubling to 5 s), the subscriber too, and then every waiter claims once more, so nothing
//   announced while it was away is missed. Open fails with a clear message when Redis is unreachable or the
//   password is wrong.
// - Sentinel (redis+sentinel://): connections go to the primary the sentinels name. A failover is followed
//   three ways: a broken connection or a READONLY reply drops the connection (the next one rediscovers),
//   and a watcher thread SUBSCRIBEd to +switch-master on a sentinel makes every pooled connection and the
//   event subscriber reconnect at once. Writes that acknowledge something (create, finish, cancel) are
//   followed by WAIT, so an acknowledged change is on a replica before it is acknowledged and survives the
//   primary's loss (docs/queue.md, "Redis Sentinel").
// - Times come from StoreOptions::clock on each node; lease expiry compares them, so nodes' clocks must
//   agree to well within a lease (NTP).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>

#include "base/mutex.h"
#include "queue/event_hub.h"
#include "queue/redis_conn.h"
#include "queue/redis_scripts.h"
#include "queue/store.h"
#include "queue/waiters.h"

namespace wasmq::queue {

class RedisStore final : public Store {
 public:
  // Connects (failing with Unavailable and the reason when Redis cannot be reached or refuses the
  // credentials) and loads the scripts. `prefix` names the keys ("formy" gives formy:task:queue, …).
  static Result<std::unique_ptr<RedisStore>> Open(const detail::RedisAddress& address,
                                                  const std::string& prefix, StoreOptions options = {});
  ~RedisStore() override;

  std::string_view backend() const override { return "redis"; }
  Result<void> Ping() override;
  Result<void> Create(const TaskInfo& task) override;
  Result<TaskInfo> Get(std::string_view task_id) override;
  Result<TaskListResponse> List(const ListQuery& q) override;
  Result<TaskInfo> Cancel(std::string_view task_id) override;
  Result<QueueStats> Stats() override;
  Result<QueueStats> UserStats(std::string_view user_id) override;
  Result<std::vector<Claimed>> Dequeue(const DequeueRequest& req) override;
  void WakeWaiters() override;
  Result<int64_t> Heartbeat(const Lease& lease, int64_t lease_ms) override;
  Result<void> Progress(const Lease& lease, int percent, std::string_view step) override;
  std::vector<Result<void>> FinishMany(const std::vector<Finish>& items) override;
  Result<RecoveryReport> RecoverLeases(
      const std::function<bool(std::string_view owner)>& owner_dead) override;
  Result<std::vector<std::string>> Cleanup(int64_t finished_before, int limit) override;
  Subscription Subscribe(EventCallback callback) override;
  // redis_history.cc
  Result<std::vector<HistoryEvent>> History(std::string_view task_id) override;
  Result<TaskInfo> Requeue(std::string_view task_id) override;
  Result<void> PutWorker(const WorkerInfo& worker) override;
  Result<std::vector<WorkerInfo>> Workers() override;
  Result<std::vector<FinishedTask>> Finished(int64_t from, int64_t to, const std::string* user) override;
  // redis_flows.cc
  Result<Submitted> Submit(const TaskInfo& task, const SubmitOptions& options) override;
  Result<void> CreateBatch(const BatchInfo& batch, const std::vector<TaskInfo>& tasks) override;
  Result<BatchInfo> GetBatch(std::string_view batch_id) override;
  Result<DeadLetterPage> DeadLetters(const DeadLetterQuery& q) override;
  // redis_schedules.cc
  Result<void> CreateSchedule(const ScheduleInfo& s) override;
  Result<ScheduleInfo> GetSchedule(std::string_view schedule_id) override;
  Result<std::vector<ScheduleInfo>> ListSchedules(const std::string* user) override;
  Result<ScheduleInfo> SetSchedulePaused(std::string_view schedule_id, bool paused, int64_t next_due) override;
  Result<void> DeleteSchedule(std::string_view schedule_id) override;
  Result<std::vector<ScheduleInfo>> DueSchedules(int64_t due_by, int limit) override;
  Result<bool> FireSchedule(std::string_view schedule_id, int64_t expected_due, int64_t new_due,
                            const TaskInfo* task) override;

  const std::string& prefix() const { return prefix_; }

 private:
  RedisStore(const detail::RedisAddress& address, std::string prefix, StoreOptions options);

  // Runs a script on a pooled connection; prefix, origin and now go first. `durable`: then WAIT for the
  // replicas the options ask for; Unavailable when they do not confirm in time.
  Result<detail::Reply> Call(detail::Script script, std::vector<std::string> args, int64_t now,
                             bool durable = false);
  // The Create script's arguments for `t` (also what a schedule's firing passes on to it).
  static std::vector<std::string> CreateArgs(const TaskInfo& t);
  // EVAL of a script text that is not one of redis_scripts.h's (the schedules'), with Call's arguments and
  // WAIT.
  Result<detail::Reply> Eval(const std::string& script, std::vector<std::string> args, int64_t now,
                             bool durable = false);
  // The Stats script: no args for every task, {"1", user} for one user's.
  Result<QueueStats> StatsOf(std::vector<std::string> args);
  // One claim attempt (redis_lease.cc). When nothing was claimed, *next_due is the earliest run_at of a
  // delayed task (0 if none).
  Result<std::vector<Claimed>> TryClaim(const DequeueRequest& req, int64_t* next_due);
  // redis_events.cc: the subscriber thread, started by the first Subscribe or blocking Dequeue. Returns
  // once the subscription is confirmed (or the first attempt failed), so a waiter cannot miss a change
  // made after it looked.
  void EnsureSubscriber() EXCLUDES(sub_mu_);
  void SubscriberLoop() EXCLUDES(sub_mu_);
  // owner|token|kind: what the Finish script records of the finish it applied.
  static std::string FinishMark(const Finish& f);
  // Decodes one pub/sub message; false for a message of another shape.
  bool OnMessage(std::string_view payload);
  // redis_sentinel_watch.cc: with Sentinel, a thread that listens for +switch-master on one sentinel after
  // another and, when this store's master moved, calls OnPrimaryChanged.
  void SentinelWatchLoop() EXCLUDES(sub_mu_);
  // Every connection reconnects now: the pool's, and the subscriber's (which re-subscribes on the new
  // primary and then wakes the waiters).
  void OnPrimaryChanged() EXCLUDES(sub_mu_);

  StoreOptions options_;
  std::string prefix_;
  std::string origin_;  // random per store object: its own events come back by pub/sub and are skipped
  int wait_replicas_;   // WAIT after durable writes; 0: none
  detail::ConnectionPool pool_;
  detail::EventHub hub_;

  // Blocked Dequeue calls; NotifyReady when a task became ready here, or anywhere as the subscriber heard.
  detail::ReadyWaiters waiters_;

  // Finishes whose last try failed with Unavailable after it may have been applied (FinishMany). Bounded:
  // forgetting one only means its retry is refused (CONFLICT) as before, never that anything is applied twice.
  static constexpr size_t kMaxUnknownFinishes = 4096;
  base::Mutex unknown_mu_;
  std::unordered_set<std::string> unknown_finishes_ GUARDED_BY(unknown_mu_);

  base::Mutex sub_mu_;
  base::CondVar sub_cv_;
  bool sub_started_ GUARDED_BY(sub_mu_) = false;
  bool sub_first_try_done_ GUARDED_BY(sub_mu_) = false;
  bool stopping_ GUARDED_BY(sub_mu_) = false;
  detail::Connection* sub_conn_ GUARDED_BY(sub_mu_) = nullptr;  // to interrupt its blocking read
  bool reconnect_now_ GUARDED_BY(sub_mu_) = false;  // the primary changed: skip the subscriber's backoff
  std::thread subscriber_;  // started under sub_mu_, joined by the destructor
  detail::Connection* watch_conn_ GUARDED_BY(sub_mu_) = nullptr;  // the sentinel watcher's, to interrupt
  std::thread sentinel_watcher_;  // started by Open with Sentinel, joined by the destructor
};

}  // namespace wasmq::queue
