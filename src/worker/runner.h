// File: src/worker/runner.h
//
// Runs one attempt of a task: the pipeline's compiled module as a WASI command (wasi::RunCommand: a fresh
// wasm::Store) with the task JSON on stdin, /in and /out preopened, stdout and stderr captured, plus the
// `wasmq` import module. The pipeline ABI (docs/queue.md):
//
//   (import "wasmq" "progress" (func (param i32 i32 i32)))   ;; percent 0..100, msg_ptr, msg_len (UTF-8)
//   (import "wasmq" "log" (func (param i32 i32 i32)))        ;; level 0..3, msg_ptr, msg_len
//   (import "wasmq" "fail" (func (param i32 i32 i32 i32 i32)))  ;; code, message, retryable: ends the run
//   (import "wasmq" "engine_call" (func (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
//   (import "wasmq" "engine_response" (func (param i32 i32 i32 i32) (result i32)))
//
// The C view and the exact semantics are pipelines/include/wasmq.h. percent outside 0..100 is clamped; a
// pointer/length that does not lie inside the module's memory traps. An engine call blocks the module
// (no fuel runs) until the engine answers; RunControl::Stop aborts it within about 50 ms.
//
// Another thread stops a run through its RunControl (timeout, cancel, lost lease, shutdown): the module
// stops at its next loop back-edge or call, and a blocking WASI call returns at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engines/engines.h"
#include "storage/storage.h"
#include "wasi/wasi.h"
#include "worker/registry.h"

namespace wasmq::worker {

using storage::TaskDirs;  // an attempt's /in and /out (storage.h)

enum class StopReason { None, Timeout, Cancelled, LeaseLost, Shutdown };
std::string_view ToString(StopReason r);

// Thread-safe; the first reason given wins.
class RunControl {
 public:
  void Stop(StopReason reason);
  StopReason reason() const { return reason_.load(); }

  // For the runner: Stop() cancels the command (interrupting the module) and this token (aborting a
  // blocked engine call).
  wasi::CommandCancel& command_cancel() { return command_; }
  const engines::CancelToken& cancel_token() const { return cancel_; }

 private:
  engines::CancelToken cancel_;
  wasi::CommandCancel command_;
  std::atomic<StopReason> reason_{StopReason::None};
};

// stdout (the task's result) and stderr (its logs) are kept up to this size each; a result past it fails the
// task with OUTPUT_TOO_LARGE, logs past it are cut with a note.
inline constexpr size_t kMaxCaptureBytes = 1u << 20;

struct RunRequest {
  const wasm::Engine* engine = nullptr;  // the one the module was compiled with
  const wasm::Module* module = nullptr;
  std::string stdin_data = {};
  std::vector<std::string> args = {}, env = {};
  TaskDirs dirs = {};
  // Each wasmq.progress call. Returning false stops the module (its task is no longer ours).
  std::function<bool(int percent, std::string_view message)> on_progress = nullptr;
  // Each wasmq.log line that passes the rate limit: level 0..3 (debug, info, warn, error), sanitised text.
  std::function<void(int level, std::string_view text)> on_log = nullptr;
  // The engines wasmq.engine_call reaches; null: every call answers ENGINE_UNKNOWN.
  const engines::EngineRegistry* engines = nullptr;
  RunControl* control = nullptr;
  size_t max_capture_bytes = kMaxCaptureBytes;          // per stream
  uint64_t max_output_bytes = 0, max_output_files = 0;  // WASI's output quota on /out (0 = no limit)
};

// A wasmq.fail call: the module's own TaskError.
struct ModuleFailure {
  std::string code;     // UPPER_SNAKE_CASE, at most kMaxFailCodeBytes
  std::string message;  // sanitised UTF-8, at most kMaxFailMessageBytes
  bool retryable = false;
};
inline constexpr size_t kMaxFailCodeBytes = 64;
inline constexpr size_t kMaxFailMessageBytes = 4096;
inline constexpr size_t kMaxLogLineBytes = 2048;  // longer lines are cut
inline constexpr int kLogLinesPerSecond = 100;    // beyond it lines are dropped (and counted)

struct RunOutcome {
  std::optional<uint32_t> exit_code;  // the module ran to its end: 0 = success, else its exit status
  std::optional<ModuleFailure> failure;  // the module ended itself with wasmq.fail (exit_code is empty)
  int64_t log_lines_dropped = 0;         // over the log rate limit
  wasm::Error error = {};             // otherwise: why it did not (trap, interrupted, unlinkable, ...)
  std::string stdout_data = {}, stderr_data = {};
  uint64_t stdout_dropped = 0, stderr_dropped = 0;   // bytes past max_capture_bytes
  std::optional<std::string> output_quota_exceeded;  // which limit, when the module went over it
  int64_t duration_ms = 0;
  double instantiate_seconds = 0;  // imports, memory, data and element segments, start function
};

RunOutcome RunPipeline(const RunRequest& req);

// `text` with every invalid UTF-8 sequence replaced by U+FFFD, so it can go into JSON.
std::string SanitizeUtf8(std::string_view text);

}  // namespace wasmq::worker
