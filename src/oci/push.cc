// File: src/oci/push.cc
//
// Push writes a module in any layout wasmq reads (docs/oci.md has each one's manifest): the config and
// layer blobs (skipped when the registry has them), then the manifest under the ref's tag.
#include <nlohmann/json.hpp>

#include "oci/util.h"

namespace wasmq::oci {
namespace {

using nlohmann::json;

json DescriptorJson(std::string_view media_type, const std::string& bytes) {
  return json{{"mediaType", media_type}, {"digest", Sha256Digest(bytes)}, {"size", bytes.size()}};
}

// An OCI / Docker image config for a wasm image; diff_id is the uncompressed layer's digest.
std::string ImageConfigJson(const std::string& diff_id, const std::vector<std::string>& entrypoint) {
  json c{{"architecture", "wasm"},
         {"os", "wasip1"},
         {"rootfs", {{"type", "layers"}, {"diff_ids", {diff_id}}}},
         {"config", json::object()}};
  if (!entrypoint.empty()) c["config"]["Entrypoint"] = entrypoint;
  return c.dump();
}

}  // namespace

Result<PushResult> Push(std::string_view module, const std::string& ref_text, const PushOptions& o) {
  auto parsed = ParseReference(ref_text);
  if (!parsed) return parsed.error();
  const Reference& ref = *parsed;
  if (ref.tag.empty() && !ref.digest.empty())
    return MakeError(ErrorKind::InvalidArgument, "push needs a tag: " + ref_text);
  if (IsComponent(module) && o.layout != Layout::ComponentLayer)
    return MakeError(ErrorKind::UnsupportedFormat,
                     "the file is a WebAssembly component (wasip2); push it with --layout component");
  if (!IsComponent(module)) {
    auto core = CheckCoreModule(module);
    if (!core) return MakeError(ErrorKind::InvalidArgument, "the file is not a WebAssembly module");
  }
  std::string module_bytes(module);
  std::string config, layer;
  std::string config_type, layer_type;
  std::string manifest_type(o.docker_schema2 ? media::kDockerManifest : media::kOciManifest);
  std::string module_digest = Sha256Digest(module_bytes);
  switch (o.layout) {
    case Layout::CncfArtifact:
      config = json{{"architecture", "wasm"},
                    {"os", "wasip1"},
                    {"layerDigests", {module_digest}},
                    {"size", module_bytes.size()}}
                   .dump();
      config_type = media::kWasmConfig;
      layer = module_bytes;
      layer_type = media::kWasmLayer;
      break;
    case Layout::WasmContentLayer:
      config = "{}";
      config_type = "application/vnd.wasm.config.v1+json";
      layer = module_bytes;
      layer_type = media::kWasmContentLayer;
      break;
    case Layout::ImageConfigWasm:
    case Layout::ComponentLayer:
      config = ImageConfigJson(module_digest, {"/module.wasm"});
      config_type = o.docker_schema2 ? media::kDockerConfig : media::kOciConfig;
      layer = module_bytes;
      layer_type = o.layout == Layout::ComponentLayer ? media::kComponentLayer : media::kWasmLayer;
      break;
    case Layout::TarEntrypoint: {
      std::string tar = MakeTar({{"app.wasm", module_bytes}}, false);
      config = ImageConfigJson(Sha256Digest(tar), {"/app.wasm"});
      config_type = o.docker_schema2 ? media::kDockerConfig : media::kOciConfig;
      layer = MakeTar({{"app.wasm", module_bytes}}, true);
      layer_type = o.docker_schema2 ? media::kDockerLayerTarGzip : media::kOciLayerTarGzip;
      break;
    }
  }
  Client client(o.client);
  std::string config_digest = Sha256Digest(config), layer_digest = Sha256Digest(layer);
  if (auto r = client.PushBlob(ref, config_digest, config); !r) return r.error();
  if (auto r = client.PushBlob(ref, layer_digest, layer); !r) return r.error();
  json m{{"schemaVersion", 2},
         {"mediaType", manifest_type},
         {"config", DescriptorJson(config_type, config)},
         {"layers", {DescriptorJson(layer_type, layer)}}};
  if (!o.docker_schema2) {  // Docker schema2 has no annotations
    if (!o.annotations.empty()) m["annotations"] = o.annotations;
    if (layer_type != media::kOciLayerTarGzip)
      m["layers"][0]["annotations"] = json{{"org.opencontainers.image.title", "module.wasm"}};
  }
  std::string bytes = m.dump();
  auto digest = client.PutManifest(ref, manifest_type, bytes);
  if (!digest) return digest.error();
  return PushResult{*digest, manifest_type, static_cast<int64_t>(bytes.size())};
}

}  // namespace wasmq::oci
