// File: tests/oci/registry_test.cc
//
// Pushes and pulls against a real docker-registry (distribution 2.8) on a loopback port: every layout,
// indexes, the cache and --offline, Basic and token auth, the error kinds, and digest checks against a
// lying registry (a tiny local HTTP server).
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "../require_tool.h"
#include "oci/oci.h"
#include "registry_harness.h"
#include "test_modules.h"

namespace wasmq::oci {
namespace {

using ocitest::RegistryClient;
using ocitest::RegistryServer;
using ocitest::TempDir;

// Options that see no credentials from the machine running the tests.
ClientOptions IsolatedClient(const TempDir& dir) {
  ClientOptions o;
  o.credentials.docker_config = dir.file("no-docker/config.json");
  o.credentials.wasmq_auth_file = dir.file("no-wasmq/auth.json");
  o.credentials.k8s_secret = dir.file("no-secret.yaml");
  o.credentials.use_env = false;
  return o;
}

PullOptions IsolatedPull(const TempDir& dir) {
  PullOptions p;
  p.client = IsolatedClient(dir);
  p.cache_dir = dir.file("cache");
  return p;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class AnonymousRegistry : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_ = RegistryServer::StartAnonymous().release();
    ASSERT_NE(registry_, nullptr) << RegistryServer::last_error();
  }
  static void TearDownTestSuite() {
    delete registry_;
    registry_ = nullptr;
  }
  std::string Ref(const std::string& repo_tag) const { return registry_->host() + "/" + repo_tag; }
  static RegistryServer* registry_;
  TempDir dir_;
};
RegistryServer* AnonymousRegistry::registry_ = nullptr;

TEST_F(AnonymousRegistry, PushAndPullEveryLayout) {
  struct Case {
    std::string name;
    Layout layout;
    bool docker;
  };
  for (const Case& c : {Case{"cncf", Layout::CncfArtifact, false}, Case{"wasm-content-layer", Layout::WasmContentLayer, false},
                        Case{"image-config", Layout::ImageConfigWasm, false}, Case{"component", Layout::ComponentLayer, false},
                        Case{"tar", Layout::TarEntrypoint, false}, Case{"docker", Layout::TarEntrypoint, true}}) {
    SCOPED_TRACE(c.name);
    std::string module = ocitest::CommandModule(c.name);
    PushOptions po;
    po.client = IsolatedClient(dir_);
    po.layout = c.layout;
    po.docker_schema2 = c.docker;
    auto pushed = Push(module, Ref("layouts/" + c.name + ":v1"), po);
    ASSERT_TRUE(pushed) << pushed.error().message;
    EXPECT_EQ(pushed->media_type, c.docker ? media::kDockerManifest : media::kOciManifest);
    auto pulled = Pull(Ref("layouts/" + c.name + ":v1"), IsolatedPull(dir_));
    ASSERT_TRUE(pulled) << pulled.error().message;
    EXPECT_EQ(pulled->layout.layout, c.layout);
    EXPECT_EQ(pulled->manifest_digest, pushed->manifest_digest);
    EXPECT_EQ(ReadAll(pulled->module_path), module);
    EXPECT_FALSE(pulled->from_cache);
    auto info = Inspect(Ref("layouts/" + c.name + ":v1"), IsolatedClient(dir_));
    ASSERT_TRUE(info) << info.error().message;
    ASSERT_TRUE(info->layout) << info->layout_error;
    EXPECT_EQ(info->layout->layout, c.layout);
    EXPECT_EQ(info->layout->docker_schema2, c.docker);
  }
}

TEST_F(AnonymousRegistry, RunwasiTarImageWithPathAndFunc) {
  RegistryClient rc(registry_->host());
  std::string module = ocitest::CommandModule("runwasi");
  std::string layer1 = MakeTar({{"etc/hostname", "x"}}, true);
  std::string layer2 = MakeTar({{"app/main.wasm", module}}, false);
  std::string config = R"({"architecture":"wasm","os":"wasi","config":{"Entrypoint":["/app/main.wasm#_start"]}})";
  ASSERT_FALSE(rc.PushImage("runwasi/app", "latest", std::string(media::kOciConfig), config,
                            {{std::string(media::kOciLayerTarGzip), layer1}, {std::string(media::kOciLayerTar), layer2}})
                   .empty());
  auto p = Pull(Ref("runwasi/app"), IsolatedPull(dir_));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->layout.layout, Layout::TarEntrypoint);
  EXPECT_EQ(p->layout.entry_func, "_start");
  EXPECT_EQ(ReadAll(p->module_path), module);
}

