// File: src/worker/registry.h
//
// PipelineRegistry: which module runs which mode, compiled once. Load() reads and compiles every module
// at start-up, so a broken pipeline stops `wasmq serve` at once rather than failing tasks later; each task
// then only instantiates the shared compiled module (a compiled wasm::Module is immutable and shared by
// every thread).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "queue/error.h"
#include "wasm/wasm.h"

namespace wasmq::worker {

struct Pipeline {
  std::string mode;
  std::string path;
  std::shared_ptr<const wasm::Module> module;
};

class PipelineRegistry {
 public:
  explicit PipelineRegistry(wasm::EngineConfig engine_config = {}) : engine_(engine_config) {}

  // Reads and compiles each mode's module. InvalidArgument naming the mode and file for one that cannot be
  // read, is not a WebAssembly module, or is not a WASI command (no `_start`).
  queue::Result<void> Load(const std::map<std::string, std::string>& mode_to_path);
  // Registers an already compiled module (tests, embedders).
  void Add(std::string mode, std::string path, std::shared_ptr<const wasm::Module> module);

  const Pipeline* Find(const std::string& mode) const;
  std::vector<std::string> modes() const;  // sorted
  const wasm::Engine& engine() const { return engine_; }

 private:
  wasm::Engine engine_;
  std::map<std::string, Pipeline> pipelines_;
};

}  // namespace wasmq::worker
