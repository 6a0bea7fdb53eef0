// File: src/queue/store.h
//
// The Store: where tasks live, and the only way anything changes them. Backends: SQLite (sqlite_store.h,
// embedded, the default) and Redis (redis_store.h, a fleet). Every method is safe to call from any thread, and several
// processes may share one store (`wasmq serve` and `wasmq task` on one SQLite file; a fleet on one Redis).
//
// ## Leases: who may write about a running task
//
// Dequeue claims pending tasks for a caller: each becomes `processing` under a Lease — the owner's name,
// an expiry time, and a fencing token that grows by one at every claim of that task. Every later write
// about the run (Heartbeat, Progress, Complete, Fail, Retry, Release) carries the Lease, and the store
// applies it only if the task is still `processing` under that very owner and token. Otherwise the write is
// refused with Conflict and nothing changes. This is what makes a stale worker harmless: one that stalled
// past its lease (the task was re-queued and claimed again, with a new token), or whose task was cancelled.
//
// The owner keeps its lease alive with Heartbeat. A lease that expires — its worker crashed, or hangs —
// is found by RecoverLeases, which puts the task back to `pending` (or fails it with LEASE_EXPIRED when no
// attempt is left: a task that kills its worker every time must not loop forever). Delivery is therefore
// at-least-once: a worker that loses its lease may have run the module, but its result is never recorded
// after another claim.
//
// ## Attempts, retries and hand-backs
//
// A claim starts an attempt (`attempt` + 1). A failed attempt either ends the task (Fail → `failed`) or
// goes back to the queue with a delay (Retry → `pending`, not handed out before `run_at`), keeping the error
// on the task. A graceful hand-back (Release, at shutdown) returns the task to `pending` at its old place and
// does not count the attempt. Order of hand-out (fairness.h): users round-robin, weighted; within one user,
// by run_at − priority · kPriorityAgingMs (higher priority first, aged so nothing starves), then FIFO.
//
// ## Transitions
//
// Every change obeys CanTransition (model.h); a change from the wrong status is refused with Conflict,
// naming the task's status. Each change is atomic: it happens completely or not at all, also when the
// process is killed at any instant (for SQLite: one transaction per change, WAL).
//
// ## Events
//
// Subscribe registers a callback told about every change made *through this Store object* after it is
// committed (a backend with pub/sub, such as Redis, also relays other processes' changes). Callbacks run on
// the thread that made the change (a relayed change: on the store's subscriber thread), one at a time; they
// must be quick and must not call back into the Store. The Subscription unsubscribes when destroyed, and
// waits for a callback in flight to return; it must not outlive the Store.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "queue/fairness.h"
#include "queue/flows.h"
#include "queue/history.h"
#include "queue/model.h"
#include "queue/schedules.h"

