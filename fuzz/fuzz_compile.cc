// Fuzz target: decode + validate + compile to internal code.
#include <cstddef>
#include <cstdint>

#include "wasm/wasm.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const wasmq::wasm::Engine engine;
  auto r = wasmq::wasm::Module::Compile(engine, std::span<const uint8_t>(data, size));
  (void)r.ok();
  return 0;
}
