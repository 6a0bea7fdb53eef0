// File: src/http/http.h
//
// The one HTTP client of wasmq, over libcurl: the registry client (oci), the http and comfyui engines,
// and whatever comes next (signing, model pulls, S3) send their requests through it. No other part may
// use libcurl.
//
//   http::Client client({.user_agent = "wasmq"});
//   http::Request req;
//   req.url = "https://registry.example/v2/";
//   req.timeouts.total = 30s;
//   req.retry.retries = 2;                       // idempotent methods only, unless retry.any_method
//   http::Response r = client.Send(req);
//   if (!r.error) use(r.status, r.body); else report(r.error.kind, r.error.reason);
//
// What a request gets:
//   - timeouts: connect, total, and a low-speed limit (a stalled large transfer ends; a slow one does not);
//   - retries with exponential backoff and jitter on connect failures, 429 and 5xx (timeouts if asked),
//     for GET/HEAD/PUT/DELETE/OPTIONS; a Retry-After answer is waited for when it is within the bound,
//     and ends the retries when it is longer;
//   - redirects followed here, not by libcurl, so that Authorization, Cookie and the request's other
//     secret headers are sent only to the origin they were given for (a blob redirect to storage);
//   - streaming: a 2xx body may go to a sink (never held in memory), a request body may come from a
//     reader; every body is capped (TooLarge);
//   - cancellation from another thread: `cancelled` is polled at least every 50 ms during a transfer
//     and during backoff waits;
//   - an optional transcript of every exchange (each attempt and each redirect hop) with secrets
//     redacted: URLs keep only harmless query keys, only allow-listed response headers are kept.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace wasmq::http {

using Millis = std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