namespace wasmq::queue {

struct Lease {
  std::string task_id = {};
  std::string owner = {};  // e.g. "wasmq/host/1234/5f0c…" (see worker)
  int64_t token = 0;       // fencing token of this claim
  int attempt = 0;         // the attempt this claim started (1-based)
  int64_t expires_at = 0;  // ms since the epoch
};

struct Claimed {
  TaskInfo task = {};  // as it is after the claim: processing, attempt counted, started_at set
  Lease lease = {};
};

struct DequeueRequest {
  std::string owner = {};
  int64_t lease_ms = 30'000;
  std::vector<std::string> modes = {};  // hand out only these modes; empty means every mode
  int max_tasks = 1;                    // claim up to this many at once (one transaction)
  std::chrono::milliseconds wait{0};    // block up to this long when nothing is ready
  // Checked whenever the wait wakes up: true ends it with nothing claimed. Whoever makes it true then calls
  // WakeWaiters(), so the change cannot be missed (no lost wake-up between the check and the wait).
  std::function<bool()> give_up = nullptr;
};

// The end of an attempt, for FinishMany.
struct Finish {
  enum class Kind { Complete, Fail, Retry, Release };
  Kind kind = Kind::Complete;
  Lease lease = {};
  TaskResult result = {};  // Complete
  TaskError error = {};    // Fail, Retry
  int64_t run_at = 0;      // Retry
};

struct RecoveryReport {
  std::vector<std::string> requeued = {};  // back to pending
  std::vector<std::string> failed = {};    // no attempt left: failed with LEASE_EXPIRED
};

using EventCallback = std::function<void(const TaskEvent&)>;

// Unsubscribes when destroyed (or on Reset()).
class Subscription {
 public:
  Subscription() = default;
  explicit Subscription(std::function<void()> unsubscribe) : unsubscribe_(std::move(unsubscribe)) {}
  Subscription(Subscription&& o) noexcept : unsubscribe_(std::move(o.unsubscribe_)) {
    o.unsubscribe_ = nullptr;
  }
  Subscription& operator=(Subscription&& o) noexcept {
    if (this != &o) {
      Reset();
      unsubscribe_ = std::move(o.unsubscribe_);
      o.unsubscribe_ = nullptr;
    }
    return *this;
  }
  ~Subscription() { Reset(); }
  void Reset() {
    if (unsubscribe_) std::exchange(unsubscribe_, nullptr)();
  }

 private:
  std::function<void()> unsubscribe_;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual std::string_view backend() const = 0;  // "sqlite", "redis"
  // Whether the store answers (for /readyz). Unavailable otherwise.
  virtual Result<void> Ping() = 0;

  // ---- Clients

  // Stores a new task. `task` is complete (the service fills ids, defaults and times) and `pending`; a
  // run_at in the future makes it a delayed task. Conflict if the id exists; RateLimited past its user's
  // max_pending or per_minute (StoreOptions::fairness).
  virtual Result<void> Create(const TaskInfo& task) = 0;
  // NotFound for an unknown id.
  virtual Result<TaskInfo> Get(std::string_view task_id) = 0;
  // Newest first (created_at, then creation order), filtered and paged as `q` says.
  virtual Result<TaskListResponse> List(const ListQuery& q) = 0;
  // pending → cancelled, or processing → cancelled (its lease is revoked: the worker's next write is
  // refused and, told by the event, it interrupts the module). Conflict for a finished task. Returns the
  // task as cancelled.
  virtual Result<TaskInfo> Cancel(std::string_view task_id) = 0;
  virtual Result<QueueStats> Stats() = 0;
  // The same figures over one user's tasks only (the API's view with auth on: a user learns nothing of the
  // others' work). "" is the anonymous user.
  virtual Result<QueueStats> UserStats(std::string_view user_id) = 0;

  // ---- Workers

  // Claims up to req.max_tasks ready tasks (pending, run_at reached, mode allowed, the user under its
  // max_running) in the fair order above. Blocks up to req.wait while there is none; returns an empty vector when the wait ends empty
  // or WakeWaiters() is called. A backend wakes waiters without polling when a task becomes ready in this
  // process (SQLite: a condition variable); other processes' submissions are seen within a short interval.
  virtual Result<std::vector<Claimed>> Dequeue(const DequeueRequest& req) = 0;
  // Makes every Dequeue already called in this process return now, blocked or about to block (used at
  // shutdown). Not sticky: a Dequeue called after it blocks as usual (DequeueRequest::give_up stops those).
  virtual void WakeWaiters() = 0;

  // Extends the lease to now + lease_ms; returns the new expiry. Conflict when the lease is no longer held.
  virtual Result<int64_t> Heartbeat(const Lease& lease, int64_t lease_ms) = 0;
  // percent is 0..100 (InvalidArgument otherwise); step is truncated to kMaxStepLength.
  virtual Result<void> Progress(const Lease& lease, int percent, std::string_view step) = 0;
  // What every backend's Create checks first: a pending task with an id and a valid mode name.
  static Result<void> CheckNew(const TaskInfo& task);

