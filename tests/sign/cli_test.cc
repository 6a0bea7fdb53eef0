// The signature commands as processes (the built wasmq): key generate / import, sign, sign --legacy and
// verify against a real docker-registry, with their exit codes and the first word of each failure.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "registry_harness.h"
#include "test_modules.h"

namespace wasmq::sign {
namespace {

using ocitest::RegistryServer;
using ocitest::TempDir;

struct Proc {
  int status = -1;
  std::string out, err;
};

// Runs wasmq with ARGS in its own session (no controlling terminal, so no password prompt can open),
// with exactly ENV added to a minimal environment.
Proc Wasmq(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
           const TempDir& home) {
  TempDir io("wasmq-sign-io");
  const std::string out_path = io.file("out"), err_path = io.file("err");
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    int o = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(o, 1);
    dup2(e, 2);
    clearenv();
    setenv("HOME", home.str().c_str(), 1);
    setenv("PATH", "/usr/bin:/bin", 1);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    std::string bin = WASMQ_BINARY;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  Proc r;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream of(out_path), ef(err_path);
  r.out.assign(std::istreambuf_iterator<char>(of), {});
  r.err.assign(std::istreambuf_iterator<char>(ef), {});
  return r;
}

class SignCli : public ::testing::Test {
 protected:
  void SetUp() override {
    reg_ = RegistryServer::StartAnonymous();
    ASSERT_TRUE(reg_) << RegistryServer::last_error();
    const std::string wasm = dir_.Write("m.wasm", ocitest::CommandModule("cli"));
    Proc p = Wasmq({"push", wasm, Ref()}, {}, home_);
    ASSERT_EQ(p.status, 0) << p.err;
  }
  std::string Ref() const { return reg_->host() + "/formy/bg:v1"; }
  std::unique_ptr<RegistryServer> reg_;
  TempDir dir_{"wasmq-sign-cli"};
  TempDir home_{"wasmq-sign-home"};
};

TEST_F(SignCli, GenerateSignVerify) {
  const std::string prefix = dir_.file("k");
  Proc g = Wasmq({"key", "generate", "--out", prefix}, {{"WASMQ_PASSWORD", "pw"}}, home_);
  ASSERT_EQ(g.status, 0) << g.err;
  struct stat st {};
  ASSERT_EQ(stat((prefix + ".key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream kf(prefix + ".key"), pf(prefix + ".pub");
  std::string key((std::istreambuf_iterator<char>(kf)), {}), pub((std::istreambuf_iterator<char>(pf)), {});
  EXPECT_TRUE(key.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"));
  EXPECT_TRUE(pub.starts_with("-----BEGIN PUBLIC KEY-----"));

  Proc again = Wasmq({"key", "generate", "--out", prefix}, {{"WASMQ_PASSWORD", "pw"}}, home_);
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.err.find("exists"), std::string::npos) << again.err;

  Proc unsigned_ = Wasmq({"verify", "--key", prefix + ".pub", Ref()}, {}, home_);
  EXPECT_EQ(unsigned_.status, 1);
  EXPECT_NE(unsigned_.err.find("wasmq verify: no-signature:"), std::string::npos) << unsigned_.err;

  Proc bad_pw = Wasmq({"sign", "--key", prefix + ".key", Ref()}, {{"WASMQ_PASSWORD", "nope"}}, home_);
  EXPECT_EQ(bad_pw.status, 1);
  EXPECT_NE(bad_pw.err.find("bad-password"), std::string::npos) << bad_pw.err;

  Proc no_pw = Wasmq({"sign", "--key", prefix + ".key", Ref()}, {}, home_);
  EXPECT_EQ(no_pw.status, 1);
  EXPECT_NE(no_pw.err.find("no password"), std::string::npos) << no_pw.err;

  // COSIGN_PASSWORD is read as cosign reads it.
  Proc s = Wasmq({"sign", "--key", prefix + ".key", Ref()}, {{"COSIGN_PASSWORD", "pw"}}, home_);
  ASSERT_EQ(s.status, 0) << s.err;
  EXPECT_NE(s.out.find("signed " + reg_->host() + "/formy/bg@sha256:"), std::string::npos) << s.out;

  Proc v = Wasmq({"verify", "--key", prefix + ".pub", Ref()}, {}, home_);
  ASSERT_EQ(v.status, 0) << v.err;
  EXPECT_TRUE(v.out.starts_with("verified " + reg_->host() + "/formy/bg@sha256:")) << v.out;
  EXPECT_NE(v.out.find("with " + prefix + ".pub (fallback-tag"), std::string::npos) << v.out;
  EXPECT_EQ(std::count(v.out.begin(), v.out.end(), '\n'), 1);

  ASSERT_EQ(Wasmq({"key", "generate", "--out", dir_.file("other")}, {{"WASMQ_PASSWORD", ""}}, home_).status,
            0);
  Proc wrong = Wasmq({"verify", "--key", dir_.file("other.pub"), Ref()}, {}, home_);
  EXPECT_EQ(wrong.status, 1);
  EXPECT_NE(wrong.err.find("wasmq verify: wrong-key:"), std::string::npos) << wrong.err;
  Proc either =
      Wasmq({"verify", "--key", dir_.file("other.pub"), "--key", prefix + ".pub", Ref()}, {}, home_);
  EXPECT_EQ(either.status, 0) << either.err;

  EXPECT_EQ(Wasmq({"verify", Ref()}, {}, home_).status, 2);
  EXPECT_EQ(Wasmq({"verify", "--key", prefix + ".key", Ref()}, {}, home_).status, 1);  // not a public key
}

TEST_F(SignCli, ImportAndLegacy) {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey_traditional(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  const std::string plain = dir_.Write("plain.pem", std::string(data, static_cast<size_t>(n)));
  BIO_free(bio);
  EVP_PKEY_free(k);

  const std::string prefix = dir_.file("imported");
  Proc i = Wasmq({"key", "import", plain, "--out", prefix}, {{"WASMQ_PASSWORD", "pw"}}, home_);
  ASSERT_EQ(i.status, 0) << i.err;
  Proc s = Wasmq({"sign", "--legacy", "--key", prefix + ".key", Ref()}, {{"WASMQ_PASSWORD", "pw"}}, home_);
  ASSERT_EQ(s.status, 0) << s.err;
  EXPECT_NE(s.out.find(".sig"), std::string::npos) << s.out;
  Proc v = Wasmq({"verify", "--key", prefix + ".pub", Ref()}, {}, home_);
  ASSERT_EQ(v.status, 0) << v.err;
  EXPECT_NE(v.out.find("(legacy-tag"), std::string::npos) << v.out;

  Proc junk = Wasmq({"key", "import", dir_.Write("junk.pem", "nothing"), "--out", dir_.file("j")},
                    {{"WASMQ_PASSWORD", "pw"}}, home_);
  EXPECT_EQ(junk.status, 1);
  EXPECT_NE(junk.err.find("bad-key"), std::string::npos) << junk.err;
}

}  // namespace
}  // namespace wasmq::sign
