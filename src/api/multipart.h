// File: src/api/multipart.h
//
// Internal to the api part: the two header grammars an upload needs, and multipart/form-data bodies.
//
// - ParseMediaType reads a Content-Type value (RFC 9110 §8.3.1): "multipart/form-data; boundary=XyZ".
// - ParseMultipart splits a multipart/form-data body (RFC 7578 over RFC 2046 §5.1) into its parts. The parts
//   point into the body, which must outlive them. Bounded: at most kMaxParts parts, kMaxPartHeaderBytes of
//   headers per part. Never throws; a malformed body is InvalidArgument with the reason.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "queue/error.h"

namespace wasmq::api {

struct MediaType {
  std::string type;                           // "multipart/form-data", lower-cased
  std::map<std::string, std::string> params;  // names lower-cased, values unquoted
};
// InvalidArgument when there is no type/subtype or a parameter is malformed.
queue::Result<MediaType> ParseMediaType(std::string_view value);

inline constexpr size_t kMaxParts = 32;
inline constexpr size_t kMaxPartHeaderBytes = 8 * 1024;
inline constexpr size_t kMaxBoundaryLength = 70;  // RFC 2046

struct Part {
  std::string name;          // Content-Disposition name=
  std::string filename;      // Content-Disposition filename= (empty when not a file)
  std::string content_type;  // as sent, lower-cased; "text/plain" when absent (RFC 7578 §4.4)
  std::string_view data;     // into the body
};

queue::Result<std::vector<Part>> ParseMultipart(std::string_view body, std::string_view boundary);

}  // namespace wasmq::api
