// File: src/worker/runner.cc
#include "worker/runner.h"

#include <chrono>

#include "wasi/wasi.h"
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
  std::lock_guard lock(mu_);
  if (store_) store_->Interrupt();
  if (wasi_) wasi_->Interrupt();
}

void RunControl::Attach(wasm::Store* store, wasi::Wasi* wasi) {
  std::lock_guard lock(mu_);
  store_ = store;
  wasi_ = wasi;
  // A Stop() that came before the run started takes effect now.
  if (reason_.load() != StopReason::None) {
    store->Interrupt();
    wasi->Interrupt();
  }
}

void RunControl::Detach() {
  std::lock_guard lock(mu_);
  store_ = nullptr;
  wasi_ = nullptr;
}

RunOutcome RunPipeline(const RunRequest& req) {
  RunOutcome out;
  const auto t0 = std::chrono::steady_clock::now();
  auto finish = [&]() -> RunOutcome {
    out.duration_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    return std::move(out);
  };

  wasi::WasiConfig config;
  config.args = req.args;
  config.env = req.env;
  config.preopens = {{"/in", req.dirs.in, /*read_only=*/true}, {"/out", req.dirs.out, false}};
  config.stdin_mode = wasi::StdioMode::Capture;
  config.stdin_data = req.stdin_data;
  config.max_capture_bytes = req.max_capture_bytes;
  config.max_output_bytes = req.max_output_bytes;
  config.max_output_files = req.max_output_files;
  auto ctx = wasi::Wasi::Create(std::move(config));
  if (!ctx) {
    out.error = ctx.error();
    return finish();
  }
  wasm::Store store(*req.engine);
  wasm::Imports imports;
  (*ctx)->AddToImports(store, imports);
  engines::CancelToken own_cancel;  // without a RunControl nothing stops the run from outside
  WasmqImports wasmq(req, req.control ? &req.control->cancel_token() : &own_cancel);
  wasmq.AddTo(store, imports);
  if (req.control) req.control->Attach(&store, ctx->get());
  const auto instantiating = std::chrono::steady_clock::now();
  auto inst = store.Instantiate(*req.module, imports);
  out.instantiate_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - instantiating).count();
  wasm::Result<uint32_t> code = inst ? wasi::RunCommand(store, *inst) : wasm::Result<uint32_t>(inst.error());
  if (req.control) req.control->Detach();
  out.log_lines_dropped = wasmq.log_lines_dropped();
  if (wasmq.failure()) {
    out.failure = wasmq.failure();  // the module's own TaskError wins over how it unwound
  } else if (code) {
    out.exit_code = *code;
  } else {
    out.error = code.error();
  }
  out.stdout_data = (*ctx)->stdout_data();
  out.stderr_data = (*ctx)->stderr_data();
  out.stdout_dropped = (*ctx)->stdout_dropped();
  out.stderr_dropped = (*ctx)->stderr_dropped();
  out.output_quota_exceeded = (*ctx)->output_quota_exceeded();
  return finish();
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
