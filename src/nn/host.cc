// File: src/nn/host.cc
//
// The process-wide side of WASI-NN: models by name (given as NAME=PATH|REF, or found in the models
// directory's NAME.json index files), graphs loaded from bytes (shared by SHA-256), and the pool.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/digest.h"
#include "nn/internal.h"

namespace wasmq::nn {

namespace {

constexpr size_t kKeepRecentGraphs = 2;        // graphs loaded from bytes kept after their last user
constexpr uint64_t kMaxIndexFileBytes = 64 << 10;  // a models-directory NAME.json

bool IsRegularFile(const std::string& path, uint64_t* size = nullptr) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (size) *size = static_cast<uint64_t>(st.st_size);
  return true;
}

// NAME=VALUE's VALUE names a file (rather than an OCI reference) when it looks like a path or is one.
bool LooksLikePath(const std::string& v) {
  if (v.starts_with("/") || v.starts_with("./") || v.starts_with("../") || IsRegularFile(v)) return true;
  // An OCI reference: REGISTRY/REPO[:TAG|@DIGEST], the registry a host (a dot, a port or localhost).
  const size_t slash = v.find('/');
  if (slash == std::string::npos) return true;
  const std::string host = v.substr(0, slash);
  return !(host.find('.') != std::string::npos || host.find(':') != std::string::npos || host == "localhost");
}

Outcome<std::string> ReadAll(const std::string& path, uint64_t max) {
  uint64_t size = 0;
  if (!IsRegularFile(path, &size)) return Failure{Errno::NotFound, path + " is not a regular file"};
  if (size > max)
    return Failure{Errno::TooLarge, path + " is " + std::to_string(size) + " bytes, over " + std::to_string(max)};
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad() || !in.is_open()) return Failure{Errno::RuntimeError, "cannot read " + path};
  return bytes;
}

std::string Digest(std::string_view bytes) { return "sha256:" + base::Sha256Hex(bytes); }

}  // namespace

bool IsModelName(std::string_view name) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (name.empty() || name.size() > 100 || !alnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

std::vector<std::string> SplitModelSpecs(std::string_view list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view item = list.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    start = comma + 1;
  }
  return out;
}

HostImpl::HostImpl(HostConfig config) : config_(std::move(config)) {}

HostImpl::~HostImpl() {
  std::unique_ptr<Pool> pool;
  {
    base::MutexLock lock(mu_);
    pool.swap(pool_);
  }
  pool.reset();  // joins: forward passes still running finish before the graphs go
}

Result<void> HostImpl::AddModel(std::string_view spec) {
  const size_t eq = spec.find('=');
  if (eq == std::string_view::npos) return Error{"--nn-model '" + std::string(spec) + "': expected NAME=PATH or NAME=OCI-REF"};
  const std::string name(spec.substr(0, eq)), value(spec.substr(eq + 1));
  if (!IsModelName(name))
    return Error{"--nn-model '" + std::string(spec) + "': the name must be a letter or digit, then letters, digits, '.', '_', '-' (at most 100)"};
  if (value.empty()) return Error{"--nn-model '" + std::string(spec) + "': no PATH or OCI-REF"};
  auto model = std::make_shared<NamedModel>();
  model->name = name;
  if (LooksLikePath(value)) {
    if (!IsRegularFile(value)) return Error{"--nn-model " + name + ": " + value + " is not a readable file"};
    model->path = std::filesystem::absolute(value).string();
  } else {
    if (!config_.resolve_ref)
      return Error{"--nn-model " + name + "=" + value +
                   ": models from OCI registries are not supported yet (give a file path)"};
    model->ref = value;
  }
  base::MutexLock lock(mu_);
  models_[name] = std::move(model);
  return {};
}

Outcome<std::shared_ptr<NamedModel>> HostImpl::FromModelsDir(const std::string& name) const {
  if (config_.models_dir.empty()) return std::shared_ptr<NamedModel>();
  const std::string index = config_.models_dir + "/" + name + ".json";
  if (!IsRegularFile(index)) return std::shared_ptr<NamedModel>();
  // Another process writes this directory: trust nothing of the file beyond its form.
  Outcome<std::string> text = ReadAll(index, kMaxIndexFileBytes);
  if (!text) return Failure{Errno::RuntimeError, "models directory: " + text.error().message};
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& why) { return Failure{Errno::RuntimeError, index + ": " + why}; };
  if (!j.is_object()) return bad("not a JSON object");
  if (j.contains("name") && (!j["name"].is_string() || j["name"].get<std::string>() != name))
    return bad("its \"name\" is not " + name);
  if (!j.contains("path") || !j["path"].is_string()) return bad("no \"path\"");
  const std::string path = j["path"].get<std::string>();
  if (path.empty() || path[0] != '/') return bad("\"path\" is not absolute");
  uint64_t size = 0;
  if (!IsRegularFile(path, &size)) return bad(path + " is not a regular file");
  if (j.contains("size") && (!j["size"].is_number_unsigned() || j["size"].get<uint64_t>() != size))
    return bad("\"size\" is not the file's size (" + std::to_string(size) + ")");
  auto model = std::make_shared<NamedModel>();
  model->name = name;
  model->path = path;
  model->index = index;
  if (j.contains("digest")) {
    if (!j["digest"].is_string()) return bad("\"digest\" is not a string");
    const std::string digest = j["digest"].get<std::string>();
    if (!digest.starts_with("sha256:") || digest.size() != 7 + 64) return bad("\"digest\" is not sha256:<64 hex>");
    model->expected_digest = digest;
  }
  return model;
}

