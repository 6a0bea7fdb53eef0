// `wasmq policy eval` as a process: the result set on stdout, @FILE arguments, entrypoints by name and id,
// and the exit codes of docs/policy.md (0 decided, 1 abort, 2 usage, 125 not loadable).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace {

namespace fs = std::filesystem;
const fs::path kShared = fs::path(WASMQ_OPA_WASM_DIR) / "dotnet-opa-wasm";
const fs::path kFixtures = WASMQ_POLICY_FIXTURES;

struct CliRun {
  int exit_code = -1;
  std::string out, err;
};

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

CliRun Wasmq(const std::string& args, const std::string& stdin_text = "") {
  fs::path err = fs::temp_directory_path() / ("policy_cli_err_" + std::to_string(getpid()));
  std::string cmd = std::string(WASMQ_BINARY) + " " + args + " 2>" + err.string();
  if (!stdin_text.empty()) cmd = "printf '%s' " + Quote(stdin_text) + " | " + cmd;
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (FILE* f = fopen(err.c_str(), "r")) {
    while ((n = fread(buf.data(), 1, buf.size(), f)) > 0) r.err.append(buf.data(), n);
    fclose(f);
  }
  fs::remove(err);
  return r;
}

std::string Policy(const fs::path& p) { return Quote(p.string()); }

TEST(PolicyCliTest, PrintsTheResultSet) {
  CliRun r = Wasmq("policy eval " + Policy(kShared / "example.wasm") +
                   R"( --input '{"message": "world"}' --data '{"world": "world"}')");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[{\"result\":true}]\n");
}

TEST(PolicyCliTest, ReadsInputAndDataFromFilesAndStdin) {
  CliRun r = Wasmq("policy eval " + Policy(kShared / "rbac.wasm") + " --input @" +
                   Policy(kShared / "rbac_input.json") + " --data @" + Policy(kShared / "rbac_data.json") +
                   " --entrypoint app/rbac/allow");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[{\"result\":true}]\n");
  CliRun s = Wasmq("policy eval " + Policy(kShared / "rbac.wasm") + " --input @- --data @" +
                       Policy(kShared / "rbac_data.json") + " --entrypoint 1",
                   R"({"user": "eve", "action": "update", "type": "dog"})");
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(s.out, "[{\"result\":false}]\n");
}

TEST(PolicyCliTest, AnAbortExitsOneWithThePolicysMessage) {
  CliRun r = Wasmq("policy eval " + Policy(kShared / "abort.wasm") + " --input '{}'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("abort.rego:6:1: var assignment conflict"), std::string::npos) << r.err;
}

TEST(PolicyCliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Wasmq("policy eval " + Policy(kShared / "example.wasm") + " --input '{nope'").exit_code, 2);
  EXPECT_EQ(Wasmq("policy eval " + Policy(kShared / "example.wasm") + " --input '{}' --data '['").exit_code,
            2);
  EXPECT_EQ(
      Wasmq("policy eval " + Policy(kShared / "example.wasm") + " --input @/nonexistent.json").exit_code, 2);
  CliRun r =
      Wasmq("policy eval " + Policy(kShared / "multi.wasm") + " --input '{}' --entrypoint example/two");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("example/one/myCompositeRule (2)"), std::string::npos) << r.err;
  EXPECT_EQ(Wasmq("policy eval " + Policy(kShared / "example.wasm")).exit_code, 2);  // --input is required
}

TEST(PolicyCliTest, WhatCannotBeLoadedExits125) {
  CliRun missing_builtin = Wasmq("policy eval " + Policy(kFixtures / "builtincall.wasm") + " --input '{}'");
  EXPECT_EQ(missing_builtin.exit_code, 125);
  EXPECT_NE(missing_builtin.err.find("custom.func0"), std::string::npos) << missing_builtin.err;
  CliRun not_policy = Wasmq("policy eval " + Policy(kShared / "example.rego") + " --input '{}'");
  EXPECT_EQ(not_policy.exit_code, 125) << not_policy.err;
  EXPECT_EQ(Wasmq("policy eval /nonexistent/p.wasm --input '{}'").exit_code, 125);
}

}  // namespace
