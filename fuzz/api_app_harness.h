// File: fuzz/api_app_harness.h
//
// For fuzz_api: the api part's App (everything above the socket: routing, auth, CORS, rate limit, the
// handlers) over real stores in a scratch directory, fed raw bytes the way an HTTP session feeds it. The
// bytes go through Beast's request parser with the session's limits and its order of checks (header limit,
// upgrade, per-route body limit), so what reaches App::Handle is exactly what a client can make reach it.
//
// What counts as a bug (the harness aborts, so libFuzzer keeps the input): a crash or sanitizer report, a
// 500 (App::Handle turns a handler's exception into 500: client bytes must never cause one), a JSON
// response whose body is not JSON, and a response header value holding CR or LF (response splitting).
#pragma once

#include <string_view>

namespace wasmq::fuzz {

enum class AuthMode { Off, On };

// Feeds `bytes` as what a client sent on one connection (pipelined requests included, at most a few).
void DriveHttpRequests(std::string_view bytes, AuthMode auth);

// The route table of the auth-off App, for the router target: whether (method, path) found a route.
bool FindRoute(std::string_view method, std::string_view path);

}  // namespace wasmq::fuzz
