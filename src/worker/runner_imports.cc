// File: src/worker/runner_imports.cc
#include "worker/runner_imports.h"

#include <algorithm>
#include <cstring>

namespace wasmq::worker {

namespace {

using wasm::ErrorKind;
using wasm::ValType;

wasm::Error Trap(std::string msg) { return wasm::MakeError(ErrorKind::Trap, std::move(msg)); }

uint32_t U32(const uint64_t* slots, int i) { return static_cast<uint32_t>(slots[i]); }

// Whether [ptr, ptr + len) lies inside the caller's memory.
bool InMemory(const wasm::HostContext& ctx, uint64_t ptr, uint64_t len) {
  if (len == 0) return ptr <= ctx.memory_size();
  return ctx.memory_data() && ptr + len <= ctx.memory_size();
}

// The guest bytes [ptr, ptr + len) (checked with InMemory first).
std::string_view GuestBytes(const wasm::HostContext& ctx, uint64_t ptr, uint64_t len) {
  if (len == 0) return {};
  return {reinterpret_cast<const char*>(ctx.memory_data()) + ptr, static_cast<size_t>(len)};
}

void StoreU32(uint8_t* at, uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<uint8_t>(v >> (8 * i));  // wasm memory is little-endian
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence, then sanitises it.
std::string CutUtf8(std::string_view s, size_t max) {
  if (s.size() > max) {
    size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
    return SanitizeUtf8(s.substr(0, n)) + "…";
  }
  return SanitizeUtf8(s);
}

// The {"code","message"} JSON an engine failure answers the module with.
std::string FailureJson(const engines::Response& r) {
  std::string out = "{\"code\":\"" + std::string(engines::CodeName(r.status)) + "\",\"message\":\"";
  for (unsigned char c : SanitizeUtf8(r.message)) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"}";
}

}  // namespace

bool IsFailCode(std::string_view code) {
  if (code.empty() || code.size() > kMaxFailCodeBytes || !(code[0] >= 'A' && code[0] <= 'Z')) return false;
  return std::all_of(code.begin(), code.end(),
                     [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; });
}

void WasmqImports::AddTo(wasm::Store& store, wasm::Imports& imports) {
  auto add = [&](const char* name, wasm::FuncType type,
                 wasm::Result<void> (WasmqImports::*fn)(wasm::HostContext&, uint64_t*)) {
    auto host = [this, fn](wasm::HostContext& ctx, uint64_t* slots) { return (this->*fn)(ctx, slots); };
    imports.Add("wasmq", name,
                wasm::Extern{wasm::ExternKind::Func,
                             store.NewHostFunc(std::move(type), host, std::string("wasmq.") + name)});
  };
  const ValType I = ValType::I32;
  add("progress", {{I, I, I}, {}}, &WasmqImports::Progress);
  add("log", {{I, I, I}, {}}, &WasmqImports::Log);
  add("fail", {{I, I, I, I, I}, {}}, &WasmqImports::Fail);
  add("engine_call", {{I, I, I, I, I, I, I}, {I}}, &WasmqImports::EngineCall);
  add("engine_response", {{I, I, I, I}, {I}}, &WasmqImports::EngineResponse);
}

wasm::Result<void> WasmqImports::Progress(wasm::HostContext& ctx, uint64_t* slots) {
  int32_t percent = static_cast<int32_t>(U32(slots, 0));
  uint64_t ptr = U32(slots, 1), len = U32(slots, 2);
  if (!InMemory(ctx, ptr, len)) return Trap("wasmq.progress: the message lies outside the module's memory");
  percent = std::clamp(percent, 0, 100);
  if (req_.on_progress && !req_.on_progress(percent, SanitizeUtf8(GuestBytes(ctx, ptr, len))))
    return wasm::MakeError(ErrorKind::Interrupted, "the task is no longer this worker's");
  return {};
}

bool WasmqImports::AdmitLogLine() {
  auto now = std::chrono::steady_clock::now();
  if (now - window_start_ >= std::chrono::seconds(1)) {
    window_start_ = now;
    window_lines_ = 0;
  }
  if (window_lines_ >= kLogLinesPerSecond) {
    ++dropped_since_report_;
    ++dropped_total_;
    return false;
  }
  ++window_lines_;
  return true;
}

wasm::Result<void> WasmqImports::Log(wasm::HostContext& ctx, uint64_t* slots) {
  int32_t level = static_cast<int32_t>(U32(slots, 0));
  uint64_t ptr = U32(slots, 1), len = U32(slots, 2);
  if (!InMemory(ctx, ptr, len)) return Trap("wasmq.log: the message lies outside the module's memory");
  if (!req_.on_log || !AdmitLogLine()) return {};
  level = std::clamp(level, 0, 3);
  if (dropped_since_report_ > 0) {
    std::string note = std::to_string(dropped_since_report_);
    note.append(" log lines dropped (over ")
        .append(std::to_string(kLogLinesPerSecond))
        .append(" per second)");
    req_.on_log(2, note);
    dropped_since_report_ = 0;
  }
  req_.on_log(level, CutUtf8(GuestBytes(ctx, ptr, len), kMaxLogLineBytes));
  return {};
}

wasm::Result<void> WasmqImports::Fail(wasm::HostContext& ctx, uint64_t* slots) {
  uint64_t code_ptr = U32(slots, 0), code_len = U32(slots, 1);
  uint64_t msg_ptr = U32(slots, 2), msg_len = U32(slots, 3);
  if (!InMemory(ctx, code_ptr, code_len) || !InMemory(ctx, msg_ptr, msg_len))
    return Trap("wasmq.fail: the code or message lies outside the module's memory");
  std::string_view code = GuestBytes(ctx, code_ptr, code_len);
  if (!IsFailCode(code))
    return Trap("wasmq.fail: the code must be UPPER_SNAKE_CASE of at most " +
                std::to_string(kMaxFailCodeBytes) + " characters (got \"" + CutUtf8(code, kMaxFailCodeBytes) +
                "\")");
  failure_ =
      ModuleFailure{std::string(code), CutUtf8(GuestBytes(ctx, msg_ptr, msg_len), kMaxFailMessageBytes),
                    U32(slots, 4) != 0};
  // Unwinds the module like proc_exit; the runner reports failure_ instead of this error.
  return wasm::MakeError(ErrorKind::Interrupted, "wasmq.fail " + failure_->code);
}

wasm::Result<void> WasmqImports::EngineCall(wasm::HostContext& ctx, uint64_t* slots) {
  uint64_t name_ptr = U32(slots, 0), name_len = U32(slots, 1);
  uint64_t json_ptr = U32(slots, 2), json_len = U32(slots, 3);
  uint64_t data_ptr = U32(slots, 4), data_len = U32(slots, 5);
  uint64_t sizes_ptr = U32(slots, 6);
  if (!InMemory(ctx, name_ptr, name_len) || !InMemory(ctx, json_ptr, json_len) ||
      !InMemory(ctx, data_ptr, data_len) || !InMemory(ctx, sizes_ptr, 8))
    return Trap("wasmq.engine_call: an argument lies outside the module's memory");
  const std::string name = SanitizeUtf8(GuestBytes(ctx, name_ptr, name_len));
  const engines::Limits limits = req_.engines ? req_.engines->limits() : engines::Limits{};
  if (json_len > limits.max_request_json || data_len > limits.max_request_payload) {
    last_ = engines::Failure(engines::Status::TooLarge, "the request (" + std::to_string(json_len) +
                                                            " bytes of JSON, " + std::to_string(data_len) +
                                                            " of payload) is over the limit (" +
                                                            std::to_string(limits.max_request_json) + ", " +
                                                            std::to_string(limits.max_request_payload) + ")");
  } else if (!req_.engines) {
    last_ =
        engines::Failure(engines::Status::Unknown, "no engine \"" + name + "\": this worker has no engines");
  } else {
    engines::Request request{std::string(GuestBytes(ctx, json_ptr, json_len)),
                             std::string(GuestBytes(ctx, data_ptr, data_len))};
    last_ = req_.engines->Call(name, request, cancel_);
  }
  if (last_.status == engines::Status::Cancelled || (cancel_ && cancel_->cancelled())) {
    has_last_ = false;
    return wasm::MakeError(ErrorKind::Interrupted,
                           "engine call to " + name + " aborted: the run was stopped");
  }
  if (last_.status != engines::Status::Ok) {
    last_.json = FailureJson(last_);
    last_.payload.clear();
  }
  has_last_ = true;
  // The call blocked; re-read the memory (the module cannot have grown it, but do not rely on that).
  if (!InMemory(ctx, sizes_ptr, 8)) return Trap("wasmq.engine_call: sizes lies outside the module's memory");
  StoreU32(ctx.memory_data() + sizes_ptr, static_cast<uint32_t>(last_.json.size()));
  StoreU32(ctx.memory_data() + sizes_ptr + 4, static_cast<uint32_t>(last_.payload.size()));
  slots[0] = static_cast<uint32_t>(static_cast<int32_t>(last_.status));
  return {};
}

wasm::Result<void> WasmqImports::EngineResponse(wasm::HostContext& ctx, uint64_t* slots) {
  uint64_t json_ptr = U32(slots, 0), json_cap = U32(slots, 1);
  uint64_t data_ptr = U32(slots, 2), data_cap = U32(slots, 3);
  if (!InMemory(ctx, json_ptr, json_cap) || !InMemory(ctx, data_ptr, data_cap))
    return Trap("wasmq.engine_response: a buffer lies outside the module's memory");
  if (!has_last_ || json_cap < last_.json.size() || data_cap < last_.payload.size()) {
    slots[0] = static_cast<uint32_t>(-1);
    return {};
  }
  if (!last_.json.empty()) std::memcpy(ctx.memory_data() + json_ptr, last_.json.data(), last_.json.size());
  if (!last_.payload.empty())
    std::memcpy(ctx.memory_data() + data_ptr, last_.payload.data(), last_.payload.size());
  slots[0] = 0;
  return {};
}

}  // namespace wasmq::worker
