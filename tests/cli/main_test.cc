// File: tests/cli/main_test.cc
//
// Runs the built wasmq binary (its path comes from the build as WASMQ_BINARY) and checks what a user sees
// first: --version, --help, and the errors for a missing or unknown command.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "version.h"

namespace {

// Every command DESIGN.md promises. `wasmq --help` must list each (and each must have its own help).
const char* const kDesignCommands[] = {"serve", "worker", "run", "pull", "push", "inspect", "tags", "login",
                                       "doctor", "key", "sign", "verify", "policy", "task"};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `wasmq ARGS` through the shell with stdout and stderr captured in temporary files (no pipe can
// fill up and block). `args` is pasted into the command line as is.
RunResult RunWasmq(const std::string& args) {
  std::string dir = ::testing::TempDir() + "wasmq_cli_XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) return {};
  const std::string out = dir + "/out", err = dir + "/err";
  const std::string cmd =
      std::string("'") + WASMQ_BINARY + "' " + args + " >" + out + " 2>" + err + " </dev/null";
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  std::remove(out.c_str());
  std::remove(err.c_str());
  rmdir(dir.c_str());
  return r;
}

// The names in the "Subcommands:" section of `--help`: the first word of each line indented by two spaces
// (a description's continuation lines are indented further).
std::set<std::string> ListedCommands(const std::string& help) {
  std::set<std::string> names;
  std::istringstream in(help);
  std::string line;
  bool in_section = false;
  while (std::getline(in, line)) {
    if (line.starts_with("Subcommands:")) {
      in_section = true;
    } else if (in_section && line.size() > 2 && line.starts_with("  ") && line[2] != ' ') {
      std::istringstream words(line);
      std::string name;
      words >> name;
      names.insert(name);
    } else if (in_section && !line.empty() && !line.starts_with("  ")) {
      in_section = false;
    }
  }
  return names;
}

TEST(CliTest, VersionPrintsVersionAndCommit) {
  RunResult r = RunWasmq("--version");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "wasmq " WASMQ_VERSION " (commit " WASMQ_GIT_COMMIT ")\n");
  EXPECT_EQ(std::string(WASMQ_VERSION), "0.1.0");
  EXPECT_TRUE(std::regex_match(WASMQ_GIT_COMMIT, std::regex("[0-9a-f]{7,40}|unknown"))) << WASMQ_GIT_COMMIT;
  EXPECT_EQ(r.err, "");
}

TEST(CliTest, HelpListsWorkingCommands) {
  RunResult r = RunWasmq("--help");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Usage: wasmq"), std::string::npos) << r.out;
  const std::set<std::string> listed = ListedCommands(r.out);
  EXPECT_EQ(listed.count("spectest"), 1u) << r.out;
  EXPECT_EQ(listed.count("run"), 1u) << r.out;
  EXPECT_EQ(listed.count("serve"), 1u) << r.out;
  EXPECT_EQ(listed.count("task"), 1u) << r.out;
  EXPECT_EQ(listed.count("token"), 1u) << r.out;
  EXPECT_EQ(listed.count("worker"), 1u) << r.out;
  EXPECT_EQ(listed.count("policy"), 1u) << r.out;
}

TEST(CliTest, HelpListsEveryCommandOfTheDesign) {
  RunResult r = RunWasmq("--help");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::set<std::string> listed = ListedCommands(r.out);
  for (const char* name : kDesignCommands) EXPECT_EQ(listed.count(name), 1u) << name << ":\n" << r.out;
}

TEST(CliTest, EveryListedCommandHasHelp) {
  for (const std::string& name : ListedCommands(RunWasmq("--help").out)) {
    RunResult r = RunWasmq(name + " --help");
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_NE(r.out.find("Usage: wasmq " + name), std::string::npos) << r.out;
  }
}

TEST(CliTest, UnknownCommandFailsWithMessage) {
  RunResult r = RunWasmq("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("spectest"), std::string::npos) << "the message lists the commands: " << r.err;
  EXPECT_EQ(r.out, "");
}

// Also with --help: an unknown word is never taken for a command.
TEST(CliTest, UnknownCommandWithHelpIsUnknown) {
  RunResult r = RunWasmq("frobnicate --help");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(CliTest, UnknownOptionFailsWithMessage) {
  RunResult r = RunWasmq("--bogus");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown option '--bogus'"), std::string::npos) << r.err;
}

TEST(CliTest, NoCommandPrintsUsageAndFails) {
  RunResult r = RunWasmq("");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("Usage: wasmq"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("a command is required"), std::string::npos) << r.err;
}

}  // namespace
