// File: src/api/jwt.cc
#include "api/jwt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include "api/api.h"
#include "base/encoding.h"
#include "json/json.h"

namespace wasmq::api {
namespace {

using base::Base64UrlDecode;
using base::Base64UrlEncode;

using Json = nlohmann::json;

JwtError InvalidArgument(std::string why) { return JwtError{std::move(why)}; }

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

// A NumericDate (RFC 7519 §2): a JSON number of seconds. Fractions are allowed and truncated.
std::optional<int64_t> NumericDate(const Json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    return u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(u);
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (!(d > -9.2e18 && d < 9.2e18)) return std::nullopt;  // also refuses NaN
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

JwtResult<Json> DecodeJsonPart(std::string_view part, std::string_view what) {
  auto bytes = Base64UrlDecode(part);
  if (!bytes) return InvalidArgument("malformed token: " + std::string(what) + " is not base64url");
  Json j = wasmq::json::Parse(*bytes);
  if (!j.is_object()) return InvalidArgument("malformed token: " + std::string(what) + " is not a JSON object");
  return j;
}

// The subject becomes a user id that is stored, logged and compared: identity providers' usual alphabets
// ("user_1", "auth0|5f…", "jo@example.com", "google-oauth2:1234") and nothing that could act as a path.
bool ValidSubject(const std::string& s) {
  if (s.empty() || s.size() > kMaxSubjectBytes || s == "." || s == "..") return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("_-.@|:+").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string SignJwt(std::string_view payload_json, std::string_view secret) {
  std::string input = Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + "." + Base64UrlEncode(payload_json);
  return input + "." + Base64UrlEncode(HmacSha256(secret, input));
}

JwtResult<JwtClaims> VerifyJwt(std::string_view token, const JwtCheck& check) {
  if (token.size() > kMaxTokenBytes) return InvalidArgument("malformed token: too long");
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return InvalidArgument("malformed token: a JWT has three dot-separated parts");
  auto header = DecodeJsonPart(token.substr(0, dot1), "header");
  if (!header) return header.error();
  auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string() || alg->get_ref<const std::string&>() != "HS256")
    return InvalidArgument("token algorithm must be HS256");
  if (header->contains("crit")) return InvalidArgument("token has critical header extensions");

  auto signature = Base64UrlDecode(token.substr(dot2 + 1));
  std::string expected = HmacSha256(check.secret, token.substr(0, dot2));
  if (!signature || signature->size() != expected.size() ||
      CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0)
    return InvalidArgument("bad token signature");

  // Only a token we signed gets this far: its claims are read, not trusted blindly (types still checked).
  auto payload = DecodeJsonPart(token.substr(dot1 + 1, dot2 - dot1 - 1), "payload");
  if (!payload) return payload.error();
  JwtClaims claims;
  auto exp = payload->find("exp");
  if (exp == payload->end()) return InvalidArgument("token has no exp");
  auto exp_s = NumericDate(*exp);
  if (!exp_s) return InvalidArgument("token exp is not a number");
  if (*exp_s <= check.now_s - check.leeway_s) return InvalidArgument("token expired");
  claims.expires_at = *exp_s;
  if (auto nbf = payload->find("nbf"); nbf != payload->end()) {
    auto nbf_s = NumericDate(*nbf);
    if (!nbf_s) return InvalidArgument("token nbf is not a number");
    if (*nbf_s > check.now_s + check.leeway_s) return InvalidArgument("token not valid yet");
  }
  auto sub = payload->find("sub");
  if (sub == payload->end() || !sub->is_string() || !ValidSubject(sub->get_ref<const std::string&>()))
    return InvalidArgument("token sub must be 1 to 128 characters of A-Z a-z 0-9 _ - . @ | : +");
  claims.subject = sub->get<std::string>();
  if (!check.issuer.empty()) {
    auto iss = payload->find("iss");
    if (iss == payload->end() || !iss->is_string() || iss->get_ref<const std::string&>() != check.issuer)
      return InvalidArgument("token issuer is not accepted");
  }
  if (!check.audience.empty()) {
    bool ok = false;
    if (auto aud = payload->find("aud"); aud != payload->end()) {
      if (aud->is_string()) ok = aud->get_ref<const std::string&>() == check.audience;
      if (aud->is_array())
        for (const Json& a : *aud) ok = ok || (a.is_string() && a.get_ref<const std::string&>() == check.audience);
    }
    if (!ok) return InvalidArgument("token audience is not accepted");
  }
  claims.all = std::make_shared<const Json>(std::move(*payload));
  return claims;
}

std::string SignToken(std::string_view secret, std::string_view subject, std::chrono::seconds ttl, bool admin) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  Json payload = {{"sub", subject}, {"iat", now.count()}, {"exp", (now + ttl).count()}};
  if (admin) payload["admin"] = true;
  return SignJwt(payload.dump(), secret);
}

}  // namespace wasmq::api
