// The trust and admission gates (issue #18) through the public interface: `wasmq serve`, `wasmq worker`
// and `wasmq doctor` as processes, a real docker-registry holding signed, unsigned and wrongly signed
// modules, and admission / module policies built from our own C policy modules (tests/policy/modules).
//   - serve and worker refuse to start with an unsigned (or wrongly signed) configured pipeline, naming it;
//     serve starts with a signed one; built-in pipelines need a `builtin:*` rule
//   - a task naming an unsigned module of its own fails with MODULE_UNTRUSTED; a signed one runs
//   - doctor --key reports unsigned / bad-signature
//   - the admission policy answers 403 with its message, admits others, and a replaced policy file (and
//     SIGHUP) changes decisions while a running task finishes
//   - the module policy refuses by imports at start-up and by size for a task's module
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "api/client.h"
#include "oci/oci.h"
#include "registry_harness.h"
#include "sign/sign.h"
#include "test_modules.h"

namespace wasmq {
namespace {

using namespace std::chrono_literals;
using ocitest::RegistryServer;
using ocitest::TempDir;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string PolicyModule(const std::string& name) { return std::string(POLICY_MODULES_DIR) + "/" + name + ".wasm"; }
std::string WorkerModule(const std::string& name) { return std::string(WORKER_MODULES_DIR) + "/" + name + ".wasm"; }

// A WASI command of about `size` bytes: CommandModule with a custom section of padding.
std::string PaddedModule(size_t size) {
  std::string m = ocitest::CommandModule("big");
  std::string payload = std::string(1, '\x03') + "pad" + std::string(size, 'x');
  std::string leb;
  for (size_t n = payload.size();;) {
    unsigned char b = n & 0x7f;
    n >>= 7;
    leb += static_cast<char>(n ? (b | 0x80) : b);
    if (!n) break;
  }
  return m + std::string(1, '\0') + leb + payload;
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = 30s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

class Gates : public ::testing::Test {
 protected:
  void SetUp() override {
    reg_ = RegistryServer::StartAnonymous();
    ASSERT_TRUE(reg_) << RegistryServer::last_error();
    host_ = reg_->host();
    auto key = sign::PrivateKey::Generate();
    ASSERT_TRUE(key);
    auto other = sign::PrivateKey::Generate();
    ASSERT_TRUE(other);
    auto push = [&](const std::string& repo, const std::string& module, const sign::PrivateKey* by) {
      const std::string ref = host_ + "/" + repo + ":v1";
      auto r = oci::Push(module, ref, {});
      ASSERT_TRUE(r) << r.error().message;
      if (by) {
        ASSERT_TRUE(sign::SignImage(ref, *by, {}));
      }
    };
    push("formy/signed", ocitest::CommandModule("signed"), &*key);
    push("formy/unsigned", ocitest::CommandModule("unsigned"), nullptr);
    push("formy/wrong", ocitest::CommandModule("wrong"), &*other);
    push("tasks/signed", ocitest::CommandModule("task-signed"), &*key);
    push("tasks/unsigned", ocitest::CommandModule("task-unsigned"), nullptr);
    push("open/small", ocitest::CommandModule("small"), nullptr);
    push("open/big", PaddedModule(1100 * 1024), nullptr);
    pub_ = dir_.Write("keys/formy.pub", key->PublicPem());
    policy_ = dir_.Write("trust.json", R"({"rules": [{"match": ")" + host_ + R"(/formy/*", "keys": ["keys/formy.pub"]},
                                                      {"match": ")" + host_ + R"(/tasks/*", "keys": ["keys/formy.pub"]},
                                                      {"match": ")" + host_ + R"(/open/*", "keys": []},
                                                      {"match": "builtin:*", "keys": []},
                                                      {"match": "file:*", "keys": []}]})");
  }
  void TearDown() override {
    for (pid_t p : running_) {
      kill(p, SIGKILL);
      waitpid(p, nullptr, 0);
    }
  }

  std::vector<std::string> Env() const {
    return {"WASMQ_STORE=sqlite:" + dir_.file("tasks.db"), "WASMQ_DATA_DIR=" + dir_.file("data"),
            "WASMQ_ADDR=127.0.0.1:0", "WASMQ_CACHE_DIR=" + dir_.file("cache"), "HOME=" + dir_.str(),
            "WASMQ_RETRY_BACKOFF=10ms"};
  }

  pid_t Spawn(const std::vector<std::string>& args, const std::string& tag) {
    const std::vector<std::string> env = Env();
    pid_t pid = fork();
    if (pid != 0) return pid;
    if (chdir(dir_.str().c_str()) != 0) _exit(120);
    int out = open((tag + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open((tag + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    for (const std::string& e : env) putenv(strdup(e.c_str()));
    std::vector<char*> argv{const_cast<char*>(WASMQ_BINARY)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(WASMQ_BINARY, argv.data());
    _exit(121);
  }

  struct Ran {
    int code = -1;
    std::string out, err;
  };
  Ran Run(const std::vector<std::string>& args) {
    pid_t pid = Spawn(args, "cmd");
    int status = 0;
    waitpid(pid, &status, 0);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), Slurp(dir_.file("cmd.out")),
            Slurp(dir_.file("cmd.err"))};
  }

  // `wasmq serve ARGS` until its "ready" line; its API URL.
  std::string StartServe(std::vector<std::string> args, const std::string& tag = "serve") {
    args.insert(args.begin(), {"serve", "--workers", "2", "--lease", "2s"});
    pid_t pid = Spawn(args, tag);
    running_.push_back(pid);
    serve_pid_ = pid;
    bool ready = WaitUntil([&] { return Slurp(dir_.file(tag + ".err")).find("ready (pid") != std::string::npos; });
    EXPECT_TRUE(ready) << Slurp(dir_.file(tag + ".err"));
    std::string log = Slurp(dir_.file(tag + ".err"));
    size_t at = log.find("on http://");
    if (at == std::string::npos) return "";
    at += 3;
    return log.substr(at, log.find('/', at + 7) - at);
  }

  int StopServe() {
    kill(serve_pid_, SIGTERM);
    int status = 0;
    waitpid(serve_pid_, &status, 0);
    running_.erase(std::find(running_.begin(), running_.end(), serve_pid_));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  // The task's JSON once its status is one of `statuses`.
  queue::Json WaitForStatus(api::Client& client, const std::string& id, const std::vector<std::string>& statuses) {
    queue::Json last;
    WaitUntil([&] {
      auto t = client.Get(id);
      if (!t) return false;
      last = *t;
      return std::find(statuses.begin(), statuses.end(), last.value("status", "")) != statuses.end();
    });
    return last;
  }

  std::unique_ptr<RegistryServer> reg_;
  std::string host_;
  TempDir dir_{"wasmq-gates"};
  std::string pub_, policy_;
  std::vector<pid_t> running_;
  pid_t serve_pid_ = -1;
};

TEST_F(Gates, ServeAndWorkerRefuseUnsignedPipelinesAndStartWithSignedOnes) {
  Ran unsigned_ = Run({"serve", "--trust-policy", policy_, "--pipelines", "mine=" + host_ + "/formy/unsigned:v1"});
  EXPECT_EQ(unsigned_.code, 2);
  EXPECT_NE(unsigned_.err.find("module untrusted: pipeline mine: " + host_ + "/formy/unsigned:v1: unsigned: "),
            std::string::npos)
      << unsigned_.err;

  Ran wrong = Run({"worker", "--trust-policy", policy_, "--pipelines", "mine=" + host_ + "/formy/wrong:v1"});
  EXPECT_EQ(wrong.code, 2);
  EXPECT_NE(wrong.err.find("wasmq worker: module untrusted: pipeline mine: " + host_ + "/formy/wrong:v1: bad-signature: "),
            std::string::npos)
      << wrong.err;

  // A module no rule matches, and a built-in pipeline under a policy without a builtin:* rule.
  const std::string strict = dir_.Write("strict.json", R"({"rules": [{"match": ")" + host_ +
                                                          R"(/formy/*", "keys": ["keys/formy.pub"]}]})");
  Ran no_rule = Run({"serve", "--trust-policy", strict, "--pipelines", "mine=" + WorkerModule("noop")});
  EXPECT_EQ(no_rule.code, 2);
  EXPECT_NE(no_rule.err.find("pipeline mine: " + WorkerModule("noop") + ": untrusted: no rule"), std::string::npos)
      << no_rule.err;
  Ran builtin = Run({"serve", "--trust-policy", strict, "--pipelines", "mine=" + host_ + "/formy/signed:v1"});
  EXPECT_EQ(builtin.code, 2);
  EXPECT_NE(builtin.err.find("builtin:"), std::string::npos) << builtin.err;
  EXPECT_NE(builtin.err.find("untrusted"), std::string::npos) << builtin.err;

  // Signed: it starts, naming its gates.
  const std::string url =
      StartServe({"--trust-policy", policy_, "--pipelines", "mine=" + host_ + "/formy/signed:v1"}, "signed");
  ASSERT_FALSE(url.empty());
  EXPECT_NE(Slurp(dir_.file("signed.err")).find("gates: trust policy " + policy_), std::string::npos);
  EXPECT_EQ(StopServe(), 0);
}

TEST_F(Gates, TaskModuleThatIsUnsignedFailsModuleUntrusted) {
  const std::string url = StartServe({"--trust-policy", policy_, "--pipelines", "noop=" + WorkerModule("noop"),
                                      "--task-modules", host_ + "/tasks/," + host_ + "/formy/"});
  api::Client client({.server = url});
  auto bad = client.Submit({{"mode", "noop"}, {"config", {{"module", host_ + "/tasks/unsigned:v1"}}}});
  ASSERT_TRUE(bad) << bad.error().message;
  queue::Json failed = WaitForStatus(client, (*bad)["task_id"], {"failed", "done"});
  EXPECT_EQ(failed.value("status", ""), "failed") << failed.dump();
  ASSERT_TRUE(failed.contains("error")) << failed.dump();
  EXPECT_EQ(failed["error"].value("code", ""), "MODULE_UNTRUSTED") << failed.dump();
  EXPECT_NE(failed["error"].value("message", "").find(": unsigned: "), std::string::npos) << failed.dump();
  EXPECT_FALSE(failed["error"].value("retryable", true));

  auto wrong = client.Submit({{"mode", "noop"}, {"config", {{"module", host_ + "/formy/wrong:v1"}}}});
  ASSERT_TRUE(wrong);
  queue::Json w = WaitForStatus(client, (*wrong)["task_id"], {"failed", "done"});
  EXPECT_EQ(w["error"].value("code", ""), "MODULE_UNTRUSTED") << w.dump();
  EXPECT_NE(w["error"].value("message", "").find("bad-signature"), std::string::npos) << w.dump();

  auto good = client.Submit({{"mode", "noop"}, {"config", {{"module", host_ + "/tasks/signed:v1"}}}});
  ASSERT_TRUE(good);
  queue::Json done = WaitForStatus(client, (*good)["task_id"], {"failed", "done"});
  EXPECT_EQ(done.value("status", ""), "done") << done.dump();
  // The same module again: its verification is remembered (the compiled module too), still admitted.
  auto again = client.Submit({{"mode", "noop"}, {"config", {{"module", host_ + "/tasks/signed:v1"}}}});
  ASSERT_TRUE(again);
  EXPECT_EQ(WaitForStatus(client, (*again)["task_id"], {"failed", "done"}).value("status", ""), "done");
  EXPECT_EQ(StopServe(), 0);
}

TEST_F(Gates, DoctorReportsUnsignedAndBadSignature) {
  Ran ok = Run({"doctor", "--key", pub_, host_ + "/formy/signed:v1"});
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("verified by " + pub_), std::string::npos) << ok.out;

  Ran unsigned_ = Run({"doctor", "--key", pub_, host_ + "/formy/unsigned:v1"});
  EXPECT_EQ(unsigned_.code, 19) << unsigned_.out << unsigned_.err;
  EXPECT_TRUE(unsigned_.out.starts_with("unsigned: ")) << unsigned_.out;
  EXPECT_NE(unsigned_.out.find("wasmq sign --key cosign.key " + host_ + "/formy/unsigned:v1"), std::string::npos)
      << unsigned_.out;

  Ran wrong = Run({"doctor", "--json", "--trust-policy", policy_, host_ + "/formy/wrong:v1"});
  EXPECT_EQ(wrong.code, 20) << wrong.out << wrong.err;
  auto j = nlohmann::json::parse(wrong.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << wrong.out;
  EXPECT_EQ(j["cause"], "bad-signature");

  // Without --key or a rule with keys nothing is checked: an unsigned module pulls fine.
  EXPECT_EQ(Run({"doctor", host_ + "/formy/unsigned:v1"}).code, 0);
  EXPECT_EQ(Run({"doctor", "--trust-policy", policy_, host_ + "/open/small:v1"}).code, 0);
  EXPECT_EQ(Run({"doctor", "--key", dir_.Write("junk.pub", "junk"), host_ + "/formy/signed:v1"}).code, 2);
}

TEST_F(Gates, AdmissionPolicyDeniesWith403AndReloadsWithoutDroppingTasks) {
  const std::string admission = dir_.file("admission.wasm");
  std::filesystem::copy_file(PolicyModule("admission_deny_loop"), admission);
  const std::string url = StartServe({"--admission-policy", admission, "--pipelines",
                                      "slow=" + WorkerModule("slow") + ",loop=" + WorkerModule("loop")});
  api::Client client({.server = url});
  auto denied = client.Submit({{"mode", "loop"}});
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().message, "FORBIDDEN: mode loop is not admitted by policy-a (HTTP 403)");
  auto slow = client.Submit({{"mode", "slow"}, {"config", {{"sleep_ms", 3000}}}});
  ASSERT_TRUE(slow) << slow.error().message;
  const std::string slow_id = (*slow)["task_id"];
  EXPECT_EQ(WaitForStatus(client, slow_id, {"processing"}).value("status", ""), "processing");

  // The file replaced (as a deployment does: write aside, rename over): decisions change, the running
  // task goes on.
  std::filesystem::copy_file(PolicyModule("admission_deny_slow"), dir_.file("next.wasm"));
  std::filesystem::rename(dir_.file("next.wasm"), admission);
  std::string last;
  EXPECT_TRUE(WaitUntil([&] {
    auto r = client.Submit({{"mode", "slow"}});
    last = r ? "admitted" : r.error().message;
    return !r;
  }, 10s)) << last;
  EXPECT_EQ(last, "FORBIDDEN: mode slow is not admitted by policy-b (HTTP 403)");
  auto loop = client.Submit({{"mode", "loop"}, {"timeout_ms", 500}, {"max_retries", 0}});
  EXPECT_TRUE(loop) << loop.error().message;
  EXPECT_NE(Slurp(dir_.file("serve.err")).find("reloaded (file changed)"), std::string::npos);

  // SIGHUP reloads too, and does not stop the server.
  kill(serve_pid_, SIGHUP);
  EXPECT_TRUE(WaitUntil([&] { return Slurp(dir_.file("serve.err")).find("reloaded (SIGHUP)") != std::string::npos; }))
      << Slurp(dir_.file("serve.err"));
  EXPECT_FALSE(client.Submit({{"mode", "slow"}}));

  EXPECT_EQ(WaitForStatus(client, slow_id, {"done", "failed"}).value("status", ""), "done");
  EXPECT_EQ(StopServe(), 0);

  // A policy that does not load stops start-up.
  Ran bad = Run({"serve", "--admission-policy", dir_.Write("bad.wasm", "not wasm")});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--admission-policy: admission policy " + dir_.file("bad.wasm")), std::string::npos) << bad.err;
}

TEST_F(Gates, ModulePolicyDeniesByImportsAndBySize) {
  const std::string limits = PolicyModule("module_limits");
  Ran imports = Run({"serve", "--module-policy", limits, "--pipelines",
                     "fine=" + WorkerModule("noop") + ",odd=" + WorkerModule("bad_import")});
  EXPECT_EQ(imports.code, 2);
  EXPECT_NE(imports.err.find("module untrusted: pipeline odd: " + WorkerModule("bad_import") +
                             ": denied by the module policy: it imports wasmq.no_such_function"),
            std::string::npos)
      << imports.err;

  const std::string url = StartServe({"--module-policy", limits, "--pipelines", "noop=" + WorkerModule("noop"),
                                      "--task-modules", host_ + "/open/"});
  api::Client client({.server = url});
  auto big = client.Submit({{"mode", "noop"}, {"config", {{"module", host_ + "/open/big:v1"}}}});
  ASSERT_TRUE(big);
  queue::Json b = WaitForStatus(client, (*big)["task_id"], {"failed", "done"});
  EXPECT_EQ(b["error"].value("code", ""), "MODULE_UNTRUSTED") << b.dump();
  EXPECT_NE(b["error"].value("message", "").find("bytes is over 1048576"), std::string::npos) << b.dump();
  auto small = client.Submit({{"mode", "noop"}, {"config", {{"module", host_ + "/open/small:v1"}}}});
  ASSERT_TRUE(small);
  EXPECT_EQ(WaitForStatus(client, (*small)["task_id"], {"failed", "done"}).value("status", ""), "done");
  EXPECT_EQ(StopServe(), 0);
}

}  // namespace
}  // namespace wasmq
