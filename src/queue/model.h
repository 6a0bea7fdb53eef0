// File: src/queue/model.h
//
// The task model (DESIGN.md "The task model", field names from the Formy seed): statuses and their legal
// transitions, modes, and the types a client sees — TaskCreateRequest, TaskInfo, TaskResult, TaskError,
// TaskSummary, TaskListResponse — plus the queue statistics and the events watchers receive.
// JSON (de)serialisation is in json.h.
//
// Times are milliseconds since the Unix epoch, UTC (int64); JSON shows them as ISO 8601 with milliseconds
// ("2023-11-17T08:30:00.123Z"). An absent time is 0 here and null in JSON.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/error.h"

namespace wasmq::queue {

using Json = nlohmann::json;

// ---------------------------------------------------------------------------------------------------------
// Statuses and transitions
//
//   pending ──claim──► processing ──► done | failed
//      │  ◄──retry / hand-back / lease expired──┘
//      └──────────────► cancelled ◄── processing (the module is interrupted)
//
// done, failed and cancelled are terminal: nothing leaves them.
enum class TaskStatus { Pending, Processing, Done, Failed, Cancelled };
inline constexpr TaskStatus kAllStatuses[] = {TaskStatus::Pending, TaskStatus::Processing, TaskStatus::Done,
                                              TaskStatus::Failed, TaskStatus::Cancelled};

std::string_view ToString(TaskStatus s);  // "pending", "processing", ...
std::optional<TaskStatus> ParseStatus(std::string_view s);
bool IsTerminal(TaskStatus s);
bool CanTransition(TaskStatus from, TaskStatus to);
// OK, or Conflict "task <id> is <from>; it cannot become <to>".
Result<void> CheckTransition(std::string_view task_id, TaskStatus from, TaskStatus to);

// ---------------------------------------------------------------------------------------------------------
// Modes: the seed's three plus any pipeline registered by name. A name is 1-64 characters of
// [A-Za-z0-9_.-] starting with a letter (it also names files and metrics labels).
inline constexpr std::string_view kHeadSwap = "HEAD_SWAP";
inline constexpr std::string_view kBackgroundChange = "BACKGROUND_CHANGE";
inline constexpr std::string_view kPoseChange = "POSE_CHANGE";
const std::vector<std::string>& BuiltinModes();
bool IsValidModeName(std::string_view mode);

// Limits on what a client may send.
inline constexpr int kMinPriority = -100, kMaxPriority = 100;  // higher runs first
inline constexpr int kMaxRetriesLimit = 100;
inline constexpr int64_t kMaxTimeoutMs = 7 * 24 * 3600 * 1000LL;
inline constexpr int64_t kMaxDelayMs = 366 * 24 * 3600 * 1000LL;  // how far ahead a delayed task may be due
inline constexpr size_t kMaxConfigBytes = 64 * 1024;  // serialised `config`
inline constexpr size_t kMaxIdLength = 128;           // source_image, user_id
inline constexpr size_t kMaxStepLength = 1024;        // current_step is truncated beyond this
inline constexpr size_t kMaxTraceContext = 600;       // a traceparent and a tracestate (512 at most)

std::string FormatTime(int64_t ms);                       // ISO 8601 UTC, millisecond precision
std::optional<int64_t> ParseTime(std::string_view text);  // inverse; also accepts no fraction / an offset
int64_t NowMs();                                          // the system clock

// ---------------------------------------------------------------------------------------------------------
// The types

// What a client posts. Fields left unset take the server's defaults (configuration).
struct TaskCreateRequest {
  std::string mode = {};
  std::string source_image = {};  // an uploaded file id (img_…); staged into the pipeline's /in; may be empty
  Json config = Json::object();            // pipeline parameters, passed through untouched
  int priority = 0;                        // kMinPriority..kMaxPriority
  std::optional<int> max_retries = {};     // 0..kMaxRetriesLimit
  std::optional<int64_t> timeout_ms = {};  // 1..kMaxTimeoutMs
  // A delayed task: not handed out before this time (ms since the epoch; JSON `run_at`, RFC 3339), or
  // `delay_ms` after its creation. At most one of the two; neither: ready at once. Up to kMaxDelayMs ahead.
  int64_t run_at = 0;
  std::optional<int64_t> delay_ms = {};
  std::string user_id = {};                // set by the API from the caller's identity; may be empty
  // The trace context of the request that created it (trace::Serialize: a W3C traceparent, then "\n" and the
  // tracestate when there is one), so that the worker's spans continue that trace; set by the API, never
  // read from the request body. Empty when tracing is off.
  std::string trace_context = {};
  // Flows (docs/queue.md "Idempotency, flows, batches, dead letters"): the same key from the same user within
  // its TTL returns the task it created; the task waits until every task of depends_on is done.
  std::string idempotency_key = {};            // 1..kMaxIdempotencyKey printable ASCII; "" none
  std::vector<std::string> depends_on = {};    // at most kMaxDependencies existing task ids of the same user
};
inline constexpr size_t kMaxIdempotencyKey = 255;
inline constexpr size_t kMaxDependencies = 100;
inline constexpr int64_t kDefaultIdempotencyTtlMs = 24 * 3600 * 1000LL;

// What a finished pipeline produced.
struct TaskResult {
  std::vector<std::string> output_files = {};  // paths relative to the task's /out, sorted
  Json output = {};         // the module's stdout: parsed when it is JSON, else a string; null if empty
  int64_t duration_ms = 0;  // of the successful attempt
  // Where they are kept: the directory under DATA_DIR/tasks/<id>/ of the attempt the store accepted,
  // "out-<lease token>"; "" for results recorded before outputs were kept per attempt (then "out"). The
  // worker writes the files there before it records the result, so a reader that finds the result finds
  // them complete, and a late attempt (another token) never touches them. "out" or "out-<digits>" only.
  std::string output_dir = {};
};

// Why an attempt failed. The last one is kept on the task.
namespace error_code {
inline constexpr std::string_view kTrap = "TRAP";          // the module trapped
inline constexpr std::string_view kExit = "EXIT";          // the module exited non-zero
inline constexpr std::string_view kTimeout = "TIMEOUT";    // the per-task timeout interrupted it
inline constexpr std::string_view kResource = "RESOURCE";  // memory cap, stack exhausted
inline constexpr std::string_view kOutputTooLarge =
    "OUTPUT_TOO_LARGE";  // over the output quota or stdout cap
inline constexpr std::string_view kPipelineInvalid = "PIPELINE_INVALID";  // module cannot be instantiated
inline constexpr std::string_view kBadInput = "BAD_INPUT";                // the task's inputs are unusable
inline constexpr std::string_view kInputNotFound = "INPUT_NOT_FOUND";      // a config "*_image" names no upload
inline constexpr std::string_view kModuleUnavailable = "MODULE_UNAVAILABLE";  // config "module" could not be pulled
inline constexpr std::string_view kModuleUntrusted = "MODULE_UNTRUSTED";  // config "module" refused by trust or module policy
inline constexpr std::string_view kLeaseExpired = "LEASE_EXPIRED";  // its worker vanished, no retry left
inline constexpr std::string_view kInternal = "INTERNAL";           // the worker itself failed
inline constexpr std::string_view kDependencyFailed = "DEPENDENCY_FAILED";  // a task it depends on failed or was cancelled
}  // namespace error_code

struct TaskError {
  std::string code = {};  // one of error_code
  std::string message = {};
  int attempt = 0;               // which attempt failed (1-based)
  bool retryable = false;        // whether a retry could help
  std::string stderr_tail = {};  // the end of the module's stderr, if any
  int64_t at = 0;
};

struct TaskInfo {
  std::string task_id = {};
  std::string user_id = {};
  std::string mode = {};
  TaskStatus status = TaskStatus::Pending;
  int priority = 0;
  std::string source_image = {};
  Json config = Json::object();
  int progress = 0;               // percent, 0..100
  std::string current_step = {};  // the pipeline's text for what it is doing
  int attempt = 0;                // attempts started (a graceful hand-back does not count)
  int max_retries = 0;            // attempts allowed = 1 + max_retries
  int64_t timeout_ms = 0;
  int64_t created_at = 0, started_at = 0, updated_at = 0, finished_at = 0;
  int64_t run_at = 0;  // a pending task is not handed out before this (a delayed task, retry backoff)
  std::optional<TaskResult> result = {};
  std::optional<TaskError> error = {};
  std::string trace_context = {};  // TaskCreateRequest::trace_context; stored, never shown in the API's JSON
  std::vector<std::string> depends_on = {};  // as created
  std::vector<std::string> waiting_on = {};  // those not done yet: a pending task with any is not claimable
  std::string batch_id = {};                 // the batch that created it, if any
};

struct TaskSummary {
  std::string task_id = {};
  std::string mode = {};
  TaskStatus status = TaskStatus::Pending;
  int priority = 0;
  int progress = 0;
  std::string current_step = {};
  int64_t created_at = 0, updated_at = 0, finished_at = 0;
  int64_t run_at = 0;  // when a pending task becomes (or became) ready
};
TaskSummary Summarise(const TaskInfo& t);

struct TaskListResponse {
  std::vector<TaskSummary> tasks = {};  // newest first
  int64_t total = 0;                    // matching tasks, all pages
  int page = 1;                         // 1-based
  int page_size = 20;
  bool has_more = false;
};

// A List() query. Empty filters match everything.
inline constexpr int kMaxPageSize = 200;
struct ListQuery {
  std::optional<TaskStatus> status = {};
  std::string mode = {};
  std::string user_id = {};
  int page = 1;
  int page_size = 20;
};

struct ModeStats {
  int64_t done = 0, failed = 0;
  double mean_ms = 0, p95_ms = 0;  // over the `done` tasks still stored
};
struct QueueStats {
  std::map<TaskStatus, int64_t> counts = {};  // every status, zeros included
  int64_t queue_length = 0;                   // pending and ready to run now
  int64_t delayed = 0;                        // pending, waiting out a retry backoff
  int64_t processing = 0;
  std::map<std::string, ModeStats> modes = {};
};

// What a watcher is told, after the change is committed.
struct TaskEvent {
  enum class Kind { Created, Progress, Status };
  Kind kind = Kind::Status;
  std::string task_id = {};
  std::string mode = {};
  TaskStatus status = TaskStatus::Pending;
  int progress = 0;
  std::string current_step = {};
  int attempt = 0;
  int64_t at = 0;
};
std::string_view ToString(TaskEvent::Kind k);  // "created", "progress", "status"

}  // namespace wasmq::queue