TEST_F(AnonymousRegistry, IndexResolvesToWasiPlatform) {
  RegistryClient rc(registry_->host());
  std::string module = ocitest::CommandModule("index");
  std::string wasm_manifest = rc.PushImage("multi/app", "wasm-only", std::string(media::kWasmConfig), "{}",
                                           {{"application/wasm", module}});
  std::string linux_manifest = rc.PushImage("multi/app", "linux-only", std::string(media::kOciConfig),
                                            R"({"architecture":"amd64","os":"linux"})",
                                            {{std::string(media::kOciLayerTarGzip), MakeTar({{"bin/x", "x"}}, true)}});
  ASSERT_FALSE(wasm_manifest.empty());
  ASSERT_FALSE(linux_manifest.empty());
  auto size_of = [&](const std::string& tag) { return rc.Call("GET", "/v2/multi/app/manifests/" + tag, "", {"Accept: " + std::string(media::kOciManifest)}).body.size(); };
  nlohmann::json index = {{"schemaVersion", 2},
                          {"mediaType", media::kOciIndex},
                          {"manifests",
                           {{{"mediaType", media::kOciManifest}, {"digest", linux_manifest}, {"size", size_of("linux-only")},
                             {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}},
                            {{"mediaType", media::kOciManifest}, {"digest", wasm_manifest}, {"size", size_of("wasm-only")},
                             {"platform", {{"os", "wasip1"}, {"architecture", "wasm"}}}}}}};
  ASSERT_FALSE(rc.PushManifest("multi/app", "v1", std::string(media::kOciIndex), index.dump()).empty()) << rc.last().body;
  auto p = Pull(Ref("multi/app:v1"), IsolatedPull(dir_));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(ReadAll(p->module_path), module);
  auto info = Inspect(Ref("multi/app:v1"), IsolatedClient(dir_));
  ASSERT_TRUE(info);
  ASSERT_TRUE(info->index);
  EXPECT_EQ(info->index->manifests.size(), 2u);
}

TEST_F(AnonymousRegistry, CacheServesDigestPullsAndOffline) {
  std::string module = ocitest::CommandModule("offline");
  PushOptions po;
  po.client = IsolatedClient(dir_);
  auto pushed = Push(module, Ref("edge/app:v2"), po);
  ASSERT_TRUE(pushed);
  PullOptions opts = IsolatedPull(dir_);
  Transcript first;
  opts.client.transcript = &first;
  auto p = Pull(Ref("edge/app:v2"), opts);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_FALSE(first.exchanges.empty());
  // By digest: no request at all.
  Transcript second;
  opts.client.transcript = &second;
  auto by_digest = Pull(Ref("edge/app@" + pushed->manifest_digest), opts);
  ASSERT_TRUE(by_digest) << by_digest.error().message;
  EXPECT_TRUE(by_digest->from_cache);
  EXPECT_TRUE(second.exchanges.empty());
  // Offline by tag with the registry unreachable (a closed port on the same repo name is not needed:
  // --offline must not even try).
  opts.offline = true;
  auto off = Pull(Ref("edge/app:v2"), opts);
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_TRUE(off->from_cache);
  EXPECT_TRUE(second.exchanges.empty());
  EXPECT_EQ(ReadAll(off->module_path), module);
  auto missing = Pull(Ref("edge/app:never-pulled"), opts);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotCached);
  // A corrupted cached module is detected, not run.
  std::ofstream(off->module_path, std::ios::binary) << "evil";
  auto corrupt = Pull(Ref("edge/app:v2"), opts);
  ASSERT_FALSE(corrupt);
  EXPECT_EQ(corrupt.error().kind, ErrorKind::DigestMismatch);
  // Online again: re-fetched and healthy.
  opts.offline = false;
  auto again = Pull(Ref("edge/app:v2"), opts);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(ReadAll(again->module_path), module);
  // The index lists both forms of the ref.
  Cache cache(opts.cache_dir);
  EXPECT_TRUE(cache.Lookup(Ref("edge/app:v2")));
  EXPECT_TRUE(cache.Lookup(Ref("edge/app@" + pushed->manifest_digest)));
}

TEST_F(AnonymousRegistry, NotFoundKindsAndTags) {
  PushOptions po;
  po.client = IsolatedClient(dir_);
  for (std::string tag : {"v1.0.1", "v1.0.2", "latest"})
    ASSERT_TRUE(Push(ocitest::CommandModule(tag), Ref("wasm-app:" + tag), po));
  Client client(IsolatedClient(dir_));
  auto tags = client.ListTags(*ParseReference(Ref("wasm-app")));
  ASSERT_TRUE(tags) << tags.error().message;
  EXPECT_EQ(tags->size(), 3u);
  auto tag = Pull(Ref("wasm-app:v1.0.0"), IsolatedPull(dir_));
  ASSERT_FALSE(tag);
  EXPECT_EQ(tag.error().kind, ErrorKind::ManifestNotFound);
  EXPECT_EQ(tag.error().registry_code, "MANIFEST_UNKNOWN");
  auto repo = client.ListTags(*ParseReference(Ref("no-such-repo")));
  ASSERT_FALSE(repo);
  EXPECT_EQ(repo.error().kind, ErrorKind::RepoNotFound);
}

