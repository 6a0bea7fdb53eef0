// File: src/http/aws_presign.cc
//
// AWS SigV4 query signing (presigned URLs). Requests are signed by libcurl (CURLOPT_AWS_SIGV4, in
// transfer.cc); a URL handed to someone else to fetch cannot be, so this is the one signature computed
// here: the canonical request with the X-Amz-* query and UNSIGNED-PAYLOAD, the string to sign, and the
// chain of HMAC-SHA-256 keys (date, region, service, "aws4_request").
#include <algorithm>
#include <ctime>
#include <utility>
#include <vector>

#include "base/digest.h"
#include "base/encoding.h"
#include "http/http.h"

namespace wasmq::http {
namespace {

std::string FormatUtc(int64_t when, const char* format) {
  std::time_t t = static_cast<std::time_t>(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

}  // namespace

std::string AwsUriEncode(std::string_view s, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string PresignAwsUrl(const AwsSigV4& aws, std::string_view method, std::string_view url, int64_t when,
                          int64_t expires_seconds) {
  // scheme://host[:port]/path[?query]: the host as the client will send it in Host, the path as given.
  const size_t scheme_end = url.find("://");
  const size_t host_start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  const size_t path_start = std::min(url.find('/', host_start), url.find('?', host_start));
  std::string_view host = url.substr(host_start, path_start == std::string_view::npos ? url.npos : path_start - host_start);
  std::string_view rest = path_start == std::string_view::npos ? std::string_view("/") : url.substr(path_start);
  std::string_view path = rest.substr(0, rest.find('?'));
  if (path.empty()) path = "/";
  std::vector<std::pair<std::string, std::string>> query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    std::string_view qs = rest.substr(q + 1);
    while (!qs.empty()) {
      std::string_view kv = qs.substr(0, qs.find('&'));
      const size_t eq = kv.find('=');
      query.emplace_back(std::string(kv.substr(0, eq)), eq == kv.npos ? "" : std::string(kv.substr(eq + 1)));
      qs.remove_prefix(std::min(qs.size(), kv.size() + 1));
    }
  }
  const std::string date = FormatUtc(when, "%Y%m%d"), stamp = FormatUtc(when, "%Y%m%dT%H%M%SZ");
  const std::string scope = date + "/" + aws.region + "/" + aws.service + "/aws4_request";
  query.emplace_back("X-Amz-Algorithm", "AWS4-HMAC-SHA256");
  query.emplace_back("X-Amz-Credential", AwsUriEncode(aws.credentials.access_key + "/" + scope, false));
  query.emplace_back("X-Amz-Date", stamp);
  query.emplace_back("X-Amz-Expires", std::to_string(std::clamp<int64_t>(expires_seconds, 1, 604800)));
  if (!aws.credentials.session_token.empty())
    query.emplace_back("X-Amz-Security-Token", AwsUriEncode(aws.credentials.session_token, false));
  query.emplace_back("X-Amz-SignedHeaders", "host");
  std::sort(query.begin(), query.end());
  std::string canonical_query;
  for (const auto& [k, v] : query) canonical_query += (canonical_query.empty() ? "" : "&") + k + "=" + v;

  const std::string canonical_request = std::string(method) + "\n" + std::string(path) + "\n" + canonical_query +
                                        "\nhost:" + std::string(host) + "\n\nhost\nUNSIGNED-PAYLOAD";
  const std::string string_to_sign =
      "AWS4-HMAC-SHA256\n" + stamp + "\n" + scope + "\n" + base::Sha256Hex(canonical_request);
  std::string key = base::HmacSha256("AWS4" + aws.credentials.secret_key, date);
  key = base::HmacSha256(key, aws.region);
  key = base::HmacSha256(key, aws.service);
  key = base::HmacSha256(key, "aws4_request");
  const std::string signature = base::HexEncode(base::HmacSha256(key, string_to_sign));
  return std::string(url.substr(0, path_start == std::string_view::npos ? url.size() : path_start)) +
         std::string(path) + "?" + canonical_query + "&X-Amz-Signature=" + signature;
}

}  // namespace wasmq::http
