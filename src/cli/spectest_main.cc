// File: src/cli/spectest_main.cc
//
// wasmq-spectest: `wasmq spectest` alone, linked against the engine only. The spec suite's CTest tests run
// it, so that the test command's ASan + UBSan stage builds the engine and this, not the whole server.
//
//   wasmq-spectest [--quiet|--verbose] PATH...   is   wasmq spectest [--quiet|--verbose] PATH...
#include <string>
#include <vector>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"wasmq-spectest: runs wast2json scripts against the wasmq engine (as `wasmq spectest`).",
               "wasmq-spectest"};
  int exit_code = 0;
  wasmq::cli::AddSpectestCommand(app, &exit_code);
  app.require_subcommand(1);
  std::vector<std::string> args = {"spectest"};  // CLI11 wants them last to first
  for (int i = 1; i < argc; ++i) args.insert(args.begin(), argv[i]);
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return exit_code;
}
