// File: tests/oci/parsers_test.cc
//
// The pure parsers: references, WWW-Authenticate, manifests / indexes / configs, layout detection, tar.
#include <gtest/gtest.h>

#include "oci/oci.h"
#include "test_modules.h"

namespace wasmq::oci {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

TEST(Reference, DockerDefaults) {
  auto r = ParseReference("alpine");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->registry, "docker.io");
  EXPECT_EQ(r->repository, "library/alpine");
  EXPECT_EQ(r->tag, "latest");
  EXPECT_EQ(r->ApiHost(), "registry-1.docker.io");
  EXPECT_EQ(r->String(), "docker.io/library/alpine:latest");
  auto u = ParseReference("user/app:v1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->registry, "docker.io");
  EXPECT_EQ(u->repository, "user/app");
}

TEST(Reference, RegistryPortTagDigest) {
  auto r = ParseReference("127.0.0.1:5000/team/wasm-app:v1.0.0@" + kDigest);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->registry, "127.0.0.1:5000");
  EXPECT_EQ(r->repository, "team/wasm-app");
  EXPECT_EQ(r->tag, "v1.0.0");
  EXPECT_EQ(r->digest, kDigest);
  EXPECT_EQ(r->Identifier(), kDigest);
  auto d = ParseReference("myregistry.com/wasm-app@" + kDigest);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->tag, "");
  auto l = ParseReference("localhost/app");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->registry, "localhost");
  EXPECT_EQ(l->repository, "app");
  EXPECT_EQ(ParseReference("index.docker.io/library/busybox")->registry, "docker.io");
}

TEST(Reference, RejectsBadInput) {
  for (std::string bad : {"", "UPPER/case", "repo:", "repo@sha256:abc", "a//b", "repo:bad tag", ":tag",
                          "host.com/", "repo:-x", "-repo"}) {
    auto r = ParseReference(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().kind, ErrorKind::InvalidArgument);
    }
  }
  EXPECT_TRUE(IsDigest(kDigest));
  EXPECT_FALSE(IsDigest("sha256:ABC"));
}

TEST(WwwAuthenticate, BearerWithScopeAndError) {
  auto c = ParseWwwAuthenticate(
      R"(Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push",error="insufficient_scope")");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, "Bearer");
  EXPECT_EQ(c[0].Param("realm"), "https://auth.example.com/token");
  EXPECT_EQ(c[0].Param("service"), "registry.example.com");
  EXPECT_EQ(c[0].Param("scope"), "repository:a/b:pull,push");
  EXPECT_EQ(c[0].Param("error"), "insufficient_scope");
}

TEST(WwwAuthenticate, BasicAndSeveralChallenges) {
  auto c = ParseWwwAuthenticate(R"(Basic realm="Registry Realm", Bearer realm="x\"y", service=s)");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].scheme, "Basic");
  EXPECT_EQ(c[0].Param("realm"), "Registry Realm");
  EXPECT_EQ(c[1].scheme, "Bearer");
  EXPECT_EQ(c[1].Param("realm"), "x\"y");
  EXPECT_EQ(c[1].Param("service"), "s");
  EXPECT_TRUE(ParseWwwAuthenticate("").empty());
  EXPECT_EQ(ParseWwwAuthenticate("Basic").size(), 1u);
  ParseWwwAuthenticate("=,,\"\"=\"");  // garbage: no crash
}

std::string CncfManifest() {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":"application/vnd.wasm.config.v0+json","digest":")" + kDigest + R"(","size":10},
    "layers":[{"mediaType":"application/wasm","digest":")" + kDigest + R"(","size":100}],
    "annotations":{"module.wasm.image/variant":"compat"}})";
}

TEST(Manifest, CncfArtifact) {
  auto m = ParseManifest(CncfManifest(), "application/vnd.oci.image.manifest.v1+json");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_FALSE(m->IsIndex());
  EXPECT_EQ(m->config.media_type, media::kWasmConfig);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].size, 100);
  auto l = DetectLayout(*m, nullptr);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->layout, Layout::CncfArtifact);
  EXPECT_EQ(l->variant_hint, "compat");
}