  // The four ways an attempt ends; each is FinishMany of one item unless a backend has a faster path.
  // processing → done, progress 100, result kept.
  virtual Result<void> Complete(const Lease& lease, const TaskResult& result);
  // processing → failed, error kept.
  virtual Result<void> Fail(const Lease& lease, const TaskError& error);
  // processing → pending, not handed out before run_at; error kept; the attempt counts.
  virtual Result<void> Retry(const Lease& lease, const TaskError& error, int64_t run_at);
  // processing → pending at its old place; the attempt does not count (graceful shutdown).
  virtual Result<void> Release(const Lease& lease);
  // Applies several of the four above at once — in one transaction where the backend can, which is what
  // lets a busy worker pool record many short tasks for the price of one commit. Each item is guarded by
  // its own lease and gets its own Result, in order; a refused item does not stop the others.
  virtual std::vector<Result<void>> FinishMany(const std::vector<Finish>& items) = 0;

  // ---- Maintenance

  // Puts back every processing task whose lease has expired or whose owner `owner_dead` says is gone
  // (may be empty). A task with no attempt left is failed with LEASE_EXPIRED instead.
  virtual Result<RecoveryReport> RecoverLeases(
      const std::function<bool(std::string_view owner)>& owner_dead) = 0;
  // Deletes up to `limit` finished tasks (done, failed, cancelled) that finished before `finished_before`;
  // returns their ids so the caller can remove their files.
  virtual Result<std::vector<std::string>> Cleanup(int64_t finished_before, int limit) = 0;

  virtual Subscription Subscribe(EventCallback callback) = 0;

  // ---- History and the dashboard's views (history.h). The defaults answer Unavailable: a store that keeps
  // none of it (test doubles).

  // The task's recorded events, oldest first (at most kMaxProgressEvents progress events). NotFound for an
  // unknown id.
  virtual Result<std::vector<HistoryEvent>> History(std::string_view task_id);
  // failed → pending, ready now, attempts counted from 0 again (max_retries as before), error and result
  // cleared, history kept (a "retried" event). Conflict naming the status for a task that is not failed;
  // NotFound for an unknown id. Not a CanTransition change: only this call leaves `failed`.
  virtual Result<TaskInfo> Requeue(std::string_view task_id);
  // Adds or refreshes a worker in the registry (its heartbeat).
  virtual Result<void> PutWorker(const WorkerInfo& worker);
  // The workers heard from within 3 of their heartbeat intervals (the others are dropped), each with the
  // tasks processing under its owner name.
  virtual Result<std::vector<WorkerInfo>> Workers();
  // Done and failed tasks with from <= finished_at < to, of one user (or every user when `user` is null).
  virtual Result<std::vector<FinishedTask>> Finished(int64_t from, int64_t to, const std::string* user);

  // ---- Flows (flows.h). The defaults answer Unavailable (test doubles); Submit's, for a task without key,
  // dependencies or batch, is Create.

  // Create with an idempotency key, atomically: the key is claimed in the same transaction (script) that
  // stores the task, so of any number of concurrent calls with one key (any process, any node) exactly one
  // creates and the others get that task back (existing = true). A key whose fingerprint differs: Conflict,
  // reason IDEMPOTENCY_CONFLICT. task.depends_on: each must be an existing task of task.user_id
  // (InvalidArgument naming it otherwise, the same for another user's task as for an unknown one), not
  // failed or cancelled (Conflict, reason DEPENDENCY_FAILED); the task then waits for those not done yet.
  // With no key and no dependency this is Create. (The cron part calls it with the key
  // "schedule:<id>:<occurrence ms>" so that each occurrence is enqueued once.)
  virtual Result<Submitted> Submit(const TaskInfo& task, const SubmitOptions& options);
  // Stores every task (each checked as Submit checks it, without keys) and the batch, in one transaction:
  // all or none. batch.batch_id, user_id and created_at are set by the caller; task_ids are the tasks'.
  virtual Result<void> CreateBatch(const BatchInfo& batch, const std::vector<TaskInfo>& tasks);
  // The batch with its tasks' counts and progress. NotFound for an unknown id.
  virtual Result<BatchInfo> GetBatch(std::string_view batch_id);
  // Failed tasks, newest failure first, filtered and paged.
  virtual Result<DeadLetterPage> DeadLetters(const DeadLetterQuery& q);

