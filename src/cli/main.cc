// File: src/cli/main.cc
//
// The wasmq binary's entry point. It builds the CLI11 app, lets every command that works register itself
// (commands.h), parses the command line and returns the exit code the command's callback chose.
//
// Exit codes: the command's own code; 0 for --help and --version; 2 for a usage error (no command, an
// unknown command or option, a bad argument), after a one-line message on stderr; 70 when a command throws
// (a bug: commands report errors through their exit code).
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "wasm/wasm.h"
#include "version.h"

namespace {

constexpr int kUsageError = 2;
constexpr int kInternalError = 70;  // EX_SOFTWARE

// "spectest, ..." : the registered commands, for error messages.
std::string CommandList(const CLI::App& app) {
  std::string out;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (!out.empty()) out += ", ";
    out += sub->get_name();
  }
  return out;
}

// Turns a parse error into a message and an exit code. CLI11 reports an unknown command as "a subcommand
// is required" with the word left over, and answers `wasmq serve --help` with the top-level help as if
// `serve` existed; say what actually went wrong instead.
int ReportParseError(CLI::App& app, const CLI::ParseError& e) {
  const std::vector<std::string> rest = app.remaining();
  if (app.get_subcommands().empty() && !rest.empty()) {
    const std::string& word = rest.front();
    std::cerr << "wasmq: unknown " << (word.starts_with('-') ? "option" : "command") << " '" << word
              << "' (commands: " << CommandList(app) << "; run 'wasmq --help')\n";
    return kUsageError;
  }
  if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
  if (app.get_subcommands().empty()) {
    std::cerr << app.help() << "wasmq: a command is required\n";
    return kUsageError;
  }
  app.exit(e);
  return kUsageError;
}

int Main(int argc, char** argv) {
  CLI::App app{"wasmq runs asynchronous tasks whose pipelines are sandboxed WebAssembly modules.", "wasmq"};
  app.set_version_flag("--version", "wasmq " WASMQ_VERSION " (commit " WASMQ_GIT_COMMIT ")");
  app.require_subcommand(1);

  int exit_code = 0;
  // Only commands that work are registered; each new one gets its Add*Command in commands.h.
  wasmq::cli::AddSpectestCommand(app, &exit_code);
  wasmq::cli::AddRunCommand(app, &exit_code);
#ifndef WASMQ_ENGINE_ONLY  // the sanitizer build of the engine (CMake option WASMQ_ENGINE_ONLY)
  wasmq::cli::AddServeCommand(app, &exit_code);
  wasmq::cli::AddWorkerCommand(app, &exit_code);
  wasmq::cli::AddTaskCommand(app, &exit_code);
  wasmq::cli::AddScheduleCommand(app, &exit_code);
  wasmq::cli::AddTokenCommand(app, &exit_code);
  wasmq::cli::AddDoctorCommand(app, &exit_code);
  wasmq::cli::AddOciCommands(app, &exit_code);
  wasmq::cli::AddSignCommands(app, &exit_code);
  wasmq::cli::AddPolicyCommand(app, &exit_code);
  wasmq::cli::AddModelsCommand(app, &exit_code);
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ReportParseError(app, e);
  }
  return exit_code;
}

}  // namespace

// A command that throws (it should return an error instead) still ends with a message, not an abort.
int main(int argc, char** argv) {
  int code = kInternalError;
  try {
    code = Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "wasmq: internal error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "wasmq: internal error: unknown exception\n";
  }
  // Before the static destructors: a module still compiling in the background must not meet them.
  wasmq::wasm::StopBackgroundCompiles();
  return code;
}
