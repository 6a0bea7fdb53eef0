// Fuzz target: the binary decoder alone. Any input must decode or fail with an error; never crash, hang,
// read out of bounds or allocate without bound.
#include <cstddef>
#include <cstdint>

#include "wasm/runtime.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = wasmq::wasm::Decode(std::span<const uint8_t>(data, size));
  (void)r.ok();
  return 0;
}
