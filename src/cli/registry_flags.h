// File: src/cli/registry_flags.h
//
// What every command that speaks to a registry shares (pull, push, inspect, tags, login, sign, verify,
// models push/pull): the --insecure / --k8s-secret / --docker-config flags, and the client options they and
// WASMQ_INSECURE_REGISTRIES make; and how their output writes a size.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "oci/oci.h"

namespace wasmq::cli {

struct RegistryFlags {
  bool insecure = false;
  std::string k8s_secret;
  std::string docker_config;
};

void AddRegistryFlags(CLI::App* cmd, RegistryFlags* flags);

// A blob's size for people: "512 B", "3.4 KiB", "167.9 MiB".
std::string HumanSize(int64_t bytes);

// A blob's size for people: "512 B", "3.4 KiB", "167.9 MiB".
std::string HumanSize(int64_t bytes);

// WASMQ_INSECURE_REGISTRIES: the registries spoken to over plain HTTP (comma-separated).
std::vector<std::string> InsecureRegistriesFromEnv();

// The credentials the flags name, the insecure registries from the environment, and `registry` too when
// --insecure was given.
oci::ClientOptions RegistryClientOptions(const RegistryFlags& flags, const std::string& registry);
// The same for the registry of a reference (REGISTRY/REPOSITORY[:TAG|@DIGEST]).
oci::ClientOptions RegistryClientOptionsForRef(const RegistryFlags& flags, const std::string& ref);

}  // namespace wasmq::cli
