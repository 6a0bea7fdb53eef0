// File: src/api/multipart.cc
//
// A multipart body is: an ignored preamble, then for each part the delimiter line "--BOUNDARY" CRLF, header
// lines, an empty line, and the data up to the next CRLF "--BOUNDARY"; the last delimiter is "--BOUNDARY--".
// We search for the delimiter with CRLF in front (so a data byte sequence that merely contains the boundary
// text mid-line cannot end a part), accept a bare LF as some clients send it, and refuse everything else.
#include "api/multipart.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "base/strings.h"

namespace wasmq::api {
namespace {

using queue::InvalidArgument;

using base::Lower;

// HTTP's optional whitespace (RFC 9110 §5.6.3): spaces and tabs only.
std::string_view Trim(std::string_view s) { return base::Trim(s, " \t"); }

bool IsTokenChar(char c) {
  if (static_cast<unsigned char>(c) <= 32 || static_cast<unsigned char>(c) >= 127) return false;
  return std::string_view("()<>@,;:\\\"/[]?={}").find(c) == std::string_view::npos;
}

// Parses `; name=value` pairs (values are tokens or quoted strings) from `s` into `out`.
queue::Result<void> ParseParams(std::string_view s, std::map<std::string, std::string>& out) {
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  while (true) {
    skip_ws();
    if (i == s.size()) return {};
    if (s[i] != ';') return InvalidArgument("expected ';' between parameters");
    ++i;
    skip_ws();
    if (i == s.size()) return {};  // a trailing ';' is harmless
    size_t start = i;
    while (i < s.size() && IsTokenChar(s[i])) ++i;
    if (i == start || i == s.size() || s[i] != '=') return InvalidArgument("malformed parameter");
    std::string name = Lower(s.substr(start, i - start));
    ++i;
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        char c = s[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < s.size()) c = s[i++];
        value.push_back(c);
      }
      if (!closed) return InvalidArgument("unterminated quoted parameter");
    } else {
      start = i;
      while (i < s.size() && IsTokenChar(s[i])) ++i;
      if (i == start) return InvalidArgument("empty parameter value");
      value = std::string(s.substr(start, i - start));
    }
    if (out.size() >= 16) return InvalidArgument("too many parameters");
    out[name] = std::move(value);
  }
}

// Reads one line (up to CRLF or LF) from `s` at `pos`; nullopt when there is no line end.
std::optional<std::string_view> ReadLine(std::string_view s, size_t& pos) {
  size_t lf = s.find('\n', pos);
  if (lf == std::string_view::npos) return std::nullopt;
  std::string_view line = s.substr(pos, lf - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos = lf + 1;
  return line;
}

// Reads a part's header lines (after its delimiter line) into `part`, leaving `pos` at the data.
queue::Result<void> ReadPartHeaders(std::string_view body, size_t& pos, Part& part) {
  size_t start = pos;
  bool has_disposition = false;
  part.content_type = "text/plain";
  while (true) {
    auto line = ReadLine(body, pos);
    if (!line) return InvalidArgument("multipart: a part's headers do not end");
    if (pos - start > kMaxPartHeaderBytes) return InvalidArgument("multipart: a part's headers are too large");
    if (line->empty()) break;
    size_t colon = line->find(':');
    if (colon == std::string_view::npos || colon == 0) return InvalidArgument("multipart: malformed part header");
    std::string name = Lower(Trim(line->substr(0, colon)));
    std::string_view value = Trim(line->substr(colon + 1));
    if (name == "content-disposition") {
      size_t semi = value.find(';');
      if (Lower(Trim(value.substr(0, semi))) != "form-data")
        return InvalidArgument("multipart: Content-Disposition must be form-data");
      std::map<std::string, std::string> params;
      if (semi != std::string_view::npos) {
        if (auto r = ParseParams(value.substr(semi), params); !r)
          return InvalidArgument("multipart: Content-Disposition: " + r.error().message);
      }
      part.name = params["name"];
      part.filename = params["filename"];
      has_disposition = true;
    } else if (name == "content-type") {
      auto mt = ParseMediaType(value);
      if (!mt) return InvalidArgument("multipart: part Content-Type: " + mt.error().message);
      part.content_type = mt->type;
    }
  }
  if (!has_disposition) return InvalidArgument("multipart: a part has no Content-Disposition");
  return {};
}

}  // namespace

queue::Result<MediaType> ParseMediaType(std::string_view value) {
  MediaType mt;
  value = Trim(value);
  size_t semi = value.find(';');
  std::string_view type = Trim(value.substr(0, semi));
  size_t slash = type.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == type.size())
    return InvalidArgument("media type must be type/subtype");
  for (size_t i = 0; i < type.size(); ++i)
    if (i != slash && !IsTokenChar(type[i])) return InvalidArgument("media type has a bad character");
  mt.type = Lower(type);
  if (semi != std::string_view::npos) {
    if (auto r = ParseParams(value.substr(semi), mt.params); !r) return r.error();
  }
  return mt;
}

queue::Result<std::vector<Part>> ParseMultipart(std::string_view body, std::string_view boundary) {
  if (boundary.empty() || boundary.size() > kMaxBoundaryLength)
    return InvalidArgument("multipart: the boundary must be 1 to 70 characters");
  const std::string dash = "--" + std::string(boundary);
  // The first delimiter may start the body (no preamble) or follow a line break.
  size_t pos;
  if (body.starts_with(dash)) {
    pos = 0;
  } else {
    size_t found = body.find("\n" + dash);
    if (found == std::string_view::npos) return InvalidArgument("multipart: no opening boundary");
    pos = found + 1;
  }
  std::vector<Part> parts;
  while (true) {
    // `pos` is at a delimiter: "--BOUNDARY" followed by "--" (the end) or a line end.
    pos += dash.size();
    if (body.substr(pos, 2) == "--") return parts;
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;  // transport padding
    auto rest = ReadLine(body, pos);
    if (!rest) return InvalidArgument("multipart: truncated after a boundary");
    if (!rest->empty()) return InvalidArgument("multipart: text after a boundary");
    if (parts.size() == kMaxParts) return InvalidArgument("multipart: more than 32 parts");
    Part part;
    if (auto r = ReadPartHeaders(body, pos, part); !r) return r.error();
    // The data ends at the next line break followed by the delimiter.
    size_t next = body.find("\n" + dash, pos);
    if (next == std::string_view::npos) return InvalidArgument("multipart: no closing boundary");
    size_t end = next;
    if (end > pos && body[end - 1] == '\r') --end;
    part.data = body.substr(pos, end - pos);
    parts.push_back(std::move(part));
    pos = next + 1;
  }
}

}  // namespace wasmq::api
