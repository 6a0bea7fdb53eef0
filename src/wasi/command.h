// File: src/wasi/command.h  (part of the public header: wasi/wasi.h includes it; include that)
//
// Running a WASI command module, the one way wasmq does it (`wasmq run`, the worker's pipelines, the
// `wasm` engine):
//
//   wasi::CommandRequest req;
//   req.engine = &engine;                           // its EngineConfig caps memory, tables and call depth
//   req.module = module.get();
//   req.wasi.args = {"pipeline.wasm"};              // args, env, preopens, stdio, capture cap, output quota
//   req.fuel = 10'000'000;                          // 0 = unlimited
//   req.deadline = steady_clock::now() + 30s;       // interrupted there, wherever the module is
//   req.cancel = &cancel;                           // cancel.Cancel() from any thread stops it too
//   req.add_imports = [&](wasm::Store& s, wasm::Imports& i) { ... };  // the embedder's own host functions
//   wasi::CommandResult r = wasi::RunCommand(std::move(req));
//   if (r.exit_code) ... else r.error, r.phase, r.stopped_by, r.backtrace
//
// Each run gets a fresh wasm::Store and (unless the caller brings one) a fresh Wasi context. Deadlines
// cost no thread per run: every run of the process registers with one timer thread (deadlines.h), which
// interrupts the store and the WASI context (Store::Interrupt, Wasi::Interrupt) when a deadline passes;
// CommandCancel does the same at once. The module stops at its next loop back-edge or call, and a blocking
// WASI call (poll_oneoff, a read of inherited stdin) returns at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "wasi/wasi.h"  // WasiConfig, Wasi (wasi.h includes this file at its end)
#include "wasm/wasm.h"

namespace wasmq::wasi {

// The one rule for "is this a WASI command" (the application ABI of wasi_snapshot_preview1): the module
// exports a function named `_start` and does not export `_initialize`, the mark of a reactor (the ABI
// makes the two kinds exclusive and asks implementations to refuse a module of both). `_start`'s type,
// () -> (), is checked when the command runs (Unlinkable before any of the module's code runs).
// WhyNotCommand says what is wrong, completing "the module ..." ("exports no _start function"), or nullopt
// for a command.
std::optional<std::string> WhyNotCommand(const wasm::Module& module);
inline bool IsCommand(const wasm::Module& module) { return !WhyNotCommand(module).has_value(); }

// Stops a run from any thread: the running module (or the next run given this object, as soon as it
// starts) is interrupted. Cancel() is idempotent and thread-safe. One CommandCancel serves one run at a time.
class CommandCancel {
 public:
  void Cancel() EXCLUDES(mu_);
  bool cancelled() const EXCLUDES(mu_);

  // For RunCommand: while attached, Cancel() interrupts these (and does so at once when already cancelled).
  void Attach(wasm::Store* store, Wasi* wasi) EXCLUDES(mu_);
  void Detach() EXCLUDES(mu_);

 private:
  mutable base::Mutex mu_;
  bool cancelled_ GUARDED_BY(mu_) = false;
  wasm::Store* store_ GUARDED_BY(mu_) = nullptr;
  Wasi* wasi_ GUARDED_BY(mu_) = nullptr;
};

// What RunCommand runs instead of `_start` (`wasmq run --invoke`): called with the instance once it is
// instantiated, under the same deadline, cancellation and fuel. Its Result is the run's: a value is the
// exit code, an Error the failure.
using CommandEntry =
    std::function<wasm::Result<uint32_t>(wasm::Store& store, const wasm::Instance& instance)>;

struct CommandRequest {
  // The engine the module was compiled with; its EngineConfig is the run's memory cap (per memory), table
  // cap and call-depth limit.
  const wasm::Engine* engine = nullptr;
  const wasm::Module* module = nullptr;
  // The WASI context: made from `wasi` (args, env, preopens, stdio modes, capture cap, output quota), or
  // `context` when the caller made one already (to report a bad preopen before reading the module, say;
  // it must outlive the call). A context serves one run.
  WasiConfig wasi = {};
  Wasi* context = nullptr;
  uint64_t fuel = 0;  // each loop iteration and call costs 1; 0 = unlimited
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();  // max: none
  CommandCancel* cancel = nullptr;
  // Adds the embedder's host functions (e.g. the worker's `wasmq` module) after WASI's; an entry Add()ed
  // under a WASI name wins over WASI's.
  std::function<void(wasm::Store& store, wasm::Imports& imports)> add_imports = nullptr;
  CommandEntry entry = nullptr;  // null: `_start` (RunCommand(store, instance)), after checking IsCommand
};

// Why a run that did not end by itself stopped.
enum class StopCause {
  None,       // it was not stopped (it ended, trapped, or a host function ended it)
  Deadline,   // CommandRequest::deadline passed
  Cancelled,  // CommandCancel::Cancel()
  Fuel,       // CommandRequest::fuel ran out
};

struct CommandResult {
  // The module ran to its end: 0 when `_start` returned, proc_exit's code otherwise (for an entry, what it
  // returned).
  std::optional<uint32_t> exit_code;
  // Otherwise why not: the WASI context could not be made (Resource, naming the preopen), a link error
  // (Unlinkable), a memory above the cap (Resource), a trap, call-stack exhaustion, an interruption.
  wasm::Error error = {};
  enum class Phase { Setup, Instantiate, Run };
  Phase phase = Phase::Setup;                   // how far the run got: Run once instantiation succeeded
  StopCause stopped_by = StopCause::None;       // for an Interrupted error
  std::vector<wasm::BacktraceFrame> backtrace;  // of a trap, innermost first
  // Captured stdio (StdioMode::Capture) and what the capture cap dropped.
  std::string stdout_data, stderr_data;
  uint64_t stdout_dropped = 0, stderr_dropped = 0;
  std::optional<std::string> output_quota_exceeded;  // Wasi::output_quota_exceeded()
  double instantiate_seconds = 0;                    // imports, memory, segments, the start function
  double run_seconds = 0;                            // `_start` (or the entry)
};

CommandResult RunCommand(CommandRequest request);

}  // namespace wasmq::wasi
