// The host's own pieces: the ONNX sniffer, tensor checks and conversion, model specs.
#include <cmath>
#include <cstring>

#include "harness.h"
#include "nn/internal.h"
#include "nn/onnx_info.h"
#include "nn/tensor.h"

namespace wasmq::nn::testing {
namespace {

TEST(NnOnnxInfo, NamesOfInputsAndOutputs) {
  NN_REQUIRE_MODELS();
  for (const auto& [file, inputs, outputs] :
       std::vector<std::tuple<std::string, std::vector<std::string>, std::vector<std::string>>>{
           {"affine.onnx", {"x"}, {"y"}}, {"two_in.onnx", {"a", "b"}, {"y"}}, {"conv.onnx", {"x"}, {"y"}}}) {
    const std::vector<uint8_t> bytes = ReadBytes(Model(file));
    auto info = ParseOnnxInfo(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    ASSERT_TRUE(info) << file;
    EXPECT_EQ(info->inputs, inputs) << file;
    EXPECT_EQ(info->outputs, outputs) << file;
  }
}

TEST(NnOnnxInfo, NotOnnx) {
  EXPECT_FALSE(ParseOnnxInfo(""));
  EXPECT_FALSE(ParseOnnxInfo("hello world"));
  EXPECT_FALSE(ParseOnnxInfo(std::string("\x08\x07", 2)));                   // ir_version, no graph
  EXPECT_FALSE(ParseOnnxInfo(std::string("\x08\x07\x3a\x7f", 4)));           // a graph longer than the bytes
  EXPECT_FALSE(ParseOnnxInfo(std::string("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11)));  // a runaway varint
  EXPECT_TRUE(ParseOnnxInfo(std::string("\x08\x07\x3a\x00", 4)));            // the smallest: an empty graph
}

TEST(NnTensor, ChecksAndConversion) {
  const float f[2] = {1.5f, -2};
  auto t = ToF32Tensor({1, 2}, 1, reinterpret_cast<const uint8_t*>(f), 8, 1024);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->data, (std::vector<float>{1.5f, -2}));
  EXPECT_EQ(t->dims, (std::vector<int32_t>{1, 2}));
  const uint16_t h[4] = {0x3c00, 0xc000, 0x0001, 0x7c00};  // 1, -2, the smallest subnormal, +inf
  auto th = ToF32Tensor({4}, 0, reinterpret_cast<const uint8_t*>(h), 8, 1024);
  ASSERT_TRUE(th);
  EXPECT_EQ(th->data[0], 1.0f);
  EXPECT_EQ(th->data[1], -2.0f);
  EXPECT_EQ(th->data[2], std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(th->data[3]));
  const int64_t l[2] = {-3, 1 << 20};
  auto tl = ToF32Tensor({2}, 5, reinterpret_cast<const uint8_t*>(l), 16, 1024);
  ASSERT_TRUE(tl);
  EXPECT_EQ(tl->data, (std::vector<float>{-3, 1 << 20}));

  EXPECT_EQ(ToF32Tensor({1, 2}, 6, nullptr, 8, 1024).error().code, Errno::InvalidArgument);   // no type 6
  EXPECT_EQ(ToF32Tensor({0}, 1, nullptr, 0, 1024).error().code, Errno::InvalidArgument);      // a zero dim
  EXPECT_EQ(ToF32Tensor({}, 1, nullptr, 0, 1024).error().code, Errno::InvalidArgument);       // no dims
  EXPECT_EQ(ToF32Tensor({3}, 1, nullptr, 8, 1024).error().code, Errno::InvalidArgument);      // 12 ≠ 8
  EXPECT_EQ(ToF32Tensor({512}, 1, nullptr, 2048, 1024).error().code, Errno::TooLarge);        // over the bound
  EXPECT_EQ(ToF32Tensor({512}, 3, nullptr, 512, 1024).error().code, Errno::TooLarge);         // u8 fits; f32 not
  EXPECT_EQ(ToF32Tensor({0xffffffff, 0xffffffff, 0xffffffff}, 1, nullptr, 4, UINT64_MAX).error().code,
            Errno::TooLarge);  // the product overflows 64 bits
}

TEST(NnSpecs, SplitAndAdd) {
  EXPECT_EQ(SplitModelSpecs(" a=/x.onnx, b=reg.io/m:1 ,,"), (std::vector<std::string>{"a=/x.onnx", "b=reg.io/m:1"}));
  EXPECT_TRUE(SplitModelSpecs("").empty());
  EXPECT_TRUE(IsModelName("isnet-general_1.0"));
  EXPECT_FALSE(IsModelName(".hidden"));
  EXPECT_FALSE(IsModelName("a/b"));
  EXPECT_FALSE(IsModelName(""));
  EXPECT_FALSE(IsModelName("-x"));
  EXPECT_FALSE(IsModelName(std::string(101, 'a')));
  Host host;
  EXPECT_FALSE(host.models().Add("noequals"));
  EXPECT_FALSE(host.models().Add("=/x"));
  EXPECT_FALSE(host.models().Add("a="));
  EXPECT_NE(host.models().Add("a=ghcr.io/acme/model:1").error().message.find("not supported yet"), std::string::npos);
  HostConfig with_resolver;
  with_resolver.resolve_ref = [](const std::string& name, const std::string& ref) -> Result<std::string> {
    return Error{"cannot pull " + name + "=" + ref};
  };
  Host resolving(with_resolver);
  EXPECT_TRUE(resolving.models().Add("a=ghcr.io/acme/model:1"));  // resolved on first use
  ASSERT_EQ(resolving.models().Report().size(), 1u);
  EXPECT_FALSE(resolving.models().Report()[0].loaded);
}

}  // namespace
}  // namespace wasmq::nn::testing
