// File: tests/oci/doctor_test.cc
//
// `wasmq doctor`: every cause reproduced for real, against Debian's docker-registry (anonymous, htpasswd,
// token auth through the test's token server), stand-in servers for what a healthy registry never does
// (500, 429, lying about a digest), a closed port, a port that never answers, an unresolvable name and a
// TLS handshake with a plain-HTTP server. The W-007 incident runs end to end through the built binary
// (WASMQ_BINARY): no credentials → auth; credentials → tag-not-found with v1.0.1, v1.0.2, latest and the
// nearest tag; a layout nobody reads → unsupported-format; a closed port → network. Each doctor call is
// timed (the target is under 2 s on a local registry; asserted at 10 s for slow CI machines).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "oci/doctor.h"
#include "oci/oci.h"
#include "registry_harness.h"

extern char** environ;

namespace wasmq::ocitest {
namespace {

using oci::DoctorCause;

const std::string kWasm = std::string("\0asm\x01\0\0\0", 8) + std::string("\x01\x04\x01\x60\0\0", 6);  // one type
const std::string kComponent = std::string("\0asm\x0d\0\x01\0", 8);
constexpr double kTimeLimitSeconds = 10;  // generous for CI; the target (and what is printed) is < 2 s

// Pushes a CNCF Wasm artifact: config application/vnd.wasm.config.v0+json, one application/wasm layer.
std::string PushCncf(RegistryClient& c, const std::string& repo, const std::string& tag,
                     const std::string& module = kWasm) {
  return c.PushImage(repo, tag, "application/vnd.wasm.config.v0+json",
                     R"({"architecture":"wasm","os":"wasip1","layerDigests":[")" + Digest(module) + R"("]})",
                     {{"application/wasm", module}});
}

// ---- running the binary -------------------------------------------------------------------------------------

struct RunOutput {
  int exit_code = -1;
  std::string out, err;
  double seconds = 0;
};

// Runs the built wasmq with `args`, an environment cleaned of anything that could find real credentials
// (HOME and DOCKER_CONFIG point into `home`), plus `env`.
RunOutput RunWasmq(const std::vector<std::string>& args, const std::string& home,
             const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    if (key == "HOME" || key == "DOCKER_CONFIG" || key.starts_with("WASMQ_") || key.starts_with("XDG_") ||
        key == "REGISTRY_AUTH_FILE")
      continue;
    envs.push_back(kv);
  }
  envs.push_back("HOME=" + home);
  envs.push_back("XDG_CACHE_HOME=" + home + "/cache");
  envs.push_back("XDG_CONFIG_HOME=" + home + "/config");
  if (!env.count("DOCKER_CONFIG")) envs.push_back("DOCKER_CONFIG=" + home + "/no-docker-config");
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);

  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) return {};
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    std::vector<char*> argv{const_cast<char*>(WASMQ_BINARY)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (std::string& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    execve(WASMQ_BINARY, argv.data(), envp.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  RunOutput r;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0 && poll(fds, 2, 60000) > 0) {
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// `wasmq doctor --json REF`, parsed; checks the exact top-level keys and the time taken.
nlohmann::json DoctorJson(const std::string& ref, const std::string& home,
                          const std::map<std::string, std::string>& env = {}, int* exit_code = nullptr,
                          std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"doctor", "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(ref);
  RunOutput r = RunWasmq(args, home, env);
  std::printf("  wasmq doctor --json %s: exit %d in %.3f s\n", ref.c_str(), r.exit_code, r.seconds);
  EXPECT_LT(r.seconds, kTimeLimitSeconds);
  if (exit_code) *exit_code = r.exit_code;
  // The keys in this order: ref, cause, evidence, fix.
  size_t ref_at = r.out.find("\"ref\""), cause_at = r.out.find("\"cause\""), evidence_at = r.out.find("\"evidence\""),
         fix_at = r.out.find("\"fix\"");
  EXPECT_TRUE(ref_at < cause_at && cause_at < evidence_at && evidence_at < fix_at && fix_at != std::string::npos)
      << r.out;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_TRUE(j.is_object()) << "stdout: " << r.out << "\nstderr: " << r.err;
  if (!j.is_object()) return nlohmann::json::object();
  std::vector<std::string> keys;
  for (auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"cause", "evidence", "fix", "ref"}));  // items() is sorted
  EXPECT_EQ(j["ref"], ref);
  EXPECT_TRUE(j["evidence"].is_array());
  EXPECT_TRUE(j["fix"].is_array());
  for (auto& e : j["evidence"]) EXPECT_TRUE(e.is_string());
  for (auto& f : j["fix"]) EXPECT_TRUE(f.is_string());
  return j;
}

std::string Joined(const nlohmann::json& array) {
  std::string all;
  for (auto& s : array) all += s.get<std::string>() + "\n";
  return all;
}

// In-process doctor with credentials only from `credential` (or none): no file or env of the machine is read.
oci::Diagnosis Diagnose(const std::string& ref, const TempDir& home, std::optional<oci::Credential> credential = {},
                        std::function<void(oci::DoctorOptions&)> tweak = {}) {
  oci::DoctorOptions o;
  o.client.credentials.docker_config = home.file("absent-config.json");
  o.client.credentials.k8s_secret = home.file("absent-secret.yaml");
  o.client.credentials.wasmq_auth_file = home.file("absent-auth.json");
  o.client.credentials.use_env = false;
  o.client.credentials.use_helpers = false;
  o.client.credential_override = credential;
  if (tweak) tweak(o);
  auto d = oci::Diagnose(ref, o);
  EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
  if (!d.ok()) return {};
  std::printf("  doctor %s: %s in %.1f ms\n", ref.c_str(), std::string(oci::CauseName(d->cause)).c_str(),
              d->elapsed_ms);
  EXPECT_LT(d->elapsed_ms, kTimeLimitSeconds * 1000);
  return *d;
}

std::string All(const oci::Diagnosis& d) {
  std::string s = d.verdict + "\n";
  for (auto& e : d.evidence) s += e + "\n";
  for (auto& f : d.fix) s += f + "\n";
  return s;
}

// ---- the nearest tag and the names ---------------------------------------------------------------------------

TEST(DoctorNearestTag, PrefersTheNextPatchRelease) {
  EXPECT_EQ(oci::NearestTag("v1.0.0", {"v1.0.1", "v1.0.2", "latest"}), "v1.0.1");
  EXPECT_EQ(oci::NearestTag("v1.0.3", {"v1.0.1", "v1.0.2", "latest"}), "v1.0.2");
  EXPECT_EQ(oci::NearestTag("1.4.0", {"1.3.9", "1.4.2", "2.0.0"}), "1.4.2");
  EXPECT_EQ(oci::NearestTag("v2.0", {"v1.9.9", "v2.1.0", "v3.0.0"}), "v2.1.0");
  EXPECT_EQ(oci::NearestTag("v1.0.0", {"v1.0.0-rc1", "v1.0.1"}), "v1.0.1");
}

TEST(DoctorNearestTag, FallsBackToEditDistance) {
  EXPECT_EQ(oci::NearestTag("lates", {"v1.0.1", "latest", "stable"}), "latest");
  EXPECT_EQ(oci::NearestTag("stabel", {"latest", "stable"}), "stable");
  EXPECT_EQ(oci::NearestTag("v1.0.0", {"latest", "main"}), "latest");  // no version tag; a tie: the first
  EXPECT_EQ(oci::NearestTag("v1.0.0", {"latest", "v1"}), "v1");          // "v1" is version 1.0.0
  EXPECT_EQ(oci::NearestTag("x", {}), "");
}

TEST(DoctorNames, CausesAndExitCodes) {
  const std::vector<std::pair<DoctorCause, std::string>> all = {
      {DoctorCause::Ok, "ok"},
      {DoctorCause::Network, "network"},
      {DoctorCause::Auth, "auth"},
      {DoctorCause::Denied, "denied"},
      {DoctorCause::RepoNotFound, "repo-not-found"},
      {DoctorCause::TagNotFound, "tag-not-found"},
      {DoctorCause::UnsupportedFormat, "unsupported-format"},
      {DoctorCause::RateLimited, "rate-limited"},
      {DoctorCause::RegistryError, "registry-error"},
      {DoctorCause::DigestMismatch, "digest-mismatch"}};
  int expected_code = 10;
  for (const auto& [cause, name] : all) {
    EXPECT_EQ(oci::CauseName(cause), name);
    EXPECT_EQ(oci::CauseExitCode(cause), cause == DoctorCause::Ok ? 0 : expected_code++);
  }
}

// ---- W-007 end to end, through the binary ---------------------------------------------------------------------

class DoctorW007 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_ = RegistryServer::StartBasic({{"deploy", "s3cret-Pa55"}}).release();
    ASSERT_TRUE(registry_) << RegistryServer::last_error();
    RegistryClient c(registry_->host(), "deploy", "s3cret-Pa55");
    ASSERT_FALSE(PushCncf(c, "wasm-app", "v1.0.1").empty()) << c.last().status << " " << c.last().body;
    ASSERT_FALSE(PushCncf(c, "wasm-app", "v1.0.2").empty());
    // `latest` comes from a second client: skopeo copies an OCI layout directory into the registry.
    TempDir layout("wasmq-skopeo");
    WriteOciLayout(layout, "latest");
    int status = -1;
    std::string out = RunCapture({"skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", "deploy:s3cret-Pa55",
                                  "oci:" + layout.str() + ":latest",
                                  "docker://" + registry_->host() + "/wasm-app:latest"},
                                 &status);
    ASSERT_EQ(status, 0) << "skopeo copy failed: " << out;
    // An artifact in a layout nobody reads: unknown config and layer types.
    ASSERT_FALSE(c.PushImage("wasm-legacy", "v1", "application/vnd.example.thing.config.v1+json", "{}",
                             {{"application/vnd.example.thing.layer.v1.tar", "not wasm"}})
                     .empty());
  }
  static void TearDownTestSuite() {
    delete registry_;
    registry_ = nullptr;
  }

  // An OCI image layout holding one CNCF Wasm artifact under `tag` (what skopeo reads with oci:DIR:TAG).
  static void WriteOciLayout(const TempDir& dir, const std::string& tag) {
    const std::string config = R"({"architecture":"wasm","os":"wasip1"})";
    dir.Write("blobs/sha256/" + Sha256Hex(kWasm), kWasm);
    dir.Write("blobs/sha256/" + Sha256Hex(config), config);
    nlohmann::json manifest = {{"schemaVersion", 2},
                               {"mediaType", kOciManifest},
                               {"config", RegistryClient::Descriptor("application/vnd.wasm.config.v0+json", config)},
                               {"layers", {RegistryClient::Descriptor("application/wasm", kWasm)}}};
    const std::string m = manifest.dump();
    dir.Write("blobs/sha256/" + Sha256Hex(m), m);
    dir.Write("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    nlohmann::json entry = RegistryClient::Descriptor(kOciManifest, m);
    entry["annotations"] = {{"org.opencontainers.image.ref.name", tag}};
    dir.Write("index.json", nlohmann::json({{"schemaVersion", 2}, {"manifests", {entry}}}).dump());
  }

  void SetUp() override { ASSERT_NE(registry_, nullptr) << "suite set-up failed: " << RegistryServer::last_error(); }
  std::string Ref(const std::string& tag) const { return registry_->host() + "/wasm-app:" + tag; }
  std::map<std::string, std::string> WithCredentials(const std::string& password = "s3cret-Pa55") {
    WriteDockerConfig(docker_dir_, registry_->host(), "deploy", password);
    return {{"DOCKER_CONFIG", docker_dir_.str()}};
  }

  static RegistryServer* registry_;
  TempDir home_{"wasmq-doctor-home"};
  TempDir docker_dir_{"wasmq-docker-config"};
};
RegistryServer* DoctorW007::registry_ = nullptr;

