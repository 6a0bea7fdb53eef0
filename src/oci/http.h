// File: src/oci/http.h
//
// The oci part's HTTP layer over libcurl: one request at a time, the answer's status, headers and body
// (or a streamed body), network failures classified (DNS, connect, TLS, timeout), and an optional
// transcript of every exchange with secrets redacted.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "oci/oci.h"

namespace wasmq::oci::internal {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string_view body;
  bool follow_redirects = false;
  long timeout_ms = 0;     // whole request; 0 = none (blobs: low-speed limit instead)
  // Streamed body: called with each chunk of a 2xx answer; return false to abort. Unset = keep in body.
  std::function<bool(std::string_view)> sink;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::vector<std::string>> headers;  // lowercased names
  std::string body;
  std::string Header(const std::string& name) const;  // first value or ""
};

struct HttpSettings {
  long connect_timeout_ms = 10000;
  bool tls_verify = true;
  std::string user_agent = "wasmq";
  Transcript* transcript = nullptr;
};

// Network errors come back as ErrorKind::Network with the stage set; any HTTP status is a response.
Result<HttpResponse> Perform(const HttpRequest& request, const HttpSettings& settings);

// A URL as it may appear in a transcript: query values kept only for harmless keys (service, scope, n,
// last, digest, mount, from); everything else (signatures, tokens) replaced by "REDACTED".
std::string RedactUrl(const std::string& url);

}  // namespace wasmq::oci::internal
