// File: src/engines/http_client.h
//
// Internal to the engines part: one HTTP exchange on libcurl, bounded by a timeout, a response size cap,
// the call's deadline and its CancelToken (the transfer runs on a curl multi handle polled every 50 ms, so
// a cancel ends it within about that). Used by the http and comfyui engines.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "engines/engines.h"

namespace wasmq::engines {

struct HttpPart {  // one field of a multipart/form-data body
  std::string name, data;
  std::string filename = {};      // set: a file field
  std::string content_type = {};  // e.g. "application/json", "image/png"
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers = {};  // "Name: value"; may hold secrets: never logged or echoed
  std::string body = {};
  std::vector<HttpPart> multipart = {};  // non-empty: the body is multipart/form-data of these
  std::chrono::milliseconds timeout{30'000};
  size_t max_response_bytes = 64u << 20;
};

struct HttpResult {
  enum class Kind { Ok, Timeout, Connect, TooLarge, Cancelled, Other };
  Kind kind = Kind::Ok;
  long status = 0;  // Ok: the HTTP status
  std::string body, content_type;
  std::string error;  // not Ok: what went wrong (names the URL, never a header)
};

HttpResult Perform(const HttpRequest& request, const CallContext& ctx);

// The status an HttpResult maps to when it is final: transport failures, then 4xx BadRequest, 5xx (and any
// other non-2xx) Failed.
Response MapHttpFailure(const HttpResult& r, const std::string& what);

// Percent-encodes a query parameter value.
std::string UrlEncode(std::string_view s);

// The image type of `data` from its first bytes ("image/png", ...), or `fallback`.
std::string SniffContentType(std::string_view data, std::string fallback);

}  // namespace wasmq::engines
