// File: src/api/router.h
//
// Internal to the api part: the route table. A pattern is a path of literal segments and `{name}`
// placeholders, each matching one non-empty segment ("/api/v1/tasks/{id}"); a last `{name...}` matches the
// rest of the path, one segment or more. Placeholder values are percent-decoded. Routes are tried in the
// order they were added, so a literal route ("/api/v1/tasks/stats") added before a placeholder one wins.
//
// The table is also what the OpenAPI test compares the published document with: every route is in
// openapi.json under its method, and nothing else is.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/http_types.h"

namespace wasmq::api {

struct Caller {
  std::string user;  // the token's `sub`; "" for the anonymous user (auth off)
  std::shared_ptr<const nlohmann::json> claims = {};  // the token's payload (auth on)
};

struct PathParams {
  std::vector<std::pair<std::string, std::string>> values;
  const std::string& Get(std::string_view name) const;  // "" when absent
};

using Handler = std::function<Response(const Request&, const PathParams&, const Caller&)>;

struct Route {
  std::string method = {};   // "GET", "POST"
  std::string pattern = {};  // "/api/v1/tasks/{id}"
  Handler handler = {};  // unset for a WebSocket route (the session upgrades it)
  bool websocket = false;
  bool authenticated = true;  // needs a caller (when auth is on)
  bool rate_limited = true;
};

class Router {
 public:
  void Add(Route route);

  struct Match {
    const Route* route = nullptr;      // null: no route has this method and path
    PathParams params;
    std::vector<std::string> allowed;  // when the path matched under other methods only (405)
  };
  // `path` is still percent-encoded. HEAD matches a GET route.
  Match Find(std::string_view method, std::string_view path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

// Matches one pattern against a path; nullopt when it does not match or a segment decodes badly.
std::optional<PathParams> MatchPattern(std::string_view pattern, std::string_view path);

}  // namespace wasmq::api
