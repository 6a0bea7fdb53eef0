// File: src/api/router.cc
#include "api/router.h"

#include "api/query.h"

namespace wasmq::api {
namespace {

// Splits "/a/b/c" into {"a","b","c"}; "/" into {""}.
std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.starts_with('/')) path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    path.remove_prefix(slash + 1);
  }
}

}  // namespace

const std::string& PathParams::Get(std::string_view name) const {
  static const std::string kEmpty;
  for (const auto& [k, v] : values)
    if (k == name) return v;
  return kEmpty;
}

std::optional<PathParams> MatchPattern(std::string_view pattern, std::string_view path) {
  if (!path.starts_with('/')) return std::nullopt;
  std::vector<std::string_view> want = Segments(pattern), got = Segments(path);
  PathParams params;
  for (size_t i = 0; i < want.size(); ++i) {
    std::string_view w = want[i];
    bool placeholder = w.size() > 2 && w.front() == '{' && w.back() == '}';
    if (placeholder && w.ends_with("...}")) {
      if (i >= got.size()) return std::nullopt;
      // The rest of the path, each segment decoded on its own so that an encoded '/' cannot add a level.
      std::string rest;
      for (size_t j = i; j < got.size(); ++j) {
        auto seg = PercentDecode(got[j], false);
        if (!seg || seg->empty() || seg->find('/') != std::string::npos) return std::nullopt;
        rest += (j > i ? "/" : "") + *seg;
      }
      params.values.emplace_back(std::string(w.substr(1, w.size() - 5)), std::move(rest));
      return params;
    }
    if (i >= got.size()) return std::nullopt;
    if (placeholder) {
      auto seg = PercentDecode(got[i], false);
      if (!seg || seg->empty()) return std::nullopt;
      params.values.emplace_back(std::string(w.substr(1, w.size() - 2)), std::move(*seg));
    } else if (w != got[i]) {
      return std::nullopt;
    }
  }
  if (got.size() != want.size()) return std::nullopt;
  return params;
}

void Router::Add(Route route) { routes_.push_back(std::move(route)); }

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  Match m;
  std::string_view as = method == "HEAD" ? std::string_view("GET") : method;
  for (const Route& r : routes_) {
    auto params = MatchPattern(r.pattern, path);
    if (!params) continue;
    if (r.method == as) {
      m.route = &r;
      m.params = std::move(*params);
      return m;
    }
    m.allowed.push_back(r.method);
    if (r.method == "GET") m.allowed.push_back("HEAD");
  }
  return m;
}

}  // namespace wasmq::api
