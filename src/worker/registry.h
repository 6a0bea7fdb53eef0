// File: src/worker/registry.h
//
// PipelineRegistry: which module runs which mode, compiled once. Load() reads and compiles every module
// at start-up, so a broken pipeline stops `wasmq serve` at once rather than failing tasks later; each task
// then only instantiates the shared compiled module (a compiled wasm::Module is immutable and shared by
// every thread).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "base/result.h"
#include "base/thread_annotations.h"
#include "queue/queue.h"
#include "wasm/wasm.h"

namespace wasmq::worker {

// A pipeline compiled into the binary (pipelines/builtin/builtin_pipelines.h lists them).
struct BuiltinModule {
  std::string_view mode;   // "HEAD_SWAP", "BACKGROUND_CHANGE", "POSE_CHANGE"
  std::string_view bytes;  // the .wasm file
};

// Where pipelines named by OCI reference come from (config: cache-dir, offline, insecure-registries,
// k8s-secret). Load() pulls them through the content-addressed cache (oci/oci.h).
struct OciSource {
  std::string cache_dir;                         // "" = the default (~/.cache/wasmq or $WASMQ_CACHE_DIR)
  bool offline = false;                          // only the cache
  std::vector<std::string> insecure_registries;  // plain-HTTP registries (loopback always is)
  std::string k8s_secret;                        // dockerconfigjson secret with registry credentials
  // OCI reference prefixes under which a task's config may name its own module ("module": REF); empty =
  // tasks cannot choose their module (the default: a task must not make a worker run arbitrary code). A
  // prefix is a registry (`registry.example.com`, `127.0.0.1:5000`) or a repository path in one
  // (`registry.example.com/formy/pipelines`); it is compared as a reference, not as a string: the registry
  // exactly, the repository at '/' boundaries (CheckTaskModulePrefixes).
  std::vector<std::string> task_module_prefixes = {};
  // Bounds of the cache of compiled task modules (least recently used out): how many, and how many bytes
  // of module files (the compiled code is a small multiple of that).
  size_t task_module_cache_count = 32;
  uint64_t task_module_cache_bytes = uint64_t{128} << 20;
};

// Trust and admission of modules (--trust-policy, --module-policy), asked by PipelineRegistry for every
// module it loads: configured pipelines at Load()/AddBuiltins() and a task's own module at TaskModule().
// The registry knows no signature or policy format; the caller (cli) plugs them in.
enum class ModuleOrigin { Registry, File, Builtin };
struct ModuleSubject {
  ModuleOrigin origin = ModuleOrigin::Registry;
  std::string ref;  // the reference (no oci://), the file path, or the built-in's mode
};
struct ModuleTrust {
  std::string pull_ref;              // what to pull instead (the digest that verified); "" = as given
  std::vector<std::string> signers;  // who signed it (the key files that verified)
};
struct ModuleFacts {
  std::string ref;     // as given (a reference, a path, "builtin:MODE")
  std::string digest;  // the manifest digest of a pulled module; sha256 of the file otherwise
  std::vector<std::string> signers;
  std::vector<std::string> imports;  // "module.name" of every import
  uint64_t size = 0;                 // bytes of the module file
};
struct ModuleGate {
  // Before a module is read or pulled: a refusal message (e.g. "unsigned: …") or how to pull it.
  std::function<base::Result<ModuleTrust, std::string>(const ModuleSubject&)> trust;
  // After it compiled: a refusal message, or nullopt to admit it.
  std::function<std::optional<std::string>(const ModuleFacts&)> admit;
};
// Refusals by the gate are InvalidArgument errors whose message starts with this: a task whose module is
// refused fails with MODULE_UNTRUSTED (IsModuleUntrusted), and serve/worker name it at start-up.
inline constexpr std::string_view kModuleUntrusted = "module untrusted: ";
bool IsModuleUntrusted(const queue::Error& error);

// InvalidArgument naming the first --task-modules prefix that is not a registry or a repository (a tag or
// a digest in a prefix, or something that does not parse); PipelineRegistry ignores such a prefix.
queue::Result<void> CheckTaskModulePrefixes(const std::vector<std::string>& prefixes);

// Compiled modules by key, least recently used out, within a count and a total size (the caller says
// what a module's size is). Not thread-safe: the owner locks.
class ModuleCache {
 public:
  ModuleCache(size_t max_count, uint64_t max_bytes) : max_count_(max_count), max_bytes_(max_bytes) {}
  // The module under `key` (now the most recently used), or null.
  std::shared_ptr<const wasm::Module> Get(const std::string& key);
  // Keeps `module` under `key` (replacing what was there), then drops the least recently used until the
  // bounds hold. A module larger than the whole cache is not kept (and drops nothing).
  void Put(const std::string& key, std::shared_ptr<const wasm::Module> module, uint64_t bytes);
  size_t size() const { return index_.size(); }
  uint64_t bytes() const { return bytes_; }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const wasm::Module> module;
    uint64_t bytes;
  };
  size_t max_count_;
  uint64_t max_bytes_;
  uint64_t bytes_ = 0;
  std::list<Entry> order_;  // most recently used first
  std::map<std::string, std::list<Entry>::iterator> index_;
};

