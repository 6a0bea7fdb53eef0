// File: src/queue/sqlite_store.h
//
// The embedded Store: one SQLite file in WAL mode. The schema and why it is crash-safe are in
// docs/queue.md; the short version:
//
// - Every state change is one SQL statement (or one BEGIN IMMEDIATE … COMMIT when it needs two), so it is
//   one transaction: SQLite applies it entirely or not at all. A process killed at any instant (kill -9)
//   leaves either the old row or the new one; the next open rolls the WAL forward to the last commit.
// - synchronous=NORMAL (the default here): a commit is written to the WAL before the call returns, but the
//   WAL is fsync'ed only at checkpoints. A dead *process* loses nothing — its writes are in the kernel's page
//   cache — and the database is never corrupt. Only an OS crash or power cut can lose the last commits;
//   StoreOptions::sync_full (synchronous=FULL, an fsync per commit) closes that too, at ~100× the cost of a
//   commit on a spinning disk.
// - busy_timeout lets `wasmq serve` and `wasmq task` (another process) share the file: a writer waits for
//   the other's transaction instead of failing.
//
// Connections: one for writes (all changes, and Dequeue), one for reads (Get, List, Stats), each behind its
// own mutex; in WAL mode readers never wait for the writer. Statements are prepared once per connection.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "queue/event_hub.h"
#include "queue/sqlite_db.h"
#include "queue/store.h"
#include "queue/waiters.h"

namespace wasmq::queue {

class SqliteStore final : public Store {
 public:
  // Opens or creates the database at `path` and brings its schema up to date. Unavailable when the file
  // cannot be opened or was written by a newer wasmq.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path, StoreOptions options = {});
  ~SqliteStore() override;

  std::string_view backend() const override { return "sqlite"; }
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
  Subscription Subscribe(EventCallback callback) override { return hub_.Subscribe(std::move(callback)); }
  // sqlite_history.cc
  Result<std::vector<HistoryEvent>> History(std::string_view task_id) override;
  Result<TaskInfo> Requeue(std::string_view task_id) override;
  Result<void> PutWorker(const WorkerInfo& worker) override;
  Result<std::vector<WorkerInfo>> Workers() override;
  Result<std::vector<FinishedTask>> Finished(int64_t from, int64_t to, const std::string* user) override;
  // sqlite_flows.cc
  Result<Submitted> Submit(const TaskInfo& task, const SubmitOptions& options) override;
  Result<void> CreateBatch(const BatchInfo& batch, const std::vector<TaskInfo>& tasks) override;
  Result<BatchInfo> GetBatch(std::string_view batch_id) override;
  Result<DeadLetterPage> DeadLetters(const DeadLetterQuery& q) override;
  // sqlite_schedules.cc
  Result<void> CreateSchedule(const ScheduleInfo& s) override;
  Result<ScheduleInfo> GetSchedule(std::string_view schedule_id) override;
  Result<std::vector<ScheduleInfo>> ListSchedules(const std::string* user) override;
  Result<ScheduleInfo> SetSchedulePaused(std::string_view schedule_id, bool paused, int64_t next_due) override;
  Result<void> DeleteSchedule(std::string_view schedule_id) override;
  Result<std::vector<ScheduleInfo>> DueSchedules(int64_t due_by, int limit) override;
  Result<bool> FireSchedule(std::string_view schedule_id, int64_t expected_due, int64_t new_due,
                            const TaskInfo* task) override;

  // How often a blocked Dequeue checks for tasks submitted by *other processes* (in-process submissions wake
  // it at once). Default 100 ms.
  void set_external_poll(std::chrono::milliseconds interval) { external_poll_ = interval; }

 private:
  SqliteStore(std::unique_ptr<detail::Db> wdb, std::unique_ptr<detail::Db> rdb, StoreOptions options);

  // One claim attempt. When nothing was claimed, *next_due is the earliest run_at of a delayed task of an
  // allowed mode (0 if none).
  Result<std::vector<Claimed>> TryClaim(const DequeueRequest& req, int64_t* next_due) EXCLUDES(wmu_);
  // Create's per-user limits (fairness.h): RateLimited past max_pending or per_minute, else takes a token.
  Result<void> AdmitUser(const std::string& user, int64_t now) REQUIRES(wmu_);
  // Stats over every task (user == nullptr) or one user's.
  Result<QueueStats> StatsOf(const std::string* user);
  // Whether another connection committed since the last call (PRAGMA data_version).
  bool ExternalChange() EXCLUDES(wmu_);
  // After a write guarded by `lease` matched no row: reads the row for LeaseRefusal (store_rules.h).
  Error LeaseError(const Lease& lease, TaskStatus to) REQUIRES(wmu_);
  // Runs `UPDATE tasks SET <set>` guarded by `lease` (binding ?4.. through `bind`) and fills *e from the
  // row; LeaseError when the guard matched nothing.
  Result<void> GuardedUpdate(const Lease& lease, TaskStatus to, const std::string& set,
                             const std::function<void(detail::Query&)>& bind, TaskEvent* e) REQUIRES(wmu_);
  // sqlite_flows.cc. Checks t's dependencies (flows.h) and inserts it, waiting on those not done; inside the
  // caller's transaction when it has dependencies. *waits: whether it is not ready. Conflict for an id in use.
  Result<void> InsertTask(const TaskInfo& t, bool* waits) REQUIRES(wmu_);
  // The tasks waiting, directly or down a chain, on `task_id` (read before a change that finishes it).
  Result<std::vector<std::string>> Dependents(std::string_view task_id) REQUIRES(wmu_);
  // After that change: an event for each of them the triggers released or cancelled; *ready when any was
  // released.
  Result<void> DependentEvents(const std::vector<std::string>& ids, int64_t now, std::vector<TaskEvent>* events,
                               bool* ready) REQUIRES(wmu_);
  // One Finish item's guarded UPDATE.
  Result<void> ApplyFinish(const Finish& f, int64_t now, TaskEvent* e) REQUIRES(wmu_);

  // sqlite_group_commit.cc: group commit of Creates. A Create joins the group waiting to be written; the
  // first to find no write in progress leads: it inserts every waiting task in one transaction, then tells
  // each its own result. Concurrent producers (API threads, several submitters) then share commits: one
  // WAL write (an fsync with sync_full) for the whole group instead of one each.
  struct GroupedCreate {
    const TaskInfo* task;
    Result<void> result = {};
    bool written = false;
  };
  Result<void> CreateInGroup(const TaskInfo& t) EXCLUDES(group_mu_, wmu_);
  // Inserts the group: autocommit for one task, else BEGIN IMMEDIATE … COMMIT; sets each result.
  void WriteGroup(const std::vector<GroupedCreate*>& group) EXCLUDES(wmu_);

  StoreOptions options_;
  base::Mutex wmu_;
  std::unique_ptr<detail::Db> wdb_ GUARDED_BY(wmu_);
  int64_t data_version_ GUARDED_BY(wmu_) = -1;
  base::Mutex rmu_;
  std::unique_ptr<detail::Db> rdb_ GUARDED_BY(rmu_);

  base::Mutex group_mu_;
  base::CondVar group_cv_;                                   // a group was written
  std::vector<GroupedCreate*> group_ GUARDED_BY(group_mu_);  // waiting for the next group commit
  bool group_writing_ GUARDED_BY(group_mu_) = false;         // a leader is writing a group

  detail::ReadyWaiters waiters_;
  std::chrono::milliseconds external_poll_{100};

  detail::EventHub hub_;
};

}  // namespace wasmq::queue
