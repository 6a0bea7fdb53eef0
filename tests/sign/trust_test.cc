// Tests of src/sign/trust.cc (the trust policy) and of `wasmq run --trust-policy`: parsing and its errors,
// first-match globs, signed / unsigned / wrongly signed registry modules on a real docker-registry, local
// files, and the run command's exit codes and messages (125 with "module untrusted: …: unsigned" or
// "bad-signature", 2 for a bad policy file).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "oci/oci.h"
#include "registry_harness.h"
#include "sign/sign.h"
#include "test_modules.h"

namespace wasmq::sign {
namespace {

using ocitest::RegistryServer;
using ocitest::TempDir;

TEST(TrustPolicy, ParsesResolvesKeysAndMatchesFirstRule) {
  TempDir dir("wasmq-trust");
  auto k = PrivateKey::Generate();
  dir.Write("keys/formy.pub", k->PublicPem());
  auto p = ParseTrustPolicy(R"({"rules": [{"match": "127.0.0.1:5000/formy/*", "keys": ["keys/formy.pub"]},
                                          {"match": "file:*", "keys": []},
                                          {"match": "*", "keys": []}]})",
                            dir.str());
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->rules.size(), 3u);
  EXPECT_EQ(p->rules[0].key_files[0], dir.file("keys/formy.pub"));
  EXPECT_EQ(p->Find("127.0.0.1:5000/formy/bg"), &p->rules[0]);
  EXPECT_EQ(p->Find("127.0.0.1:5000/formy/a/b"), &p->rules[0]);  // '*' crosses '/'
  EXPECT_EQ(p->Find("file:/tmp/x.wasm"), &p->rules[1]);
  EXPECT_EQ(p->Find("ghcr.io/other/x"), &p->rules[2]);

  auto narrow = ParseTrustPolicy(R"({"rules": [{"match": "ghcr.io/formy/*", "keys": []}]})", "");
  ASSERT_TRUE(narrow);
  EXPECT_EQ(narrow->Find("ghcr.io/other/x"), nullptr);
}

TEST(TrustPolicy, ErrorsNameWhatIsWrong) {
  TempDir dir("wasmq-trust");
  auto msg = [&](const std::string& text) {
    auto p = ParseTrustPolicy(text, dir.str());
    return p ? std::string("ok") : p.error().message;
  };
  EXPECT_NE(msg("[").find("not a JSON object"), std::string::npos);
  EXPECT_NE(msg("{}").find("\"rules\""), std::string::npos);
  EXPECT_NE(msg(R"({"rules":[{"keys":[]}]})").find("rules[0].match"), std::string::npos);
  EXPECT_NE(msg(R"({"rules":[{"match":"*"}]})").find("rules[0].keys"), std::string::npos);
  EXPECT_NE(msg(R"({"rules":[{"match":"*","keys":["missing.pub"]}]})").find("missing.pub"),
            std::string::npos);
  dir.Write("junk.pub", "junk");
  auto bad = ParseTrustPolicy(R"({"rules":[{"match":"*","keys":["junk.pub"]}]})", dir.str());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::BadKey);
  EXPECT_EQ(msg(R"({"rules":[]})"), "ok");  // admits nothing
}

class TrustRegistry : public ::testing::Test {
 protected:
  void SetUp() override {
    reg_ = RegistryServer::StartAnonymous();
    ASSERT_TRUE(reg_) << RegistryServer::last_error();
    for (const char* repo : {"formy/signed", "formy/unsigned", "formy/wrong"}) {
      auto r = oci::Push(ocitest::CommandModule(repo), reg_->host() + "/" + repo + ":v1", {});
      ASSERT_TRUE(r) << r.error().message;
      digests_[repo] = r->manifest_digest;
    }
    key_ = std::move(*PrivateKey::Generate());
    ASSERT_TRUE(SignImage(reg_->host() + "/formy/signed:v1", key_, {}));
    ASSERT_TRUE(SignImage(reg_->host() + "/formy/wrong:v1", *PrivateKey::Generate(), {}));
    dir_.Write("formy.pub", key_.PublicPem());
    policy_path_ = dir_.Write("policy.json", R"({"rules": [{"match": ")" + reg_->host() +
                                                 R"(/formy/*", "keys": ["formy.pub"]},
                                                  {"match": "file:*", "keys": []}]})");
  }
  std::unique_ptr<RegistryServer> reg_;
  std::map<std::string, std::string> digests_;
  PrivateKey key_;
  TempDir dir_{"wasmq-trust"};
  std::string policy_path_;
};

TEST_F(TrustRegistry, Decisions) {
  auto policy = LoadTrustPolicy(policy_path_);
  ASSERT_TRUE(policy) << policy.error().message;

  auto ok = CheckModuleTrust(*policy, "oci://" + reg_->host() + "/formy/signed:v1", false, {});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_TRUE(ok->signature_checked);
  EXPECT_EQ(ok->pinned_ref, reg_->host() + "/formy/signed@" + digests_["formy/signed"]);
  EXPECT_EQ(ok->signer, dir_.file("formy.pub"));

  auto unsigned_ = CheckModuleTrust(*policy, reg_->host() + "/formy/unsigned:v1", false, {});
  ASSERT_FALSE(unsigned_);
  EXPECT_EQ(TrustFailureName(unsigned_.error().kind), "unsigned");

  auto wrong = CheckModuleTrust(*policy, reg_->host() + "/formy/wrong:v1", false, {});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(TrustFailureName(wrong.error().kind), "bad-signature");

  auto other = CheckModuleTrust(*policy, reg_->host() + "/elsewhere/x:v1", false, {});
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().kind, ErrorKind::Untrusted);
  EXPECT_NE(other.error().message.find(reg_->host() + "/elsewhere/x"), std::string::npos);

  const std::string file = dir_.Write("m.wasm", ocitest::CommandModule("f"));
  auto f = CheckModuleTrust(*policy, file, true, {});
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->subject, "file:" + file);
  EXPECT_FALSE(f->signature_checked);

  auto strict = ParseTrustPolicy(R"({"rules":[{"match":"file:*","keys":["formy.pub"]}]})", dir_.str());
  ASSERT_TRUE(strict);
  auto refused = CheckModuleTrust(*strict, file, true, {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Untrusted);
  EXPECT_NE(refused.error().message.find("local file"), std::string::npos);
}

struct Proc {
  int status = -1;
  std::string err;
};

// wasmq in its own session with a minimal environment plus ENV; stderr captured.
Proc Wasmq(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
           const TempDir& home) {
  const std::string err_path = home.file("stderr");
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int n = open("/dev/null", O_RDWR);
    dup2(n, 0);
    dup2(n, 1);
    dup2(e, 2);
    clearenv();
    setenv("HOME", home.str().c_str(), 1);
    setenv("PATH", "/usr/bin:/bin", 1);
    setenv("WASMQ_CACHE_DIR", home.file("cache").c_str(), 1);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<std::string> copy = args;
    std::string bin = WASMQ_BINARY;
    std::vector<char*> argv{bin.data()};
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  Proc p;
  p.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream in(err_path);
  p.err.assign(std::istreambuf_iterator<char>(in), {});
  return p;
}

TEST_F(TrustRegistry, RunAdmitsOnlyWhatThePolicyAllows) {
  TempDir home("wasmq-trust-home");
  const std::string host = reg_->host();
  Proc ok = Wasmq({"run", "--trust-policy", policy_path_, host + "/formy/signed:v1"}, {}, home);
  EXPECT_EQ(ok.status, 0) << ok.err;

  Proc unsigned_ = Wasmq({"run", "--trust-policy", policy_path_, host + "/formy/unsigned:v1"}, {}, home);
  EXPECT_EQ(unsigned_.status, 125);
  EXPECT_NE(unsigned_.err.find("module untrusted: " + host + "/formy/unsigned:v1: unsigned:"),
            std::string::npos)
      << unsigned_.err;

  Proc wrong = Wasmq({"run", host + "/formy/wrong:v1"}, {{"WASMQ_TRUST_POLICY", policy_path_}}, home);
  EXPECT_EQ(wrong.status, 125);
  EXPECT_NE(wrong.err.find(": bad-signature:"), std::string::npos) << wrong.err;

  const std::string file = dir_.Write("local.wasm", ocitest::CommandModule("local"));
  EXPECT_EQ(Wasmq({"run", "--trust-policy", policy_path_, file}, {}, home).status, 0);
  const std::string only_registry =
      dir_.Write("registry-only.json", R"({"rules": [{"match": ")" + host + R"(/*", "keys": []}]})");
  Proc local = Wasmq({"run", "--trust-policy", only_registry, file}, {}, home);
  EXPECT_EQ(local.status, 125);
  EXPECT_NE(local.err.find("untrusted: no rule"), std::string::npos) << local.err;
  // Unsigned registry modules pass a rule without keys.
  EXPECT_EQ(Wasmq({"run", "--trust-policy", only_registry, host + "/formy/unsigned:v1"}, {}, home).status, 0);

  Proc bad = Wasmq({"run", "--trust-policy", dir_.Write("bad.json", "{"), file}, {}, home);
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("--trust-policy"), std::string::npos) << bad.err;
  // Without a policy nothing is checked (the default stays as before).
  EXPECT_EQ(Wasmq({"run", host + "/formy/unsigned:v1"}, {}, home).status, 0);
}

}  // namespace
}  // namespace wasmq::sign
