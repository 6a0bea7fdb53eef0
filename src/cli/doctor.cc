// File: src/cli/doctor.cc
//
// `wasmq doctor REF [--json]`: why a pull of REF fails, with the evidence and the fix (oci/doctor.h).
//
// Exit codes: 0 ok (a pull would succeed); 10 network, 11 auth, 12 denied, 13 repo-not-found,
// 14 tag-not-found, 15 unsupported-format, 16 rate-limited, 17 registry-error, 18 digest-mismatch;
// 2 for a reference that cannot be parsed (a usage error, like every command's).
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "oci/doctor.h"

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
};

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
      "digest-mismatch.\n"
      "Exit codes: 0 ok; 10 network, 11 auth, 12 denied, 13 repo-not-found, 14 tag-not-found, "
      "15 unsupported-format, 16 rate-limited, 17 registry-error, 18 digest-mismatch; 2 bad reference.");
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
  cmd->callback([args, exit_code] { *exit_code = RunDoctor(*args); });
}

}  // namespace wasmq::cli
