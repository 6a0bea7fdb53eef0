// File: tests/oci/cli_test.cc
//
// The built `wasmq` binary: login / push / pull / inspect / tags / cache against a Basic-auth registry,
// and that no password shows up in anything it prints or writes besides the 0600 auth file.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>

#include "base/encoding.h"
#include "oci/oci.h"
#include "oci/util.h"
#include "registry_harness.h"
#include "test_modules.h"

namespace wasmq::oci {
namespace {

using ocitest::RegistryServer;
using ocitest::TempDir;

struct Output {
  int status = -1;
  std::string text;  // stdout and stderr together
};

// Runs `wasmq ARGS` through the shell with a clean HOME and the given environment and stdin text.
Output Wasmq(const TempDir& dir, const std::string& args, const std::string& stdin_text = "",
             const std::string& env = "") {
  std::string in = dir.Write("stdin.txt", stdin_text);
  std::string cmd = "env -u WASMQ_REGISTRY_USER -u WASMQ_REGISTRY_PASSWORD -u WASMQ_K8S_SECRET -u DOCKER_CONFIG "
                    "HOME=" + dir.str() + " XDG_CONFIG_HOME= XDG_CACHE_HOME= WASMQ_CACHE_DIR=" + dir.file("cache") + " " +
                    env + " " WASMQ_BINARY " " + args + " < " + in + " 2>&1";
  Output out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.text.append(buf, n);
  int st = pclose(p);
  out.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

TEST(Cli, LoginPushPullInspectTagsCacheWithoutLeakingSecrets) {
  TempDir dir;
  const std::string password = "Sup3r-S3cret-Pa55";
  auto reg = RegistryServer::StartBasic({{"ci", password}});
  ASSERT_TRUE(reg) << RegistryServer::last_error();
  std::string module_path = dir.Write("app.wasm", ocitest::CommandModule("cli"));
  std::string ref = reg->host() + "/formy/bg:v1";
  std::string all;

  auto no_creds = Wasmq(dir, "pull " + ref);
  EXPECT_EQ(no_creds.status, 1) << no_creds.text;
  EXPECT_NE(no_creds.text.find("auth-required"), std::string::npos) << no_creds.text;
  EXPECT_NE(no_creds.text.find("looked in:"), std::string::npos) << no_creds.text;
  EXPECT_NE(no_creds.text.find("wasmq login " + reg->host()), std::string::npos) << no_creds.text;

  auto bad = Wasmq(dir, "login " + reg->host() + " -u ci --password-stdin", "wrong-password\n");
  EXPECT_EQ(bad.status, 1) << bad.text;
  EXPECT_NE(bad.text.find("auth-rejected"), std::string::npos) << bad.text;
  auto login = Wasmq(dir, "login " + reg->host() + " -u ci --password-stdin", password + "\n");
  ASSERT_EQ(login.status, 0) << login.text;
  std::string auth_file = dir.file(".config/wasmq/auth.json");
  struct stat st;
  ASSERT_EQ(stat(auth_file.c_str(), &st), 0) << login.text;
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto push = Wasmq(dir, "push " + module_path + " " + ref);
  ASSERT_EQ(push.status, 0) << push.text;
  auto pull = Wasmq(dir, "pull " + ref + " -o " + dir.file("out.wasm"));
  ASSERT_EQ(pull.status, 0) << pull.text;
  EXPECT_NE(pull.text.find("layout cncf"), std::string::npos) << pull.text;
  std::ifstream got(dir.file("out.wasm"), std::ios::binary);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(got)), std::istreambuf_iterator<char>()),
            ocitest::CommandModule("cli"));
  auto inspect = Wasmq(dir, "inspect --json " + ref);
  ASSERT_EQ(inspect.status, 0) << inspect.text;
  auto j = nlohmann::json::parse(inspect.text, nullptr, false);
  ASSERT_TRUE(j.is_object()) << inspect.text;
  EXPECT_EQ(j["layout"], "cncf");
  EXPECT_EQ(j["layers"][0]["mediaType"], "application/wasm");
  auto tags = Wasmq(dir, "tags " + reg->host() + "/formy/bg");
  EXPECT_EQ(tags.status, 0) << tags.text;
  EXPECT_EQ(tags.text, "v1\n");
  auto missing = Wasmq(dir, "pull " + reg->host() + "/formy/bg:v9");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.text.find("manifest-not-found"), std::string::npos) << missing.text;
  auto ls = Wasmq(dir, "cache ls");
  EXPECT_EQ(ls.status, 0);
  EXPECT_NE(ls.text.find(ref), std::string::npos) << ls.text;
  // Offline: the registry is gone, the tag still resolves from the cache; `run` works from a reference.
  reg->Kill();
  auto offline = Wasmq(dir, "pull --offline " + ref);
  EXPECT_EQ(offline.status, 0) << offline.text;
  EXPECT_NE(offline.text.find("from cache"), std::string::npos) << offline.text;
  auto run = Wasmq(dir, "run " + ref, "", "WASMQ_OFFLINE=on");
  EXPECT_EQ(run.status, 0) << run.text;
  auto down = Wasmq(dir, "pull " + ref);
  EXPECT_EQ(down.status, 1);
  EXPECT_NE(down.text.find("network (connect)"), std::string::npos) << down.text;
  auto gc = Wasmq(dir, "cache gc");
  EXPECT_EQ(gc.status, 0) << gc.text;

  all = no_creds.text + bad.text + login.text + push.text + pull.text + inspect.text + tags.text + missing.text +
        ls.text + offline.text + run.text + down.text + gc.text;
  EXPECT_EQ(all.find(password), std::string::npos) << all;
  EXPECT_EQ(all.find(base::Base64Encode("ci:" + password)), std::string::npos);
  // Nothing in the cache holds it either.
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir.file("cache"))) {
    if (!f.is_regular_file()) continue;
    std::ifstream in(f.path(), std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(content.find(password), std::string::npos) << f.path();
  }
}

TEST(Cli, UsageErrors) {
  TempDir dir;
  EXPECT_EQ(Wasmq(dir, "push " + dir.Write("x.wasm", ocitest::CommandModule()) + " 127.0.0.1:1/a:b --layout nope").status, 2);
  EXPECT_EQ(Wasmq(dir, "cache gc --older-than yesterday").status, 2);
  auto bad_ref = Wasmq(dir, "pull UPPER/Case");
  EXPECT_EQ(bad_ref.status, 1);
  EXPECT_NE(bad_ref.text.find("invalid reference"), std::string::npos) << bad_ref.text;
}

}  // namespace
}  // namespace wasmq::oci
