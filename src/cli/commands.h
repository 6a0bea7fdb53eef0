// File: src/cli/commands.h
//
// Each wasmq command registers its CLI11 subcommand here. A command's callback sets the process exit
// code through *exit_code (the run loop in main.cc returns it). Only commands that work are registered.
#pragma once

#include <CLI/CLI.hpp>

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

// `wasmq token --sub USER`: signs a JWT with the server's secret (token.cc).
void AddTokenCommand(CLI::App& app, int* exit_code);

}  // namespace wasmq::cli