struct Pipeline {
  std::string mode;
  std::string path;
  std::shared_ptr<const wasm::Module> module;
  // What the dashboard shows of it (Describe()).
  ModuleOrigin origin = ModuleOrigin::File;
  ModuleFacts facts = {};              // digest (a pulled module's manifest digest), size, imports, signers
  std::string trust = "not-checked";   // "trusted" (a signature verified), "unsigned" (the trust policy
                                       // allowed it unsigned), "not-checked" (no trust policy)
  std::string config_schema = {};      // its "wasmq.config_schema" custom section; "" without one
};

// The contents of the first custom section named `name` of a wasm module, or nullopt (none, or the bytes
// are not a module).
std::optional<std::string> CustomSection(std::span<const uint8_t> module, std::string_view name);
inline constexpr std::string_view kConfigSchemaSection = "wasmq.config_schema";

class PipelineRegistry {
 public:
  explicit PipelineRegistry(wasm::EngineConfig engine_config = {}) : engine_(engine_config) {}

  // Reads and compiles each mode's module. InvalidArgument naming the mode and file for one that cannot be
  // read, is not a WebAssembly module, or is not a WASI command (wasi::IsCommand). A value that is not a file
  // but an OCI reference (`oci://` prefix optional) is pulled through the cache (SetOci); a failed pull is
  // Unavailable or NotFound (as for TaskModule) with the oci error's kind and message.
  void SetOci(OciSource source);
  // Every module loaded after this passes `gate` first (before Load() and AddBuiltins()).
  void SetGate(ModuleGate gate) { gate_ = std::move(gate); }
  // Told the cause of every failed pull, by `wasmq doctor`'s names (oci/doctor.h: "network", "auth",
  // "tag-not-found", ...; "not-cached" when offline): /metrics counts them. Set before tasks run; it is
  // called from the threads that pull.
  void OnPullFailure(std::function<void(std::string_view cause)> observe) { on_pull_failure_ = std::move(observe); }
  queue::Result<void> Load(const std::map<std::string, std::string>& mode_to_path);
  // Compiles a module from its bytes; `path` only names it in messages and logs. Same checks as Load().
  queue::Result<void> AddBytes(const std::string& mode, std::string path, std::span<const uint8_t> bytes);
  // Registers the built-in pipelines (`modules`: pipelines::BuiltinModules()) for each of their modes that
  // has no module yet, so modules given by --pipelines / --pipelines-dir win. Their path reads "builtin:<MODE>".
  queue::Result<void> AddBuiltins(const std::vector<BuiltinModule>& modules);
  // Registers an already compiled module (tests, embedders).
  void Add(std::string mode, std::string path, std::shared_ptr<const wasm::Module> module);

  const Pipeline* Find(const std::string& mode) const;

  // The module a task's config names by OCI reference ("module"): InvalidArgument when the reference does
  // not parse or lies under none of OciSource::task_module_prefixes, or the module is not a WASI command;
  // Unavailable when the pull fails where a retry may help (network, registry error, rate limit), NotFound
  // when it fails for good (no such repository or tag, no rights, a format wasmq doesn't read). Pulled
  // through the cache on first use and kept compiled while it is among the recently used (OciSource's cache
  // bounds: a stream of tasks naming new modules cannot grow the process without end), so a tag is
  // resolved once while it is kept (name a digest to pin it). Thread-safe.
  queue::Result<std::shared_ptr<const wasm::Module>> TaskModule(const std::string& ref) const;
  std::vector<std::string> modes() const;  // sorted
  // Every registered pipeline as GET /api/v1/pipelines lists it (docs/api.md): mode, source, digest, size,
  // imports, signer, trust, tier, description, config_schema ({"type":"object"} for a module without one).
  nlohmann::json Describe() const;
  const wasm::Engine& engine() const { return engine_; }

 private:
  // The gate's answers as queue errors: InvalidArgument starting with kModuleUntrusted, `what` named.
  queue::Result<ModuleTrust> Trust(const ModuleSubject& subject, const std::string& what) const;
  queue::Result<void> Admit(const ModuleFacts& facts, const std::string& what) const;
  // AddBytes with what the gate knows so far (digest, signers); the module policy decides after compiling.
  queue::Result<void> AddAdmitted(const std::string& mode, std::string path, std::span<const uint8_t> bytes,
                                  ModuleFacts facts, ModuleOrigin origin = ModuleOrigin::File);

  wasm::Engine engine_;
  std::map<std::string, Pipeline> pipelines_;
  struct ModulePrefix {
    std::string registry;    // lowercase
    std::string repository;  // "" = anything in the registry
  };
  OciSource oci_;
  ModuleGate gate_;
  std::function<void(std::string_view)> on_pull_failure_;
  std::vector<ModulePrefix> task_module_prefixes_;  // the parsed OciSource::task_module_prefixes
  mutable base::Mutex task_modules_mu_;
  mutable ModuleCache task_modules_ GUARDED_BY(task_modules_mu_){32, uint64_t{128} << 20};  // by canonical ref
  // What the module gate was told about each cached task module: a cache hit asks the (reloadable) module
  // policy again, with no pull. A key missing here is a miss.
  mutable std::map<std::string, ModuleFacts> task_module_facts_ GUARDED_BY(task_modules_mu_);
};

}  // namespace wasmq::worker
