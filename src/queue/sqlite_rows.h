// File: src/queue/sqlite_rows.h
//
// Internal to the SQLite backend: the column list every full-row query selects, and its decoding.
#pragma once

#include <string>

#include "queue/sqlite_db.h"
#include "queue/store.h"

namespace wasmq::queue::detail {

// The columns of a full task row, in the order ReadTask expects.
inline constexpr const char* kTaskColumns =
    "id, user_id, mode, status, priority, source_image, config, progress, current_step, attempt, "
    "max_retries, "
    "timeout_ms, created_at, started_at, updated_at, finished_at, run_at, result, error, lease_owner, "
    "lease_token, lease_expires_at, trace_context, depends_on, waiting_on, held_run_at, batch_id";

// The run_at of a task waiting on dependencies (sqlite_store.cc, kFlowsSchema): never reached, so no claim
// hands it out; ReadTask shows its own run_at (held_run_at) instead.
inline constexpr int64_t kBlockedRunAt = int64_t{1} << 62;

// Decodes the current row (selected with kTaskColumns). `lease` (optional) receives the lease columns.
// Internal when a stored value does not decode: the row was not written by wasmq.
Result<TaskInfo> ReadTask(const Query& q, Lease* lease = nullptr);

// 'pending','processing' — the SQL list of the statuses from which `to` may be reached (model.h's table).
std::string FromStatusesSql(TaskStatus to);

}  // namespace wasmq::queue::detail
