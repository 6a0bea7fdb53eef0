// File: src/worker/registry.cc
#include "worker/registry.h"

#include <fstream>
#include <iterator>

namespace wasmq::worker {

queue::Result<void> PipelineRegistry::Load(const std::map<std::string, std::string>& mode_to_path) {
  for (const auto& [mode, path] : mode_to_path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return queue::InvalidArgument("pipeline " + mode + ": cannot read " + path);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto module = wasm::Module::Compile(engine_, bytes);
    if (!module)
      return queue::InvalidArgument("pipeline " + mode + ": " + path + ": " + module.error().message);
    bool has_start = false;
    for (const auto& e : (*module)->exports())
      has_start = has_start || (e.name == "_start" && e.kind == wasm::ExternKind::Func);
    if (!has_start)
      return queue::InvalidArgument("pipeline " + mode + ": " + path + " is not a WASI command (no _start)");
    Add(mode, path, std::move(*module));
  }
  return {};
}

void PipelineRegistry::Add(std::string mode, std::string path, std::shared_ptr<const wasm::Module> module) {
  Pipeline p{mode, std::move(path), std::move(module)};
  pipelines_[std::move(mode)] = std::move(p);
}

const Pipeline* PipelineRegistry::Find(const std::string& mode) const {
  auto it = pipelines_.find(mode);
  return it == pipelines_.end() ? nullptr : &it->second;
}

std::vector<std::string> PipelineRegistry::modes() const {
  std::vector<std::string> out;
  for (const auto& [mode, p] : pipelines_) out.push_back(mode);
  return out;
}

}  // namespace wasmq::worker
