// File: src/engines/http_call.cc
//
// How the http and comfyui engines use the http part: every exchange bounded by the call's deadline and
// ended by its CancelToken, failures mapped to engine statuses with messages that never hold a header or
// a query (which may carry a key).
#include <algorithm>

#include "engines/internal.h"
#include "storage/storage.h"
#include "trace/trace.h"

namespace wasmq::engines {

namespace {

std::string Describe(const http::Request& r, const std::string& reason) {
  return r.method + " " + r.url.substr(0, r.url.find('?')) + ": " + reason;
}

const http::Client& EngineClient() {
  static const http::Client client(http::ClientOptions{.user_agent = "wasmq-engine/1"});
  return client;
}

}  // namespace

http::Response HttpCall(http::Request req, const CallContext& ctx) {
  http::Response out;
  auto fail = [&](http::ErrorKind kind, const std::string& why) {
    out.error = {kind, Describe(req, why)};
    return out;
  };
  if (ctx.cancel && ctx.cancel->cancelled()) return fail(http::ErrorKind::Cancelled, "cancelled");
  const auto timeout = std::min(req.timeouts.total, ctx.Remaining());
  if (timeout.count() <= 0) return fail(http::ErrorKind::Timeout, "no time left");
  req.timeouts.total = timeout;
  req.timeouts.connect = std::min<http::Millis>(timeout, http::Millis(10'000));
  req.deadline = ctx.deadline;
  req.decode_content = true;
  if (ctx.cancel) req.cancelled = [c = ctx.cancel] { return c->cancelled(); };
  // W3C trace context: the engine's own spans (if it traces) join the task's trace under the call's span.
  if (auto here = trace::CurrentContext()) {
    req.headers.push_back("traceparent: " + trace::FormatTraceparent(*here));
    if (!here->trace_state.empty()) req.headers.push_back("tracestate: " + here->trace_state);
  }
  out = EngineClient().Send(req);
  switch (out.error.kind) {
    case http::ErrorKind::None: break;
    case http::ErrorKind::Timeout:
      out.error.reason = Describe(req, "no answer within " + std::to_string(timeout.count()) + " ms");
      break;
    case http::ErrorKind::TooLarge:
      out.error.reason = Describe(req, "the response is over " + std::to_string(req.max_body_bytes) + " bytes");
      break;
    default: out.error.reason = Describe(req, out.error.reason);
  }
  return out;
}

Response MapHttpFailure(const http::Response& r, const std::string& what) {
  switch (r.error.kind) {
    case http::ErrorKind::None: break;
    case http::ErrorKind::Timeout: return Failure(Status::Timeout, r.error.reason);
    case http::ErrorKind::Dns:
    case http::ErrorKind::Connect:
    case http::ErrorKind::Tls:
    case http::ErrorKind::Transfer: return Failure(Status::Unavailable, r.error.reason);
    case http::ErrorKind::TooLarge: return Failure(Status::TooLarge, r.error.reason);
    case http::ErrorKind::Cancelled: return Failure(Status::Cancelled, r.error.reason);
    case http::ErrorKind::Aborted:
    case http::ErrorKind::Other: return Failure(Status::Failed, r.error.reason);
  }
  // An HTTP status: the start of the body tells a person why (APIs put their reason there).
  std::string excerpt = r.body.substr(0, 300);
  std::replace_if(
      excerpt.begin(), excerpt.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  std::string msg =
      what + " answered HTTP " + std::to_string(r.status) + (excerpt.empty() ? "" : ": " + excerpt);
  // 429: the API is there and the request is fine, it only wants us to come back later; that is what a
  // retryable ENGINE_UNAVAILABLE tells the pipeline (and the worker's backoff) to do.
  if (r.status == 429) return Failure(Status::Unavailable, msg);
  if (r.status >= 400 && r.status < 500) return Failure(Status::BadRequest, msg);
  return Failure(Status::Failed, msg);
}

std::string SniffContentType(std::string_view d, std::string fallback) {
  std::string_view type = storage::SniffImageType(d.substr(0, storage::kSniffBytes));
  return type.empty() ? fallback : std::string(type);
}

}  // namespace wasmq::engines
