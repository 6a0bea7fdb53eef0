// File: src/oci/http.cc
#include "oci/http.h"

#include <curl/curl.h>

#include <chrono>
#include <mutex>
#include <set>

#include "base/strings.h"
#include "oci/util.h"

namespace wasmq::oci::internal {
namespace {

// Response headers worth keeping in a transcript; never Set-Cookie or anything carrying a secret.
const std::set<std::string>& TranscriptHeaders() {
  static const std::set<std::string> h = {"content-type", "content-length", "docker-content-digest",
                                          "docker-distribution-api-version", "www-authenticate", "location",
                                          "retry-after", "ratelimit-limit", "ratelimit-remaining", "link",
                                          "content-range", "oci-subject"};
  return h;
}

NetworkStage Classify(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return NetworkStage::Dns;
    case CURLE_COULDNT_CONNECT: return NetworkStage::Connect;
    case CURLE_OPERATION_TIMEDOUT: return NetworkStage::Timeout;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED: return NetworkStage::Tls;
    default: return NetworkStage::Other;
  }
}

struct Collect {
  HttpResponse* response;
  const HttpRequest* request;
  CURL* curl;
  bool aborted = false;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* c = static_cast<Collect*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after a redirect or 100): start over
    c->response->headers.clear();
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos)
    c->response->headers[base::Lower(line.substr(0, colon))].push_back(std::string(base::Trim(line.substr(colon + 1))));
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* c = static_cast<Collect*>(user);
  std::string_view chunk(data, size * n);
  long status = 0;
  curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
  // Only a successful answer is streamed; an error body (JSON errors[]) is kept for classification.
  if (c->request->sink && status >= 200 && status < 300) {
    if (!c->request->sink(chunk)) {
      c->aborted = true;
      return 0;
    }
    return size * n;
  }
  if (c->response->body.size() < (size_t{1} << 24)) c->response->body.append(chunk);
  return size * n;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::string HttpResponse::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() || it->second.empty() ? std::string() : it->second.front();
}

std::string RedactUrl(const std::string& url) {
  auto q = url.find('?');
  if (q == std::string::npos) return url;
  static const std::set<std::string> keep = {"service", "scope", "n", "last", "digest", "mount", "from", "client_id"};
  std::string out = url.substr(0, q + 1);
  std::string_view query(url);
  query.remove_prefix(q + 1);
  bool first = true;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    auto eq = kv.find('=');
    std::string key(kv.substr(0, eq));
    if (!first) out += '&';
    first = false;
    if (eq == std::string_view::npos) out += key;
    else if (keep.count(base::Lower(key))) out += std::string(kv);
    else out += key + "=REDACTED";
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

Result<HttpResponse> Perform(const HttpRequest& req, const HttpSettings& s) {
  GlobalInit();
  CURL* curl = curl_easy_init();
  if (!curl) return MakeError(ErrorKind::Io, "curl_easy_init failed");
  HttpResponse resp;
  Collect collect{&resp, &req, curl};
  curl_slist* headers = nullptr;
  for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip before uploads
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, s.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, s.connect_timeout_ms);
  if (req.timeout_ms > 0) curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, req.timeout_ms);
  // A stalled transfer (under 1 KiB/s for 30 s) is a timeout even for a large blob.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 30L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, s.tls_verify ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, s.tls_verify ? 2L : 0L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  // Never re-send credentials to the host a redirect points at (blob storage back-ends).
  curl_easy_setopt(curl, CURLOPT_UNRESTRICTED_AUTH, 0L);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &collect);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &collect);
  if (req.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (req.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  }
  auto start = std::chrono::steady_clock::now();
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  resp.status = static_cast<int>(status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);

  Exchange ex;
  ex.method = req.method;
  ex.url = RedactUrl(req.url);
  ex.status = resp.status;
  ex.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  for (const auto& [name, values] : resp.headers)
    if (TranscriptHeaders().count(name))
      for (const auto& v : values) ex.headers.emplace_back(name, name == "location" ? RedactUrl(v) : v);
  if (rc != CURLE_OK && !(collect.aborted && rc == CURLE_WRITE_ERROR)) {
    ex.status = 0;
    ex.error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (s.transcript) s.transcript->exchanges.push_back(ex);
    Error e = MakeError(ErrorKind::Network, req.method + " " + RedactUrl(req.url) + ": " + ex.error);
    e.network = Classify(rc);
    return e;
  }
  if (s.transcript) s.transcript->exchanges.push_back(std::move(ex));
  return resp;
}

}  // namespace wasmq::oci::internal
