// File: src/http/client.cc
//
// Client::Send: the attempts (retries with backoff, Retry-After) around the redirect hops, each hop one
// Transfer, each recorded in the transcript.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <random>
#include <set>
#include <thread>

#include "http/transfer.h"

namespace wasmq::http {
namespace {

using internal::Hop;
using internal::HopResult;

bool Idempotent(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" || method == "OPTIONS";
}

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::string HeaderName(std::string_view line) {
  std::string name(line.substr(0, line.find(':')));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!name.empty() && name.back() == ' ') name.pop_back();
  return name;
}

// Headers that must not follow a redirect to another origin.
bool Secret(const std::string& lower_name, const Request& req) {
  if (lower_name == "authorization" || lower_name == "proxy-authorization" || lower_name == "cookie") return true;
  for (const std::string& s : req.secret_headers)
    if (HeaderName(s) == lower_name) return true;
  return false;
}

// Response headers worth keeping in a transcript; never Set-Cookie or anything carrying a secret.
const std::set<std::string>& TranscriptHeaders() {
  static const std::set<std::string> h = {"content-type", "content-length", "docker-content-digest",
                                          "docker-distribution-api-version", "www-authenticate", "location",
                                          "retry-after", "ratelimit-limit", "ratelimit-remaining", "link",
                                          "content-range", "oci-subject"};
  return h;
}

void Record(const ClientOptions& options, const Hop& hop, const HopResult& r, SteadyTime start) {
  if (!options.on_exchange) return;
  Exchange ex;
  ex.method = hop.method;
  ex.url = RedactUrl(hop.url);
  ex.status = r.error ? 0 : r.status;
  ex.error = r.error ? r.error.reason : "";
  ex.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  for (const auto& [name, values] : r.headers)
    if (TranscriptHeaders().count(name))
      for (const auto& v : values) ex.headers.emplace_back(name, name == "location" ? RedactUrl(v) : v);
  options.on_exchange(ex);
}

// One attempt: the request and the redirects it leads to.
Response Attempt(const Request& req, const ClientOptions& options) {
  Hop hop{req.method, req.url, req.headers, true};
  const std::string origin = internal::Origin(req.url);
  Response out;
  for (int hops = 0;; ++hops) {
    const auto start = std::chrono::steady_clock::now();
    HopResult r = internal::Transfer(req, hop, options);
    Record(options, hop, r, start);
    out.error = std::move(r.error);
    out.status = r.status;
    out.headers = std::move(r.headers);
    out.body = std::move(r.body);
    out.url = hop.url;
    out.streamed_bytes += r.streamed;
    if (out.error || !req.follow_redirects || !IsRedirect(out.status) || r.redirect_url.empty()) return out;
    if (hops >= req.max_redirects) {
      out.error = {ErrorKind::Other, "more than " + std::to_string(req.max_redirects) + " redirects"};
      return out;
    }
    hop.url = r.redirect_url;
    if (internal::Origin(hop.url) != origin)
      std::erase_if(hop.headers, [&](const std::string& h) { return Secret(HeaderName(h), req); });
    // As browsers do: 303, and 301/302 after a POST, become a GET without the body.
    if (out.status == 303 || ((out.status == 301 || out.status == 302) && hop.method == "POST")) {
      if (hop.method != "HEAD") hop.method = "GET";
      hop.send_body = false;
      std::erase_if(hop.headers, [](const std::string& h) {
        std::string n = HeaderName(h);
        return n == "content-type" || n == "content-length";
      });
    }
  }
}

bool Retryable(const Response& r, const RetryPolicy& p) {
  switch (r.error.kind) {
    case ErrorKind::None: return r.status == 429 || r.status >= 500;
    case ErrorKind::Dns:
    case ErrorKind::Connect:
    case ErrorKind::Transfer: return true;
    case ErrorKind::Timeout: return p.on_timeout;
    default: return false;
  }
}

// Retry-After: seconds, or an HTTP date; -1 when absent or unreadable.
Millis RetryAfter(const Response& r) {
  std::string v = r.Header("retry-after");
  if (v.empty()) return Millis(-1);
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return v.size() > 9 ? Millis::max() : Millis(std::stoll(v) * 1000);
  time_t when = curl_getdate(v.c_str(), nullptr);
  if (when < 0) return Millis(-1);
  return Millis(std::max<int64_t>(0, (static_cast<int64_t>(when) - std::time(nullptr)) * 1000));
}

Millis Backoff(const RetryPolicy& p, int retry) {
  auto ms = p.backoff.count() << std::min(retry, 20);
  ms = std::min<int64_t>(ms, p.max_backoff.count());
  if (p.jitter && ms > 0) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    ms = ms / 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(ms / 2 + 1));
  }
  return Millis(ms);
}

// Sleeps in slices so that a cancel is seen; false when cancelled.
bool Wait(const Request& req, Millis d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    if (req.cancelled && req.cancelled()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        Millis(50), until - std::chrono::steady_clock::now()));
  }
  return !(req.cancelled && req.cancelled());
}

}  // namespace

Client::Client(ClientOptions options) : options_(std::move(options)) {}

Response Client::Send(const Request& req) const {
  const bool may_retry = req.retry.retries > 0 && (req.retry.any_method || Idempotent(req.method));
  Response r;
  for (int attempt = 0;; ++attempt) {
    r = Attempt(req, options_);
    r.attempts = attempt + 1;
    // A sink cannot take back what it was given: a transfer broken mid-way is the caller's to resume.
    if (!may_retry || attempt >= req.retry.retries || !Retryable(r, req.retry) || r.streamed_bytes > 0) return r;
    Millis wait = Backoff(req.retry, attempt);
    if (!r.error) {
      Millis after = RetryAfter(r);
      if (after > req.retry.max_retry_after) return r;  // the server asks for longer than we wait
      wait = std::max(wait, after);
    }
    if (req.deadline != SteadyTime::max() && std::chrono::steady_clock::now() + wait >= req.deadline) return r;
    if (!Wait(req, wait)) {
      r.error = {ErrorKind::Cancelled, "cancelled"};
      return r;
    }
  }
}

}  // namespace wasmq::http
