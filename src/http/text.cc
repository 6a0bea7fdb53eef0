// File: src/http/text.cc
//
// The text helpers of the http part: redaction for transcripts and logs, query encoding, error names.
#include <cctype>
#include <set>

#include "http/http.h"

#include "base/strings.h"

namespace wasmq::http {
namespace {

}  // namespace

std::string_view KindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::None: return "none";
    case ErrorKind::Dns: return "dns";
    case ErrorKind::Connect: return "connect";
    case ErrorKind::Tls: return "tls";
    case ErrorKind::Timeout: return "timeout";
    case ErrorKind::Transfer: return "transfer";
    case ErrorKind::TooLarge: return "too-large";
    case ErrorKind::Cancelled: return "cancelled";
    case ErrorKind::Aborted: return "aborted";
    case ErrorKind::Other: return "other";
  }
  return "other";
}

std::string Response::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() || it->second.empty() ? std::string() : it->second.front();
}

std::string RedactUrl(std::string_view url) {
  auto q = url.find('?');
  if (q == std::string_view::npos) return std::string(url);
  static const std::set<std::string> keep = {"service", "scope", "n",    "last",
                                             "digest",  "mount", "from", "client_id"};
  std::string out(url.substr(0, q + 1));
  std::string_view query = url.substr(q + 1);
  bool first = true;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    auto eq = kv.find('=');
    std::string key(kv.substr(0, eq));
    if (!first) out += '&';
    first = false;
    if (eq == std::string_view::npos) out += key;
    else if (keep.count(base::Lower(key))) out += kv;
    else out += key + "=REDACTED";
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

std::string RedactHeader(std::string_view line) {
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return std::string(line);
  std::string name = base::Lower(line.substr(0, colon));
  static const std::set<std::string> secret = {"authorization", "proxy-authorization", "cookie", "set-cookie"};
  bool hide = secret.count(name) || name.find("token") != std::string::npos ||
              name.find("key") != std::string::npos || name.find("secret") != std::string::npos ||
              name.find("signature") != std::string::npos;
  return hide ? std::string(line.substr(0, colon)) + ": REDACTED" : std::string(line);
}

std::function<bool(std::string_view)> FileSink(std::FILE* out) {
  return [out](std::string_view chunk) { return std::fwrite(chunk.data(), 1, chunk.size(), out) == chunk.size(); };
}

}  // namespace wasmq::http
