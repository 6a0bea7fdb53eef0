// base::Result<T, E>: a T or an E (the part's own error type), the one result template the newer parts
// alias (`template <typename T> using Result = base::Result<T, Error>;` in sign/sign.h, policy/policy.h).
// Header-only and depending on nothing of ours, so any part may include it. The older parts (wasm, queue,
// oci) still carry their own copies; folding them in is issue #16's base layer.
#ifndef WASMQ_BASE_RESULT_H_
#define WASMQ_BASE_RESULT_H_

#include <utility>
#include <variant>

namespace wasmq::base {

template <typename T, typename E>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(E error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  const E& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

}  // namespace wasmq::base

#endif  // WASMQ_BASE_RESULT_H_
