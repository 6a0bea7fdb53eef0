// File: src/queue/service.h
//
// TaskService: the task operations a product sees (the seed's manager.py), over any Store. It validates
// requests, names new tasks, fills the server's defaults, and leaves every state change to the Store (which
// enforces the transitions and leases). The REST API and `wasmq task` call it; the worker pool calls the
// Store's lease operations directly.
//
// Thread-safe: it holds no state of its own beyond its options.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <string_view>

#include "queue/store.h"

namespace wasmq::queue {

struct ServiceOptions {
  int default_max_retries = 3;
  int64_t default_timeout_ms = 300'000;
  // Modes accepted at submission besides the built-in three (registered pipeline names).
  std::set<std::string> extra_modes = {};
  std::function<int64_t()> clock = NowMs;
  // How long an idempotency key holds its task (WASMQ_IDEMPOTENCY_TTL_MS).
  int64_t idempotency_ttl_ms = kDefaultIdempotencyTtlMs;
};

// A dead-letter retry's outcome (RetryDeadLetters).
struct RetryReport {
  std::vector<std::string> retried = {};
  std::vector<std::pair<std::string, Error>> refused = {};  // e.g. no longer failed
};

class TaskService {
 public:
  // `store` must outlive the service.
  TaskService(Store& store, ServiceOptions options);

  // Validates `req` (InvalidArgument naming the field; an unregistered mode is refused listing the known
  // ones), gives the task a new id and stores it pending. Returns the stored task.
  Result<TaskInfo> Create(const TaskCreateRequest& req);
  // Create with req.idempotency_key and req.depends_on honoured (Store::Submit): existing = true when the
  // key's earlier task is returned.
  Result<Submitted> Submit(const TaskCreateRequest& req);
  // Validates every request (InvalidArgument naming "tasks[i].<field>"; no idempotency keys in a batch) and
  // stores them with a new batch id, all or none. 1..kMaxBatchSize requests, of `user_id`.
  Result<BatchInfo> CreateBatch(const std::vector<TaskCreateRequest>& reqs, const std::string& user_id);
  Result<BatchInfo> GetBatch(std::string_view batch_id);
  Result<DeadLetterPage> DeadLetters(const DeadLetterQuery& q);
  // Requeues every dead letter matching q (all pages, at most `limit`); each refused one (no longer failed)
  // is reported, not fatal.
  Result<RetryReport> RetryDeadLetters(DeadLetterQuery q, int limit);
  // What Create would store for `req` (validated, with a new id, defaults and times), without storing it:
  // for a caller that stores it in a transaction of its own (a schedule firing, Store::FireSchedule).
  Result<TaskInfo> NewTask(const TaskCreateRequest& req) const;
  Result<TaskInfo> Get(std::string_view task_id);
  Result<TaskListResponse> List(const ListQuery& q);
  // Conflict when the task is already finished.
  Result<TaskInfo> Cancel(std::string_view task_id);
  Result<QueueStats> Stats();
  Result<QueueStats> UserStats(std::string_view user_id);  // one user's tasks only

  // The seed's worker-side operations, for callers holding a lease (see store.h).
  Result<void> UpdateProgress(const Lease& lease, int percent, std::string_view step);
  Result<void> Complete(const Lease& lease, const TaskResult& result);
  Result<void> Fail(const Lease& lease, const TaskError& error);

  bool IsKnownMode(std::string_view mode) const;
  std::vector<std::string> KnownModes() const;  // sorted
  Store& store() { return store_; }

 private:
  Result<void> CheckTaskId(std::string_view task_id) const;
  // The validated task a request asks for, without an id yet.
  Result<TaskInfo> MakeTask(const TaskCreateRequest& req, int64_t now) const;

  Store& store_;
  ServiceOptions options_;
};

}  // namespace wasmq::queue
