// File: src/engines/http_client.cc
#include "engines/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <memory>
#include <mutex>

namespace wasmq::engines {

namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Sink {
  std::string* body;
  size_t max;
  bool too_large = false;
};

size_t Write(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t bytes = size * n;
  if (sink->body->size() + bytes > sink->max) {
    sink->too_large = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  sink->body->append(data, bytes);
  return bytes;
}

// What a person should read about a failed transfer: the method, the URL (without its query, which may
// carry a key) and curl's reason.
std::string Describe(const HttpRequest& r, const std::string& reason) {
  std::string url = r.url.substr(0, r.url.find('?'));
  return r.method + " " + url + ": " + reason;
}

using Easy = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
using Multi = std::unique_ptr<CURLM, decltype(&curl_multi_cleanup)>;
using Headers = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;
using Mime = std::unique_ptr<curl_mime, decltype(&curl_mime_free)>;

}  // namespace

HttpResult Perform(const HttpRequest& req, const CallContext& ctx) {
  GlobalInit();
  HttpResult out;
  auto fail = [&](HttpResult::Kind kind, const std::string& why) {
    out.kind = kind;
    out.error = Describe(req, why);
    return out;
  };
  if (ctx.cancel && ctx.cancel->cancelled()) return fail(HttpResult::Kind::Cancelled, "cancelled");
  const auto timeout = std::min(req.timeout, ctx.Remaining());
  if (timeout.count() <= 0) return fail(HttpResult::Kind::Timeout, "no time left");

  Easy easy(curl_easy_init(), curl_easy_cleanup);
  Multi multi(curl_multi_init(), curl_multi_cleanup);
  if (!easy || !multi) return fail(HttpResult::Kind::Other, "cannot initialise libcurl");
  CURL* e = easy.get();
  Sink sink{&out.body, req.max_response_bytes};
  curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<int64_t>(timeout.count(), 10'000)));
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, Write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // whatever libcurl can decode
  curl_easy_setopt(e, CURLOPT_USERAGENT, "wasmq-engine/1");

  Headers headers(nullptr, curl_slist_free_all);
  for (const std::string& h : req.headers) headers.reset(curl_slist_append(headers.release(), h.c_str()));
  // No "Expect: 100-continue" round trip for large bodies.
  headers.reset(curl_slist_append(headers.release(), "Expect:"));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get());

  Mime mime(nullptr, curl_mime_free);
  if (!req.multipart.empty()) {
    mime.reset(curl_mime_init(e));
    for (const HttpPart& p : req.multipart) {
      curl_mimepart* part = curl_mime_addpart(mime.get());
      curl_mime_name(part, p.name.c_str());
      curl_mime_data(part, p.data.data(), p.data.size());
      if (!p.filename.empty()) curl_mime_filename(part, p.filename.c_str());
      if (!p.content_type.empty()) curl_mime_type(part, p.content_type.c_str());
    }
    curl_easy_setopt(e, CURLOPT_MIMEPOST, mime.get());
  } else if (req.method != "GET" || !req.body.empty()) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  }
  if (req.method == "GET" && req.multipart.empty() && req.body.empty()) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else if (req.method != "POST") {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }

  curl_multi_add_handle(multi.get(), e);
  int running = 1;
  CURLcode code = CURLE_OK;
  while (true) {
    CURLMcode mc = curl_multi_perform(multi.get(), &running);
    if (mc != CURLM_OK) {
      curl_multi_remove_handle(multi.get(), e);
      return fail(HttpResult::Kind::Other, curl_multi_strerror(mc));
    }
    if (!running) break;
    if (ctx.cancel && ctx.cancel->cancelled()) {
      curl_multi_remove_handle(multi.get(), e);
      return fail(HttpResult::Kind::Cancelled, "cancelled");
    }
    curl_multi_poll(multi.get(), nullptr, 0, 50, nullptr);
  }
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left))
    if (msg->msg == CURLMSG_DONE) code = msg->data.result;
  curl_multi_remove_handle(multi.get(), e);

  if (sink.too_large)
    return fail(HttpResult::Kind::TooLarge,
                "the response is over " + std::to_string(req.max_response_bytes) + " bytes");
  switch (code) {
    case CURLE_OK:
      break;
    case CURLE_OPERATION_TIMEDOUT:
      return fail(HttpResult::Kind::Timeout, "no answer within " + std::to_string(timeout.count()) + " ms");
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      return fail(HttpResult::Kind::Connect, curl_easy_strerror(code));
    default:
      return fail(HttpResult::Kind::Other, curl_easy_strerror(code));
  }
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &out.status);
  char* ct = nullptr;
  curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct);
  if (ct) out.content_type = ct;
  return out;
}

Response MapHttpFailure(const HttpResult& r, const std::string& what) {
  switch (r.kind) {
    case HttpResult::Kind::Ok:
      break;
    case HttpResult::Kind::Timeout:
      return Failure(Status::Timeout, r.error);
    case HttpResult::Kind::Connect:
      return Failure(Status::Unavailable, r.error);
    case HttpResult::Kind::TooLarge:
      return Failure(Status::TooLarge, r.error);
    case HttpResult::Kind::Cancelled:
      return Failure(Status::Cancelled, r.error);
    case HttpResult::Kind::Other:
      return Failure(Status::Failed, r.error);
  }
  // An HTTP status: the start of the body tells a person why (APIs put their reason there).
  std::string excerpt = r.body.substr(0, 300);
  std::replace_if(
      excerpt.begin(), excerpt.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  std::string msg =
      what + " answered HTTP " + std::to_string(r.status) + (excerpt.empty() ? "" : ": " + excerpt);
  // 429: the API is there and the request is fine, it only wants us to come back later; that is what a
  // retryable ENGINE_UNAVAILABLE tells the pipeline (and the worker's backoff) to do.
  if (r.status == 429) return Failure(Status::Unavailable, msg);
  if (r.status >= 400 && r.status < 500) return Failure(Status::BadRequest, msg);
  return Failure(Status::Failed, msg);
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string SniffContentType(std::string_view d, std::string fallback) {
  if (d.starts_with("\x89PNG\r\n\x1a\n")) return "image/png";
  if (d.starts_with("\xff\xd8\xff")) return "image/jpeg";
  if (d.starts_with("GIF8")) return "image/gif";
  if (d.size() >= 12 && d.starts_with("RIFF") && d.substr(8, 4) == "WEBP") return "image/webp";
  return fallback;
}

}  // namespace wasmq::engines
