// File: src/api/http_types.h
//
// Internal to the api part (include api/api.h instead): the request and response the handlers see. They
// are plain data, independent of Beast, so that everything above the socket — routing, auth, CORS, the
// handlers — can be unit-tested and fuzzed without a connection, and compiles without Beast's headers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/storage.h"

namespace wasmq::api {

// An owned file descriptor (closed on destruction); storage hands them out.
using storage::UniqueFd;

struct Request {
  std::string method;  // "GET", "POST", … as sent
  std::string path;    // the target before '?', still percent-encoded
  std::string query;   // the target after '?', without it
  std::vector<std::pair<std::string, std::string>> headers = {};  // names lower-cased
  std::string body = {};
  std::string remote = {};  // the peer's IP address
  // A body the session streamed to a file (an upload) instead of `body`: the file's bytes, mapped read-only
  // for the duration of App::Handle. Empty otherwise.
  std::string_view body_file = {};

  std::string_view Body() const { return body_file.empty() ? std::string_view(body) : body_file; }

  // The first header of that (lower-case) name; empty when absent.
  std::string_view Header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers)
      if (k == lower_name) return v;
    return {};
  }
  bool HasHeader(std::string_view lower_name) const {
    for (const auto& [k, v] : headers)
      if (k == lower_name) return true;
    return false;
  }
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers = {};
  std::string body = {};
  // When set, the body is this open file's content instead, `file_size` bytes from its start (streamed by
  // the session; `body` is ignored). Opened by the handler, so a path is checked and used in one step.
  UniqueFd file = {};
  uint64_t file_size = 0;
  bool close = false;  // close the connection after this response

  void Set(std::string name, std::string value) {
    for (auto& [k, v] : headers)
      if (k == name) {
        v = std::move(value);
        return;
      }
    headers.emplace_back(std::move(name), std::move(value));
  }
  std::string_view Get(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (k == name) return v;
    return {};
  }
};

}  // namespace wasmq::api
