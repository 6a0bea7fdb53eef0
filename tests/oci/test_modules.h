// File: tests/oci/test_modules.h
//
// Tiny hand-assembled WebAssembly binaries for the OCI tests (no toolchain needed).
#pragma once

#include <string>

namespace wasmq::ocitest {

// A core module exporting `_start` (() -> ()) that does nothing: a valid WASI command. `tag` goes into a
// custom section so that tests can make distinct modules.
inline std::string CommandModule(const std::string& tag = "x") {
  std::string m("\0asm\x01\x00\x00\x00", 8);
  m += std::string("\x01\x04\x01\x60\x00\x00", 6);                       // type: () -> ()
  m += std::string("\x03\x02\x01\x00", 4);                               // func 0: type 0
  m += std::string("\x07\x0a\x01\x06_start\x00\x00", 12);                // export "_start" func 0
  m += std::string("\x0a\x04\x01\x02\x00\x0b", 6);                       // code: empty body
  std::string name = "t";
  std::string payload = std::string(1, static_cast<char>(name.size())) + name + tag;
  m += std::string(1, '\0') + std::string(1, static_cast<char>(payload.size())) + payload;  // custom section
  return m;
}

// The preamble of a component (wasip2): version 0x0d, layer 1.
inline std::string ComponentBinary() { return std::string("\0asm\x0d\x00\x01\x00", 8) + std::string(16, '\0'); }

}  // namespace wasmq::ocitest