TEST_F(DoctorW007, NoCredentialsIsAuthWithEveryFix) {
  int code = -1;
  auto j = DoctorJson(Ref("v1.0.0"), home_.str(), {}, &code);
  EXPECT_EQ(j["cause"], "auth");
  EXPECT_EQ(code, 11);
  const std::string evidence = Joined(j["evidence"]), fix = Joined(j["fix"]);
  EXPECT_NE(evidence.find("401"), std::string::npos) << evidence;
  EXPECT_NE(evidence.find("no-docker-config"), std::string::npos) << "where it looked:\n" << evidence;
  const std::string host = registry_->host();
  EXPECT_NE(fix.find("wasmq login " + host), std::string::npos) << fix;
  EXPECT_NE(fix.find("kubectl create secret docker-registry regcred --docker-server=" + host), std::string::npos);
  EXPECT_NE(fix.find("imagePullSecrets:\n    - name: regcred"), std::string::npos);
  EXPECT_NE(fix.find("[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"" + host + "\".auth]"),
            std::string::npos);
  EXPECT_NE(fix.find("/etc/rancher/k3s/registries.yaml"), std::string::npos);

  // The human form: the verdict first, then evidence, then the fix.
  RunOutput text = RunWasmq({"doctor", Ref("v1.0.0")}, home_.str());
  std::printf("  wasmq doctor (text): exit %d in %.3f s\n", text.exit_code, text.seconds);
  EXPECT_EQ(text.exit_code, 11);
  EXPECT_TRUE(text.out.starts_with("auth: ")) << text.out;
  size_t evidence_at = text.out.find("\nEvidence:\n"), fix_at = text.out.find("\nFix:\n");
  ASSERT_NE(evidence_at, std::string::npos);
  ASSERT_NE(fix_at, std::string::npos);
  EXPECT_LT(evidence_at, fix_at);
  EXPECT_NE(text.out.find("wasmq login " + host), std::string::npos);
  EXPECT_NE(text.out.find("kubectl create secret docker-registry"), std::string::npos);
}

