// File: src/nn/tensor.h
//
// Internal to the nn part: a tensor as the host holds it (dense f32, what OpenCV DNN computes in) and the
// checks and conversion from a module's WASI-NN tensor.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/internal.h"

namespace wasmq::nn {

struct Tensor {
  std::vector<int32_t> dims;
  std::vector<float> data;
  uint64_t byte_size() const { return data.size() * sizeof(float); }
};

// The bytes of one element of a WASI-NN tensor type (f16=0 f32=1 f64=2 u8=3 i32=4 i64=5), 0 for none.
uint32_t ElementSize(uint8_t type);

// Checks a module's tensor and converts it to f32: every dim above 0 (invalid_argument), the element count
// without overflow and its bytes within max_bytes both as given and as f32 (too_large), data_len equal to
// count × element size (invalid_argument), a known type (invalid_argument). The rank was checked before.
Outcome<Tensor> ToF32Tensor(const std::vector<uint32_t>& dims, uint8_t type, const uint8_t* data, uint64_t data_len,
                            uint64_t max_bytes);

}  // namespace wasmq::nn
