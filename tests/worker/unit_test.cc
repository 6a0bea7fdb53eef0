// Small pieces of the worker: backoff, owners, UTF-8, registry.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "helpers.h"
#include "worker/backoff.h"
#include "worker/owner.h"
#include "worker/runner.h"

namespace wasmq::worker {
namespace {

TEST(BackoffTest, ExponentialCappedWithEqualJitter) {
  EXPECT_EQ(RetryDelayMs(1, 1000, 60'000, 0.0), 500);
  EXPECT_EQ(RetryDelayMs(1, 1000, 60'000, 0.999999), 999);
  EXPECT_EQ(RetryDelayMs(2, 1000, 60'000, 0.0), 1000);
  EXPECT_EQ(RetryDelayMs(3, 1000, 60'000, 0.5), 3000);
  EXPECT_EQ(RetryDelayMs(10, 1000, 60'000, 0.0), 30'000);    // capped at 60 s, half fixed
  EXPECT_EQ(RetryDelayMs(1000, 1000, 60'000, 1.0), 60'000);  // no overflow however many attempts
  EXPECT_EQ(RetryDelayMs(1, 0, 60'000, 0.5), 0);
  for (int a = 1; a < 20; ++a)
    for (double r : {0.0, 0.3, 0.7, 1.0}) {
      int64_t d = RetryDelayMs(a, 100, 5000, r);
      EXPECT_GE(d, std::min<int64_t>(5000, 100LL << (a - 1)) / 2);
      EXPECT_LE(d, 5000);
    }
}

enum OwnerField { kHost = 1, kPid = 2, kNonce = 3, kBoot = 4, kPidNs = 5 };

// An owner name is wasmq/<host>/<pid>/<nonce>/<boot id>/<pid namespace>: this process's name with fields
// replaced.
std::string OwnerWith(const std::map<size_t, std::string>& fields) {
  std::vector<std::string> parts;
  std::string me = ThisProcessOwner();
  for (size_t at; (at = me.find('/')) != std::string::npos; me.erase(0, at + 1))
    parts.push_back(me.substr(0, at));
  parts.push_back(me);
  EXPECT_EQ(parts.size(), 6u) << ThisProcessOwner();
  if (parts.size() != 6) return "";
  for (const auto& [field, value] : fields) parts[field] = value;
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) out += "/" + parts[i];
  return out;
}
TEST(OwnerTest, LivenessOfOwners) {
  const std::string& me = ThisProcessOwner();
  EXPECT_TRUE(me.starts_with("wasmq/"));
  EXPECT_FALSE(OwnerIsDead(me));
  EXPECT_TRUE(OwnerIsDead(OwnerWith({{kPid, "999999999"}})));
  EXPECT_FALSE(OwnerIsDead(OwnerWith({{kPid, "1"}})));                 // pid 1 is alive
  EXPECT_TRUE(OwnerIsDead(OwnerWith({{kNonce, "an-earlier-life"}})));  // this pid, an earlier process
  EXPECT_FALSE(OwnerIsDead(OwnerWith({{kHost, "other-host"}})));
  EXPECT_FALSE(OwnerIsDead("w1"));
  EXPECT_FALSE(OwnerIsDead(OwnerWith({{kPid, "notapid"}})));
}

// Two containers on one kernel running wasmq as PID 1 with the same fixed hostname: the other one's owner
// name has our host and pid and another nonce, and its process is alive. Only a process in our own boot
// and pid namespace is judged; any other owner keeps its task until its lease expires.
TEST(OwnerTest, AnOwnerInAnotherContainerOrMachineIsNeverJudgedDead) {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const std::string h = host, pid = std::to_string(getpid());
  // The name without a boot id and pid namespace (as wasmq wrote it before): where it ran is unknown.
  EXPECT_FALSE(OwnerIsDead("wasmq/" + h + "/" + pid + "/another-container"));
  EXPECT_FALSE(OwnerIsDead("wasmq/" + h + "/999999999/abc"));
  // Our host, pid and boot, another nonce, another pid namespace: another container's live PID 1.
  EXPECT_FALSE(OwnerIsDead(OwnerWith({{kPidNs, "4026599999"}})));
  EXPECT_FALSE(OwnerIsDead(OwnerWith({{kNonce, "other"}, {kPidNs, "4026599999"}})));
  EXPECT_FALSE(OwnerIsDead(OwnerWith({{kPid, "999999999"}, {kPidNs, "4026599999"}})));
  // Another boot (another machine with the same name, or this one before a reboot): its lease expires.
  EXPECT_FALSE(OwnerIsDead(OwnerWith({{kBoot, "00000000-0000-0000-0000-000000000000"}})));
}

TEST(Utf8Test, InvalidSequencesAreReplaced) {
  EXPECT_EQ(SanitizeUtf8("plain"), "plain");
  EXPECT_EQ(SanitizeUtf8("caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80");
  EXPECT_EQ(SanitizeUtf8("a\xffz"), "a\xef\xbf\xbdz");
  EXPECT_EQ(SanitizeUtf8("\xc3"), "\xef\xbf\xbd");                                  // truncated
  EXPECT_EQ(SanitizeUtf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");                  // overlong '/'
  EXPECT_EQ(SanitizeUtf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
}

TEST(RegistryTest, LoadRefusesBadModulesNamingThem) {
  testing::TempDir dir;
  std::ofstream(dir.file("junk.wasm")) << "not wasm";
  PipelineRegistry r;
  auto bad = r.Load({{"JUNK", dir.file("junk.wasm")}});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().message.starts_with("pipeline JUNK: " + dir.file("junk.wasm") + ": "))
      << bad.error().message;
  auto missing = r.Load({{"GONE", dir.file("gone.wasm")}});
  EXPECT_EQ(missing.error().message, "pipeline GONE: cannot read " + dir.file("gone.wasm"));
  ASSERT_TRUE(r.Load({{"noop", testing::ModulePath("noop")}}).ok());
  EXPECT_EQ(r.modes(), std::vector<std::string>{"noop"});
  ASSERT_NE(r.Find("noop"), nullptr);
  EXPECT_EQ(r.Find("other"), nullptr);
}

// The dashboard's "tier" is the engine's: the interpreter without the compiler, compiled with it forced.
TEST(RegistryTest, DescribeNamesTheTierThatRunsEachPipeline) {
  PipelineRegistry interpreted(wasm::EngineConfig{.compile = wasm::CompileMode::kNever});
  ASSERT_TRUE(interpreted.Load({{"noop", testing::ModulePath("noop")}}).ok());
  EXPECT_EQ(interpreted.Describe()[0]["tier"], "interpreted");
  PipelineRegistry compiled(wasm::EngineConfig{.compile = wasm::CompileMode::kAlways});
  ASSERT_TRUE(compiled.Load({{"noop", testing::ModulePath("noop")}}).ok());
  EXPECT_EQ(compiled.Describe()[0]["tier"], "compiled");
}

// --task-modules prefixes are OCI references compared as such: the registry host exactly, the repository at
// '/' boundaries; a tag or a digest on the task's reference is allowed. Offline with an empty cache, an
// admitted reference fails at the pull (NotFound), a refused one before it (InvalidArgument).
TEST(RegistryTest, TaskModulePrefixesMatchReferencesNotStrings) {
  testing::TempDir dir;
  PipelineRegistry r;
  OciSource oci;
  oci.cache_dir = dir.file("cache");
  oci.offline = true;
  oci.task_module_prefixes = {"registry.example.com", "127.0.0.1:5000/formy/pipelines"};
  (void)r.SetOci(oci);
  const std::string digest = "@sha256:" + std::string(64, 'a');
  auto admitted = [&](const std::string& ref) {
    auto m = r.TaskModule(ref);
    EXPECT_FALSE(m.ok()) << ref;
    return !m.ok() && m.error().code != queue::Code::InvalidArgument;
  };
  for (const std::string& ref : std::vector<std::string>{
           "registry.example.com/x:1", "registry.example.com/a/b/c" + digest,
           "oci://registry.example.com/x:1", "127.0.0.1:5000/formy/pipelines:v1",
           "127.0.0.1:5000/formy/pipelines/bg:v1", "127.0.0.1:5000/formy/pipelines/a/b" + digest})
    EXPECT_TRUE(admitted(ref)) << ref;
  for (const std::string& ref : std::vector<std::string>{
           "registry.example.com.evil.io/x:1", "registry.example.com:8443/x:1",
           "evil.io/registry.example.com/x:1", "127.0.0.1:5000/formy/pipelines-evil:v1",
           "127.0.0.1:5000/formy/pipelines-evil/bg:v1", "127.0.0.1:5000/formy/pipelinesx" + digest,
           "127.0.0.1:5000/formy:v1", "127.0.0.1:50000/formy/pipelines:v1", "127.0.0.1/formy/pipelines:v1"}) {
    EXPECT_FALSE(admitted(ref)) << ref;
    auto m = r.TaskModule(ref);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().message.find("is not allowed here"), std::string::npos) << m.error().message;
  }
  // A prefix names a registry or a repository: a tag, a digest or junk stops the start-up.
  EXPECT_TRUE(
      CheckTaskModulePrefixes({"registry.example.com", "127.0.0.1:5000/formy/", "oci://ghcr.io/a"}).ok());
  for (const char* bad : {"registry.example.com/x:v1", "registry.example.com/x@sha256:", "", "Bad Prefix"})
    EXPECT_FALSE(CheckTaskModulePrefixes({bad}).ok()) << bad;
}

}  // namespace
}  // namespace wasmq::worker