TEST_F(DoctorW007, WithCredentialsTheTagIsMissing) {
  int code = -1;
  auto j = DoctorJson(Ref("v1.0.0"), home_.str(), WithCredentials(), &code);
  EXPECT_EQ(j["cause"], "tag-not-found");
  EXPECT_EQ(code, 14);
  const std::string evidence = Joined(j["evidence"]), fix = Joined(j["fix"]);
  EXPECT_NE(evidence.find("tags in wasm-app: latest, v1.0.1, v1.0.2\n"), std::string::npos) << evidence;
  EXPECT_NE(evidence.find("nearest tag: v1.0.1"), std::string::npos) << evidence;
  EXPECT_NE(fix.find("wasmq pull " + Ref("v1.0.1")), std::string::npos) << fix;
  EXPECT_NE(fix.find("image: " + Ref("v1.0.1")), std::string::npos) << fix;
  // The password is never shown, in either form.
  RunOutput text = RunWasmq({"doctor", Ref("v1.0.0")}, home_.str(), WithCredentials());
  EXPECT_EQ(text.exit_code, 14);
  EXPECT_TRUE(text.out.starts_with("tag-not-found: ")) << text.out;
  for (const std::string& s : std::vector<std::string>{text.out, text.err, evidence, fix}) {
    EXPECT_EQ(s.find("s3cret-Pa55"), std::string::npos);
    EXPECT_EQ(s.find(RegistryClient::B64("deploy:s3cret-Pa55")), std::string::npos);
  }
}

