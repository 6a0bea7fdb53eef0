// File: src/worker/runner.cc
#include "worker/runner.h"

#include <chrono>

#include "nn/nn.h"
#include "worker/runner_imports.h"

namespace wasmq::worker {

std::string_view ToString(StopReason r) {
  switch (r) {
    case StopReason::None:
      return "none";
    case StopReason::Timeout:
      return "timeout";
    case StopReason::Cancelled:
      return "cancelled";
    case StopReason::LeaseLost:
      return "lease lost";
    case StopReason::Shutdown:
      return "shutdown";
  }
  return "?";
}

void RunControl::Stop(StopReason reason) {
  StopReason none = StopReason::None;
  reason_.compare_exchange_strong(none, reason);
  cancel_.Cancel();  // a blocked engine call returns at once
  command_.Cancel();
}

RunOutcome RunPipeline(const RunRequest& req) {
  RunOutcome out;
  const auto t0 = std::chrono::steady_clock::now();

  wasi::CommandRequest command;
  command.engine = req.engine;
  command.module = req.module;
  command.wasi.args = req.args;
  command.wasi.env = req.env;
  command.wasi.preopens = {{"/in", req.dirs.in, /*read_only=*/true}, {"/out", req.dirs.out, false}};
  command.wasi.stdin_mode = wasi::StdioMode::Capture;
  command.wasi.stdin_data = req.stdin_data;
  command.wasi.max_capture_bytes = req.max_capture_bytes;
  command.wasi.max_output_bytes = req.max_output_bytes;
  command.wasi.max_output_files = req.max_output_files;
  // The timeout is the supervisor's: it stops the run through the RunControl, as a cancel does.
  command.cancel = req.control ? &req.control->command_cancel() : nullptr;
  engines::CancelToken own_cancel;  // without a RunControl nothing stops the run from outside
  const engines::CancelToken& cancel = req.control ? req.control->cancel_token() : own_cancel;
  WasmqImports wasmq(req, &cancel);
  // WASI-NN (docs/nn.md): a stop interrupts a compute waiting for the pool or a forward pass.
  nn::Instance nn;
  const int nn_cancel = cancel.OnCancel([&nn] { nn.Interrupt(); });
  command.add_imports = [&wasmq, &nn](wasm::Store& store, wasm::Imports& imports) {
    wasmq.AddTo(store, imports);
    nn.AddTo(store, imports);
  };
  wasi::CommandResult r = wasi::RunCommand(std::move(command));
  cancel.Remove(nn_cancel);

  out.instantiate_seconds = r.phase == wasi::CommandResult::Phase::Setup ? 0 : r.instantiate_seconds;
  out.log_lines_dropped = wasmq.log_lines_dropped();
  if (wasmq.failure()) {
    out.failure = wasmq.failure();  // the module's own TaskError wins over how it unwound
  } else if (r.exit_code) {
    out.exit_code = *r.exit_code;
  } else {
    out.error = std::move(r.error);
  }
  out.stdout_data = std::move(r.stdout_data);
  out.stderr_data = std::move(r.stderr_data);
  out.stdout_dropped = r.stdout_dropped;
  out.stderr_dropped = r.stderr_dropped;
  out.output_quota_exceeded = std::move(r.output_quota_exceeded);
  out.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool ok = n != 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    if (ok && n > 1) {
      // Reject overlong forms, surrogates and values above U+10FFFF.
      uint32_t cp = c & (0x7f >> n);
      for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
      static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[n] && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    }
    if (ok) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out;
}

}  // namespace wasmq::worker
