// File: src/worker/registry.cc
#include "worker/registry.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "oci/oci.h"

namespace wasmq::worker {

queue::Result<void> PipelineRegistry::Load(const std::map<std::string, std::string>& mode_to_path) {
  for (const auto& [mode, given] : mode_to_path) {
    std::string path = given;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      std::string ref = path.rfind("oci://", 0) == 0 ? path.substr(6) : path;
      if (oci::ParseReference(ref)) {  // a module in a registry: through the cache
        oci::PullOptions o;
        o.cache_dir = oci_.cache_dir;
        o.offline = oci_.offline;
        o.client.insecure_registries = oci_.insecure_registries;
        o.client.credentials.k8s_secret = oci_.k8s_secret;
        auto pulled = oci::Pull(ref, o);
        if (!pulled)
          return queue::Unavailable("pipeline " + mode + ": pulling " + ref + ": " +
                                    std::string(oci::KindName(pulled.error().kind)) + ": " + pulled.error().message);
        path = pulled->module_path;
      }
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return queue::InvalidArgument("pipeline " + mode + ": cannot read " + path);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (auto r = AddBytes(mode, path == given ? path : given + " (" + path + ")", bytes); !r) return r;
  }
  return {};
}

queue::Result<void> PipelineRegistry::AddBytes(const std::string& mode, std::string path,
                                               std::span<const uint8_t> bytes) {
  auto module = wasm::Module::Compile(engine_, bytes);
  if (!module) return queue::InvalidArgument("pipeline " + mode + ": " + path + ": " + module.error().message);
  bool has_start = false;
  for (const auto& e : (*module)->exports())
    has_start = has_start || (e.name == "_start" && e.kind == wasm::ExternKind::Func);
  if (!has_start)
    return queue::InvalidArgument("pipeline " + mode + ": " + path + " is not a WASI command (no _start)");
  Add(mode, std::move(path), std::move(*module));
  return {};
}

queue::Result<void> PipelineRegistry::AddBuiltins() {
  for (const BuiltinModule& b : BuiltinModules()) {
    const std::string mode(b.mode);
    if (Find(mode)) continue;
    auto bytes = std::span(reinterpret_cast<const uint8_t*>(b.bytes.data()), b.bytes.size());
    if (auto r = AddBytes(mode, "builtin:" + mode, bytes); !r) return r;
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
