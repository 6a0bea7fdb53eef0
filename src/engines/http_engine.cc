// File: src/engines/http_engine.cc
//
// The `http` engine: an external image API (docs/engines.md "http"). One call is one HTTP request, retried
// by the http part with doubling backoff (and jitter) on 429, 5xx, timeouts and connection failures, even
// for a POST: the config's `retries` says the API may see a request twice (never on 4xx: the same request
// would be refused again). The secret of `auth` is read from its environment variable at start-up and only
// ever put into the request's header.
#include <cstdlib>

#include "base/encoding.h"
#include "engines/internal.h"
#include "json/json.h"

namespace wasmq::engines {

namespace {

enum class BodyMode { Body, Multipart };

struct HttpConfig {
  std::string url, method = "POST";
  std::vector<std::string> headers;  // including the auth header
  BodyMode mode = BodyMode::Body;
  std::string content_type;  // of the payload; "" = sniffed (image/png, image/jpeg, ...) or octet-stream
  std::string json_field = "request", file_field = "image";
  std::chrono::milliseconds attempt_timeout{30'000};
  int retries = 2;
  std::chrono::milliseconds backoff{500};
  size_t max_response_bytes = 64u << 20;
};

class HttpEngine final : public Engine {
 public:
  explicit HttpEngine(HttpConfig c) : c_(std::move(c)) {
    // The whole call: every attempt and the waits between them.
    int64_t total = c_.attempt_timeout.count() * (c_.retries + 1);
    for (int i = 0; i < c_.retries; ++i) total += c_.backoff.count() << std::min(i, 10);
    timeout_ms_ = total;
  }
  std::string_view kind() const override { return "http"; }

  Response Call(const Request& request, const CallContext& ctx) const override {
    http::Request req = Build(request);
    req.max_body_bytes =
        std::min(c_.max_response_bytes, std::max(ctx.max_response_payload, ctx.max_response_json));
    req.retry.retries = c_.retries;
    req.retry.backoff = c_.backoff;
    req.retry.max_backoff = c_.backoff * 1024;
    req.retry.any_method = true;
    req.retry.on_timeout = true;
    http::Response r = HttpCall(std::move(req), ctx);
    if (r.error || r.status < 200 || r.status >= 300) {
      Response f = MapHttpFailure(r, c_.method + " " + c_.url.substr(0, c_.url.find('?')));
      if (r.attempts > 1 && f.status != Status::Cancelled)
        f.message += " (after " + std::to_string(r.attempts) + " attempts)";
      return f;
    }
    return ToResponse(r);
  }

 private:
  http::Request Build(const Request& request) const {
    http::Request h;
    h.method = c_.method;
    h.url = c_.url;
    h.headers = c_.headers;
    h.timeouts.total = c_.attempt_timeout;
    const std::string type = c_.content_type.empty()
                                 ? SniffContentType(request.payload, "application/octet-stream")
                                 : c_.content_type;
    if (c_.mode == BodyMode::Multipart) {
      h.multipart.push_back({c_.json_field, request.json, "", "application/json"});
      if (!request.payload.empty()) h.multipart.push_back({c_.file_field, request.payload, "input", type});
      return h;
    }
    if (request.payload.empty()) {  // nothing binary: the request JSON is the body
      if (h.method != "GET") {
        h.body = request.json;
        h.headers.push_back("Content-Type: application/json");
      }
      return h;
    }
    // The payload is the body; the request's top-level scalars become query parameters.
    h.body = request.payload;
    h.headers.push_back("Content-Type: " + type);
    Json j = wasmq::json::Parse(request.json);
    std::string query;
    if (j.is_object())
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (it->is_object() || it->is_array() || it->is_null()) continue;
        std::string v = it->is_string() ? it->get<std::string>() : it->dump();
        if (!query.empty()) query += '&';
        query.append(base::PercentEncode(it.key())).append("=").append(base::PercentEncode(v));
      }
    if (!query.empty()) h.url.append(h.url.find('?') == std::string::npos ? "?" : "&").append(query);
    return h;
  }

  static Response ToResponse(const http::Response& r) {
    Response out;
    std::string type = r.ContentType().substr(0, r.ContentType().find(';'));
    for (char& ch : type) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (type == "application/json" || type.ends_with("+json")) {
      if (!Json::accept(r.body)) return Failure(Status::Failed, "the API answered invalid JSON");
      out.json = r.body.empty() ? "{}" : r.body;
      return out;
    }
    out.payload = r.body;
    out.json = Json{
        {"content_type", type.empty() ? "application/octet-stream" : type},
        {"bytes", r.body.size()},
        {"status",
         r.status}}.dump();
    return out;
  }

