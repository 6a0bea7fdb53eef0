// File: src/api/jwt.h
//
// Internal to the api part: JSON Web Tokens (RFC 7519) signed with HS256 (HMAC-SHA-256, RFC 7518 §3.2),
// the only algorithm accepted — a token whose header names another one, "none" included, is refused, so
// the classic algorithm-confusion attacks have nothing to work with. The signature is compared in constant
// time. Never throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace wasmq::api {

inline constexpr size_t kMaxTokenBytes = 8 * 1024;
inline constexpr size_t kMaxSubjectBytes = 128;  // the subject becomes a task's user_id (queue::kMaxIdLength)

struct JwtCheck {
  std::string_view secret = {};
  int64_t now_s = 0;             // seconds since the epoch
  int64_t leeway_s = 0;          // allowed clock skew on exp / nbf
  std::string_view issuer = {};  // required `iss` when non-empty
  std::string_view audience = {};  // required `aud` (a string, or an array containing it) when non-empty
};

// Why a token was refused, in words a client may see ("token expired", "bad token signature", …).
struct JwtError {
  std::string message;
};
template <typename T>
using JwtResult = base::Result<T, JwtError>;

struct JwtClaims {
  std::string subject;  // `sub`: 1..kMaxSubjectBytes of [A-Za-z0-9_-.@|:+]
  int64_t expires_at = 0;
  std::shared_ptr<const nlohmann::json> all;  // the whole payload (the admission policy's input.user)
};

// Verifies `token` and returns its claims, or why it is refused. `exp` is required: a token that never
// expires cannot be revoked.
JwtResult<JwtClaims> VerifyJwt(std::string_view token, const JwtCheck& check);

// Builds an HS256 token with the given payload (a JSON object's text).
std::string SignJwt(std::string_view payload_json, std::string_view secret);

}  // namespace wasmq::api