Outcome<std::shared_ptr<Graph>> HostImpl::LoadByName(const std::string& name) {
  if (!IsModelName(name)) return Failure{Errno::NotFound, "no model named \"" + name + "\""};
  std::shared_ptr<NamedModel> model;
  {
    base::MutexLock lock(mu_);
    if (auto it = models_.find(name); it != models_.end()) model = it->second;
  }
  if (!model) {
    Outcome<std::shared_ptr<NamedModel>> found = FromModelsDir(name);
    if (!found) return found.error();
    if (!*found) return Failure{Errno::NotFound, "no model named \"" + name + "\""};
    base::MutexLock lock(mu_);
    auto [it, inserted] = models_.emplace(name, *found);
    model = it->second;
  }
  return LoadNamed(*model);
}

Outcome<std::shared_ptr<Graph>> HostImpl::LoadNamed(NamedModel& model) {
  base::MutexLock lock(model.mu);  // concurrent first loads wait for one parse
  if (model.graph) return model.graph;
  Outcome<const Backend*> backend = LoadBackend();
  if (!backend) return backend.error();
  if (model.path.empty()) {
    Result<std::string> path = config_.resolve_ref(model.name, model.ref);
    if (!path) return Failure{Errno::NotFound, "model " + model.name + " (" + model.ref + "): " + path.error().message};
    model.path = *path;
  }
  Outcome<std::string> bytes = ReadAll(model.path, UINT64_MAX);
  if (!bytes) return bytes.error();
  const std::string digest = Digest(*bytes);
  if (!model.expected_digest.empty() && digest != model.expected_digest)
    return Failure{Errno::RuntimeError, "model " + model.name + ": " + model.path + " has digest " + digest +
                                            ", its index " + model.index + " says " + model.expected_digest};
  std::optional<OnnxInfo> info = ParseOnnxInfo(*bytes);
  if (!info) return Failure{Errno::InvalidEncoding, "model " + model.name + ": " + model.path + " is not an ONNX model"};
  Outcome<std::shared_ptr<Graph>> graph =
      Graph::Make(*backend, model.name, model.path, std::move(*bytes), /*keep_bytes=*/false, digest, std::move(*info));
  if (!graph) return graph.error();
  model.graph = *graph;
  return model.graph;
}

Outcome<std::shared_ptr<Graph>> HostImpl::LoadBytes(std::string bytes) {
  const std::string digest = Digest(bytes);
  {
    base::MutexLock lock(mu_);
    if (auto it = by_digest_.find(digest); it != by_digest_.end())
      if (std::shared_ptr<Graph> g = it->second.lock()) return g;
  }
  std::optional<OnnxInfo> info = ParseOnnxInfo(bytes);
  if (!info) return Failure{Errno::InvalidEncoding, "the graph is not an ONNX model"};
  Outcome<const Backend*> backend = LoadBackend();
  if (!backend) return backend.error();
  if (Outcome<void> safe = ParseInChild(*backend, bytes); !safe) return safe.error();  // a module's bytes
  Outcome<std::shared_ptr<Graph>> graph =
      Graph::Make(*backend, digest, "", std::move(bytes), /*keep_bytes=*/true, digest, std::move(*info));
  if (!graph) return graph.error();
  base::MutexLock lock(mu_);
  std::weak_ptr<Graph>& slot = by_digest_[digest];
  if (std::shared_ptr<Graph> raced = slot.lock()) return raced;  // parsed twice at once: one is kept
  slot = *graph;
  recent_.push_front(*graph);
  if (recent_.size() > kKeepRecentGraphs) recent_.pop_back();
  for (auto it = by_digest_.begin(); it != by_digest_.end();) it = it->second.expired() ? by_digest_.erase(it) : std::next(it);
  return *graph;
}

Pool& HostImpl::pool() {
  base::MutexLock lock(mu_);
  if (!pool_) {
    int n = config_.threads > 0 ? config_.threads : static_cast<int>(std::thread::hardware_concurrency());
    pool_ = std::make_unique<Pool>(std::max(1, n));
  }
  return *pool_;
}

std::vector<ModelReport> HostImpl::Report() const {
  std::vector<ModelReport> out;
  base::MutexLock lock(mu_);
  for (const auto& [name, model] : models_) {
    base::MutexLock model_lock(model->mu);
    if (model->graph) {
      out.push_back(model->graph->Report());
    } else {
      ModelReport r;
      r.name = name;
      r.source = model->path.empty() ? model->ref : model->path;
      IsRegularFile(model->path, &r.file_bytes);
      out.push_back(std::move(r));
    }
  }
  for (const auto& [digest, weak] : by_digest_)
    if (std::shared_ptr<Graph> g = weak.lock()) out.push_back(g->Report());
  return out;
}

Host::Host(HostConfig config) : impl_(std::make_unique<HostImpl>(std::move(config))), models_(*impl_) {}
Host::~Host() = default;
Result<void> Models::Add(std::string_view spec) { return impl_.AddModel(spec); }
std::vector<ModelReport> Models::Report() const { return impl_.Report(); }
uint64_t Models::MemoryBytes() const {
  uint64_t total = 0;
  for (const ModelReport& r : Report()) total += r.resident_bytes;
  return total;
}
const HostConfig& Host::config() const { return impl_->config(); }

namespace {
base::Mutex g_default_mu;
// Hosts are never destroyed: a forward pass may still run in the background when the process exits, and
// an Instance keeps a reference to the host it was made with.
Host* g_default GUARDED_BY(g_default_mu) = nullptr;
}  // namespace

Host& DefaultHost() {
  base::MutexLock lock(g_default_mu);
  if (!g_default) g_default = new Host();
  return *g_default;
}

Host& ConfigureDefaultHost(HostConfig config) {
  base::MutexLock lock(g_default_mu);
  g_default = new Host(std::move(config));
  return *g_default;
}

}  // namespace wasmq::nn