  // ---- Cron schedules (schedules.h; the schedule part computes every next_due). The defaults answer
  // Unavailable (schedules.cc).

  // Conflict if the id exists.
  virtual Result<void> CreateSchedule(const ScheduleInfo& s);
  virtual Result<ScheduleInfo> GetSchedule(std::string_view schedule_id);  // NotFound for an unknown id
  // Oldest first; one user's (or every user's when `user` is null).
  virtual Result<std::vector<ScheduleInfo>> ListSchedules(const std::string* user);
  // Sets paused and next_due; returns the schedule as changed. NotFound for an unknown id.
  virtual Result<ScheduleInfo> SetSchedulePaused(std::string_view schedule_id, bool paused, int64_t next_due);
  virtual Result<void> DeleteSchedule(std::string_view schedule_id);  // NotFound for an unknown id
  // Unpaused schedules with next_due <= due_by, earliest first, at most `limit`.
  virtual Result<std::vector<ScheduleInfo>> DueSchedules(int64_t due_by, int limit);
  // The claim of one occurrence, atomic: if the schedule exists, is not paused and its next_due is still
  // `expected_due`, sets next_due = new_due and, when `task` is given, creates it (pending) and records it
  // as the schedule's last run — all or nothing. true: this call claimed the occurrence; false: it was
  // claimed by another caller, or the schedule was paused, changed or deleted meanwhile (nothing done).
  // However many nodes call it for the same occurrence, at most one gets true.
  virtual Result<bool> FireSchedule(std::string_view schedule_id, int64_t expected_due, int64_t new_due,
                                    const TaskInfo* task);
};

// Options common to the backends.
struct StoreOptions {
  std::function<int64_t()> clock = NowMs;  // ms since the epoch; tests inject a fake one
  // SQLite: synchronous=FULL (fsync at every commit) instead of NORMAL. NORMAL already loses nothing when
  // the *process* dies (kill -9); FULL also keeps the last commits through a power cut or kernel crash.
  bool sync_full = false;
  // Redis: the key prefix ({prefix}:task:queue, …); a `?prefix=` in the URL overrides it.
  std::string redis_prefix = "wasmq";
  // Redis: after a write that acknowledges something (create, finish, cancel), WAIT until this many
  // replicas have it, or fail the call with Unavailable after redis_wait_timeout_ms (the change may still
  // apply; it is not acknowledged). -1: 1 with Sentinel, 0 (no WAIT) with a plain redis:// URL.
  int redis_wait_replicas = -1;
  int64_t redis_wait_timeout_ms = 1000;
  // Weights and per-user limits (fairness.h): Create refuses past max_pending / per_minute, the claim
  // skips a user at max_running and serves users round-robin by weight.
  FairnessOptions fairness = {};
};

// Opens the store a URL names: "sqlite:PATH" (created when missing),
// "redis://[user:pass@]HOST:PORT/DB[?prefix=NAME]" or
// "redis+sentinel://[user:pass@]HOST:PORT,HOST:PORT,…/MASTER/DB[?prefix=NAME&sentinel_password=PASS]"
// (Unavailable, with the reason, when Redis cannot be reached or refuses the credentials, or no sentinel
// knows the master). InvalidArgument for any other URL.
Result<std::unique_ptr<Store>> OpenStore(std::string_view url, StoreOptions options = {});

}  // namespace wasmq::queue