TEST_F(DoctorW007, WrongPasswordIsAuthRejected) {
  int code = -1;
  auto j = DoctorJson(Ref("v1.0.1"), home_.str(), WithCredentials("wrong-password"), &code);
  EXPECT_EQ(j["cause"], "auth");
  EXPECT_EQ(code, 11);
  EXPECT_NE(Joined(j["fix"]).find("refused"), std::string::npos) << Joined(j["fix"]);
  EXPECT_EQ(Joined(j["evidence"]).find("wrong-password"), std::string::npos);
}

TEST_F(DoctorW007, ExistingTagsAreOk) {
  for (const char* tag : {"v1.0.1", "latest"}) {  // latest was pushed by skopeo
    int code = -1;
    auto j = DoctorJson(Ref(tag), home_.str(), WithCredentials(), &code);
    EXPECT_EQ(j["cause"], "ok") << Joined(j["evidence"]);
    EXPECT_EQ(code, 0);
    EXPECT_NE(Joined(j["evidence"]).find("layout: cncf"), std::string::npos) << Joined(j["evidence"]);
  }
}

TEST_F(DoctorW007, LayoutNobodyReadsIsUnsupportedFormat) {
  int code = -1;
  const std::string ref = registry_->host() + "/wasm-legacy:v1";
  auto j = DoctorJson(ref, home_.str(), WithCredentials(), &code);
  EXPECT_EQ(j["cause"], "unsupported-format");
  EXPECT_EQ(code, 15);
  const std::string evidence = Joined(j["evidence"]);
  EXPECT_NE(evidence.find("application/vnd.example.thing.config.v1+json"), std::string::npos) << evidence;
  EXPECT_NE(evidence.find("application/vnd.example.thing.layer.v1.tar"), std::string::npos) << evidence;
  EXPECT_NE(evidence.find("wasmq reads: cncf"), std::string::npos) << evidence;
  EXPECT_NE(Joined(j["fix"]).find("wasmq push app.wasm " + ref), std::string::npos);
}

