// File: src/api/envelope.cc
#include "api/envelope.h"

#include <algorithm>

#include <cstdio>

namespace wasmq::api {

Response JsonResponse(int status, const queue::Json& body) {
  Response r;
  r.status = status;
  // Replace invalid UTF-8 (a module's stdout may hold anything) instead of throwing.
  r.body = body.dump(-1, ' ', false, queue::Json::error_handler_t::replace);
  r.Set("Content-Type", "application/json");
  r.Set("Cache-Control", "no-store");
  return r;
}

Response Ok(const queue::Json& data, int status) { return JsonResponse(status, {{"success", true}, {"data", data}}); }

Response Fail(int status, std::string_view error_code, std::string_view message) {
  return JsonResponse(status, {{"success", false}, {"error", {{"code", error_code}, {"message", message}}}});
}

Response FromError(const queue::Error& e) {
  // A precise reason (IDEMPOTENCY_CONFLICT, DEPENDENCY_FAILED) replaces the generic code name, same status.
  if (!e.reason.empty() && e.code != queue::Code::Internal) {
    Response r = FromError(queue::Error{e.code, e.message});
    return Fail(r.status, e.reason, e.message);
  }
  switch (e.code) {
    case queue::Code::InvalidArgument: return Fail(422, code::kValidationFailed, e.message);
    case queue::Code::NotFound: return Fail(404, code::kNotFound, e.message);
    case queue::Code::Conflict: return Fail(409, code::kConflict, e.message);
    case queue::Code::Unavailable: return Fail(503, code::kUnavailable, e.message);
    case queue::Code::RateLimited: {
      Response r = Fail(429, code::kRateLimited, e.message);
      r.Set("Retry-After", std::to_string(std::max<int64_t>(1, (e.retry_after_ms + 999) / 1000)));
      return r;
    }
    case queue::Code::Internal: break;
  }
  // A broken invariant: the detail (which may name files on the server) is for the log, not the client.
  std::fprintf(stderr, "wasmq api: internal error: %s\n", e.message.c_str());
  return Fail(500, code::kInternal, "internal error");
}

}  // namespace wasmq::api