  HttpConfig c_;
};

}  // namespace

Result<std::unique_ptr<Engine>> NewHttpEngine(const Fields& f) {
  if (auto r =
          f.OnlyKeys({"kind", "url", "method", "headers", "auth", "timeout_ms", "retries", "retry_backoff_ms",
                      "max_response_bytes", "request", "content_type", "json_field", "file_field"});
      !r)
    return r.error();
  HttpConfig c;
  const Result<std::string> url = f.String("url");
  if (!url) return url.error();
  c.url = *url;
  if (!c.url.starts_with("http://") && !c.url.starts_with("https://"))
    return f.Fail("url", "must start with http:// or https://");
  const Result<std::string> method = f.String("method", "POST");
  if (!method) return method.error();
  c.method = *method;
  if (c.method != "GET" && c.method != "POST" && c.method != "PUT" && c.method != "PATCH")
    return f.Fail("method", "must be GET, POST, PUT or PATCH");
  const Result<std::optional<Fields>> headers = f.Object("headers");
  if (!headers) return headers.error();
  if (const std::optional<Fields>& h = *headers)
    for (auto it = h->json().begin(); it != h->json().end(); ++it) {
      if (!it->is_string()) return h->Fail(it.key(), "must be a string");
      std::string v = it->get<std::string>();
      if (it.key().find_first_of(":\r\n") != std::string::npos ||
          v.find_first_of("\r\n") != std::string::npos)
        return h->Fail(it.key(), "a header name or value cannot hold ':' or a line break");
      c.headers.push_back(it.key() + ": " + v);
    }
  const Result<std::optional<Fields>> auth = f.Object("auth");
  if (!auth) return auth.error();
  if (const std::optional<Fields>& a = *auth) {
    if (auto r = a->OnlyKeys({"type", "env", "header"}); !r) return r.error();
    const Result<std::string> type = a->String("type");
    if (!type) return type.error();
    const Result<std::string> env = a->String("env");
    if (!env) return env.error();
    const char* secret = std::getenv(env->c_str());
    if (!secret || !*secret) return a->Fail("env", "the environment variable " + *env + " is not set");
    if (std::string(secret).find_first_of("\r\n") != std::string::npos)
      return a->Fail("env", "the value of " + *env + " holds a line break");
    if (*type == "bearer") {
      c.headers.push_back(std::string("Authorization: Bearer ") + secret);
    } else if (*type == "header") {
      const Result<std::string> name = a->String("header");
      if (!name) return name.error();
      if (name->empty() || name->find_first_of(":\r\n ") != std::string::npos)
        return a->Fail("header", "is not a header name");
      c.headers.push_back(*name + ": " + secret);
    } else {
      return a->Fail("type", "must be \"bearer\" or \"header\"");
    }
  }
  const Result<std::string> mode = f.String("request", "body");
  if (!mode) return mode.error();
  if (*mode == "multipart")
    c.mode = BodyMode::Multipart;
  else if (*mode != "body")
    return f.Fail("request", "must be \"body\" or \"multipart\"");
  const std::pair<const char*, std::string*> texts[] = {
      {"content_type", &c.content_type}, {"json_field", &c.json_field}, {"file_field", &c.file_field}};
  const char* text_defaults[] = {"", "request", "image"};
  for (size_t i = 0; i < std::size(texts); ++i) {
    const Result<std::string> v = f.String(texts[i].first, text_defaults[i]);
    if (!v) return v.error();
    *texts[i].second = *v;
  }
  const Result<int64_t> timeout_ms = f.Int("timeout_ms", 30'000, 1, 3'600'000);
  if (!timeout_ms) return timeout_ms.error();
  const Result<int64_t> retries = f.Int("retries", 2, 0, 10);
  if (!retries) return retries.error();
  const Result<int64_t> backoff_ms = f.Int("retry_backoff_ms", 500, 0, 60'000);
  if (!backoff_ms) return backoff_ms.error();
  const Result<int64_t> max_response = f.Int("max_response_bytes", 64 << 20, 1, int64_t{1} << 31);
  if (!max_response) return max_response.error();
  c.attempt_timeout = std::chrono::milliseconds(*timeout_ms);
  c.retries = static_cast<int>(*retries);
  c.backoff = std::chrono::milliseconds(*backoff_ms);
  c.max_response_bytes = static_cast<size_t>(*max_response);
  return std::unique_ptr<Engine>(std::make_unique<HttpEngine>(std::move(c)));
}

}  // namespace wasmq::engines