TEST_F(DoctorW007, MissingRepositoryIsRepoNotFound) {
  int code = -1;
  auto j = DoctorJson(registry_->host() + "/no-such-app:v1", home_.str(), WithCredentials(), &code);
  EXPECT_EQ(j["cause"], "repo-not-found") << Joined(j["evidence"]);
  EXPECT_EQ(code, 13);
}

TEST_F(DoctorW007, ClosedPortIsNetworkConnect) {
  const int port = FreeLoopbackPort();  // bound and released: nothing listens there
  int code = -1;
  auto j = DoctorJson("127.0.0.1:" + std::to_string(port) + "/wasm-app:v1.0.0", home_.str(), {}, &code);
  EXPECT_EQ(j["cause"], "network");
  EXPECT_EQ(code, 10);
  EXPECT_NE(Joined(j["evidence"]).find("no answer"), std::string::npos) << Joined(j["evidence"]);
  EXPECT_NE(Joined(j["fix"]).find("curl -v http://127.0.0.1:" + std::to_string(port) + "/v2/"), std::string::npos)
      << Joined(j["fix"]);
  RunOutput text = RunWasmq({"doctor", "127.0.0.1:" + std::to_string(port) + "/wasm-app:v1.0.0"}, home_.str());
  EXPECT_NE(text.out.find("(connect)"), std::string::npos) << text.out;
}

TEST_F(DoctorW007, BadReferenceIsAUsageError) {
  RunOutput r = RunWasmq({"doctor", "UPPER/Case:bad tag"}, home_.str());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(r.err.empty());
}

// ---- token auth: denied, rate-limited, ok ----------------------------------------------------------------------

class DoctorToken : public ::testing::Test {
 protected:
  void SetUp() override {
    tokens_ = std::make_unique<TokenServer>(dir_.str());
    tokens_->AddUser("pusher", "push-pw", {"pull", "push"});
    tokens_->AddUser("reader", "read-pw", {"pull"});
    tokens_->AddUser("nobody", "nobody-pw", {});
    registry_ = RegistryServer::StartToken(*tokens_);
    ASSERT_TRUE(registry_) << RegistryServer::last_error();
    RegistryClient c(registry_->host(), "pusher", "push-pw");
    ASSERT_FALSE(PushCncf(c, "team/app", "v1").empty()) << c.last().status << " " << c.last().body;
  }
  std::string Ref() const { return registry_->host() + "/team/app:v1"; }

