// File: src/cli/gates.cc
#include "cli/gates.h"

#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli/models.h"
#include "oci/oci.h"

namespace wasmq::cli {
namespace {

using nlohmann::json;

// The bytes of a policy named by --admission-policy / --module-policy: a file, else an OCI reference
// pulled through the module cache with the configuration's registry settings.
policy::ReloadablePolicy::Fetch PolicyFetcher(const std::string& source, const config::Config& cfg) {
  oci::PullOptions o;
  o.cache_dir = cfg.cache_dir;
  o.offline = cfg.offline;
  o.client.insecure_registries = cfg.insecure_registries;
  o.client.credentials.k8s_secret = cfg.k8s_secret;
  return [source, o]() -> policy::Result<std::vector<uint8_t>> {
    std::string path = source;
    if (struct stat st {}; stat(path.c_str(), &st) != 0) {
      const std::string ref = source.starts_with("oci://") ? source.substr(6) : source;
      if (!oci::ParseReference(ref)) return policy::Error{policy::Error::Kind::Load, "no such file or reference"};
      auto pulled = oci::Pull(ref, o);
      if (!pulled)
        return policy::Error{policy::Error::Kind::Load, "pulling " + ref + ": " +
                                                            std::string(oci::KindName(pulled.error().kind)) +
                                                            ": " + pulled.error().message};
      path = pulled->module_path;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return policy::Error{policy::Error::Kind::Load, "cannot read " + path};
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
  };
}

queue::Result<std::unique_ptr<policy::ReloadablePolicy>> OpenPolicy(const std::string& what,
                                                                    const std::string& source,
                                                                    const config::Config& cfg) {
  struct stat st {};
  const bool is_file = stat(source.c_str(), &st) == 0;
  // Policies run on the tier the pipelines do (--compile): a decision is a call into the policy's code,
  // which compiled runs several times faster than interpreted.
  policy::Options options;
  options.compile = cfg.compile == "always"  ? policy::Compile::kAlways
                    : cfg.compile == "never" ? policy::Compile::kNever
                                             : policy::Compile::kAuto;
  if (options.compile != policy::Compile::kNever) options.compile_cache_dir = CompiledCodeDir(cfg.cache_dir);
  auto p = policy::ReloadablePolicy::Open(what + " " + source, PolicyFetcher(source, cfg), is_file ? source : "",
                                          std::move(options));
  if (!p) return queue::InvalidArgument(p.error().message);
  return std::move(*p);
}

std::string TrustRefusal(const sign::Error& e) {
  return std::string(sign::TrustFailureName(e.kind)) + ": " + e.message;
}

}  // namespace

queue::Result<std::unique_ptr<Gates>> Gates::Load(const config::Config& cfg) {
  auto g = std::make_unique<Gates>();
  g->client_.insecure_registries = cfg.insecure_registries;
  g->client_.credentials.k8s_secret = cfg.k8s_secret;
  if (!cfg.trust_policy.empty()) {
    auto t = sign::LoadTrustPolicy(cfg.trust_policy);
    if (!t) return queue::InvalidArgument("--trust-policy: " + t.error().message);
    g->trust_ = std::move(*t);
  }
  if (!cfg.admission_policy.empty()) {
    auto p = OpenPolicy("admission policy", cfg.admission_policy, cfg);
    if (!p) return queue::InvalidArgument("--admission-policy: " + p.error().message);
    g->admission_ = std::move(*p);
  }
  if (!cfg.module_policy.empty()) {
    auto p = OpenPolicy("module policy", cfg.module_policy, cfg);
    if (!p) return queue::InvalidArgument("--module-policy: " + p.error().message);
    g->module_ = std::move(*p);
  }
  return g;
}

worker::ModuleGate Gates::ModuleGate() {
  worker::ModuleGate gate;
  if (trust_) {
    gate.trust = [this](const worker::ModuleSubject& s) -> base::Result<worker::ModuleTrust, std::string> {
      auto d = s.origin == worker::ModuleOrigin::Builtin
                   ? sign::CheckBuiltinTrust(*trust_, s.ref)
                   : sign::CheckModuleTrust(*trust_, s.ref, s.origin == worker::ModuleOrigin::File, client_,
                                            &verified_);
      if (!d) return TrustRefusal(d.error());
      worker::ModuleTrust t;
      t.pull_ref = d->pinned_ref;
      if (!d->signer.empty()) t.signers.push_back(d->signer);
      return t;
    };
  }
  if (module_) {
    gate.admit = [this](const worker::ModuleFacts& f) -> std::optional<std::string> {
      const json input = {{"ref", f.ref},         {"digest", f.digest}, {"signers", f.signers},
                          {"imports", f.imports}, {"size", f.size}};
      auto d = module_->Decide(input.dump());
      if (!d) return "the module policy failed (so it denies): " + d.error().message;
      if (!d->allow) return "denied by the module policy: " + d->message;
      return std::nullopt;
    };
  }
  return gate;
}

std::function<std::optional<std::string>(const nlohmann::json&)> Gates::TaskAdmission() {
  if (!admission_) return {};
  return [this](const json& input) -> std::optional<std::string> {
    auto d = admission_->Decide(input.dump());
    if (!d) return "the admission policy failed (so it denies): " + d.error().message;
    if (!d->allow) return d->message;
    return std::nullopt;
  };
}

void Gates::Reload(const std::function<void(std::string_view)>& log) {
  for (policy::ReloadablePolicy* p : {admission_.get(), module_.get()}) {
    if (!p) continue;
    auto r = p->Reload();
    log(r ? p->name() + " reloaded (SIGHUP)" : "keeping the current " + p->name() + ": " + r.error().message);
  }
}

void Gates::Watch(const std::function<void(std::string_view)>& log) {
  for (policy::ReloadablePolicy* p : {admission_.get(), module_.get()})
    if (p) p->Watch(std::chrono::milliseconds(500), log);
}

std::string Gates::Describe() const {
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
  if (trust_) add("trust policy " + trust_->path);
  if (admission_) add(admission_->name());
  if (module_) add(module_->name());
  return out;
}

}  // namespace wasmq::cli
