// File: src/cli/models.h
//
// The models index the `wasmq models` commands keep (models.cc) and what the rest of the cli asks of it.
// One file per model, <cache-dir>/models/NAME.json (written tmp + rename):
//   {"name", "digest": "sha256:…", "path": absolute path of the bytes, "media_type", "size", "source",
//    "license"}
// The bytes live in the OCI cache's content-addressed store (<cache-dir>/blobs/sha256/<hex>), except for
// models a Debian package installs (dlib's landmarks), whose path is the package's file. docs/models.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wasmq::cli {

struct ModelRecord {
  std::string name;
  std::string digest;      // "sha256:<hex>"
  std::string path;        // absolute
  std::string media_type;  // oci.h media::kOnnxModelLayer, kDlibModelLayer, or application/octet-stream
  int64_t size = 0;
  std::string source;
  std::string license;
};

// <cache_dir>/models; cache_dir "" → the OCI cache's default ($WASMQ_CACHE_DIR, ~/.cache/wasmq).
std::string ModelsDir(const std::string& cache_dir);
// Where the engine keeps compiled pipelines (wasm::EngineConfig::compile_cache_dir): <cache-dir>/compiled.
std::string CompiledCodeDir(const std::string& cache_dir);
std::optional<ModelRecord> ReadModel(const std::string& cache_dir, const std::string& name);
std::vector<ModelRecord> ListModels(const std::string& cache_dir);
bool WriteModel(const std::string& cache_dir, const ModelRecord& model, std::string* error);
// Model names are file names: [A-Za-z0-9][A-Za-z0-9._-]*, at most 100 characters.
bool IsModelName(const std::string& name);

// `NAME=OCI-REF` → the model's local file: pulled through the OCI cache (PullArtifact; WASMQ_CACHE_DIR,
// WASMQ_OFFLINE=on for the cache only, WASMQ_INSECURE_REGISTRIES), digest verified, indexed as NAME.
// `NAME=FILE` (an existing file) → that file, hashed, not copied nor indexed. `NAME` alone → the index,
// or a known model a Debian package installed. nullopt with *error saying what to do otherwise.
// cache_dir "" → $WASMQ_CACHE_DIR or ~/.cache/wasmq. `wasmq models path SPEC` prints its answer.
std::optional<ModelRecord> ResolveModelSpec(const std::string& spec, std::string* error,
                                            const std::string& cache_dir = {});

}  // namespace wasmq::cli
