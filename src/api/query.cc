// File: src/api/query.cc
#include "api/query.h"

namespace wasmq::api {
queue::Result<QueryParams> ParseQuery(std::string_view query) {
  QueryParams params;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (piece.empty()) continue;
    if (params.size() == kMaxQueryParams)
      return queue::InvalidArgument("query: more than " + std::to_string(kMaxQueryParams) + " parameters");
    size_t eq = piece.find('=');
    auto name = PercentDecode(piece.substr(0, eq), true);
    auto value = PercentDecode(eq == std::string_view::npos ? std::string_view{} : piece.substr(eq + 1), true);
    if (!name || !value) return queue::InvalidArgument("query: bad percent-encoding in '" + std::string(piece.substr(0, 64)) + "'");
    params.emplace_back(std::move(*name), std::move(*value));
  }
  return params;
}

std::optional<std::string> QueryValue(const QueryParams& params, std::string_view name) {
  std::optional<std::string> found;
  for (const auto& [k, v] : params)
    if (k == name) found = v;
  return found;
}

}  // namespace wasmq::api