struct Timeouts {
  Millis connect{10'000};
  Millis total{0};                 // the whole attempt, redirects included; 0: none
  int64_t low_speed_bytes = 0;     // with low_speed_time: under this many bytes/s for that long ends it
  std::chrono::seconds low_speed_time{0};
};

struct RetryPolicy {
  int retries = 0;                 // attempts after the first
  Millis backoff{500};             // before retry n (0-based): backoff * 2^n, with jitter (50..100 %)
  Millis max_backoff{30'000};
  Millis max_retry_after{10'000};  // a longer Retry-After ends the retries (the answer is returned)
  bool any_method = false;         // also POST/PATCH (the caller knows the request is safe to repeat)
  bool on_timeout = false;         // also when an attempt timed out
  bool jitter = true;              // off only for tests that measure the waits
};

struct Part {  // one field of a multipart/form-data body
  std::string name, data;
  std::string filename = {};      // set: a file field
  std::string content_type = {};  // e.g. "application/json", "image/png"
};

// A request body too large to hold: `read` fills `buf` from `offset` (so a retry or a redirect can
// start over) and returns the bytes written, 0 at the end; `size` is the whole length.
struct BodyReader {
  int64_t size = 0;
  std::function<size_t(int64_t offset, char* buf, size_t max)> read;
};

// AWS Signature Version 4 for a request, computed by libcurl (CURLOPT_AWS_SIGV4): the keys go in as the
// transfer's user name and password, a session token as x-amz-security-token (signed with the rest). The
// payload's hash is sent as x-amz-content-sha256: the hash of `body` for an in-memory body, the caller's
// `payload_sha256` for a reader, else UNSIGNED-PAYLOAD (S3 accepts it; the body is not held to hash it).
struct AwsCredentials {
  std::string access_key, secret_key, session_token = {};
};
struct AwsSigV4 {
  AwsCredentials credentials;
  std::string region = "us-east-1";
  std::string service = "s3";
  std::string payload_sha256 = {};  // lower-case hex of a reader's body, when the caller knows it
};

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers = {};  // "Name: value"; may hold secrets: never logged or echoed
  // More header names (besides Authorization, Proxy-Authorization, Cookie) dropped on a cross-origin
  // redirect, e.g. an API key header.
  std::vector<std::string> secret_headers = {};
  std::string body = {};
  BodyReader body_reader = {};            // set (read): the body, instead of `body`
  std::vector<Part> multipart = {};       // non-empty: the body is multipart/form-data of these
  bool follow_redirects = false;
  int max_redirects = 10;
  bool decode_content = false;            // ask for gzip/deflate/br and decode (never for blobs)
  Timeouts timeouts = {};
  RetryPolicy retry = {};
  SteadyTime deadline = SteadyTime::max();  // bounds every attempt and wait
  // Streams a 2xx body: called with each chunk; false aborts (ErrorKind::Aborted). Other answers are
  // kept in `body` (their first MiB) for the caller's error message.
  std::function<bool(std::string_view)> sink = {};
  size_t max_body_bytes = 64u << 20;      // received bytes, in memory or to the sink; over: TooLarge
  std::function<bool()> cancelled = {};   // true ends the transfer (ErrorKind::Cancelled)
  const AwsSigV4* aws_sigv4 = nullptr;    // set: signed for AWS (must outlive Send)
};

enum class ErrorKind {
  None,
  Dns,        // the name did not resolve
  Connect,    // no connection (refused, unreachable)
  Tls,        // handshake or certificate
  Timeout,    // a timeout or the deadline
  Transfer,   // the connection broke mid-way (send/recv error, empty reply)
  TooLarge,   // over max_body_bytes
  Cancelled,  // `cancelled` said so
  Aborted,    // the sink returned false
  Other,
};
std::string_view KindName(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::None;
  std::string reason;  // libcurl's words, or ours; never a header, never the URL
  explicit operator bool() const { return kind != ErrorKind::None; }
};

struct Response {
  Error error;       // set: no (complete) answer; status may still hold the last one seen
  int status = 0;
  std::map<std::string, std::vector<std::string>> headers;  // lower-cased names
  std::string body;  // empty when streamed to the sink
  std::string url;   // the one that answered (after redirects)
  int attempts = 0;
  size_t streamed_bytes = 0;  // given to the sink; once any were, a failed attempt is not repeated
  std::string Header(const std::string& lower_name) const;  // the first value, or ""
  std::string ContentType() const { return Header("content-type"); }
};

// One exchange for a transcript, already redacted.
struct Exchange {
  std::string method;
  std::string url;   // RedactUrl
  int status = 0;    // 0: no answer (see error)
  std::vector<std::pair<std::string, std::string>> headers;  // allow-listed response headers
  std::string error;
  double elapsed_ms = 0;
};

struct ClientOptions {
  std::string user_agent = "wasmq";
  bool tls_verify = true;   // off only for tests against self-signed servers
  std::string ca_file = {}; // PEM bundle instead of the system's
  std::function<void(const Exchange&)> on_exchange = {};  // the transcript, on the calling thread
};

// Stateless apart from its options: one Client may serve many threads at once.
class Client {
 public:
  explicit Client(ClientOptions options = {});
  Response Send(const Request& request) const;
  const ClientOptions& options() const { return options_; }

 private:
  ClientOptions options_;
};

// A URL fit for a log or transcript: query values kept only for harmless keys (service, scope, n, last,
// digest, mount, from, client_id); the others (signatures, tokens, keys) become "REDACTED".
std::string RedactUrl(std::string_view url);
// A "Name: value" header line with the value replaced by "REDACTED" when it may hold a secret
// (Authorization, Proxy-Authorization, Cookie, Set-Cookie, anything named *token*, *key*, *secret*).
std::string RedactHeader(std::string_view line);

// A presigned URL (AWS SigV4 query signing): `url` ("https://host/bucket/key", already percent-encoded as
// it will be sent) with X-Amz-Algorithm, -Credential, -Date (`when`, seconds since the epoch), -Expires
// (seconds, at most 7 days), -SignedHeaders=host, the session token if any and -Signature appended, valid
// for a plain GET by anyone holding it. libcurl signs requests but cannot presign, so this is computed here
// (HMAC-SHA-256 from base), checked against the example in the AWS documentation.
std::string PresignAwsUrl(const AwsSigV4& aws, std::string_view method, std::string_view url, int64_t when,
                          int64_t expires_seconds);
// RFC 3986 percent-encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ (and '/' when
// `keep_slash`: an object key in a path).
std::string AwsUriEncode(std::string_view s, bool keep_slash);

// A sink writing to an open file; false (abort) when a write fails.
std::function<bool(std::string_view)> FileSink(std::FILE* out);

}  // namespace wasmq::http
