// File: src/policy/policy.h
//
// OPA policies compiled to WebAssembly (`opa build -t wasm`, ABI 1.0 to 1.3), evaluated on wasmq's own
// engine. This is the policy part's only public header; docs/policy.md describes the ABI as we use it.
//
//   auto policy = wasmq::policy::Policy::Load(bytes, {.data_json = R"({"world": "world"})"});
//   auto rs = (*policy)->Eval(R"({"message": "world"})", "example/hello");   // [{"result":true}]
//
// Why a pool: a policy instance is a wasm Store and is used by one thread at a time, while admission
// decisions come from many threads. A Policy keeps idle instances and hands one to each decision,
// creating another (up to Options::max_instances) when all are busy; an instance is reused for the
// next decision, its heap reset to just above the data document, so a decision costs no instantiation.
//
// Why the result is JSON text: the policy itself serialises its result set (opa_eval's fast path returns
// it as a string), and callers either print it or parse the one field they need.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace wasmq::policy {

struct Error {
  enum class Kind {
    Load,        // not an OPA policy we can run: malformed wasm, wrong ABI, missing export or builtin
    Entrypoint,  // no such entrypoint
    Input,       // the input or data is not valid JSON
    Abort,       // the policy called opa_abort (e.g. a conflict between rule values); message is its text
    Eval,        // the evaluation failed otherwise: a trap, a builtin's error, fuel or memory exhausted
  };
  Kind kind = Kind::Eval;
  std::string message;
};

template <typename T>
using Result = base::Result<T, Error>;

// A host builtin: called with the builtin's arguments as JSON values; nullopt means "undefined" (the
// rule body fails, as in OPA). A thrown std::exception fails the evaluation with its message.
using Builtin = std::function<std::optional<nlohmann::json>(const std::vector<nlohmann::json>& args)>;

// The builtins wasmq implements for policies (what OPA's npm SDK implements): sprintf, regex.split,
// json.is_valid, yaml.is_valid, yaml.marshal, yaml.unmarshal.
std::vector<std::string> HostBuiltinNames();
// One of them by name, for tests; null when there is none.
const Builtin* FindHostBuiltin(std::string_view name);

// Which of the engine's tiers runs the policy (wasm::CompileMode): kNever interprets (instant load; the
// default, and what `wasmq policy eval` uses); kAuto interprets until the policy's machine code is ready,
// compiled once in the background; kAlways compiles in Load (from compile_cache_dir when it is there).
enum class Compile : uint8_t { kNever, kAuto, kAlways };

struct Options {
  std::string data_json = "{}";                    // the data document (`data.…`), JSON
  std::map<std::string, Builtin> custom_builtins;  // more builtins, by name; take precedence over ours
  size_t max_instances = 0;                        // concurrent decisions; 0: hardware threads (at least 1)
  uint64_t max_memory_bytes = 256ull << 20;        // per instance's linear memory
  uint64_t fuel = 0;                               // per decision (loop iterations and calls); 0: unlimited
  // Use the opa_eval_ctx_* path even where opa_eval exists: the tests run every fixture both ways.
  bool ctx_path = false;
  Compile compile = Compile::kNever;
  std::string compile_cache_dir;  // compiled code kept by module digest (the engine's cache); empty: none
  // Where opa_println's lines go (OPA's `print`); default: stderr.
  std::function<void(std::string_view line)> println;
};

class Policy {
 public:
  // Compiles `wasm`, instantiates it once to read its ABI version, builtins and entrypoints and to check
  // that every builtin it needs exists (Kind::Load naming the first missing one), and loads the data.
  static Result<std::shared_ptr<Policy>> Load(std::span<const uint8_t> wasm, Options options = {});
  ~Policy();
  Policy(const Policy&) = delete;
  Policy& operator=(const Policy&) = delete;

