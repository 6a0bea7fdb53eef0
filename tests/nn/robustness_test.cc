// Hostile graph bytes: truncated or corrupted ONNX given to `load` must come back as an errno, never take
// the host down (OpenCV's parser runs in the host process).
#include <cstdlib>
#include <random>

#include "harness.h"
#include "nn/internal.h"

namespace wasmq::nn::testing {
namespace {

// One forward pass of a graph that parsed, with the original model's input shapes: 1 when it ran.
int Forward(Graph& graph, const std::string& file) {
  std::vector<int32_t> dims = file == "conv.onnx" ? std::vector<int32_t>{1, 1, 4, 4}
                              : file == "affine.onnx" ? std::vector<int32_t>{1, 4}
                                                      : std::vector<int32_t>{1, 3};
  std::vector<float> data(16, 1.0f);
  std::vector<WasmqNnInput> inputs;
  for (size_t i = 0; i < std::max<size_t>(1, graph.info().inputs.size()); ++i)
    inputs.push_back({i < graph.info().inputs.size() ? graph.info().inputs[i].c_str() : "", dims.data(),
                      static_cast<int32_t>(dims.size()), data.data()});
  auto net = graph.TakeNet();
  if (!net) return 0;
  char err[256];
  const int32_t n = graph.backend()->forward(
      *net, inputs.data(), static_cast<int32_t>(inputs.size()), nullptr, 0,
      [](void*, int32_t, const int32_t*, int32_t, const float*, uint64_t) {}, nullptr, nullptr, err, sizeof err);
  graph.ReturnNet(*net);
  return n >= 0 ? 1 : 0;
}

TEST(NnRobustness, CorruptedGraphsAreRefusedNotCrashes) {
  NN_REQUIRE_MODELS();
  Host host;
  const char* seed = std::getenv("WASMQ_NN_FUZZ_SEED");  // another seed explores other corruptions
  std::mt19937 rng(seed ? static_cast<unsigned>(std::atoi(seed)) : 7u);
  int refused = 0, parsed = 0, ran = 0;
  for (const char* file : {"affine.onnx", "conv.onnx", "two_in.onnx", "slow.onnx"}) {
    const std::vector<uint8_t> model = ReadBytes(Model(file));
    const std::string bytes(model.begin(), model.end());
    for (size_t cut = 0; cut < bytes.size(); cut += std::max<size_t>(1, bytes.size() / 40)) {
      auto r = host.impl().LoadBytes(bytes.substr(0, cut));
      r ? ++parsed : ++refused;
    }
    for (int i = 0; i < 150; ++i) {
      std::string mutated = bytes;
      for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) mutated[rng() % mutated.size()] = static_cast<char>(rng());
      auto r = host.impl().LoadBytes(mutated);
      if (!r) {
        EXPECT_TRUE(r.error().code == Errno::InvalidEncoding || r.error().code == Errno::RuntimeError);
        ++refused;
      } else {
        ++parsed;
        if (std::string(file) != "slow.onnx") ran += Forward(**r, file);
      }
    }
  }
  std::cout << refused << " refused, " << parsed << " parsed, " << ran << " of those ran\n";
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace wasmq::nn::testing