  TempDir dir_{"wasmq-token"};
  std::unique_ptr<TokenServer> tokens_;
  std::unique_ptr<RegistryServer> registry_;
};

TEST_F(DoctorToken, UserWithPullRightIsOk) {
  auto d = Diagnose(Ref(), dir_, oci::Credential{"reader", "read-pw", "", "test"});
  EXPECT_EQ(d.cause, DoctorCause::Ok) << All(d);
  EXPECT_GE(tokens_->token_requests(), 1);
}

TEST_F(DoctorToken, UserWithoutRightsIsDenied) {
  auto d = Diagnose(Ref(), dir_, oci::Credential{"nobody", "nobody-pw", "", "test"});
  EXPECT_EQ(d.cause, DoctorCause::Denied) << All(d);
  EXPECT_NE(All(d).find("insufficient_scope"), std::string::npos) << All(d);
  EXPECT_EQ(All(d).find("nobody-pw"), std::string::npos);
}

TEST_F(DoctorToken, WrongPasswordAtTheTokenServerIsAuth) {
  auto d = Diagnose(Ref(), dir_, oci::Credential{"reader", "not-it", "", "test"});
  EXPECT_EQ(d.cause, DoctorCause::Auth) << All(d);
  EXPECT_EQ(d.detail, "credentials-rejected");
}

TEST_F(DoctorToken, NoCredentialsIsAuth) {
  auto d = Diagnose(Ref(), dir_);
  EXPECT_EQ(d.cause, DoctorCause::Auth) << All(d);
  EXPECT_EQ(d.detail, "no-credentials");
}

TEST_F(DoctorToken, TokenServerAnswering429IsRateLimited) {
  tokens_->set_rate_limited(true);
  auto d = Diagnose(Ref(), dir_, oci::Credential{"reader", "read-pw", "", "test"});
  EXPECT_EQ(d.cause, DoctorCause::RateLimited) << All(d);
  EXPECT_NE(All(d).find("429"), std::string::npos);
  EXPECT_NE(All(d).find("wasmq login"), std::string::npos);
}

// ---- stand-ins for a registry misbehaving -----------------------------------------------------------------------

HttpResponse RegistryJson(int status, const std::string& code, const std::string& message) {
  nlohmann::json body = {{"errors", {{{"code", code}, {"message", message}}}}};
  return {status, {{"Content-Type", "application/json"}}, body.dump()};
}

TEST(DoctorStandIn, ServerErrorIsRegistryError) {
  TinyHttpServer server([](const HttpRequest& r) {
    if (r.path == "/v2/") return HttpResponse{200, {{"Docker-Distribution-API-Version", "registry/2.0"}}, "{}"};
    return RegistryJson(500, "UNKNOWN", "unknown error: storage backend unavailable");
  });
  TempDir home;
  auto d = Diagnose(server.host() + "/wasm-app:v1", home);
  EXPECT_EQ(d.cause, DoctorCause::RegistryError) << All(d);
  EXPECT_NE(All(d).find("500"), std::string::npos) << All(d);
}

TEST(DoctorStandIn, ManifestAnswering429IsRateLimited) {
  TinyHttpServer server([](const HttpRequest& r) {
    if (r.path == "/v2/") return HttpResponse{200, {}, "{}"};
    HttpResponse resp = RegistryJson(429, "TOOMANYREQUESTS", "You have reached your pull rate limit.");
    resp.headers.emplace_back("Retry-After", "30");
    return resp;
  });
  TempDir home;
  auto d = Diagnose(server.host() + "/library/app:v1", home);
  EXPECT_EQ(d.cause, DoctorCause::RateLimited) << All(d);
}