  // Evaluates entrypoint `entrypoint` (an id from entrypoints()) on `input_json` and returns the result
  // set as JSON text, `[{"result": …}]` (`[]` when undefined). Thread-safe.
  Result<std::string> Eval(std::string_view input_json, int32_t entrypoint = 0) const;
  // The same with an entrypoint by name ("example/hello") or by decimal id ("0").
  Result<std::string> Eval(std::string_view input_json, std::string_view entrypoint) const;
  Result<int32_t> ResolveEntrypoint(std::string_view name_or_id) const;

  // Replaces the data document for the decisions that start after it returns. Thread-safe.
  Result<bool> SetData(std::string_view data_json);

  const std::map<std::string, int32_t>& entrypoints() const { return entrypoints_; }
  const std::map<std::string, int32_t>& builtins() const { return builtins_; }  // name -> id, as required
  int abi_major() const { return abi_major_; }
  int abi_minor() const { return abi_minor_; }
  // Whether decisions use opa_eval (ABI 1.2+), one call with the input as raw JSON, or the
  // opa_eval_ctx_* sequence.
  bool fast_path() const { return fast_path_; }
  // Instances created so far (for tests and metrics).
  size_t instances_created() const;

  struct Impl;

 private:
  Policy() = default;
  std::unique_ptr<Impl> impl_;
  std::map<std::string, int32_t> entrypoints_;
  std::map<std::string, int32_t> builtins_;
  int abi_major_ = 1;
  int abi_minor_ = 0;
  bool fast_path_ = false;
};

// ------------------------------------------------------------------------------------------------ gates

// What an admission gate concluded. A policy's entrypoint result may be a boolean (true admits) or an
// object {"allow": bool, "message": string}; an undefined result (`[]`) denies.
struct Decision {
  bool allow = false;
  std::string message;  // the policy's message, or one saying why it denied ("" when it allowed silently)
};
// Reads a Decision out of a result set (`[{"result": …}]`, what Policy::Eval returns). Kind::Eval when the
// result has another shape: a gate fails closed on it.
Result<Decision> ParseDecision(std::string_view result_set);

// A policy that can be replaced while decisions run: `--admission-policy` and `--module-policy`. The
// loaded Policy sits behind an atomic shared_ptr; a decision takes its own reference, so one in flight
// finishes on the policy it started with while a reload swaps in the next; a reload that fails keeps the
// current policy (and says why). Decide() is thread-safe and lock-free apart from the Policy's own pool.
class ReloadablePolicy {
 public:
  // Reads the policy's bytes (a file, or an OCI reference pulled by the caller's loader).
  using Fetch = std::function<Result<std::vector<uint8_t>>()>;
  // `name` names it in messages ("admission policy /etc/wasmq/admit.wasm"); `watch_file`, when not empty,
  // is polled for changes (mtime, size, inode) by Watch().
  static Result<std::unique_ptr<ReloadablePolicy>> Open(std::string name, Fetch fetch, std::string watch_file,
                                                        Options options = {});
  ~ReloadablePolicy();  // stops the watcher

  // Evaluates entrypoint 0 on `input_json` and reads the decision. Kind::Eval / Abort on a failure: the
  // caller denies (fail closed).
  Result<Decision> Decide(std::string_view input_json) const;
  // Fetches and loads the policy again; on success the next decisions use it. Thread-safe.
  Result<bool> Reload();
  // Starts a thread that calls Reload() when the watched file changes (checked every `interval`);
  // `log` hears every reload and its outcome. No-op without a watched file.
  void Watch(std::chrono::milliseconds interval, std::function<void(std::string_view)> log);
  const std::string& name() const { return name_; }
  uint64_t generation() const;  // loads so far (1 after Open)

 private:
  ReloadablePolicy() = default;
  struct Watcher;
  std::string name_;
  Fetch fetch_;
  std::string watch_file_;
  Options options_;
  std::atomic<std::shared_ptr<const Policy>> current_;
  std::atomic<uint64_t> generation_{0};
  std::unique_ptr<Watcher> watcher_;
};

}  // namespace wasmq::policy