TEST(Manifest, ContentTypeWinsAndSchema1Refused) {
  auto m = ParseManifest(R"({"schemaVersion":2,"manifests":[]})", "application/vnd.docker.distribution.manifest.list.v2+json");
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->IsIndex());
  auto s1 = ParseManifest(R"({"schemaVersion":1,"name":"x"})", "application/vnd.docker.distribution.manifest.v1+prettyjws");
  ASSERT_FALSE(s1);
  EXPECT_EQ(s1.error().kind, ErrorKind::UnsupportedFormat);
  EXPECT_FALSE(ParseManifest("not json"));
  EXPECT_FALSE(ParseManifest(R"({"schemaVersion":2,"config":{"digest":"bad"}})"));
  EXPECT_FALSE(ParseManifest(R"({"schemaVersion":2,"mediaType":"application/x-unknown"})"));
}

// Issue 17: JSON nested past 64 levels is refused while reading it, for every registry answer.
TEST(Manifest, DeepNestingIsRefusedWhileParsing) {
  std::string deep = std::string(70'000, '[') + std::string(70'000, ']');
  std::string in_field = R"({"schemaVersion":2,"annotations":{"a":)" + deep + "}}";
  for (const std::string& text : {deep, in_field}) {
    auto m = ParseManifest(text, "application/vnd.oci.image.manifest.v1+json");
    ASSERT_FALSE(m);
    EXPECT_NE(m.error().message.find("nested deeper than 64"), std::string::npos) << m.error().message;
    auto c = ParseImageConfig(text);
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message.find("nested deeper than 64"), std::string::npos) << c.error().message;
  }
}

TEST(Manifest, IndexSelectsWasiPlatform) {
  std::string idx = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" + std::string(64, 'b') +
                    R"(","size":1,"platform":{"os":"linux","architecture":"amd64"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" + std::string(64, 'c') +
                    R"(","size":1,"platform":{"os":"wasip1","architecture":"wasm"}}]})";
  auto m = ParseManifest(idx);
  ASSERT_TRUE(m);
  auto d = SelectWasmPlatform(*m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->digest, "sha256:" + std::string(64, 'c'));
  m->manifests.pop_back();
  auto none = SelectWasmPlatform(*m);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::UnsupportedFormat);
  EXPECT_NE(none.error().message.find("linux/amd64"), std::string::npos);
}

Manifest WithLayers(std::string config_type, std::vector<std::string> layer_types,
                    std::string manifest_type = std::string(media::kOciManifest)) {
  Manifest m;
  m.media_type = manifest_type;
  m.config.media_type = config_type;
  m.config.digest = kDigest;
  for (auto& t : layer_types) m.layers.push_back(Descriptor{t, kDigest, 1, {}, std::nullopt});
  return m;
}

