// File: src/api/auth.h
//
// Internal to the api part: who is calling, and whether a browser page of another origin may call.
//
// Identity: with auth off every caller is the anonymous user "". With auth on, the caller is the `sub` of
// an HS256 JWT (jwt.h) sent as `Authorization: Bearer <token>`; WebSocket routes also take `?token=<token>`
// because browsers cannot set headers on a WebSocket. A missing or bad token is 401 with a
// `WWW-Authenticate: Bearer` challenge (RFC 6750).
//
// CORS (Fetch standard): an allowed Origin gets Access-Control-Allow-Origin on every answer; a preflight
// (OPTIONS with Access-Control-Request-Method) from an allowed origin gets 204 and the allowed methods and
// headers, from any other origin 403. A WebSocket upgrade from a browser page of another origin that is not
// allowed is refused with 403 — WebSockets are not covered by CORS, so this check is the only guard.
#pragma once

#include <optional>
#include <string_view>

#include "api/api.h"
#include "api/http_types.h"
#include "api/router.h"

namespace wasmq::api {

// The caller, or the 401 response to send. `query_token` is the `token` query parameter (WebSocket only).
std::variant<Caller, Response> Authenticate(const ApiConfig& config, const Request& req,
                                            std::optional<std::string_view> query_token, int64_t now_s);

bool OriginAllowed(const ApiConfig& config, std::string_view origin);
// Whether the Origin header names the server itself (scheme-less comparison with the Host header).
bool SameOrigin(const Request& req);
// Adds Access-Control-Allow-Origin and friends when the request's Origin is allowed.
void AddCorsHeaders(const ApiConfig& config, const Request& req, Response& res);
// The answer to a CORS preflight, or nullopt when `req` is not one.
std::optional<Response> Preflight(const ApiConfig& config, const Request& req);

}  // namespace wasmq::api
