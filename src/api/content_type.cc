// File: src/api/content_type.cc
#include "api/content_type.h"

#include <array>
#include <utility>

namespace wasmq::api {

std::string_view ContentTypeForName(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 16> kTypes = {{
      {".html", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".webp", "image/webp"},
      {".gif", "image/gif"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
      {".woff2", "font/woff2"},
      {".map", "application/json"},
  }};
  size_t dot = name.rfind('.');
  if (dot != std::string_view::npos) {
    std::string_view ext = name.substr(dot);
    for (const auto& [e, type] : kTypes)
      if (e.size() == ext.size()) {
        bool same = true;
        for (size_t i = 0; i < e.size(); ++i)
          same = same && e[i] == static_cast<char>(ext[i] >= 'A' && ext[i] <= 'Z' ? ext[i] + 32 : ext[i]);
        if (same) return type;
      }
  }
  return "application/octet-stream";
}

std::string ContentDisposition(std::string_view content_type, std::string_view filename) {
  bool inline_ok = content_type.starts_with("image/png") || content_type.starts_with("image/jpeg") ||
                   content_type.starts_with("image/webp") || content_type.starts_with("image/gif") ||
                   content_type.starts_with("application/json") || content_type.starts_with("text/plain");
  size_t slash = filename.rfind('/');
  if (slash != std::string_view::npos) filename.remove_prefix(slash + 1);
  std::string safe;
  for (char c : filename.substr(0, 128)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_';
    safe.push_back(ok ? c : '_');
  }
  if (safe.empty()) safe = "file";
  return std::string(inline_ok ? "inline" : "attachment") + "; filename=\"" + safe + "\"";
}

}  // namespace wasmq::api
