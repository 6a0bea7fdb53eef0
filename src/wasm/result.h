// File: src/wasm/result.h
//
// Error and Result<T>: how every fallible engine call reports failure. No exceptions cross the engine's
// API. The kinds mirror the spec's failure classes so the spectest runner (and users) can tell them apart.
#pragma once

#include <string>
#include <utility>
#include <variant>

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

// Result<T> holds a T or an Error. Result<void> holds nothing or an Error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  T& operator*() { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

inline Error MakeError(ErrorKind kind, std::string message) { return Error{kind, std::move(message), 0}; }

}  // namespace wasmq::wasm