// Serves one CNCF artifact; `lie` decides what is wrong with it.
enum class Lie { None, LayerBytes, ManifestDigestHeader };
std::unique_ptr<TinyHttpServer> LyingRegistry(Lie lie) {
  const std::string config = R"({"architecture":"wasm","os":"wasip1"})";
  nlohmann::json m = {{"schemaVersion", 2},
                      {"mediaType", kOciManifest},
                      {"config", RegistryClient::Descriptor("application/vnd.wasm.config.v0+json", config)},
                      {"layers", {RegistryClient::Descriptor("application/wasm", kWasm)}}};
  const std::string manifest = m.dump();
  return std::make_unique<TinyHttpServer>([=](const HttpRequest& r) {
    if (r.path == "/v2/") return HttpResponse{200, {}, "{}"};
    if (r.path.find("/manifests/") != std::string::npos) {
      std::string claimed = lie == Lie::ManifestDigestHeader ? Digest(manifest + " ") : Digest(manifest);
      return HttpResponse{200, {{"Content-Type", kOciManifest}, {"Docker-Content-Digest", claimed}}, manifest};
    }
    if (r.path.ends_with(Digest(config))) return HttpResponse{200, {{"Content-Type", "application/octet-stream"}}, config};
    if (r.path.ends_with(Digest(kWasm))) {
      std::string tampered = kWasm;
      tampered.back() ^= 1;  // one bit flipped on the way
      return HttpResponse{200, {{"Content-Type", "application/octet-stream"}}, lie == Lie::LayerBytes ? tampered : kWasm};
    }
    return RegistryJson(404, "BLOB_UNKNOWN", "blob unknown");
  });
}

TEST(DoctorStandIn, TamperedLayerIsDigestMismatch) {
  auto server = LyingRegistry(Lie::LayerBytes);
  TempDir home;
  auto d = Diagnose(server->host() + "/wasm-app:v1", home);
  EXPECT_EQ(d.cause, DoctorCause::DigestMismatch) << All(d);
}

TEST(DoctorStandIn, LyingManifestDigestIsDigestMismatch) {
  auto server = LyingRegistry(Lie::ManifestDigestHeader);
  TempDir home;
  auto d = Diagnose(server->host() + "/wasm-app:v1", home);
  EXPECT_EQ(d.cause, DoctorCause::DigestMismatch) << All(d);
  auto honest = LyingRegistry(Lie::None);  // the same server telling the truth: the artifact is fine
  EXPECT_EQ(Diagnose(honest->host() + "/wasm-app:v1", home).cause, DoctorCause::Ok);
}

// ---- the network stages that are not "connect" -------------------------------------------------------------------

TEST(DoctorNetwork, UnresolvableNameIsDns) {
  if (std::string why; !ocitest::ResolverAnswersNxdomain(&why)) GTEST_SKIP() << why;
  TempDir home;
  auto d = Diagnose("no-such-registry.invalid/wasm-app:v1", home);
  EXPECT_EQ(d.cause, DoctorCause::Network) << All(d);
  EXPECT_EQ(d.detail, "dns");
  EXPECT_NE(All(d).find("getent hosts no-such-registry.invalid"), std::string::npos) << All(d);
}

TEST(DoctorNetwork, SilentServerIsTimeout) {
  // A socket that listens and never answers: the kernel accepts the connection, nobody reads.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  TempDir home;
  auto d = Diagnose("127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/wasm-app:v1", home, {},
                    [](oci::DoctorOptions& o) { o.client.request_timeout_ms = 300; });
  close(fd);
  EXPECT_EQ(d.cause, DoctorCause::Network) << All(d);
  EXPECT_EQ(d.detail, "timeout");
}

TEST(DoctorNetwork, TlsToAPlainHttpServerIsTls) {
  auto registry = RegistryServer::StartAnonymous();
  ASSERT_TRUE(registry) << RegistryServer::last_error();
  TempDir home;
  auto d = Diagnose(registry->host() + "/wasm-app:v1", home, {},
                    [](oci::DoctorOptions& o) { o.client.prefer_tls_on_loopback = true; });
  EXPECT_EQ(d.cause, DoctorCause::Network) << All(d);
  EXPECT_EQ(d.detail, "tls");
  EXPECT_NE(All(d).find("openssl s_client"), std::string::npos);
}

