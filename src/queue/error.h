// File: src/queue/error.h
//
// How every fallible call of the queue part reports failure: an Error with a short code and a readable
// message, inside a Result<T> (a T or an Error). No exception crosses the queue's API.
//
// The codes are the ones a REST client needs to tell apart; HttpStatus() maps each to its HTTP status once,
// CodeName() to the JSON `error.code` string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.h"

namespace wasmq::queue {

enum class Code {
  InvalidArgument,  // bad input: the message names the field (400)
  NotFound,         // no such task (404)
  Conflict,     // an illegal status transition, or a write by a worker that no longer holds the lease (409)
  Unavailable,  // the store cannot be reached or is busy beyond its timeout (503)
  Internal,     // a broken invariant or a corrupt row (500)
  RateLimited,  // a per-user limit refused a new task (429, with retry_after_ms as Retry-After)
};

struct Error {
  Code code = Code::Internal;
  std::string message;
  int64_t retry_after_ms = 0;  // RateLimited: when trying again may succeed
  // A more precise machine code than `code` names, for the API's `error.code` ("IDEMPOTENCY_CONFLICT",
  // "DEPENDENCY_FAILED"); empty for most errors.
  std::string reason = {};
};

// "INVALID_ARGUMENT", "NOT_FOUND", "CONFLICT", "UNAVAILABLE", "INTERNAL", "RATE_LIMITED".
std::string_view CodeName(Code code);
int HttpStatus(Code code);

inline Error InvalidArgument(std::string m) { return {Code::InvalidArgument, std::move(m)}; }
inline Error NotFound(std::string m) { return {Code::NotFound, std::move(m)}; }
inline Error Conflict(std::string m) { return {Code::Conflict, std::move(m)}; }
inline Error Unavailable(std::string m) { return {Code::Unavailable, std::move(m)}; }
inline Error Internal(std::string m) { return {Code::Internal, std::move(m)}; }

template <typename T>
using Result = base::Result<T, Error>;

}  // namespace wasmq::queue
