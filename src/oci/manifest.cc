// File: src/oci/manifest.cc
//
// Manifest, index and config JSON → structs. Pure functions over bytes (fuzzed by fuzz/fuzz_oci.cc): any
// input yields a value or an Error, never an exception or a crash.
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "json/json.h"
#include "oci/util.h"

namespace wasmq::oci {
namespace {

using nlohmann::json;

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::map<std::string, std::string> StrMap(const json& j, const char* key) {
  std::map<std::string, std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return out;
  for (const auto& [k, v] : it->items())
    if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

std::vector<std::string> StrList(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

Result<Descriptor> ParseDescriptor(const json& j, const char* what) {
  if (!j.is_object()) return MakeError(ErrorKind::RegistryError, std::string(what) + " is not an object");
  Descriptor d;
  d.media_type = Str(j, "mediaType");
  d.digest = Str(j, "digest");
  if (auto it = j.find("size"); it != j.end() && it->is_number_integer()) d.size = it->get<int64_t>();
  if (d.size < 0) return MakeError(ErrorKind::RegistryError, std::string(what) + " has a negative size");
  d.annotations = StrMap(j, "annotations");
  if (auto p = j.find("platform"); p != j.end() && p->is_object())
    d.platform = Platform{Str(*p, "os"), Str(*p, "architecture"), Str(*p, "variant")};
  if (!IsDigest(d.digest))
    return MakeError(ErrorKind::RegistryError, std::string(what) + " has no valid sha256 digest");
  return d;
}

bool IsKnownManifestType(std::string_view t) {
  return t == media::kOciIndex || t == media::kOciManifest || t == media::kDockerList || t == media::kDockerManifest;
}

}  // namespace

std::string media::ManifestAccept() {
  return std::string(kOciIndex) + ", " + std::string(kOciManifest) + ", " + std::string(kDockerList) + ", " +
         std::string(kDockerManifest);
}

bool Manifest::IsIndex() const { return media_type == media::kOciIndex || media_type == media::kDockerList; }

Result<Manifest> ParseManifest(std::string_view bytes, std::string_view content_type) {
  std::string parse_error;
  json j = wasmq::json::Parse(bytes, &parse_error);
  if (j.is_discarded()) return MakeError(ErrorKind::RegistryError, "manifest is not JSON: " + parse_error);
  if (!j.is_object()) return MakeError(ErrorKind::RegistryError, "manifest is not a JSON object");
  Manifest m;
  if (auto it = j.find("schemaVersion"); it != j.end() && it->is_number_integer()) m.schema_version = it->get<int>();
  std::string ct(base::Trim(content_type.substr(0, content_type.find(';'))));
  std::string body_type = Str(j, "mediaType");
  if (m.schema_version == 1 || ct.find("prettyjws") != std::string::npos ||
      ct == "application/vnd.docker.distribution.manifest.v1+json") {
    Error e = MakeError(ErrorKind::UnsupportedFormat, "Docker schema 1 manifests are not supported (deprecated)");
    e.media_types = {ct.empty() ? std::string("schemaVersion 1") : ct};
    return e;
  }
  m.media_type = IsKnownManifestType(ct) ? ct : body_type;
  if (m.media_type.empty()) m.media_type = std::string(j.contains("manifests") ? media::kOciIndex : media::kOciManifest);
  if (!IsKnownManifestType(m.media_type)) {
    Error e = MakeError(ErrorKind::UnsupportedFormat, "unknown manifest media type " + m.media_type);
    e.media_types = {m.media_type};
    return e;
  }
  m.artifact_type = Str(j, "artifactType");
  m.annotations = StrMap(j, "annotations");
  if (m.IsIndex()) {
    auto it = j.find("manifests");
    if (it == j.end() || !it->is_array()) return MakeError(ErrorKind::RegistryError, "index has no manifests array");
    for (const auto& e : *it) {
      auto d = ParseDescriptor(e, "index entry");
      if (!d) return d.error();
      m.manifests.push_back(std::move(*d));
    }
    return m;
  }
  auto config = j.find("config");
  if (config == j.end()) return MakeError(ErrorKind::RegistryError, "manifest has no config");
  auto cd = ParseDescriptor(*config, "config");
  if (!cd) return cd.error();
  m.config = std::move(*cd);
  if (auto it = j.find("layers"); it != j.end()) {
    if (!it->is_array()) return MakeError(ErrorKind::RegistryError, "manifest layers is not an array");
    for (const auto& e : *it) {
      auto d = ParseDescriptor(e, "layer");
      if (!d) return d.error();
      m.layers.push_back(std::move(*d));
    }
  }
  return m;
}

Result<ImageConfig> ParseImageConfig(std::string_view bytes, std::string_view media_type) {
  ImageConfig c;
  c.media_type = std::string(media_type);
  std::string parse_error;
  json j = wasmq::json::Parse(bytes, &parse_error);
  if (j.is_discarded()) return MakeError(ErrorKind::RegistryError, "config blob is not JSON: " + parse_error);
  if (!j.is_object()) return c;  // e.g. the empty descriptor's "{}" variants; nothing to read
  c.architecture = Str(j, "architecture");
  c.os = Str(j, "os");
  c.variant = Str(j, "variant");
  if (auto it = j.find("config"); it != j.end() && it->is_object()) {
    c.entrypoint = StrList(*it, "Entrypoint");
    c.cmd = StrList(*it, "Cmd");
    c.labels = StrMap(*it, "Labels");
  }
  return c;
}

Result<Descriptor> SelectWasmPlatform(const Manifest& index) {
  std::vector<std::string> found;
  for (const auto& d : index.manifests) {
    if (!d.platform) continue;
    const Platform& p = *d.platform;
    if (p.architecture == "wasm" && (p.os == "wasi" || p.os == "wasip1")) return d;
    found.push_back(p.os + "/" + p.architecture + (p.variant.empty() ? "" : "/" + p.variant));
  }
  for (const auto& d : index.manifests)
    if (d.annotations.count(std::string(media::kVariantAnnotation))) return d;
  if (index.manifests.size() == 1 && !index.manifests[0].platform) return index.manifests[0];
  Error e = MakeError(ErrorKind::UnsupportedFormat,
                      "the index has no wasi/wasm platform (platforms: " +
                          (found.empty() ? std::string("none") : [&] {
                            std::string s;
                            for (const auto& f : found) s += (s.empty() ? "" : ", ") + f;
                            return s;
                          }()) + ")");
  e.media_types = found;
  return e;
}

}  // namespace wasmq::oci
