// File: src/oci/layout.cc
//
// Which Wasm artifact layout a manifest uses, and where its module is. The layouts (docs/oci.md):
//   cncf                config application/vnd.wasm.config.v0+json, one application/wasm layer
//   wasm-content-layer  one application/vnd.wasm.content.layer.v1+wasm layer (the older wasm-to-oci)
//   image-config        an image config with architecture wasm and a raw wasm layer
//   component           runwasi's application/vnd.bytecodealliance.wasm.component.layer.v0+wasm layer
//   tar                 a FROM-scratch image whose Entrypoint names a .wasm inside its tar(.gz) layers
// Docker schema2 manifests carry the same layouts under Docker media types.
#include "oci/util.h"

namespace wasmq::oci {
namespace {

bool IsRawWasmType(std::string_view t) {
  return t == media::kWasmLayer || t == media::kWasmContentLayer || t == media::kComponentLayer ||
         t == "application/vnd.wasm.content.layer.v1+wasm" || t == "application/vnd.module.wasm.content.layer.v1+wasm";
}

bool IsTarType(std::string_view t) {
  return t == media::kOciLayerTar || t == media::kOciLayerTarGzip || t == media::kDockerLayerTarGzip ||
         t == "application/vnd.docker.image.rootfs.diff.tar" || t == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
}

Error Unsupported(const Manifest& m, const std::string& why) {
  Error e = MakeError(ErrorKind::UnsupportedFormat, why);
  e.media_types.push_back("manifest " + m.media_type);
  if (!m.artifact_type.empty()) e.media_types.push_back("artifactType " + m.artifact_type);
  e.media_types.push_back("config " + m.config.media_type);
  for (const auto& l : m.layers) e.media_types.push_back("layer " + l.media_type);
  return e;
}

}  // namespace

std::string_view LayoutName(Layout layout) {
  switch (layout) {
    case Layout::CncfArtifact: return "cncf";
    case Layout::WasmContentLayer: return "wasm-content-layer";
    case Layout::ImageConfigWasm: return "image-config";
    case Layout::ComponentLayer: return "component";
    case Layout::TarEntrypoint: return "tar";
  }
  return "cncf";
}

std::optional<Layout> LayoutFromName(std::string_view name) {
  for (Layout l : {Layout::CncfArtifact, Layout::WasmContentLayer, Layout::ImageConfigWasm, Layout::ComponentLayer,
                   Layout::TarEntrypoint})
    if (LayoutName(l) == name) return l;
  return std::nullopt;
}

std::vector<Descriptor> TarLayersNewestFirst(const Manifest& m) {
  std::vector<Descriptor> out;
  for (auto it = m.layers.rbegin(); it != m.layers.rend(); ++it)
    if (IsTarType(it->media_type)) out.push_back(*it);
  return out;
}

Result<LayoutMatch> DetectLayout(const Manifest& m, const ImageConfig* config) {
  if (m.IsIndex()) return MakeError(ErrorKind::InvalidArgument, "DetectLayout needs an image manifest, not an index");
  LayoutMatch match;
  match.docker_schema2 = m.media_type == media::kDockerManifest;
  if (auto it = m.annotations.find(std::string(media::kVariantAnnotation)); it != m.annotations.end())
    match.variant_hint = it->second;
  std::vector<const Descriptor*> raw;
  for (const auto& l : m.layers)
    if (IsRawWasmType(l.media_type)) raw.push_back(&l);
  const std::string& ct = m.config.media_type;
  bool wasm_arch = config && config->architecture == "wasm";
  if (raw.size() > 1) {
    // Several raw modules: only the CNCF spec forbids it; pick none rather than guess.
    return Unsupported(m, "the manifest has " + std::to_string(raw.size()) + " wasm layers; wasmq needs exactly one");
  }
  if (raw.size() == 1) {
    match.layer = *raw[0];
    const std::string& lt = raw[0]->media_type;
    if (ct == media::kWasmConfig || m.artifact_type == media::kWasmConfig) {
      match.layout = Layout::CncfArtifact;
    } else if (lt == media::kComponentLayer) {
      match.layout = Layout::ComponentLayer;
    } else if (lt == media::kWasmContentLayer) {
      match.layout = Layout::WasmContentLayer;
    } else if (wasm_arch || ct == media::kOciConfig || ct == media::kDockerConfig) {
      match.layout = Layout::ImageConfigWasm;
    } else {
      match.layout = Layout::CncfArtifact;  // application/wasm under another config type: read it anyway
    }
    return match;
  }
  auto tars = TarLayersNewestFirst(m);
  if (!tars.empty()) {
    if (!config) return Unsupported(m, "a tar-layer image: its config is needed to find the module");
    std::string entry;
    for (const auto* list : {&config->entrypoint, &config->cmd}) {
      for (const auto& arg : *list) {
        std::string path = arg.substr(0, arg.find('#'));
        if (path.size() > 5 && path.substr(path.size() - 5) == ".wasm") {
          entry = arg;
          break;
        }
      }
      if (!entry.empty()) break;
    }
    if (entry.empty())
      return Unsupported(m, "a container image whose Entrypoint/Cmd names no .wasm file (architecture \"" +
                                config->architecture + "\")");
    match.layout = Layout::TarEntrypoint;
    match.layer = tars.front();
    match.path_in_tar = entry.substr(0, entry.find('#'));
    if (auto hash = entry.find('#'); hash != std::string::npos) match.entry_func = entry.substr(hash + 1);
    return match;
  }
  return Unsupported(m, "no layer wasmq reads (application/wasm, vnd.wasm.content.layer, component layer, "
                        "or tar layers with a .wasm Entrypoint)");
}

bool IsComponent(std::string_view b) {
  return b.size() >= 8 && b.substr(0, 4) == std::string_view("\0asm", 4) &&
         b.substr(4, 4) == std::string_view("\x0d\x00\x01\x00", 4);
}

Result<void> CheckCoreModule(std::string_view b) {
  if (IsComponent(b))
    return MakeError(ErrorKind::UnsupportedFormat,
                     "the artifact is a WebAssembly component (wasip2); wasmq runs core modules (wasip1) — "
                     "build for wasm32-wasip1 (or wasm32-wasi) and push again");
  if (b.size() >= 8 && b.substr(0, 4) == std::string_view("\0asm", 4) &&
      b.substr(4, 4) == std::string_view("\x01\x00\x00\x00", 4))
    return {};
  return MakeError(ErrorKind::UnsupportedFormat, "the layer is not a WebAssembly module (no \\0asm version 1 header)");
}

}  // namespace wasmq::oci