TEST_F(AnonymousRegistry, ComponentIsRefused) {
  PushOptions po;
  po.client = IsolatedClient(dir_);
  po.layout = Layout::ComponentLayer;
  ASSERT_TRUE(Push(ocitest::ComponentBinary(), Ref("p2/app:v1"), po));
  auto p = Pull(Ref("p2/app:v1"), IsolatedPull(dir_));
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().kind, ErrorKind::UnsupportedFormat);
  EXPECT_NE(p.error().message.find("wasip2"), std::string::npos);
}

TEST_F(AnonymousRegistry, UnsupportedLayoutListsMediaTypes) {
  RegistryClient rc(registry_->host());
  ASSERT_FALSE(rc.PushImage("helm/chart", "v1", "application/vnd.cncf.helm.config.v1+json", "{}",
                            {{"application/vnd.cncf.helm.chart.content.v1.tar+gzip", "chart"}})
                   .empty());
  auto p = Pull(Ref("helm/chart:v1"), IsolatedPull(dir_));
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().kind, ErrorKind::UnsupportedFormat);
  std::string all;
  for (const auto& m : p.error().media_types) all += m + ";";
  EXPECT_NE(all.find("application/vnd.cncf.helm.chart.content.v1.tar+gzip"), std::string::npos) << all;
}

TEST_F(AnonymousRegistry, SkopeoReadsWhatWasmqPushed) {
  WASMQ_REQUIRE(std::filesystem::exists("/usr/bin/skopeo"), "skopeo not installed (Debian: skopeo)");
  PushOptions po;
  po.client = IsolatedClient(dir_);
  auto pushed = Push(ocitest::CommandModule("skopeo"), Ref("second/client:v1"), po);
  ASSERT_TRUE(pushed);
  int status = -1;
  std::string out = ocitest::RunCapture({"skopeo", "inspect", "--raw", "--tls-verify=false",
                                         "docker://" + Ref("second/client:v1")}, &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(Sha256Digest(out), pushed->manifest_digest);
  // And wasmq reads what skopeo copied (skopeo as the writer: a copy to another repository).
  std::string config_ref = Ref("second/copy:v1");
  ocitest::RunCapture({"skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false", "docker://" + Ref("second/client:v1"),
                       "docker://" + config_ref}, &status);
  ASSERT_EQ(status, 0);
  auto p = Pull(config_ref, IsolatedPull(dir_));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->layout.layout, Layout::CncfArtifact);
}

TEST(Network, ClosedPortIsAConnectError) {
  TempDir dir;
  int port = ocitest::FreeLoopbackPort();
  Transcript t;
  PullOptions o = IsolatedPull(dir);
  o.client.transcript = &t;
  auto p = Pull("127.0.0.1:" + std::to_string(port) + "/app:v1", o);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().kind, ErrorKind::Network);
  EXPECT_EQ(p.error().network, NetworkStage::Connect);
  // The ping, then its retries (a refused connection may be a registry restarting).
  ASSERT_EQ(t.exchanges.size(), 1u + static_cast<size_t>(o.client.retries));
  for (const auto& e : t.exchanges) {
    EXPECT_EQ(e.status, 0);
    EXPECT_FALSE(e.error.empty());
  }
}

TEST(Network, SilentServerIsATimeout) {
  // A socket that listens but never answers: the kernel completes the handshake, no byte comes back.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  TempDir dir;
  ClientOptions o = IsolatedClient(dir);
  o.request_timeout_ms = 300;
  Client client(o);
  auto p = client.Ping("127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
  close(fd);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().kind, ErrorKind::Network);
  EXPECT_EQ(p.error().network, NetworkStage::Timeout);
}

TEST(Network, TlsToAPlainHttpServerIsATlsError) {
  // A plain-HTTP peer that answers at once: the TLS handshake reads an HTTP status line.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::thread peer([fd] {
    int c = accept(fd, nullptr, nullptr);
    if (c < 0) return;
    const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    [[maybe_unused]] ssize_t n = write(c, reply, sizeof reply - 1);
    close(c);
  });
  TempDir dir;
  ClientOptions o = IsolatedClient(dir);
  o.prefer_tls_on_loopback = true;  // speak HTTPS to a server that only knows HTTP
  Client client(o);
  std::string host = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  EXPECT_EQ(client.SchemeFor(host), "https");
  auto p = client.Ping(host);
  peer.join();
  close(fd);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().kind, ErrorKind::Network);
  EXPECT_EQ(p.error().network, NetworkStage::Tls) << p.error().message;
}

TEST(Network, UnknownHostIsADnsError) {
  if (std::string why; !ocitest::ResolverAnswersNxdomain(&why)) GTEST_SKIP() << why;
  TempDir dir;
  PullOptions o = IsolatedPull(dir);
  o.client.insecure_registries = {"*"};
  o.client.connect_timeout_ms = 3000;
  auto p = Pull("no-such-host.invalid/app:v1", o);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().kind, ErrorKind::Network);
  EXPECT_EQ(p.error().network, NetworkStage::Dns);
}

}  // namespace
}  // namespace wasmq::oci
