// Fuzz target: what the nn part reads from a module before OpenCV sees anything, in one binary. The first
// byte picks the parser ('0' + n, so seeds stay readable); the rest is its input:
//
//   '0' ONNX model      bytes a module gives WASI-NN's load   ParseOnnxInfo: the protobuf walk that sniffs a
//                                                             ModelProto and names its graph's inputs and
//                                                             outputs; what parses names at most as many of
//                                                             each as the bytes could hold
//   '1' tensor          a module's tensor record's contents   ToF32Tensor: rank (1 byte), type (1 byte), then
//                                                             a u32 per dim, the rest is the data; what
//                                                             converts has one float per element, within
//                                                             the bound, and dims that multiply to that count
//
// Besides crashes and sanitizer reports, broken promises abort.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "nn/onnx_info.h"
#include "nn/tensor.h"

namespace {

#define FUZZ_CHECK(cond)                                                   \
  do {                                                                     \
    if (!(cond)) {                                                         \
      std::fprintf(stderr, "fuzz_nn: broken promise: %s\n", #cond);       \
      std::abort();                                                        \
    }                                                                      \
  } while (0)

void OnnxInfo(std::string_view bytes) {
  auto info = wasmq::nn::ParseOnnxInfo(bytes);
  if (!info) return;
  // Every name stands in the bytes (a field of at least two bytes each: tag and length).
  FUZZ_CHECK((info->inputs.size() + info->outputs.size()) * 2 <= bytes.size());
  for (const auto& n : info->inputs) FUZZ_CHECK(n.size() <= bytes.size());
  for (const auto& n : info->outputs) FUZZ_CHECK(n.size() <= bytes.size());
}

void Tensor(const uint8_t* data, size_t size) {
  if (size < 2) return;
  const size_t rank = data[0] % 9;  // the host allows 8; 0 is a scalar
  const uint8_t type = data[1] % 8;  // 6 and 7 are not types
  data += 2;
  size -= 2;
  if (size < rank * 4) return;
  std::vector<uint32_t> dims(rank);
  for (size_t i = 0; i < rank; ++i) std::memcpy(&dims[i], data + 4 * i, 4);
  data += rank * 4;
  size -= rank * 4;
  constexpr uint64_t kMaxBytes = 1 << 20;
  auto t = wasmq::nn::ToF32Tensor(dims, type, data, size, kMaxBytes);
  if (!t) return;
  uint64_t count = 1;
  for (uint32_t d : dims) count *= d;
  FUZZ_CHECK(t->data.size() == count);
  FUZZ_CHECK(t->byte_size() <= kMaxBytes);
  FUZZ_CHECK(t->dims.size() == dims.size());
  FUZZ_CHECK(wasmq::nn::ElementSize(type) * count == size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t which = data[0];
  ++data;
  --size;
  switch (which) {
    case '0': OnnxInfo(std::string_view(reinterpret_cast<const char*>(data), size)); break;
    case '1': Tensor(data, size); break;
    default: break;
  }
  return 0;
}
