// File: src/api/query.h
//
// Internal to the api part: URL query strings and percent-decoding (RFC 3986; '+' is a space in a query, as
// HTML forms send it). Bounded: at most kMaxQueryParams parameters. Never throws; bad input is an error.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/encoding.h"
#include "queue/error.h"

namespace wasmq::api {

inline constexpr size_t kMaxQueryParams = 64;

// "%41b" → "Ab" (base/encoding.h): nullopt for a '%' not followed by two hex digits, or a decoded NUL byte.
using base::PercentDecode;

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// "a=1&b=x%20y&c" → {a:1, b:"x y", c:""}, in order (a repeated name appears twice). Empty pieces ("a=1&&b")
// are skipped. InvalidArgument for bad escapes or too many parameters.
queue::Result<QueryParams> ParseQuery(std::string_view query);

// The last value of `name`, or nullopt.
std::optional<std::string> QueryValue(const QueryParams& params, std::string_view name);

}  // namespace wasmq::api
