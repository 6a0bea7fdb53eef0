// File: src/api/auth.cc
#include "api/auth.h"

#include <algorithm>
#include <cctype>

#include "api/envelope.h"
#include "api/jwt.h"

namespace wasmq::api {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

Response Unauthorized(std::string_view message, bool token_given) {
  Response r = Fail(401, code::kUnauthorized, message);
  r.Set("WWW-Authenticate", token_given ? R"(Bearer realm="wasmq", error="invalid_token")" : R"(Bearer realm="wasmq")");
  return r;
}

}  // namespace

std::variant<Caller, Response> Authenticate(const ApiConfig& config, const Request& req,
                                            std::optional<std::string_view> query_token, int64_t now_s) {
  if (!config.auth_required) return Caller{};
  std::string_view token;
  std::string_view header = req.Header("authorization");
  if (!header.empty()) {
    if (header.size() < 7 || !IEquals(header.substr(0, 7), "Bearer "))
      return Unauthorized("the Authorization header must be 'Bearer <token>'", true);
    token = header.substr(7);
    while (token.starts_with(' ')) token.remove_prefix(1);
  } else if (query_token) {
    token = *query_token;
  }
  if (token.empty()) return Unauthorized("authentication required: send 'Authorization: Bearer <token>'", false);
  auto claims = VerifyJwt(token, {.secret = config.jwt_secret,
                                  .now_s = now_s,
                                  .leeway_s = config.jwt_leeway.count(),
                                  .issuer = config.jwt_issuer,
                                  .audience = config.jwt_audience});
  if (!claims) return Unauthorized(claims.error().message, true);
  return Caller{std::move(claims->subject), std::move(claims->all)};
}

bool OriginAllowed(const ApiConfig& config, std::string_view origin) {
  for (const std::string& o : config.cors_origins)
    if (o == "*" || IEquals(o, origin)) return true;
  return false;
}

bool SameOrigin(const Request& req) {
  std::string_view origin = req.Header("origin"), host = req.Header("host");
  size_t scheme = origin.find("://");
  if (scheme == std::string_view::npos || host.empty()) return false;
  return IEquals(origin.substr(scheme + 3), host);
}

void AddCorsHeaders(const ApiConfig& config, const Request& req, Response& res) {
  std::string_view origin = req.Header("origin");
  if (origin.empty() || !OriginAllowed(config, origin)) return;
  res.Set("Access-Control-Allow-Origin", std::string(origin));
  res.Set("Vary", "Origin");
  res.Set("Access-Control-Expose-Headers", "Location, Retry-After, ETag, Content-Disposition");
}

std::optional<Response> Preflight(const ApiConfig& config, const Request& req) {
  if (req.method != "OPTIONS" || req.Header("origin").empty() || !req.HasHeader("access-control-request-method"))
    return std::nullopt;
  if (!OriginAllowed(config, req.Header("origin")))
    return Fail(403, code::kForbidden, "origin " + std::string(req.Header("origin")) + " is not allowed (CORS)");
  Response r;
  r.status = 204;
  AddCorsHeaders(config, req, r);
  r.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, DELETE, OPTIONS");
  r.Set("Access-Control-Allow-Headers", "Authorization, Content-Type");
  r.Set("Access-Control-Max-Age", "600");
  return r;
}

}  // namespace wasmq::api
