// File: src/worker/runner.h
//
// Runs one attempt of a task: instantiates the pipeline's compiled module in a fresh wasm::Store with WASI —
// the task JSON on stdin, /in and /out preopened, stdout and stderr captured — plus the `wasmq` import
// module, and calls `_start`. The pipeline ABI (docs/queue.md):
//
//   (import "wasmq" "progress" (func (param i32 i32 i32)))   ;; percent 0..100, msg_ptr, msg_len (UTF-8)
//
// percent outside 0..100 is clamped; a message that does not lie inside the module's memory traps.
//
// Another thread stops a run through its RunControl (timeout, cancel, lost lease, shutdown): the module
// stops at its next loop back-edge or call, and a blocking WASI call returns at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "worker/registry.h"
#include "worker/workspace.h"

namespace wasmq::wasi {
class Wasi;
}

namespace wasmq::worker {

enum class StopReason { None, Timeout, Cancelled, LeaseLost, Shutdown };
std::string_view ToString(StopReason r);

// Thread-safe; the first reason given wins.
class RunControl {
 public:
  void Stop(StopReason reason);
  StopReason reason() const { return reason_.load(); }

  // For the runner: while attached, Stop() interrupts `store` and `wasi`.
  void Attach(wasm::Store* store, wasi::Wasi* wasi);
  void Detach();

 private:
  std::mutex mu_;
  wasm::Store* store_ = nullptr;  // guarded by mu_
  wasi::Wasi* wasi_ = nullptr;    // guarded by mu_
  std::atomic<StopReason> reason_{StopReason::None};
};

struct RunRequest {
  const wasm::Engine* engine = nullptr;  // the one the module was compiled with
  const wasm::Module* module = nullptr;
  std::string stdin_data = {};
  std::vector<std::string> args = {}, env = {};
  TaskDirs dirs = {};
  // Each wasmq.progress call. Returning false stops the module (its task is no longer ours).
  std::function<bool(int percent, std::string_view message)> on_progress = nullptr;
  RunControl* control = nullptr;
  size_t max_capture_bytes = 1u << 20;  // per stream
};

struct RunOutcome {
  std::optional<uint32_t> exit_code;  // the module ran to its end: 0 = success, else its exit status
  wasm::Error error = {};             // otherwise: why it did not (trap, interrupted, unlinkable, ...)
  std::string stdout_data = {}, stderr_data = {};
  int64_t duration_ms = 0;
  double instantiate_seconds = 0;  // imports, memory, data and element segments, start function
};

RunOutcome RunPipeline(const RunRequest& req);

// `text` with every invalid UTF-8 sequence replaced by U+FFFD, so it can go into JSON.
std::string SanitizeUtf8(std::string_view text);

}  // namespace wasmq::worker
