// File: src/wasm/result.h
//
// Error and Result<T>: how every fallible engine call reports failure. No exceptions cross the engine's
// API. The kinds mirror the spec's failure classes so the spectest runner (and users) can tell them apart.
#pragma once

#include <string>
#include <utility>

#include "base/result.h"

namespace wasmq::wasm {

enum class ErrorKind {
  Malformed,     // the binary cannot be decoded
  Invalid,       // decoded, but fails validation
  Unlinkable,    // an import is missing or has the wrong type
  Trap,          // execution trapped (including during instantiation)
  Exhaustion,    // call stack exhausted
  Interrupted,   // fuel ran out or the host interrupted execution
  Exit,          // the guest asked to exit (WASI proc_exit); `exit_code` holds the code
  Resource,      // a host limit was hit (memory cap, too many instances, ...)
};

struct Error {
  ErrorKind kind = ErrorKind::Trap;
  std::string message;
  int exit_code = 0;
};

// Result<T> holds a T or an Error; Result<void> holds nothing or an Error.
template <typename T>
using Result = base::Result<T, Error>;

inline Error MakeError(ErrorKind kind, std::string message) { return Error{kind, std::move(message), 0}; }

}  // namespace wasmq::wasm
