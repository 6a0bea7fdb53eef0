// File: src/cli/doctor.cc
//
// `wasmq doctor REF [--json]`: why a pull of REF fails, with the evidence and the fix (oci/doctor.h).
//
// Exit codes: 0 ok (a pull would succeed); 10 network, 11 auth, 12 denied, 13 repo-not-found,
// 14 tag-not-found, 15 unsupported-format, 16 rate-limited, 17 registry-error, 18 digest-mismatch;
// 19 unsigned, 20 bad-signature (with --key or --trust-policy); 2 for a reference that cannot be parsed or a
// key or policy that cannot be read (a usage error, like every command's).
//
// Signatures: once the pull would succeed, `--key PUB` (several allowed) or the keys the `--trust-policy`
// rule for REF names are looked for as `wasmq verify` does (sign/sign.h): none found is `unsigned`, found
// but none verifying is `bad-signature`.
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <vector>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "oci/doctor.h"
#include "sign/sign.h"

namespace wasmq::cli {
namespace {

struct DoctorArgs {
  std::string ref;
  bool json = false;
  bool insecure = false;
  double connect_timeout_s = 5;
  double timeout_s = 15;
  std::string docker_config;
  std::string k8s_secret;
  std::string secret_name = "regcred";
  std::vector<std::string> keys;
  std::string trust_policy;
};

// The keys to verify REF with: --key files, else the --trust-policy rule's (none: nothing to check).
// false with *error set when a key or the policy cannot be read.
bool SignatureKeys(const DoctorArgs& a, std::vector<sign::PublicKey>* keys, std::vector<std::string>* files,
                   std::string* error) {
  for (const std::string& path : a.keys) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return *error = "--key: cannot read " + path, false;
    auto k = sign::PublicKey::FromPem(std::string(std::istreambuf_iterator<char>(in), {}));
    if (!k) return *error = "--key " + path + ": " + k.error().message, false;
    keys->push_back(std::move(*k));
    files->push_back(path);
  }
  if (a.trust_policy.empty() || !a.keys.empty()) return true;
  auto policy = sign::LoadTrustPolicy(a.trust_policy);
  if (!policy) return *error = "--trust-policy: " + policy.error().message, false;
  auto ref = oci::ParseReference(a.ref);
  if (!ref) return true;  // Diagnose says why
  if (const sign::TrustRule* rule = policy->Find(ref->registry + "/" + ref->repository)) {
    *keys = rule->keys;
    *files = rule->key_files;
  }
  return true;
}

// The doctor's signature step: `wasmq verify` with these keys, its failure as unsigned / bad-signature.
std::optional<oci::SignatureFinding> CheckSignature(const std::string& ref,
                                                    const std::vector<sign::PublicKey>& keys,
                                                    const std::vector<std::string>& files,
                                                    const oci::ClientOptions& client,
                                                    std::vector<std::string>* evidence) {
  auto v = sign::VerifyImage(ref, keys, client);
  if (v) {
    evidence->push_back("signature: " + v->digest + " verified by " + files[v->key_index] + " (" + v->source + ")");
    return std::nullopt;
  }
  oci::SignatureFinding f;
  const std::string_view name = sign::TrustFailureName(v.error().kind);
  f.cause = name == "unsigned" ? oci::DoctorCause::Unsigned : oci::DoctorCause::BadSignature;
  f.verdict = name == "unsigned" ? "no signature by the given key(s): " + v.error().message
                                 : "the signature does not verify: " + std::string(sign::KindName(v.error().kind)) +
                                       ": " + v.error().message;
  if (name != "unsigned" && name != "bad-signature") f.verdict = "the signature could not be checked: " + v.error().message;
  f.evidence.push_back("signature: " + std::string(name) + " (keys: " + [&] {
    std::string s;
    for (const std::string& k : files) s += (s.empty() ? "" : ", ") + k;
    return s;
  }() + ")");
  f.key_hint = files.empty() ? "" : files.front();
  return f;
}

int RunDoctor(const DoctorArgs& a) {
  oci::DoctorOptions options;
  options.client.connect_timeout_ms = static_cast<long>(a.connect_timeout_s * 1000);
  options.client.request_timeout_ms = static_cast<long>(a.timeout_s * 1000);
  options.client.credentials.docker_config = a.docker_config;
  options.client.credentials.k8s_secret = a.k8s_secret;
  options.secret_name = a.secret_name;
  // The same plain-HTTP list as pull / push: WASMQ_INSECURE_REGISTRIES=host:port,host (or "*").
  if (const char* env = std::getenv("WASMQ_INSECURE_REGISTRIES")) {
    std::string list = env;
    for (size_t start = 0; start <= list.size();) {
      size_t comma = list.find(',', start);
      std::string one = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!one.empty()) options.client.insecure_registries.push_back(one);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (a.insecure) {
    auto ref = oci::ParseReference(a.ref);
    if (ref) options.client.insecure_registries.push_back(ref->registry);
  }
  std::vector<sign::PublicKey> keys;
  std::vector<std::string> key_files;
  std::string key_error;
  if (!SignatureKeys(a, &keys, &key_files, &key_error)) {
    std::cerr << "wasmq doctor: " << key_error << "\n";
    return 2;
  }
  if (!keys.empty()) {
    options.check_signature = [keys, key_files, client = options.client](const std::string& ref,
                                                                         std::vector<std::string>* evidence) {
      return CheckSignature(ref, keys, key_files, client, evidence);
    };
  }
  auto diagnosis = oci::Diagnose(a.ref, options);
  if (!diagnosis) {
    std::cerr << "wasmq doctor: " << diagnosis.error().message << "\n";
    return 2;
  }
  std::cout << (a.json ? oci::DiagnosisJson(*diagnosis) : oci::DiagnosisText(*diagnosis)) << std::flush;
  return oci::CauseExitCode(diagnosis->cause);
}

}  // namespace

void AddDoctorCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<DoctorArgs>();
  CLI::App* cmd = app.add_subcommand("doctor", "Say why a pull of REF fails: the cause, the evidence and the fix");
  cmd->footer(
      "Walks the steps of a pull and stops at the first failure. Causes: ok, network (dns, connect, tls, "
      "timeout), auth, denied, repo-not-found, tag-not-found, unsupported-format, rate-limited, registry-error, "
      "digest-mismatch, and with --key / --trust-policy unsigned, bad-signature.\n"
      "Exit codes: 0 ok; 10 network, 11 auth, 12 denied, 13 repo-not-found, 14 tag-not-found, "
      "15 unsupported-format, 16 rate-limited, 17 registry-error, 18 digest-mismatch, 19 unsigned, "
      "20 bad-signature; 2 bad reference, key or policy.");
  cmd->add_option("REF", args->ref, "[registry/]repo[:tag][@sha256:...]")->required();
  cmd->add_flag("--json", args->json, R"(print {"ref","cause","evidence":[...],"fix":[...]})");
  cmd->add_flag("--insecure", args->insecure, "speak plain HTTP to the registry (loopback always does)");
  cmd->add_option("--connect-timeout", args->connect_timeout_s, "seconds to wait for a connection")
      ->default_val(5)
      ->check(CLI::PositiveNumber);
  cmd->add_option("--timeout", args->timeout_s, "seconds per request")->default_val(15)->check(CLI::PositiveNumber);
  cmd->add_option("--docker-config", args->docker_config,
                  "docker config.json to read credentials from (default $DOCKER_CONFIG/config.json, "
                  "~/.docker/config.json)");
  cmd->add_option("--k8s-secret", args->k8s_secret,
                  "a kubernetes.io/dockerconfigjson secret (YAML or JSON) to read credentials from");
  cmd->add_option("--secret-name", args->secret_name, "the pull secret's name in the Kubernetes fix")
      ->default_val("regcred");
  cmd->add_option("--key", args->keys,
                  "also check that REF is signed by this public key (PEM; several allowed): causes unsigned, "
                  "bad-signature")
      ->type_name("PUB");
  cmd->add_option("--trust-policy", args->trust_policy,
                  "also check REF's signature against the keys of the trust policy rule that matches it")
      ->type_name("FILE");
  cmd->callback([args, exit_code] { *exit_code = RunDoctor(*args); });
}

}  // namespace wasmq::cli
