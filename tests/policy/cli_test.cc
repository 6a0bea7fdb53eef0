// `wasmq policy eval` as a process: the result set on stdout, @FILE arguments, entrypoints by name and id,
// and the exit codes of docs/policy.md (0 decided, 1 abort, 2 usage, 125 not loadable).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "../oci/registry_harness.h"

namespace {

namespace fs = std::filesystem;
const fs::path kShared = fs::path(WASMQ_OPA_WASM_DIR) / "dotnet-opa-wasm";
const fs::path kModules = WASMQ_POLICY_MODULES;

struct CliRun {
  int exit_code = -1;
  std::string out, err;
};

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

CliRun Wasmq(const std::string& args, const std::string& stdin_text = "", const std::string& env = "") {
  fs::path err = fs::temp_directory_path() / ("policy_cli_err_" + std::to_string(getpid()));
  std::string cmd = env + std::string(WASMQ_BINARY) + " " + args + " 2>" + err.string();
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
  CliRun missing_builtin = Wasmq("policy eval " + Policy(kModules / "builtin_calls.wasm") + " --input '{}'");
  EXPECT_EQ(missing_builtin.exit_code, 125);
  EXPECT_NE(missing_builtin.err.find("the policy needs the builtin 'custom.func'"), std::string::npos)
      << missing_builtin.err;
  CliRun not_policy = Wasmq("policy eval " + Policy(kShared / "example.rego") + " --input '{}'");
  EXPECT_EQ(not_policy.exit_code, 125) << not_policy.err;
  EXPECT_EQ(Wasmq("policy eval /nonexistent/p.wasm --input '{}'").exit_code, 125);
}

// A policy published to a registry (docker-registry on loopback) is pulled through the OCI cache, as
// `wasmq run REF` pulls a module; then it is served from the cache offline.
TEST(PolicyCliTest, EvaluatesAPolicyFromAnOciReference) {
  using wasmq::ocitest::RegistryServer;
  auto reg = RegistryServer::StartAnonymous();
  ASSERT_TRUE(reg) << RegistryServer::last_error();
  fs::path home = fs::temp_directory_path() / ("policy_cli_home_" + std::to_string(getpid()));
  fs::create_directories(home);
  const std::string env =
      "HOME=" + Quote(home.string()) + " WASMQ_CACHE_DIR=" + Quote((home / "cache").string()) + " ";
  const std::string ref = reg->host() + "/policies/rbac:v1";
  auto sh = [&](const std::string& cmd) {
    return std::system(("cd / && " + env + cmd + " >/dev/null 2>&1").c_str());
  };
  ASSERT_EQ(sh(std::string(WASMQ_BINARY) + " push " + Policy(kShared / "rbac.wasm") + " " + ref), 0);
  const std::string args = " --input @" + Policy(kShared / "rbac_input.json") + " --data @" +
                           Policy(kShared / "rbac_data.json") + " --entrypoint app/rbac/allow";
  CliRun r = Wasmq("policy eval " + ref + args, "", env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[{\"result\":true}]\n");
  CliRun offline = Wasmq("policy eval " + ref + args, "", env + "WASMQ_OFFLINE=on ");
  EXPECT_EQ(offline.exit_code, 0) << offline.err;
  EXPECT_EQ(offline.out, r.out);
  CliRun missing = Wasmq("policy eval " + reg->host() + "/policies/none:v1 --input '{}'", "", env);
  EXPECT_EQ(missing.exit_code, 125);
  EXPECT_NE(missing.err.find("pulling"), std::string::npos) << missing.err;
  fs::remove_all(home);
}

}  // namespace