// ---- layouts on an anonymous registry -----------------------------------------------------------------------------

class DoctorAnonymous : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_ = RegistryServer::StartAnonymous().release();
    ASSERT_TRUE(registry_) << RegistryServer::last_error();
  }
  static void TearDownTestSuite() {
    delete registry_;
    registry_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(registry_, nullptr) << RegistryServer::last_error(); }
  static RegistryServer* registry_;
  TempDir home_;
};
RegistryServer* DoctorAnonymous::registry_ = nullptr;

TEST_F(DoctorAnonymous, ComponentIsUnsupportedWithTheReason) {
  RegistryClient c(registry_->host());
  ASSERT_FALSE(PushCncf(c, "comp", "v1", kComponent).empty());
  auto d = Diagnose(registry_->host() + "/comp:v1", home_);
  EXPECT_EQ(d.cause, DoctorCause::UnsupportedFormat) << All(d);
  EXPECT_NE(d.verdict.find("component"), std::string::npos) << d.verdict;
  EXPECT_NE(All(d).find("clang --target=wasm32-wasi"), std::string::npos);
}

TEST_F(DoctorAnonymous, IndexWithoutWasmPlatformIsUnsupported) {
  RegistryClient c(registry_->host());
  const std::string config = R"({"architecture":"amd64","os":"linux"})";
  const std::string layer = oci::MakeTar({{"bin/app", "x"}}, true);
  nlohmann::json m = {{"schemaVersion", 2},
                      {"mediaType", kOciManifest},
                      {"config", RegistryClient::Descriptor("application/vnd.oci.image.config.v1+json", config)},
                      {"layers", {RegistryClient::Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer)}}};
  const std::string manifest = m.dump();
  ASSERT_FALSE(c.PushBlob("multi", config).empty());
  ASSERT_FALSE(c.PushBlob("multi", layer).empty());
  ASSERT_FALSE(c.PushManifest("multi", Digest(manifest), kOciManifest, manifest).empty()) << c.last().body;
  nlohmann::json entry = RegistryClient::Descriptor(kOciManifest, manifest);
  entry["platform"] = {{"os", "linux"}, {"architecture", "amd64"}};
  nlohmann::json index = {{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", {entry}}};
  ASSERT_FALSE(c.PushManifest("multi", "v1", kOciIndex, index.dump()).empty()) << c.last().body;
  auto d = Diagnose(registry_->host() + "/multi:v1", home_);
  EXPECT_EQ(d.cause, DoctorCause::UnsupportedFormat) << All(d);
  EXPECT_NE(All(d).find("linux/amd64"), std::string::npos) << All(d);
}

TEST_F(DoctorAnonymous, SemverTagsGiveTheNearestRelease) {
  RegistryClient c(registry_->host());
  ASSERT_FALSE(PushCncf(c, "semver", "1.4.2").empty());
  ASSERT_FALSE(PushCncf(c, "semver", "2.0.0").empty());
  auto d = Diagnose(registry_->host() + "/semver:1.4.0", home_);
  EXPECT_EQ(d.cause, DoctorCause::TagNotFound) << All(d);
  EXPECT_EQ(d.nearest_tag, "1.4.2");
  std::sort(d.tags.begin(), d.tags.end());
  EXPECT_EQ(d.tags, (std::vector<std::string>{"1.4.2", "2.0.0"}));
}

TEST_F(DoctorAnonymous, PinnedDigestThatDoesNotExistIsTagNotFound) {
  RegistryClient c(registry_->host());
  ASSERT_FALSE(PushCncf(c, "pinned", "v1").empty());
  auto d = Diagnose(registry_->host() + "/pinned@" + Digest("nothing"), home_);
  EXPECT_EQ(d.cause, DoctorCause::TagNotFound) << All(d);
  EXPECT_EQ(d.tags, (std::vector<std::string>{"v1"}));
}

}  // namespace
}  // namespace wasmq::ocitest
