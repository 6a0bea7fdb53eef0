// File: src/cli/registry_flags.cc
#include "cli/registry_flags.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace wasmq::cli {

void AddRegistryFlags(CLI::App* cmd, RegistryFlags* f) {
  cmd->add_flag("--insecure", f->insecure, "talk plain HTTP to this registry (loopback always is)");
  cmd->add_option("--k8s-secret", f->k8s_secret, "a kubernetes.io/dockerconfigjson secret file (YAML or JSON)");
  cmd->add_option("--docker-config", f->docker_config, "docker config.json (default $DOCKER_CONFIG or ~/.docker)");
}

std::string HumanSize(int64_t n) {
  char buf[32];
  if (n < 1024) std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(n));
  else if (n < (1 << 20)) std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(n) / 1024);
  else std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1 << 20));
  return buf;
}

std::vector<std::string> InsecureRegistriesFromEnv() {
  std::vector<std::string> out;
  const char* env = std::getenv("WASMQ_INSECURE_REGISTRIES");
  if (!env) return out;
  std::stringstream in(env);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

oci::ClientOptions RegistryClientOptions(const RegistryFlags& f, const std::string& registry) {
  oci::ClientOptions o;
  o.credentials.k8s_secret = f.k8s_secret;
  o.credentials.docker_config = f.docker_config;
  o.insecure_registries = InsecureRegistriesFromEnv();
  if (f.insecure && !registry.empty()) o.insecure_registries.push_back(registry);
  return o;
}

oci::ClientOptions RegistryClientOptionsForRef(const RegistryFlags& f, const std::string& ref) {
  auto parsed = oci::ParseRepository(ref);
  return RegistryClientOptions(f, parsed ? parsed->registry : "");
}

}  // namespace wasmq::cli
