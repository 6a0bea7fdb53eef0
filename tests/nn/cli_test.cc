// `wasmq run --nn-model NAME=PATH` end to end: the built binary, the test module, the generated models.
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "harness.h"

namespace wasmq::nn::testing {
namespace {

struct Ran {
  int code = -1;
  std::string output;  // stdout and stderr
  double seconds = 0;
};

Ran Wasmq(const std::string& args, const std::string& env = {}) {
  const auto t0 = std::chrono::steady_clock::now();
  Ran r;
  FILE* p = popen((env + WASMQ_BINARY + " run " + args + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

TEST(NnCli, RunWithNamedModel) {
  NN_REQUIRE_MODELS();
  Ran r = Wasmq("--nn-model affine=" + Model("affine.onnx") + " --verbose " NN_MODULE " by_name");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("affine f32: 1 3 6 -5"), std::string::npos) << r.output;
  // --verbose: the model, its digest and the memory it holds.
  EXPECT_NE(r.output.find("wasmq: nn model affine (" + Model("affine.onnx") + "): 130 bytes of ONNX, sha256:"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("resident"), std::string::npos);
}

TEST(NnCli, ModelFilesThroughPreopenedDirectory) {
  NN_REQUIRE_MODELS();
  Ran r = Wasmq("--dir /models:" + ModelsDir() + " " NN_MODULE " conv");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("conv: 45 54 81 90"), std::string::npos) << r.output;
}

TEST(NnCli, UnknownNameIsNotFound) {
  NN_REQUIRE_MODELS();
  Ran r = Wasmq("--nn-models-dir " + ModelsDir() + "/none " NN_MODULE " by_name");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("= 8, want 0"), std::string::npos) << r.output;
}

TEST(NnCli, BadModelOptionsAreUsageErrors) {
  NN_REQUIRE_MODELS();
  Ran missing = Wasmq("--nn-model affine=/no/such/file.onnx " NN_MODULE " by_name");
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.output.find("/no/such/file.onnx is not a readable file"), std::string::npos) << missing.output;
  Ran name = Wasmq("--nn-model a/b=" + Model("affine.onnx") + " " NN_MODULE " by_name");
  EXPECT_EQ(name.code, 2) << name.output;
}

// NAME=OCI-REF is pulled through the cache on the first load_by_name (src/cli/models.h); offline with an
// empty cache the pull fails, and the module sees not_found.
TEST(NnCli, ModelByOciReferenceIsPulledOnFirstUse) {
  NN_REQUIRE_MODELS();
  const std::string cache = ModelsDir() + "/empty-cache";
  Ran ref = Wasmq("--verbose --nn-model affine=registry.invalid/models/affine:1 " NN_MODULE " by_name",
                  "WASMQ_OFFLINE=on WASMQ_CACHE_DIR=" + cache + " ");
  EXPECT_EQ(ref.code, 1) << ref.output;
  EXPECT_NE(ref.output.find("= 8, want 0"), std::string::npos) << ref.output;
  EXPECT_NE(ref.output.find("registry.invalid/models/affine:1"), std::string::npos) << ref.output;
}

TEST(NnCli, SizeBoundsAreOptions) {
  NN_REQUIRE_MODELS();
  Ran tensor = Wasmq("--nn-max-tensor 8 --nn-model affine=" + Model("affine.onnx") + " " NN_MODULE " by_name");
  EXPECT_EQ(tensor.code, 1);
  EXPECT_NE(tensor.output.find("= 7, want 0"), std::string::npos) << tensor.output;  // 16 bytes > 8
  Ran graph = Wasmq("--nn-max-graph 100 --dir /models:" + ModelsDir() + " " NN_MODULE " from_bytes");
  EXPECT_EQ(graph.code, 1);
  EXPECT_NE(graph.output.find("= 7, want 0"), std::string::npos) << graph.output;  // 130 bytes > 100
  EXPECT_EQ(Wasmq("--nn-max-graph lots " NN_MODULE " by_name").code, 2);
}

TEST(NnCli, TimeoutStopsACompute) {
  NN_REQUIRE_MODELS();
  Ran r = Wasmq("--timeout-ms 300 --nn-model slow=" + Model("slow.onnx") + " " NN_MODULE " slow");
  EXPECT_EQ(r.code, 124) << r.output;
  EXPECT_NE(r.output.find("trap: interrupted (timeout after 300 ms)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("wasi_ephemeral_nn.compute"), std::string::npos) << r.output;
  EXPECT_LT(r.seconds, 1.0) << "the process waited for the forward pass";
}

}  // namespace
}  // namespace wasmq::nn::testing
