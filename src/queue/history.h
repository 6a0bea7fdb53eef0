// File: src/queue/history.h
//
// What the dashboard reads besides the tasks themselves: each task's recorded events (from which its
// attempts and timeline are built), the registry of running workers, and the finished tasks of a time
// window (throughput and durations over time). Both stores keep them (docs/queue.md, "History").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "queue/model.h"

namespace wasmq::queue {

// At most this many progress events are kept per task (the oldest go first); other events are all kept.
inline constexpr int kMaxProgressEvents = 200;

// One recorded change of a task, as the store keeps it.
//   kind      created | started | progress | retry_scheduled | handed_back | done | failed | cancelled
//             | retried (a user's retry of a failed task: back to pending, attempts counted from 0)
//   info      started: the lease owner of the attempt
//   detail    progress: the step; retry_scheduled and failed: the attempt's TaskError as JSON
struct HistoryEvent {
  int64_t at = 0;
  std::string kind = {};
  int attempt = 0;
  int progress = 0;
  std::string info = {};
  std::string detail = {};
};

// The API's "attempts" and "timeline" arrays (docs/api.md) built from a task's events, oldest first. A task
// stored before events were recorded gets what its row says (created, and its current attempt).
Json AttemptsJson(const TaskInfo& task, const std::vector<HistoryEvent>& events);
Json TimelineJson(const TaskInfo& task, const std::vector<HistoryEvent>& events);
// "host:pid" of a lease owner "wasmq/<host>/<pid>/…"; the owner itself when it has another shape.
std::string OwnerHostPid(std::string_view owner);

// A task a worker is running.
struct RunningTask {
  std::string task_id = {};
  std::string mode = {};
  int64_t started_at = 0;
  int progress = 0;
};

// A worker process as it announces itself at every heartbeat round.
struct WorkerInfo {
  std::string id = {};     // "host:pid:nonce" (from its lease owner name)
  std::string owner = {};  // its lease owner name: the tasks it runs are processing under this owner
  std::string host = {};
  int64_t pid = 0;
  int64_t started_at = 0, last_heartbeat = 0;
  int concurrency = 0;
  int64_t heartbeat_ms = 0;  // its heartbeat interval: it is gone after 3 missed rounds
  std::vector<RunningTask> running = {};  // filled by Store::Workers
};
// "host:pid:nonce", host, pid of a lease owner name (worker/owner.h's "wasmq/<host>/<pid>/<nonce>/…").
WorkerInfo WorkerFromOwner(std::string_view owner);

// A task that ended (done or failed) within a window, for the stats history.
struct FinishedTask {
  std::string mode = {};
  TaskStatus status = TaskStatus::Done;
  int64_t finished_at = 0;
  int64_t duration_ms = 0;
};

}  // namespace wasmq::queue
