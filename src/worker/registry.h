// File: src/worker/registry.h
//
// PipelineRegistry: which module runs which mode, compiled once. Load() reads and compiles every module
// at start-up, so a broken pipeline stops `wasmq serve` at once rather than failing tasks later; each task
// then only instantiates the shared compiled module (a compiled wasm::Module is immutable and shared by
// every thread).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "queue/error.h"
#include "wasm/wasm.h"

namespace wasmq::worker {

// A pipeline compiled into the binary: pipelines/*.c built for wasm32-wasi at build time and embedded
// (pipelines/embed.cmake generates BuiltinModules()). Empty when the build had no wasm32-wasi clang.
struct BuiltinModule {
  std::string_view mode;   // "HEAD_SWAP", "BACKGROUND_CHANGE", "POSE_CHANGE"
  std::string_view bytes;  // the .wasm file
};
const std::vector<BuiltinModule>& BuiltinModules();

// Where pipelines named by OCI reference come from (config: cache-dir, offline, insecure-registries,
// k8s-secret). Load() pulls them through the content-addressed cache (oci/oci.h).
struct OciSource {
  std::string cache_dir;                         // "" = the default (~/.cache/wasmq or $WASMQ_CACHE_DIR)
  bool offline = false;                          // only the cache
  std::vector<std::string> insecure_registries;  // plain-HTTP registries (loopback always is)
  std::string k8s_secret;                        // dockerconfigjson secret with registry credentials
  // OCI reference prefixes under which a task's config may name its own module ("module": REF); empty =
  // tasks cannot choose their module (the default: a task must not make a worker run arbitrary code).
  std::vector<std::string> task_module_prefixes = {};
};

struct Pipeline {
  std::string mode;
  std::string path;
  std::shared_ptr<const wasm::Module> module;
};

class PipelineRegistry {
 public:
  explicit PipelineRegistry(wasm::EngineConfig engine_config = {}) : engine_(engine_config) {}

  // Reads and compiles each mode's module. InvalidArgument naming the mode and file for one that cannot be
  // read, is not a WebAssembly module, or is not a WASI command (no `_start`). A value that is not a file
  // but an OCI reference (`oci://` prefix optional) is pulled through the cache (SetOci); a failed pull is
  // Unavailable or NotFound (as for TaskModule) with the oci error's kind and message.
  void SetOci(OciSource source) { oci_ = std::move(source); }
  queue::Result<void> Load(const std::map<std::string, std::string>& mode_to_path);
  // Compiles a module from its bytes; `path` only names it in messages and logs. Same checks as Load().
  queue::Result<void> AddBytes(const std::string& mode, std::string path, std::span<const uint8_t> bytes);
  // Registers the built-in pipelines (BuiltinModules()) for each of their modes that has no module yet, so
  // modules given by --pipelines / --pipelines-dir win. Their path reads "builtin:<MODE>".
  queue::Result<void> AddBuiltins();
  // Registers an already compiled module (tests, embedders).
  void Add(std::string mode, std::string path, std::shared_ptr<const wasm::Module> module);

  const Pipeline* Find(const std::string& mode) const;

  // The module a task's config names by OCI reference ("module"): InvalidArgument when the reference does
  // not parse or lies under none of OciSource::task_module_prefixes, or the module is not a WASI command;
  // Unavailable when the pull fails where a retry may help (network, registry error, rate limit), NotFound
  // when it fails for good (no such repository or tag, no rights, a format wasmq doesn't read). Pulled through the cache on
  // first use and kept compiled for the life of the process, so a tag is resolved once per process (name
  // a digest to pin it). Thread-safe.
  queue::Result<std::shared_ptr<const wasm::Module>> TaskModule(const std::string& ref) const;
  std::vector<std::string> modes() const;  // sorted
  const wasm::Engine& engine() const { return engine_; }

 private:
  wasm::Engine engine_;
  std::map<std::string, Pipeline> pipelines_;
  OciSource oci_;
  mutable std::mutex task_modules_mu_;
  mutable std::map<std::string, std::shared_ptr<const wasm::Module>> task_modules_;  // by reference
};

}  // namespace wasmq::worker
