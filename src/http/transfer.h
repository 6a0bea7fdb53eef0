// File: src/http/transfer.h
//
// Internal to the http part: one libcurl transfer (one attempt, one redirect hop), and the parts of a
// URL that decide whether a redirect stays with the credentials' origin.
#pragma once

#include <string>

#include "http/http.h"

namespace wasmq::http::internal {

// What one hop sends: the request's method, URL, headers and body as they stand after redirects.
struct Hop {
  std::string method;
  std::string url;
  std::vector<std::string> headers;
  bool send_body = true;  // false after a redirect turned the request into a GET
};

struct HopResult {
  Error error;
  int status = 0;
  std::map<std::string, std::vector<std::string>> headers;
  std::string body;
  size_t streamed = 0;       // bytes given to the sink
  std::string redirect_url;  // absolute, when the answer was a redirect with a Location
};

HopResult Transfer(const Request& request, const Hop& hop, const ClientOptions& options);

// "scheme://host:port" with the scheme's default port filled in; "" when the URL does not parse.
std::string Origin(const std::string& url);

}  // namespace wasmq::http::internal
