// File: src/nn/tensor.cc
#include "nn/tensor.h"

#include <cmath>
#include <cstring>
#include <string>

namespace wasmq::nn {

namespace {

float HalfToFloat(uint16_t h) {
  const int sign = (h >> 15) & 1, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  float v;
  if (exponent == 0)
    v = std::ldexp(static_cast<float>(mantissa), -24);  // zero or subnormal
  else if (exponent == 31)
    v = mantissa ? NAN : INFINITY;
  else
    v = std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
  return sign ? -v : v;
}

// Little-endian element i of `data` as type T (wasm memory is little-endian, as is every host wasmq runs on).
template <typename T>
T Element(const uint8_t* data, uint64_t i) {
  T v;
  std::memcpy(&v, data + i * sizeof(T), sizeof(T));
  return v;
}

}  // namespace

uint32_t ElementSize(uint8_t type) {
  switch (type) {
    case 0: return 2;
    case 1: return 4;
    case 2: return 8;
    case 3: return 1;
    case 4: return 4;
    case 5: return 8;
    default: return 0;
  }
}

Outcome<Tensor> ToF32Tensor(const std::vector<uint32_t>& dims, uint8_t type, const uint8_t* data, uint64_t data_len,
                            uint64_t max_bytes) {
  const uint32_t elem = ElementSize(type);
  if (elem == 0) return Failure{Errno::InvalidArgument, "no tensor type " + std::to_string(type)};
  if (dims.empty()) return Failure{Errno::InvalidArgument, "a tensor needs at least one dimension"};
  if (data_len > max_bytes)
    return Failure{Errno::TooLarge, "the tensor is over " + std::to_string(max_bytes) + " bytes"};
  uint64_t count = 1;
  for (uint32_t d : dims) {
    if (d == 0) return Failure{Errno::InvalidArgument, "a dimension is 0"};
    // count × d × 8 stays below 2^64 while count × d ≤ max_bytes (≤ 2^32 elements here): check before.
    if (d > INT32_MAX || count > max_bytes / d)
      return Failure{Errno::TooLarge, "the tensor's dimensions are over " + std::to_string(max_bytes) + " bytes"};
    count *= d;
  }
  if (count * sizeof(float) > max_bytes || count * elem > max_bytes)
    return Failure{Errno::TooLarge, "the tensor is over " + std::to_string(max_bytes) + " bytes"};
  if (count * elem != data_len)
    return Failure{Errno::InvalidArgument, "the dimensions make " + std::to_string(count * elem) +
                                               " bytes, the data is " + std::to_string(data_len)};
  Tensor t;
  t.dims.assign(dims.begin(), dims.end());
  t.data.resize(count);
  float* out = t.data.data();
  switch (type) {
    case 0: for (uint64_t i = 0; i < count; ++i) out[i] = HalfToFloat(Element<uint16_t>(data, i)); break;
    case 1: std::memcpy(out, data, count * 4); break;
    case 2: for (uint64_t i = 0; i < count; ++i) out[i] = static_cast<float>(Element<double>(data, i)); break;
    case 3: for (uint64_t i = 0; i < count; ++i) out[i] = data[i]; break;
    case 4: for (uint64_t i = 0; i < count; ++i) out[i] = static_cast<float>(Element<int32_t>(data, i)); break;
    case 5: for (uint64_t i = 0; i < count; ++i) out[i] = static_cast<float>(Element<int64_t>(data, i)); break;
  }
  return t;
}

}  // namespace wasmq::nn
