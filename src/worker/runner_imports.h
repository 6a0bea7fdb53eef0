// File: src/worker/runner_imports.h
//
// Internal to the worker part: the `wasmq` import module the runner gives every pipeline (progress, log,
// fail, engine_call, engine_response; pipelines/include/wasmq.h is the contract). One WasmqImports per run;
// the host functions it adds hold a pointer to it, so it must outlive the store.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "engines/engines.h"
#include "wasm/wasm.h"
#include "worker/runner.h"

namespace wasmq::worker {

class WasmqImports {
 public:
  WasmqImports(const RunRequest& req, const engines::CancelToken* cancel) : req_(req), cancel_(cancel) {}
  void AddTo(wasm::Store& store, wasm::Imports& imports);

  // Set once the module called wasmq.fail (the run then ends with an Interrupted error).
  const std::optional<ModuleFailure>& failure() const { return failure_; }
  int64_t log_lines_dropped() const { return dropped_total_; }

 private:
  wasm::Result<void> Progress(wasm::HostContext& ctx, uint64_t* slots);
  wasm::Result<void> Log(wasm::HostContext& ctx, uint64_t* slots);
  wasm::Result<void> Fail(wasm::HostContext& ctx, uint64_t* slots);
  wasm::Result<void> EngineCall(wasm::HostContext& ctx, uint64_t* slots);
  wasm::Result<void> EngineResponse(wasm::HostContext& ctx, uint64_t* slots);
  // True when this line may be logged now (kLogLinesPerSecond); counts the ones that may not.
  bool AdmitLogLine();

  const RunRequest& req_;
  const engines::CancelToken* cancel_;
  std::optional<ModuleFailure> failure_;
  engines::Response last_;  // the last engine_call's answer, kept until the next call
  bool has_last_ = false;
  std::chrono::steady_clock::time_point window_start_{};
  int window_lines_ = 0;
  int64_t dropped_since_report_ = 0, dropped_total_ = 0;
};

// UPPER_SNAKE_CASE: [A-Z][A-Z0-9_]*, at most kMaxFailCodeBytes.
bool IsFailCode(std::string_view code);

}  // namespace wasmq::worker