TEST(Layout, EveryLayout) {
  EXPECT_EQ(DetectLayout(WithLayers("application/vnd.wasm.config.v1+json", {std::string(media::kWasmContentLayer)}), nullptr)
                ->layout,
            Layout::WasmContentLayer);
  ImageConfig wasm_arch;
  wasm_arch.architecture = "wasm";
  EXPECT_EQ(DetectLayout(WithLayers(std::string(media::kOciConfig), {"application/wasm"}), &wasm_arch)->layout,
            Layout::ImageConfigWasm);
  EXPECT_EQ(DetectLayout(WithLayers(std::string(media::kOciConfig), {std::string(media::kComponentLayer)}), &wasm_arch)->layout,
            Layout::ComponentLayer);
  ImageConfig scratch;
  scratch.architecture = "wasm";
  scratch.entrypoint = {"/app/main.wasm#run"};
  auto docker = WithLayers(std::string(media::kDockerConfig), {std::string(media::kDockerLayerTarGzip)},
                           std::string(media::kDockerManifest));
  auto t = DetectLayout(docker, &scratch);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->layout, Layout::TarEntrypoint);
  EXPECT_EQ(t->path_in_tar, "/app/main.wasm");
  EXPECT_EQ(t->entry_func, "run");
  EXPECT_TRUE(t->docker_schema2);
  ImageConfig linux_image;
  linux_image.architecture = "amd64";
  linux_image.entrypoint = {"/bin/sh"};
  auto no = DetectLayout(WithLayers(std::string(media::kOciConfig), {std::string(media::kOciLayerTarGzip)}), &linux_image);
  ASSERT_FALSE(no);
  EXPECT_EQ(no.error().kind, ErrorKind::UnsupportedFormat);
  auto helm = DetectLayout(WithLayers("application/vnd.cncf.helm.config.v1+json", {"application/vnd.cncf.helm.chart.content.v1.tar+gzip"}), nullptr);
  ASSERT_FALSE(helm);
  ASSERT_FALSE(helm.error().media_types.empty());
  EXPECT_NE(helm.error().media_types.back().find("helm"), std::string::npos);
  for (Layout l : {Layout::CncfArtifact, Layout::WasmContentLayer, Layout::ImageConfigWasm, Layout::ComponentLayer,
                   Layout::TarEntrypoint})
    EXPECT_EQ(LayoutFromName(LayoutName(l)), l);
}

TEST(ImageConfigJson, ReadsEntrypointAndPlatform) {
  auto c = ParseImageConfig(R"({"architecture":"wasm","os":"wasip1","config":{"Entrypoint":["/a.wasm"],"Cmd":["x"],"Labels":{"k":"v"}}})");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->architecture, "wasm");
  EXPECT_EQ(c->os, "wasip1");
  EXPECT_EQ(c->entrypoint, std::vector<std::string>{"/a.wasm"});
  EXPECT_EQ(c->labels.at("k"), "v");
  EXPECT_FALSE(ParseImageConfig("{"));
  EXPECT_TRUE(ParseImageConfig("[]"));
}

TEST(Module, CoreAndComponent) {
  EXPECT_TRUE(CheckCoreModule(ocitest::CommandModule()));
  auto c = CheckCoreModule(ocitest::ComponentBinary());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::UnsupportedFormat);
  EXPECT_NE(c.error().message.find("component"), std::string::npos);
  EXPECT_TRUE(IsComponent(ocitest::ComponentBinary()));
  EXPECT_FALSE(CheckCoreModule("hello world"));
}

TEST(Tar, RoundTripPlainAndGzip) {
  std::string module = ocitest::CommandModule("tar");
  std::string big(70000, 'z');
  for (bool gz : {false, true}) {
    std::string tar = MakeTar({{"etc/readme", "hi"}, {"app.wasm", module}, {"big.bin", big}}, gz);
    auto f = ExtractFromTar(tar, "/app.wasm");
    ASSERT_TRUE(f) << f.error().message;
    EXPECT_EQ(*f, module);
    EXPECT_EQ(*ExtractFromTar(tar, "./big.bin"), big);
    auto missing = ExtractFromTar(tar, "nope.wasm");
    EXPECT_FALSE(missing);
  }
  std::string tar = MakeTar({{"a.wasm", big}}, false);
  EXPECT_FALSE(ExtractFromTar(tar.substr(0, 1000), "a.wasm"));  // truncated inside the file
  EXPECT_FALSE(ExtractFromTar(std::string("\x1f\x8b garbage", 10), "a.wasm"));
}

TEST(Digest, Sha256) {
  EXPECT_EQ(Sha256Digest(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Accept, NamesAllFourManifestTypes) {
  std::string a = media::ManifestAccept();
  for (auto t : {media::kOciIndex, media::kOciManifest, media::kDockerList, media::kDockerManifest})
    EXPECT_NE(a.find(t), std::string::npos) << t;
}

}  // namespace
}  // namespace wasmq::oci
