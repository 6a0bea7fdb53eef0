// File: src/queue/flows.h
//
// The types of the Store's flow operations (store.h): creating with an idempotency key, batches, dead
// letters. What they mean for a client is in docs/queue.md, "Idempotency, flows, batches, dead letters".
//
// Dependencies (TaskInfo::depends_on) need no type of their own: a task created with some waits, `pending`
// with `waiting_on` listing the ones not done yet, outside every ready index (it cannot be claimed). The
// store resolves it inside the transaction (SQLite: a trigger) or script (Redis) that finishes a dependency:
// the last one done releases it (ready now, or at its run_at); one failed or cancelled cancels it with
// error DEPENDENCY_FAILED, and so on down the chain.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "queue/model.h"

namespace wasmq::queue {

// The machine codes (Error::reason) of the flow refusals.
namespace reason {
inline constexpr std::string_view kIdempotencyConflict = "IDEMPOTENCY_CONFLICT";  // 409: same key, other body
inline constexpr std::string_view kDependencyFailed = "DEPENDENCY_FAILED";  // 409: a dependency already failed
}  // namespace reason

struct SubmitOptions {
  // Scoped to the task's user_id. "" creates unconditionally (as Create does).
  std::string idempotency_key = {};
  // What the key promises: the same key with another fingerprint within the TTL is refused (Conflict,
  // reason IDEMPOTENCY_CONFLICT). IdempotencyFingerprint() of the request, or anything stable.
  std::string fingerprint = {};
  int64_t idempotency_ttl_ms = kDefaultIdempotencyTtlMs;
};

struct Submitted {
  TaskInfo task = {};     // as stored: the new task, or the one the key created before
  bool existing = false;  // the key had already created it: nothing new was stored
};

// A stable digest (16 hex digits, FNV-1a 64) of what a create request asks for (mode, source_image, config,
// priority, max_retries, timeout_ms, depends_on, user_id): the same body gives the same fingerprint on every
// node and version.
std::string IdempotencyFingerprint(const TaskCreateRequest& r);

inline constexpr size_t kMaxBatchSize = 1000;

struct BatchInfo {
  std::string batch_id = {};
  std::string user_id = {};
  int64_t created_at = 0;
  std::vector<std::string> task_ids = {};       // in the order they were submitted
  std::map<TaskStatus, int64_t> counts = {};    // every status, zeros included
  int64_t finished = 0;                         // done + failed + cancelled
  double progress = 0;                          // 0..100: the mean of the tasks' progress (finished = 100)
};
// Fills counts, finished and progress from the tasks' statuses and progress (one pair per task).
void TallyBatch(BatchInfo* b, const std::vector<std::pair<TaskStatus, int>>& tasks);

// Failed tasks: those that ended `failed` (no attempt left, or an error not worth retrying).
struct DeadLetterQuery {
  std::string user_id = {};     // "" every user
  std::string mode = {};        // "" every mode
  std::string error_code = {};  // "" every code (the last error's)
  int page = 1;
  int page_size = 20;
};
struct DeadLetterPage {
  std::vector<TaskInfo> tasks = {};  // newest failure first
  int64_t total = 0;
  int page = 1;
  int page_size = 20;
  bool has_more = false;
};

Json ToJson(const BatchInfo& b);

}  // namespace wasmq::queue
