// File: src/worker/registry.cc
#include "worker/registry.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <utility>

#include "base/strings.h"
#include "oci/oci.h"
#include "wasi/wasi.h"

namespace wasmq::worker {

namespace {

std::string WithoutScheme(const std::string& ref) {
  return ref.rfind("oci://", 0) == 0 ? ref.substr(6) : ref;
}

// A --task-modules prefix as a registry and a repository path ("" = the whole registry). A bare name is a
// registry when it looks like one (a '.' or a ':' in it, or localhost), as the first component of a
// reference is; anything else parses as a repository with Docker's defaults (formy/x → docker.io/formy/x).
std::optional<std::pair<std::string, std::string>> ParseModulePrefix(const std::string& given) {
  std::string text = WithoutScheme(given);
  while (!text.empty() && text.back() == '/') text.pop_back();
  if (text.empty()) return std::nullopt;
  const bool bare_registry =
      text.find('/') == std::string::npos &&
      (text.find('.') != std::string::npos || text.find(':') != std::string::npos || text == "localhost");
  // A bare registry is checked (and normalised, docker.io's aliases) as the registry of a reference in it.
  auto ref = oci::ParseRepository(bare_registry ? text + "/x" : text);
  if (!ref || !ref->tag.empty() || !ref->digest.empty()) return std::nullopt;
  return std::pair{base::Lower(ref->registry), bare_registry ? std::string() : ref->repository};
}

// Whether a later pull may succeed where this one failed (the network or the registry), as opposed to
// one that will fail the same way until someone acts (no such tag, no rights, a format wasmq doesn't read).
bool Transient(oci::ErrorKind kind) {
  using K = oci::ErrorKind;
  return kind == K::Network || kind == K::RateLimited || kind == K::RegistryError ||
         kind == K::DigestMismatch || kind == K::Io;
}

// A failed pull's cause as `wasmq doctor` names it (its FailWith maps the same kinds; doctor.h lists them).
std::string_view DoctorCauseName(oci::ErrorKind kind) {
  using K = oci::ErrorKind;
  switch (kind) {
    case K::Network: return "network";
    case K::AuthRequired:
    case K::AuthRejected: return "auth";
    case K::Denied: return "denied";
    case K::RepoNotFound: return "repo-not-found";
    case K::ManifestNotFound: return "tag-not-found";
    case K::RateLimited: return "rate-limited";
    case K::DigestMismatch: return "digest-mismatch";
    case K::UnsupportedFormat: return "unsupported-format";
    case K::NotCached: return "not-cached";
    case K::BlobNotFound:
    case K::RegistryError:
    case K::InvalidArgument:
    case K::Io: break;
  }
  return "registry-error";
}

// The module file of `ref`, pulled through the cache. `what` begins the error message. Unavailable when a
// retry may help (Transient), NotFound otherwise. A failure's cause goes to `observe` (when set).
queue::Result<oci::PullResult> PullModule(const OciSource& src, const std::string& ref, const std::string& what,
                                          const std::function<void(std::string_view)>& observe) {
  oci::PullOptions o;
  o.cache_dir = src.cache_dir;
  o.offline = src.offline;
  o.client.insecure_registries = src.insecure_registries;
  o.client.credentials.k8s_secret = src.k8s_secret;
  auto pulled = oci::Pull(ref, o);
  if (!pulled) {
    if (observe) observe(DoctorCauseName(pulled.error().kind));
    std::string message = what + ": pulling " + ref + ": " + std::string(oci::KindName(pulled.error().kind)) +
                          ": " + pulled.error().message;
    return Transient(pulled.error().kind) ? queue::Unavailable(std::move(message))
                                          : queue::NotFound(std::move(message));
  }
  return std::move(*pulled);
}

queue::Result<std::vector<uint8_t>> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return queue::InvalidArgument(what + ": cannot read " + path);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Compiles a pipeline module and checks it is a WASI command. `what` begins the error message.
queue::Result<std::shared_ptr<const wasm::Module>> CompileCommand(const wasm::Engine& engine,
                                                                  std::span<const uint8_t> bytes,
                                                                  const std::string& what) {
  auto module = wasm::Module::Compile(engine, bytes);
  if (!module) return queue::InvalidArgument(what + ": " + module.error().message);
  if (auto why = wasi::WhyNotCommand(**module))
    return queue::InvalidArgument(what + " is not a WASI command: it " + *why);
  return std::shared_ptr<const wasm::Module>(std::move(*module));
}

std::vector<std::string> ImportNames(const wasm::Module& module) {
  std::vector<std::string> out;
  for (const auto& i : module.imports()) out.push_back(i.module + "." + i.name);
  return out;
}

}  // namespace

bool IsModuleUntrusted(const queue::Error& error) {
  return error.code == queue::Code::InvalidArgument && error.message.starts_with(kModuleUntrusted);
}

queue::Result<ModuleTrust> PipelineRegistry::Trust(const ModuleSubject& subject, const std::string& what) const {
  if (!gate_.trust) return ModuleTrust{};
  auto t = gate_.trust(subject);
  if (!t) return queue::InvalidArgument(std::string(kModuleUntrusted) + what + ": " + t.error());
  return std::move(*t);
}

queue::Result<void> PipelineRegistry::Admit(const ModuleFacts& facts, const std::string& what) const {
  if (!gate_.admit) return {};
  if (auto refused = gate_.admit(facts))
    return queue::InvalidArgument(std::string(kModuleUntrusted) + what + ": " + *refused);
  return {};
}

queue::Result<void> CheckTaskModulePrefixes(const std::vector<std::string>& prefixes) {
  for (const std::string& p : prefixes)
    if (!ParseModulePrefix(p))
      return queue::InvalidArgument("task-modules: " + p +
                                    " is not a registry or a repository (registry.example.com, "
                                    "registry.example.com/team/pipelines; no tag or digest)");
  return {};
}

std::shared_ptr<const wasm::Module> ModuleCache::Get(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  order_.splice(order_.begin(), order_, it->second);
  return it->second->module;
}

void ModuleCache::Put(const std::string& key, std::shared_ptr<const wasm::Module> module, uint64_t bytes) {
  if (bytes > max_bytes_ || max_count_ == 0) return;
  if (auto it = index_.find(key); it != index_.end()) {
    bytes_ -= it->second->bytes;
    order_.erase(it->second);
    index_.erase(it);
  }
  order_.push_front({key, std::move(module), bytes});
  index_[key] = order_.begin();
  bytes_ += bytes;
  while (index_.size() > max_count_ || bytes_ > max_bytes_) {
    const Entry& last = order_.back();
    bytes_ -= last.bytes;
    index_.erase(last.key);
    order_.pop_back();
  }
}

void PipelineRegistry::SetOci(OciSource source) {
  oci_ = std::move(source);
  task_module_prefixes_.clear();
  for (const std::string& p : oci_.task_module_prefixes)
    if (auto parsed = ParseModulePrefix(p)) task_module_prefixes_.push_back({parsed->first, parsed->second});
  base::MutexLock lock(task_modules_mu_);
  task_modules_ = ModuleCache(oci_.task_module_cache_count, oci_.task_module_cache_bytes);
}

queue::Result<void> PipelineRegistry::Load(const std::map<std::string, std::string>& mode_to_path) {
  for (const auto& [mode, given] : mode_to_path) {
    std::string path = given;
    std::error_code ec;
    const bool in_registry =
        !std::filesystem::is_regular_file(path, ec) && oci::ParseReference(WithoutScheme(path));
    // The trust policy first: nothing unverified is even read.
    auto trust = Trust({in_registry ? ModuleOrigin::Registry : ModuleOrigin::File,
                        in_registry ? WithoutScheme(given) : given},
                       "pipeline " + mode + ": " + given);
    if (!trust) return trust.error();
    ModuleFacts facts{given, "", trust->signers, {}, 0};
    if (in_registry) {  // a module in a registry, pulled by the digest that verified when there is one
      const std::string ref = trust->pull_ref.empty() ? WithoutScheme(path) : trust->pull_ref;
      auto pulled = PullModule(oci_, ref, "pipeline " + mode, on_pull_failure_);
      if (!pulled) return pulled.error();
      path = pulled->module_path;
      facts.digest = pulled->manifest_digest;
    }
    auto bytes = ReadFile(path, "pipeline " + mode);
    if (!bytes) return bytes.error();
    if (auto r = AddAdmitted(mode, path == given ? path : given + " (" + path + ")", *bytes, std::move(facts),
                             in_registry ? ModuleOrigin::Registry : ModuleOrigin::File);
        !r)
      return r;
  }
  return {};
}

queue::Result<void> PipelineRegistry::AddBytes(const std::string& mode, std::string path,
                                               std::span<const uint8_t> bytes) {
  return AddAdmitted(mode, path, bytes, ModuleFacts{path, "", {}, {}, 0});
}

queue::Result<void> PipelineRegistry::AddAdmitted(const std::string& mode, std::string path,
                                                  std::span<const uint8_t> bytes, ModuleFacts facts,
                                                  ModuleOrigin origin) {
  auto module = CompileCommand(engine_, bytes, "pipeline " + mode + ": " + path);
  if (!module) return module.error();
  // Known for every pipeline (the dashboard lists them), whether or not a module policy asks.
  if (facts.digest.empty())
    facts.digest = oci::Sha256Digest(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  facts.imports = ImportNames(**module);
  facts.size = bytes.size();
  if (gate_.admit) {
    if (auto r = Admit(facts, "pipeline " + mode + ": " + facts.ref); !r) return r;
  }
  Add(mode, std::move(path), std::move(*module));
  Pipeline& p = pipelines_[mode];
  p.origin = origin;
  // A built-in the trust policy let through is part of the binary: trusted as the binary is.
  p.trust = !gate_.trust                                                      ? "not-checked"
            : !facts.signers.empty() || origin == ModuleOrigin::Builtin ? "trusted"
                                                                          : "unsigned";
  p.facts = std::move(facts);
  p.config_schema = CustomSection(bytes, kConfigSchemaSection).value_or("");
  return {};
}

queue::Result<std::shared_ptr<const wasm::Module>> PipelineRegistry::TaskModule(
    const std::string& given) const {
  const std::string ref = WithoutScheme(given);
  const std::string what = "the task's module " + ref;
  auto parsed = oci::ParseReference(ref);
  if (!parsed) return queue::InvalidArgument(what + " is not an OCI reference");
  // Compared as references: `registry.example.com` must not admit registry.example.com.evil.io/x, nor
  // `…/pipelines` admit …/pipelines-evil.
  const std::string registry = base::Lower(parsed->registry);
  bool allowed = false;
  for (const ModulePrefix& p : task_module_prefixes_)
    allowed =
        allowed || (registry == p.registry && (p.repository.empty() || parsed->repository == p.repository ||
                                               parsed->repository.starts_with(p.repository + "/")));
  if (!allowed)
    return queue::InvalidArgument(
        what + " is not allowed here" +
        (oci_.task_module_prefixes.empty()
             ? std::string(" (this worker runs only its own pipelines; see --task-modules)")
             : " (--task-modules allows references under other prefixes)"));
  const std::string key = parsed->String();
  {
    base::MutexLock lock(task_modules_mu_);
    auto facts = task_module_facts_.find(key);
    if (auto module = task_modules_.Get(key); module && facts != task_module_facts_.end()) {
      const ModuleFacts known = facts->second;
      lock.Unlock();
      // The module policy may have been reloaded since: asked again (a decision, no pull).
      if (auto r = Admit(known, what); !r) return r.error();
      return module;
    }
  }
  // Pulled and compiled outside the lock: two tasks naming a new module at once may both pull it (the
  // cache makes the second one cheap); neither blocks tasks whose modules are known.
  auto trust = Trust({ModuleOrigin::Registry, ref}, what);
  if (!trust) return trust.error();
  auto pulled = PullModule(oci_, trust->pull_ref.empty() ? ref : trust->pull_ref, what, on_pull_failure_);
  if (!pulled) return pulled.error();
  auto bytes = ReadFile(pulled->module_path, what);
  if (!bytes) return bytes.error();
  auto module = CompileCommand(engine_, *bytes, what);
  if (!module) return module.error();
  ModuleFacts facts{ref, pulled->manifest_digest, trust->signers, ImportNames(**module), bytes->size()};
  if (auto r = Admit(facts, what); !r) return r.error();
  base::MutexLock lock(task_modules_mu_);
  task_modules_.Put(key, *module, bytes->size());
  // Facts of modules the cache let go are dropped now and then; a key without facts is simply a miss.
  if (task_module_facts_.size() >= 4 * std::max<size_t>(task_modules_.size(), 8)) task_module_facts_.clear();
  task_module_facts_[key] = std::move(facts);
  return std::move(*module);
}

queue::Result<void> PipelineRegistry::AddBuiltins(const std::vector<BuiltinModule>& modules) {
  for (const BuiltinModule& b : modules) {
    const std::string mode(b.mode);
    if (Find(mode)) continue;
    auto bytes = std::span(reinterpret_cast<const uint8_t*>(b.bytes.data()), b.bytes.size());
    auto trust = Trust({ModuleOrigin::Builtin, mode}, "pipeline " + mode + ": builtin:" + mode);
    if (!trust) return trust.error();
    if (auto r = AddAdmitted(mode, "builtin:" + mode, bytes, ModuleFacts{"builtin:" + mode, "", {}, {}, 0},
                             ModuleOrigin::Builtin);
        !r)
      return r;
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
