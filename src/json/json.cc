// File: src/json/json.cc
#include "json/json.h"

#include <vector>

namespace wasmq::json {
namespace {

using Json = nlohmann::json;

std::string DumpScalar(const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace

std::optional<size_t> TooDeepAt(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return i;
        break;
      case ']':
      case '}':
        // Unbalanced text is the parser's to refuse; never let the count go below zero.
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return std::nullopt;
}

Json Parse(std::string_view text, std::string* error, int max_depth) {
  if (auto at = TooDeepAt(text, max_depth)) {
    if (error)
      *error = "invalid JSON at byte " + std::to_string(*at + 1) + ": nested deeper than " +
               std::to_string(max_depth) + " levels";
    return Json(Json::value_t::discarded);
  }
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 1, column 2: ..."; keep the tail.
    if (error) {
      std::string what = e.what();
      auto pos = what.find("] ");
      *error = "invalid JSON at byte " + std::to_string(e.byte) + ": " +
               (pos == std::string::npos ? what : what.substr(pos + 2));
    }
  } catch (const Json::exception&) {  // out_of_range: a number beyond a double, such as 1e999
    if (error) *error = "invalid JSON: a number is out of range";
  }
  return Json(Json::value_t::discarded);
}

bool DeeperThan(const Json& value, int max_depth) {
  std::vector<std::pair<const Json*, int>> todo = {{&value, 0}};
  while (!todo.empty()) {
    auto [v, depth] = todo.back();
    todo.pop_back();
    if (!v->is_array() && !v->is_object()) continue;
    if (depth + 1 > max_depth) return true;
    for (const Json& child : *v) todo.emplace_back(&child, depth + 1);
  }
  return false;
}

size_t DumpedSize(const Json& value, size_t limit) {
  struct Frame {
    Json::const_iterator it, end;
    bool object;
    bool first;
  };
  std::vector<Frame> stack;
  size_t n = 0;
  auto visit = [&](const Json& v) {
    if (v.is_array() || v.is_object()) {
      n += 2;  // [] or {}
      if (!v.empty()) stack.push_back({v.cbegin(), v.cend(), v.is_object(), true});
    } else {
      n += DumpScalar(v).size();
    }
  };
  visit(value);
  while (!stack.empty() && n <= limit) {
    Frame& f = stack.back();
    if (f.it == f.end) {
      stack.pop_back();
      continue;
    }
    if (!f.first) n += 1;  // ','
    f.first = false;
    if (f.object) n += DumpScalar(Json(f.it.key())).size() + 1;  // "key":
    const Json& child = *f.it;
    ++f.it;
    visit(child);  // may grow the stack: `f` is not used after this
  }
  return n;
}

std::string Brief(const Json& value) {
  if (value.is_array()) return "an array of " + std::to_string(value.size());
  if (value.is_object()) return "an object of " + std::to_string(value.size()) + " members";
  std::string s;
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    s = DumpScalar(Json(text.size() > 64 ? text.substr(0, 64) : text));
  } else {
    s = DumpScalar(value);
  }
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

}  // namespace wasmq::json
