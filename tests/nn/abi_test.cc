// Every wasi_ephemeral_nn function and errno, through the wasm32-wasi module modules/nn_abi.c.
#include <thread>

#include "harness.h"

namespace wasmq::nn::testing {
namespace {

void ExpectOk(const NnRun& run) {
  ASSERT_TRUE(run.result.exit_code.has_value()) << run.result.error.message << "\n" << run.result.stdout_data;
  EXPECT_EQ(*run.result.exit_code, 0u) << run.result.stdout_data << run.result.stderr_data
                                       << "\nlast error: " << run.last_error;
  EXPECT_NE(run.result.stdout_data.find("ok\n"), std::string::npos) << run.result.stdout_data;
}

TEST(NnAbi, ModelByName) {
  NN_REQUIRE_MODELS();
  auto host = TestHost();
  NnRun run = RunNn(*host, {"by_name"});
  ExpectOk(run);
  EXPECT_NE(run.result.stdout_data.find("affine f32: 1 3 6 -5"), std::string::npos) << run.result.stdout_data;
}

TEST(NnAbi, GraphFromBytesOnnxAndAutodetect) {
  NN_REQUIRE_MODELS();
  auto host = TestHost();
  ExpectOk(RunNn(*host, {"from_bytes"}));
}

TEST(NnAbi, Convolution) {
  NN_REQUIRE_MODELS();
  auto host = TestHost();
  NnRun run = RunNn(*host, {"conv"});
  ExpectOk(run);
  EXPECT_NE(run.result.stdout_data.find("conv: 45 54 81 90"), std::string::npos) << run.result.stdout_data;
}

TEST(NnAbi, TwoInputsByIndex) {
  NN_REQUIRE_MODELS();
  auto host = TestHost();
  ExpectOk(RunNn(*host, {"two_inputs"}));
}

TEST(NnAbi, EveryErrnoPath) {
  NN_REQUIRE_MODELS();
  auto host = TestHost();
  ExpectOk(RunNn(*host, {"errors"}));
}

TEST(NnAbi, BoundsGiveTooLarge) {
  NN_REQUIRE_MODELS();
  Limits limits;
  limits.max_tensor_bytes = 4096;
  limits.max_contexts = 4;
  limits.max_graphs = 3;
  auto host = TestHost(limits);
  NnRun run = RunNn(*host, {"bounds"});
  ExpectOk(run);
  EXPECT_NE(run.result.stdout_data.find("contexts made: 4"), std::string::npos);
}

TEST(NnAbi, InstanceBytesBound) {
  NN_REQUIRE_MODELS();
  Limits limits;
  limits.max_instance_bytes = 100;  // the first 16-byte input fits; the graph bytes of `load` do not
  auto host = TestHost(limits);
  NnRun run = RunNn(*host, {"from_bytes"});
  ASSERT_TRUE(run.result.exit_code.has_value());
  EXPECT_EQ(*run.result.exit_code, 1u);
  EXPECT_NE(run.result.stdout_data.find("= 7, want 0"), std::string::npos) << run.result.stdout_data;
}

TEST(NnAbi, PointersOutsideMemoryTrap) {
  NN_REQUIRE_MODELS();
  auto host = TestHost();
  for (const char* which : {"load", "load_bytes", "load_by_name", "handle", "tensor", "dims", "data", "output", "written"}) {
    SCOPED_TRACE(which);
    NnRun run = RunNn(*host, {"outside", which});
    EXPECT_FALSE(run.result.exit_code.has_value()) << run.result.stdout_data;
    EXPECT_EQ(run.result.error.kind, wasm::ErrorKind::Trap);
    EXPECT_NE(run.result.error.message.find("outside the module's memory"), std::string::npos)
        << run.result.error.message;
  }
}

TEST(NnAbi, ModelWithoutImportsCostsNothing) {
  EXPECT_EQ(FunctionNames().size(), 6u);
}

}  // namespace
}  // namespace wasmq::nn::testing
