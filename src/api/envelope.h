// File: src/api/envelope.h
//
// Internal to the api part: the response envelope of the Formy seed, and the one table that maps an error
// to its HTTP status and JSON `error.code`.
//
//   {"success": true,  "data": …}
//   {"success": false, "error": {"code": "NOT_FOUND", "message": "task task_… not found"}}
#pragma once

#include <string_view>

#include "api/http_types.h"
#include "queue/queue.h"

namespace wasmq::api {

// The JSON error codes a client can see (docs/api.md lists them with their statuses).
namespace code {
inline constexpr std::string_view kBadRequest = "BAD_REQUEST";              // 400
inline constexpr std::string_view kMalformedJson = "MALFORMED_JSON";        // 400
inline constexpr std::string_view kUnauthorized = "UNAUTHORIZED";           // 401
inline constexpr std::string_view kForbidden = "FORBIDDEN";                 // 403
inline constexpr std::string_view kNotFound = "NOT_FOUND";                  // 404
inline constexpr std::string_view kMethodNotAllowed = "METHOD_NOT_ALLOWED";  // 405
inline constexpr std::string_view kRequestTimeout = "REQUEST_TIMEOUT";      // 408
inline constexpr std::string_view kConflict = "CONFLICT";                   // 409
inline constexpr std::string_view kPayloadTooLarge = "PAYLOAD_TOO_LARGE";   // 413
inline constexpr std::string_view kUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE";  // 415
inline constexpr std::string_view kValidationFailed = "VALIDATION_FAILED";  // 422
inline constexpr std::string_view kRateLimited = "RATE_LIMITED";            // 429
inline constexpr std::string_view kHeadersTooLarge = "HEADERS_TOO_LARGE";   // 431
inline constexpr std::string_view kInternal = "INTERNAL";                   // 500
inline constexpr std::string_view kUnavailable = "UNAVAILABLE";             // 503
}  // namespace code

Response JsonResponse(int status, const queue::Json& body);
Response Ok(const queue::Json& data, int status = 200);
Response Fail(int status, std::string_view error_code, std::string_view message);

// A queue error as a response. InvalidArgument becomes 422 VALIDATION_FAILED: by the time a request reaches
// the queue its JSON has parsed, so what is left is a value the model refuses. NotFound 404, Conflict 409,
// Unavailable 503, Internal 500.
Response FromError(const queue::Error& e);

}  // namespace wasmq::api
