// File: src/cli/commands.h
//
// Each wasmq command registers its CLI11 subcommand here. A command's callback sets the process exit
// code through *exit_code (the run loop in main.cc returns it). Only commands that work are registered.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace wasmq::cli {

// `wasmq spectest PATH...`: runs wast2json scripts (spectest.cc).
void AddSpectestCommand(CLI::App& app, int* exit_code);

// `wasmq run [OPTIONS] MODULE.wasm [ARGS...]`: runs a WASI command module (run.cc).
void AddRunCommand(CLI::App& app, int* exit_code);

// `wasmq serve [SETTINGS]`: the HTTP API, the dashboard and the worker pool on the task store (serve.cc).
void AddServeCommand(CLI::App& app, int* exit_code);

// `wasmq worker [SETTINGS]`: the worker pool alone, on a shared store (worker.cc).
void AddWorkerCommand(CLI::App& app, int* exit_code);

// `wasmq task submit|get|list|cancel|watch|stats|upload`: a client of the REST API, or of the local
// store (task.cc).
void AddTaskCommand(CLI::App& app, int* exit_code);

// `wasmq schedule create|list|get|pause|resume|delete`: cron schedules, through the REST API or on the
// local store (schedule.cc).
void AddScheduleCommand(CLI::App& app, int* exit_code);

// `wasmq token --sub USER`: signs a JWT with the server's secret (token.cc).
void AddTokenCommand(CLI::App& app, int* exit_code);

// `wasmq pull|push|inspect|tags|login|cache`: the OCI registry commands (oci_commands.cc).
void AddOciCommands(CLI::App& app, int* exit_code);

// For `wasmq run OCI-REF`: when `arg` parses as an OCI reference, pulls it through the cache
// (WASMQ_CACHE_DIR, WASMQ_OFFLINE=on, WASMQ_INSECURE_REGISTRIES, WASMQ_K8S_SECRET) and returns the cached
// module's path; nullopt with *error set when the pull fails, nullopt with *error empty when arg is no
// reference (oci_commands.cc).
std::optional<std::string> PullModuleForRun(const std::string& arg, std::string* error);

// `wasmq key generate|import`, `wasmq sign`, `wasmq verify`: cosign-compatible signatures (sign_commands.cc).
void AddSignCommands(CLI::App& app, int* exit_code);

// For `wasmq run --trust-policy FILE MODULE`: loads the policy and admits MODULE (a local file when is_file,
// else an OCI reference) with WASMQ_INSECURE_REGISTRIES and WASMQ_K8S_SECRET for the registry. 0: admitted,
// and *pull_ref is what to pull (the verified REGISTRY/REPO@DIGEST when a signature was required, else
// MODULE); 1: refused, *error says "module untrusted: MODULE: unsigned|bad-signature|untrusted|…: why";
// 2: the policy file is unreadable or invalid (sign_commands.cc).
int CheckRunTrust(const std::string& policy_file, const std::string& module, bool is_file,
                  std::string* pull_ref, std::string* error);
// `wasmq policy eval POLICY.wasm|OCI-REF --input JSON [--data JSON] [--entrypoint NAME]` (policy.cc).
void AddPolicyCommand(CLI::App& app, int* exit_code);

// `wasmq models fetch|list|add|push|pull`: the models pipelines load, cached by digest, moved through OCI
// registries (models.cc; cli/models.h has ResolveModelSpec, NAME=OCI-REF → a local file).
void AddModelsCommand(CLI::App& app, int* exit_code);

// `wasmq doctor REF [--json]`: why a pull fails, with the evidence and the fix (doctor.cc).
void AddDoctorCommand(CLI::App& app, int* exit_code);

}  // namespace wasmq::cli
