// File: tests/oci/integrity_test.cc
//
// A lying registry (a tiny local HTTP server) that serves a blob whose bytes do not match its digest, and
// one that serves a blob in parts (Range), for the digest check and the resumed download.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>

#include "oci/oci.h"
#include "registry_harness.h"
#include "test_modules.h"

namespace wasmq::oci {
namespace {

using ocitest::HttpRequest;
using ocitest::HttpResponse;
using ocitest::TempDir;
using ocitest::TinyHttpServer;

// Serves /v2/, one CNCF manifest at /v2/app/manifests/v1 and its blobs; `layer_bytes` is what the layer
// URL returns (the manifest names the digest of `module`).
struct FakeRegistry {
  std::string module;
  std::string layer_bytes;
  std::string config = "{}";
  std::string manifest;
  std::atomic<int> range_requests{0};
  std::string last_range;
  std::string redirect_to;  // when set, the layer URL answers 307 to it (a storage back-end)
  std::unique_ptr<TinyHttpServer> server;

  explicit FakeRegistry(std::string m, std::string served) : module(std::move(m)), layer_bytes(std::move(served)) {
    nlohmann::json j = {{"schemaVersion", 2},
                        {"mediaType", media::kOciManifest},
                        {"config", {{"mediaType", media::kWasmConfig}, {"digest", Sha256Digest(config)}, {"size", config.size()}}},
                        {"layers", {{{"mediaType", "application/wasm"}, {"digest", Sha256Digest(module)}, {"size", module.size()}}}}};
    manifest = j.dump();
    server = std::make_unique<TinyHttpServer>([this](const HttpRequest& r) { return Handle(r); });
  }

  HttpResponse Handle(const HttpRequest& r) {
    HttpResponse resp;
    if (r.path == "/v2/") return resp;
    // Any manifest path (tag or digest) gets the one manifest: a lying registry for a pinned digest.
    if (r.path == "/v2/app/manifests/v1" || r.path.rfind("/v2/app/manifests/sha256:", 0) == 0) {
      resp.headers = {{"Content-Type", std::string(media::kOciManifest)}, {"Docker-Content-Digest", Sha256Digest(manifest)}};
      resp.body = manifest;
      return resp;
    }
    if (r.path == "/v2/app/blobs/" + Sha256Digest(module)) {
      if (!redirect_to.empty()) {
        resp.status = 307;
        resp.headers = {{"Location", redirect_to}};
        return resp;
      }
      std::string range = r.Header("range");
      if (!range.empty()) {
        ++range_requests;
        last_range = range;
        size_t from = std::stoul(range.substr(range.find('=') + 1));
        resp.status = 206;
        resp.headers = {{"Content-Range", "bytes " + std::to_string(from) + "-" + std::to_string(layer_bytes.size() - 1) +
                                              "/" + std::to_string(layer_bytes.size())}};
        resp.body = layer_bytes.substr(from);
        return resp;
      }
      resp.body = layer_bytes;
      return resp;
    }
    resp.status = 404;
    resp.body = R"({"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]})";
    return resp;
  }
};

PullOptions Isolated(const TempDir& dir) {
  PullOptions p;
  p.client.credentials.docker_config = dir.file("none.json");
  p.client.credentials.wasmq_auth_file = dir.file("none2.json");
  p.client.credentials.k8s_secret = dir.file("none.yaml");
  p.client.credentials.use_env = false;
  p.cache_dir = dir.file("cache");
  return p;
}

TEST(Integrity, LyingRegistryIsADigestMismatchAndNothingIsCached) {
  TempDir dir;
  std::string module = ocitest::CommandModule("honest");
  std::string evil = ocitest::CommandModule("evil!!");
  ASSERT_EQ(module.size(), evil.size());
  FakeRegistry fake(module, evil);
  auto p = Pull(fake.server->host() + "/app:v1", Isolated(dir));
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().kind, ErrorKind::DigestMismatch) << p.error().message;
  Cache cache(dir.file("cache"));
  EXPECT_FALSE(cache.HasBlob(Sha256Digest(module)));
  EXPECT_FALSE(cache.HasBlob(Sha256Digest(evil)));
  EXPECT_FALSE(std::filesystem::exists(cache.PartialPath(Sha256Digest(module))));
  EXPECT_TRUE(cache.List().empty());
}

TEST(Integrity, InterruptedDownloadResumesWithRange) {
  TempDir dir;
  std::string module = ocitest::CommandModule(std::string(100, 'r'));
  FakeRegistry fake(module, module);
  PullOptions o = Isolated(dir);
  Cache cache(o.cache_dir);
  // What an interrupted pull leaves behind: the first half in tmp/.
  std::string partial = cache.PartialPath(Sha256Digest(module));
  std::filesystem::create_directories(std::filesystem::path(partial).parent_path());
  size_t half = module.size() / 2;
  std::ofstream(partial, std::ios::binary) << module.substr(0, half);
  std::vector<std::pair<int64_t, int64_t>> progress;
  o.client.progress = [&](int64_t done, int64_t total) { progress.emplace_back(done, total); };
  auto p = Pull(fake.server->host() + "/app:v1", o);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(fake.range_requests.load(), 1);
  EXPECT_EQ(fake.last_range, "bytes=" + std::to_string(half) + "-");
  std::ifstream in(p->module_path, std::ios::binary);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()), module);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().first, static_cast<int64_t>(module.size()));
  EXPECT_EQ(progress.back().second, static_cast<int64_t>(module.size()));
}

TEST(Integrity, DigestPinnedManifestIsVerified) {
  TempDir dir;
  std::string module = ocitest::CommandModule("pin");
  FakeRegistry fake(module, module);
  std::string other = Sha256Digest("some other manifest");
  auto p = Pull(fake.server->host() + "/app@" + other, Isolated(dir));
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().kind, ErrorKind::DigestMismatch) << p.error().message;
  auto good = Pull(fake.server->host() + "/app@" + Sha256Digest(fake.manifest), Isolated(dir));
  ASSERT_TRUE(good) << good.error().message;
}

TEST(Integrity, BlobRedirectsAreFollowedWithoutCredentials) {
  TempDir dir;
  std::string module = ocitest::CommandModule("redirected");
  std::string seen_auth = "unset";
  TinyHttpServer storage([&](const HttpRequest& r) {
    seen_auth = r.Header("authorization");
    HttpResponse resp;
    resp.body = module;
    return resp;
  });
  FakeRegistry fake(module, "never served");
  fake.redirect_to = storage.url() + "/bucket/blob?X-Amz-Signature=secret-signature";
  Transcript t;
  PullOptions o = Isolated(dir);
  o.client.transcript = &t;
  auto p = Pull(fake.server->host() + "/app:v1", o);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(storage.requests(), 1);
  EXPECT_EQ(seen_auth, "");
  for (const auto& e : t.exchanges)
    for (const auto& [k, v] : e.headers) EXPECT_EQ(v.find("secret-signature"), std::string::npos) << k << ": " << v;
}

}  // namespace
}  // namespace wasmq::oci
