// File: src/sign/trust.cc
//
// The trust policy: which modules may run and whose signature they need (sign.h, "trust policy"). Kept
// apart from verification so that a caller (today `wasmq run`; serve and worker next) loads the policy once,
// with every key parsed up front, and asks per module. For an OCI module the decision returns the digest
// that verified, and the caller pulls exactly that digest: a tag moved between the check and the pull
// cannot slip another module in.
#include <fnmatch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "base/digest.h"
#include "json/json.h"
#include "sign/sign.h"

namespace wasmq::sign {
namespace {

using json = nlohmann::json;

Result<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorKind::Io, "cannot read " + path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

std::string_view TrustFailureName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::NoSignature:
      return "unsigned";
    case ErrorKind::WrongKey:
    case ErrorKind::DigestMismatch:
    case ErrorKind::MalformedBundle:
      return "bad-signature";
    default:
      return KindName(kind);
  }
}

const TrustRule* TrustPolicy::Find(const std::string& subject) const {
  for (const TrustRule& r : rules)
    if (fnmatch(r.match.c_str(), subject.c_str(), 0) == 0) return &r;
  return nullptr;
}

Result<TrustPolicy> ParseTrustPolicy(std::string_view text, const std::string& base_dir) {
  json j = ::wasmq::json::Parse(text);
  auto bad = [](const std::string& what) {
    return MakeError(ErrorKind::InvalidArgument, "trust policy: " + what);
  };
  if (!j.is_object()) return bad("not a JSON object");
  auto rules = j.find("rules");
  if (rules == j.end() || !rules->is_array()) return bad("\"rules\" must be a list");
  TrustPolicy out;
  for (size_t i = 0; i < rules->size(); ++i) {
    const json& r = (*rules)[i];
    const std::string at = "rules[" + std::to_string(i) + "]";
    if (!r.is_object()) return bad(at + " is not an object");
    auto m = r.find("match");
    if (m == r.end() || !m->is_string() || m->get_ref<const std::string&>().empty())
      return bad(at + ".match must be a non-empty glob");
    auto k = r.find("keys");
    if (k == r.end() || !k->is_array())
      return bad(at + ".keys must be a list of public key files ([]: unsigned allowed)");
    TrustRule rule;
    rule.match = m->get<std::string>();
    for (const json& key : *k) {
      if (!key.is_string()) return bad(at + ".keys holds a non-string");
      std::filesystem::path p = key.get<std::string>();
      if (p.is_relative() && !base_dir.empty()) p = std::filesystem::path(base_dir) / p;
      auto pem = ReadText(p.string());
      if (!pem) return bad(at + ": " + pem.error().message);
      auto pub = PublicKey::FromPem(*pem);
      if (!pub)
        return MakeError(ErrorKind::BadKey,
                         "trust policy: " + at + ": " + p.string() + ": " + pub.error().message);
      rule.key_files.push_back(p.string());
      rule.keys.push_back(std::move(*pub));
    }
    std::vector<std::string> hints;
    for (const PublicKey& key : rule.keys) hints.push_back(key.Hint());
    std::sort(hints.begin(), hints.end());
    for (const std::string& h : hints) rule.key_set += h + ",";
    out.rules.push_back(std::move(rule));
  }
  return out;
}

Result<TrustPolicy> LoadTrustPolicy(const std::string& path) {
  auto text = ReadText(path);
  if (!text) return text.error();
  auto p = ParseTrustPolicy(*text, std::filesystem::path(path).parent_path().string());
  if (!p) {
    Error e = p.error();
    e.message = path + ": " + e.message;
    return e;
  }
  p->path = path;
  return p;
}

long VerifiedCache::Find(const std::string& digest, const std::string& key_set) const {
  base::MutexLock lock(mu_);
  auto it = entries_.find(digest + "\n" + key_set);
  return it == entries_.end() ? -1 : static_cast<long>(it->second);
}

void VerifiedCache::Put(const std::string& digest, const std::string& key_set, size_t key_index) {
  base::MutexLock lock(mu_);
  std::string key = digest + "\n" + key_set;
  if (entries_.insert_or_assign(key, key_index).second) order_.push_back(std::move(key));
  while (order_.size() > max_entries_) {
    entries_.erase(order_.front());
    order_.erase(order_.begin());
  }
}

size_t VerifiedCache::size() const {
  base::MutexLock lock(mu_);
  return entries_.size();
}

Result<TrustDecision> CheckBuiltinTrust(const TrustPolicy& policy, const std::string& mode) {
  TrustDecision d;
  d.subject = "builtin:" + mode;
  const TrustRule* rule = policy.Find(d.subject);
  if (!rule)
    return MakeError(ErrorKind::Untrusted,
                     "no rule of the trust policy " + policy.path + " matches " + d.subject +
                         " (a built-in pipeline needs a rule without keys, e.g. \"builtin:*\")");
  d.rule = rule->match;
  if (!rule->keys.empty())
    return MakeError(ErrorKind::Untrusted, "rule \"" + rule->match + "\" requires a signature and " + d.subject +
                                               " is compiled into the binary (it carries none)");
  return d;
}

Result<TrustDecision> CheckModuleTrust(const TrustPolicy& policy, const std::string& module, bool is_file,
                                       const oci::ClientOptions& options, VerifiedCache* cache) {
  TrustDecision d;
  std::string ref_text = module;
  if (is_file) {
    std::error_code ec;
    auto abs = std::filesystem::absolute(module, ec);
    d.subject = "file:" + (ec ? module : abs.lexically_normal().string());
  } else {
    if (ref_text.starts_with("oci://")) ref_text = ref_text.substr(6);
    auto ref = oci::ParseReference(ref_text);
    if (!ref) return MakeError(ErrorKind::InvalidArgument, ref.error().message);
    d.subject = ref->registry + "/" + ref->repository;
  }
  const TrustRule* rule = policy.Find(d.subject);
  if (!rule)
    return MakeError(ErrorKind::Untrusted,
                     "no rule of the trust policy " + policy.path + " matches " + d.subject);
  d.rule = rule->match;
  if (rule->keys.empty()) return d;
  if (is_file)
    return MakeError(ErrorKind::Untrusted, "rule \"" + rule->match + "\" requires a signature and " +
                                               d.subject +
                                               " is a local file (only registry modules carry signatures)");
  if (cache) {
    auto ref = oci::ParseReference(ref_text);  // parsed above
    std::string digest = ref->digest;
    if (digest.empty()) {  // a tag: resolved once here, and everything after uses the digest
      oci::Client client(options);
      auto m = client.GetManifest(*ref, ref->Identifier());
      if (!m) return Error{ErrorKind::Registry, "resolving " + ref->String() + ": " + m.error().message, m.error()};
      digest = "sha256:" + base::Sha256Hex(m->bytes);  // the bytes served, not a header the registry chose
    }
    const std::string pinned = ref->registry + "/" + ref->repository + "@" + digest;
    if (long hit = cache->Find(digest, rule->key_set); hit >= 0) {
      d.signature_checked = d.from_cache = true;
      d.pinned_ref = pinned;
      d.signer = rule->key_files[static_cast<size_t>(hit)];
      return d;
    }
    ref_text = pinned;
  }
  auto v = VerifyImage(ref_text, rule->keys, options);
  if (!v) return v.error();
  if (cache) cache->Put(v->digest, rule->key_set, v->key_index);
  d.signature_checked = true;
  d.pinned_ref = v->ref.registry + "/" + v->ref.repository + "@" + v->digest;
  d.signer = rule->key_files[v->key_index];
  return d;
}

}  // namespace wasmq::sign
