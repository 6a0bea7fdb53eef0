// base::Result<T, E>: a T or an E (the part's own error type); base::Result<void, E>: nothing or an E. The
// one result template of the code base: each part aliases it with its own error type
// (`template <typename T> using Result = base::Result<T, Error>;` in wasm/result.h, queue/error.h,
// oci/oci.h, sign/sign.h, policy/policy.h, engines/engines.h, config/config.h), so failures cross every
// part's API as values, never as exceptions.
// Header-only and depending on nothing of ours, so any part may include it.
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

// The form for calls that return nothing on success: `return {};` is success.
template <typename E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  Result(E error) : err_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const E& error() const { return err_; }

 private:
  E err_{};
  bool ok_ = true;
};

}  // namespace wasmq::base

#endif  // WASMQ_BASE_RESULT_H_
