// File: src/engines/engines.h
//
// Engines: what pipelines call for heavy work through the `wasmq.engine_call` import (pipelines/include/
// wasmq.h). An EngineRegistry maps names to engines of four kinds, read from the engine config file
// (ENGINE_CONFIG_PATH, format in docs/engines.md):
//
//   builtin   face-detect: OpenCV's cascade classifier; face-landmarks: dlib's face detector and 68-point
//             landmarks (both always registered, loaded on first use)
//   wasm      another Wasm module run as a WASI command (request JSON on stdin, payload as /in/data)
//   http      an external image API (URL, method, headers, auth from an env var, timeout, retries)
//   comfyui   a ComfyUI server: workflow template, /upload/image, /prompt, /history polling, /view
//
//   auto reg = engines::EngineRegistry::Load(path);        // path "" = the built-in engines only
//   if (!reg) die(reg.error().message);                     // names the file and the field
//   engines::CancelToken cancel;                            // the task's: Cancel() aborts a call at once
//   engines::Response r = (*reg)->Call("face-detect", {R"({"max_faces":2})", png_bytes}, &cancel);
//   if (r.status == engines::Status::Ok) use(r.json, r.payload); else report(CodeName(r.status), r.message);
//
// Every call is bounded by the engine's timeout_ms and by the registry's size limits; a CancelToken's
// Cancel() (the worker's timeout, a cancelled task, shutdown) makes a blocked call return Cancelled
// within about 50 ms. Engines hold no per-call state: one registry serves every executor thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "base/result.h"

namespace wasmq::engines {

// The outcome of a call. The negative values are the ABI's WASMQ_ENGINE_* codes; Cancelled is the host's
// own (the task was stopped: the module is interrupted, nothing is returned to it).
enum class Status : int32_t {
  Ok = 0,
  Unknown = -1,
  BadRequest = -2,
  Failed = -3,
  Timeout = -4,
  Unavailable = -5,
  TooLarge = -6,
  Cancelled = -100,
};
// "ENGINE_UNKNOWN", "ENGINE_BAD_REQUEST", ... ("OK" for Ok, "ENGINE_CANCELLED" for Cancelled).
std::string_view CodeName(Status s);

struct Request {
  std::string json;     // a JSON object (text)
  std::string payload;  // optional binary input, e.g. an encoded image
};

struct Response {
  Status status = Status::Ok;
  std::string json;     // Ok: the engine's JSON answer (text)
  std::string payload;  // Ok: optional binary output
  std::string message;  // not Ok: what went wrong, for a person (never holds a secret)
};
Response Failure(Status status, std::string message);

// A one-way "stop now" flag shared by the worker and the call it aborts. Thread-safe.
class CancelToken {
 public:
  void Cancel() EXCLUDES(mu_);
  bool cancelled() const EXCLUDES(mu_);
  // Sleeps for `d` or until cancelled; false when cancelled.
  bool SleepFor(std::chrono::milliseconds d) const EXCLUDES(mu_);
  // Runs `fn` on Cancel() (at once if already cancelled). Callbacks run with the token's lock held: keep
  // them short (interrupt a store, wake a poll) and never call back into the token. Remove() waits for a
  // running callback, so what `fn` touches may be destroyed after Remove returns.
  int OnCancel(std::function<void()> fn) const EXCLUDES(mu_);
  void Remove(int id) const EXCLUDES(mu_);

 private:
  mutable base::Mutex mu_;
  mutable base::CondVar cv_;
  bool cancelled_ GUARDED_BY(mu_) = false;
  mutable int next_id_ GUARDED_BY(mu_) = 0;
  mutable std::map<int, std::function<void()>> callbacks_ GUARDED_BY(mu_);
};

using SteadyTime = std::chrono::steady_clock::time_point;

// What an engine gets besides the request.
struct CallContext {
  const CancelToken* cancel = nullptr;  // may be null
  SteadyTime deadline = SteadyTime::max();
  size_t max_response_json = 0, max_response_payload = 0;  // the registry's limits
  // True once the call must end: cancelled or past the deadline.
  bool Expired() const;
  std::chrono::milliseconds Remaining() const;  // 0 when expired
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string_view kind() const = 0;
  virtual Response Call(const Request& request, const CallContext& ctx) const = 0;
  int64_t timeout_ms() const { return timeout_ms_; }

 protected:
  int64_t timeout_ms_ = 60'000;
};

struct Limits {
  size_t max_request_json = 1u << 20;
  size_t max_request_payload = 64u << 20;
  size_t max_response_json = 4u << 20;
  size_t max_response_payload = 64u << 20;
};

// A config file that cannot be used; the message names the file and the field.
struct Error {
  std::string message;
};
template <typename T>
using Result = base::Result<T, Error>;

class EngineRegistry;

class EngineRegistry {
 public:
  // Reads the engine config file; "" gives the built-in engines only. The built-in `face-detect` is always
  // there (a config entry of that name replaces it, e.g. to point at another cascade file).
  static Result<std::unique_ptr<EngineRegistry>> Load(const std::string& path);
  // The same from JSON text; `source` names it in error messages.
  static Result<std::unique_ptr<EngineRegistry>> Parse(std::string_view json_text, const std::string& source);

  // Calls engine `name`: checks the request against the limits, bounds the call by the engine's timeout,
  // and the response by the limits. Thread-safe.
  Response Call(std::string_view name, const Request& request, const CancelToken* cancel = nullptr) const;

  const Engine* Find(std::string_view name) const;
  std::vector<std::string> names() const;  // sorted
  const Limits& limits() const { return limits_; }
  const std::string& source() const { return source_; }

  // Registers an engine (tests, embedders); replaces one of the same name.
  void Add(std::string name, std::unique_ptr<Engine> engine);

 private:
  EngineRegistry();
  // Call's work once the request passed its checks (Call wraps it in the call's span).
  Response CallEngine(const Engine& engine, std::string_view name, const Request& request,
                      const CancelToken* cancel) const;
  std::map<std::string, std::unique_ptr<Engine>, std::less<>> engines_;
  Limits limits_;
  std::string source_;
  friend struct RegistryBuilder;
};

}  // namespace wasmq::engines
