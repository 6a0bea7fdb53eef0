// File: src/queue/store_rules.h
//
// Internal to the queue part (include queue/store.h instead): the rules every backend applies the same way,
// so that the SQLite and Redis stores accept the same requests and refuse with the same words. A backend
// reads its own storage; these decide what it means.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/store.h"

namespace wasmq::queue::detail {

// What a store found where a write guarded by a lease was refused (the guard matched nothing).
struct FoundTask {
  std::string status;  // as stored
  std::string owner;   // the lease holder now, when processing
  std::string token;   // its fencing token
};

// Why a write guarded by `lease` (heading for status `to`) was refused: NotFound when the task is gone
// (`found` empty), Internal for a status the store cannot parse (`where`: "the database", "redis"), else
// Conflict saying whether the task left `processing` or is held under another lease.
Error LeaseRefusal(const Lease& lease, const std::optional<FoundTask>& found, TaskStatus to,
                   std::string_view where);

// Why Cancel changed nothing: NotFound, Internal (unparsable status), or the transition's Conflict.
Error CancelRefusal(std::string_view task_id, const std::optional<std::string>& status,
                    std::string_view where);

// Progress's arguments: InvalidArgument unless percent is 0..100; a step past kMaxStepLength is cut.
Result<void> CheckProgress(int percent, std::string_view* step);

// A list page the stores can serve: page ≥ 1, page_size 1..kMaxPageSize.
Result<void> CheckPage(const ListQuery& q);

// The status a Finish item leads to, and whether it makes the task ready to claim again.
TaskStatus StatusAfter(Finish::Kind kind);
inline bool MakesReady(Finish::Kind kind) { return StatusAfter(kind) == TaskStatus::Pending; }

// The event of a lease-guarded write that was applied, from the row as the store returned it.
struct ChangedRow {
  std::string mode;
  int attempt = 0;
  int progress = 0;
  std::string current_step;
  int64_t at = 0;
};
TaskEvent GuardedEvent(const Lease& lease, TaskEvent::Kind kind, TaskStatus to, ChangedRow row);

// One task RecoverLeases put back (status "pending") or failed: into the report and the events.
void NoteRecovered(std::string task_id, std::string_view status, std::string mode, int attempt, int64_t now,
                   RecoveryReport* report, std::vector<TaskEvent>* events);

}  // namespace wasmq::queue::detail
