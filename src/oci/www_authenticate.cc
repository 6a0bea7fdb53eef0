// File: src/oci/www_authenticate.cc
//
// RFC 7235 challenges: `Bearer realm="https://auth",service="registry",scope="repository:a:pull"`, several
// per header separated by commas. The grammar is ambiguous (commas separate both params and challenges); a
// token followed by '=' is a param, a token followed by space/end without '=' starts a new challenge.
#include <cctype>

#include "base/strings.h"
#include "oci/oci.h"

namespace wasmq::oci {
namespace {

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~/").find(c) != std::string_view::npos;
}

struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool done() const { return i >= s.size(); }
  void SkipSpace() { while (!done() && (s[i] == ' ' || s[i] == '\t')) ++i; }
  void SkipSpaceAndCommas() { while (!done() && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) ++i; }
  std::string Token() {
    size_t b = i;
    while (!done() && IsTokenChar(s[i])) ++i;
    return std::string(s.substr(b, i - b));
  }
  std::string Quoted() {  // at '"'
    std::string out;
    ++i;
    while (!done() && s[i] != '"') {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      out += s[i++];
    }
    if (!done()) ++i;
    return out;
  }
};

}  // namespace

std::string Challenge::Param(const std::string& key) const {
  auto it = params.find(key);
  return it == params.end() ? std::string() : it->second;
}

std::vector<Challenge> ParseWwwAuthenticate(std::string_view header) {
  std::vector<Challenge> out;
  Cursor c{header};
  while (true) {
    c.SkipSpaceAndCommas();
    if (c.done()) break;
    std::string scheme = c.Token();
    if (scheme.empty()) {  // garbage: skip one character and go on
      ++c.i;
      continue;
    }
    Challenge ch;
    ch.scheme = scheme;
    // Params until a token not followed by '='.
    while (true) {
      c.SkipSpaceAndCommas();
      if (c.done()) break;
      size_t mark = c.i;
      std::string key = c.Token();
      c.SkipSpace();
      if (key.empty() || c.done() || c.s[c.i] != '=') {
        if (key.empty() && !c.done()) {
          ++c.i;  // stray character
          continue;
        }
        c.i = mark;  // a new challenge begins here (or token68: treated as a scheme)
        break;
      }
      ++c.i;  // '='
      c.SkipSpace();
      // token68 values may end in '=' padding: `Basic abc==` is rare for challenges; skip extra '='.
      std::string value;
      if (!c.done() && c.s[c.i] == '"') {
        value = c.Quoted();
      } else {
        value = c.Token();
        while (!c.done() && c.s[c.i] == '=') value += c.s[c.i++];
      }
      ch.params[base::Lower(key)] = value;
    }
    out.push_back(std::move(ch));
  }
  return out;
}

}  // namespace wasmq::oci
