// File: src/worker/registry_describe.cc
//
// What GET /api/v1/pipelines shows of the registry, and the custom-section reader that finds a module's
// config schema ("wasmq.config_schema": JSON Schema of its task config, written by pipelines/CMakeLists.txt
// into the built-in modules; any module may carry one, OCI-pulled ones included).
#include <filesystem>

#include "worker/registry.h"

namespace wasmq::worker {
namespace {

// An unsigned LEB128 of at most 5 bytes at `*pos` (advanced), or nullopt past the end.
std::optional<uint32_t> ReadU32(std::span<const uint8_t> b, size_t* pos) {
  uint32_t v = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (*pos >= b.size()) return std::nullopt;
    uint8_t byte = b[(*pos)++];
    v |= static_cast<uint32_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return v;
  }
  return std::nullopt;
}

std::string SourceOf(const Pipeline& p) {
  switch (p.origin) {
    case ModuleOrigin::Builtin:
      return "builtin";
    case ModuleOrigin::Registry: {
      std::string ref = p.facts.ref.starts_with("oci://") ? p.facts.ref.substr(6) : p.facts.ref;
      if (!p.facts.digest.empty() && ref.find('@') == std::string::npos) ref += "@" + p.facts.digest;
      return "oci:" + ref;
    }
    case ModuleOrigin::File:
      break;
  }
  std::error_code ec;
  auto abs = std::filesystem::absolute(p.facts.ref.empty() ? p.path : p.facts.ref, ec);
  return "file:" + (ec ? p.path : abs.lexically_normal().string());
}

}  // namespace

std::optional<std::string> CustomSection(std::span<const uint8_t> b, std::string_view name) {
  static constexpr uint8_t kHeader[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  if (b.size() < sizeof kHeader || !std::equal(std::begin(kHeader), std::end(kHeader), b.begin()))
    return std::nullopt;
  size_t pos = sizeof kHeader;
  while (pos < b.size()) {
    const uint8_t id = b[pos++];
    auto size = ReadU32(b, &pos);
    if (!size || *size > b.size() - pos) return std::nullopt;
    const size_t end = pos + *size;
    if (id == 0) {
      size_t at = pos;
      auto len = ReadU32(b, &at);
      if (!len || *len > end - at) return std::nullopt;
      std::string_view got(reinterpret_cast<const char*>(b.data() + at), *len);
      if (got == name) return std::string(reinterpret_cast<const char*>(b.data() + at + *len), end - at - *len);
    }
    pos = end;
  }
  return std::nullopt;
}

namespace {
std::string_view TierName(wasm::Module::Tier tier) {
  switch (tier) {
    case wasm::Module::Tier::kCompiled: return "compiled";
    case wasm::Module::Tier::kCompiling: return "compiling";
    case wasm::Module::Tier::kInterpreted: break;
  }
  return "interpreted";
}
}  // namespace

nlohmann::json PipelineRegistry::Describe() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [mode, p] : pipelines_) {
    nlohmann::json schema = nlohmann::json::parse(p.config_schema, nullptr, /*allow_exceptions=*/false);
    if (!schema.is_object()) schema = {{"type", "object"}};
    std::string signer;
    for (const std::string& s : p.facts.signers) signer += (signer.empty() ? "" : ", ") + s;
    out.push_back({{"mode", mode},
                   {"source", SourceOf(p)},
                   {"digest", p.facts.digest},
                   {"size", p.facts.size},
                   {"imports", p.facts.imports},
                   {"signer", signer.empty() ? nlohmann::json(nullptr) : nlohmann::json(signer)},
                   {"trust", p.trust},
                   {"tier", TierName(p.module->tier())},
                   {"description", schema.value("description", "")},
                   {"config_schema", std::move(schema)}});
  }
  return out;
}

}  // namespace wasmq::worker
