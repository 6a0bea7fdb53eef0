// File: src/http/transfer.cc
//
// One transfer on a curl multi handle polled every 50 ms, so that the request's `cancelled` is looked at
// that often (an easy handle's progress callback may go a second between calls while a server is silent).
#include "http/transfer.h"

#include "base/digest.h"
#include "base/strings.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

namespace wasmq::http::internal {
namespace {

constexpr size_t kErrorBodyKept = size_t{1} << 20;  // of a non-2xx answer while streaming

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

ErrorKind Classify(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return ErrorKind::Dns;
    case CURLE_COULDNT_CONNECT: return ErrorKind::Connect;
    case CURLE_OPERATION_TIMEDOUT: return ErrorKind::Timeout;
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
    case CURLE_USE_SSL_FAILED: return ErrorKind::Tls;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE: return ErrorKind::Transfer;
    default: return ErrorKind::Other;
  }
}

struct State {
  const Request* request;
  HopResult* out;
  CURL* easy;
  size_t received = 0;
  int64_t upload_offset = 0;
  bool too_large = false, aborted = false;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<State*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {  // a new answer (after a 100 Continue): start over
    s->out->headers.clear();
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos)
    s->out->headers[base::Lower(line.substr(0, colon))].push_back(std::string(base::Trim(line.substr(colon + 1))));
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<State*>(user);
  std::string_view chunk(data, size * n);
  long status = 0;
  curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
  const bool streamed = s->request->sink && status >= 200 && status < 300;
  if (s->request->sink && !streamed) {  // an error body: kept (its start) for the caller's message
    if (s->out->body.size() < kErrorBodyKept)
      s->out->body.append(chunk.substr(0, kErrorBodyKept - s->out->body.size()));
    return chunk.size();
  }
  if (s->received + chunk.size() > s->request->max_body_bytes) {
    s->too_large = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  s->received += chunk.size();
  if (streamed) {
    s->out->streamed += chunk.size();
    if (!s->request->sink(chunk)) {
      s->aborted = true;
      return 0;
    }
  } else {
    s->out->body.append(chunk);
  }
  return chunk.size();
}

size_t OnRead(char* buf, size_t size, size_t n, void* user) {
  auto* s = static_cast<State*>(user);
  size_t got = s->request->body_reader.read(s->upload_offset, buf, size * n);
  s->upload_offset += static_cast<int64_t>(got);
  return got;
}

int OnSeek(void* user, curl_off_t offset, int origin) {
  auto* s = static_cast<State*>(user);
  if (origin != SEEK_SET) return CURL_SEEKFUNC_CANTSEEK;
  s->upload_offset = offset;
  return CURL_SEEKFUNC_OK;
}

using Easy = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
using Multi = std::unique_ptr<CURLM, decltype(&curl_multi_cleanup)>;
using Headers = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;
using Mime = std::unique_ptr<curl_mime, decltype(&curl_mime_free)>;

void SetBody(CURL* e, const Request& req, const Hop& hop, State* state, curl_mime* mime) {
  const bool post = hop.method == "POST";
  if (hop.method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    return;
  }
  const bool has_body = hop.send_body && (req.body_reader.read || !req.multipart.empty() || !req.body.empty());
  if (!has_body && hop.method == "GET") {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    return;
  }
  if (hop.send_body && !req.multipart.empty()) {
    curl_easy_setopt(e, CURLOPT_MIMEPOST, mime);
  } else if (hop.send_body && req.body_reader.read) {
    curl_easy_setopt(e, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(e, CURLOPT_READDATA, state);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, OnSeek);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, state);
    if (post) {
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body_reader.size));
    } else {
      curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body_reader.size));
    }
  } else {
    // Not copied: `req` outlives the transfer.
    const std::string_view body = hop.send_body ? std::string_view(req.body) : std::string_view();
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
  }
  if (!post) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, hop.method.c_str());
}

}  // namespace

std::string Origin(const std::string& url) {
  CURLU* u = curl_url();
  std::string out;
  if (u && curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char *scheme = nullptr, *host = nullptr, *port = nullptr;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
      out = base::Lower(scheme) + "://" + base::Lower(host) + ":" + port;
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
  }
  curl_url_cleanup(u);
  return out;
}

HopResult Transfer(const Request& req, const Hop& hop, const ClientOptions& options) {
  GlobalInit();
  HopResult out;
  auto fail = [&](ErrorKind kind, std::string reason) {
    out.error = {kind, std::move(reason)};
    return out;
  };
  if (req.cancelled && req.cancelled()) return fail(ErrorKind::Cancelled, "cancelled");
  const auto now = std::chrono::steady_clock::now();
  Millis total = req.timeouts.total;
  if (req.deadline != SteadyTime::max()) {
    auto left = std::chrono::duration_cast<Millis>(req.deadline - now);
    if (left.count() <= 0) return fail(ErrorKind::Timeout, "no time left");
    if (total.count() <= 0 || left < total) total = left;
  }

  Easy easy(curl_easy_init(), curl_easy_cleanup);
  Multi multi(curl_multi_init(), curl_multi_cleanup);
  if (!easy || !multi) return fail(ErrorKind::Other, "cannot initialise libcurl");
  CURL* e = easy.get();
  State state{&req, &out, e};
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(e, CURLOPT_URL, hop.url.c_str());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);  // Send follows, deciding which headers go along
  curl_easy_setopt(e, CURLOPT_USERAGENT, options.user_agent.c_str());
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, options.tls_verify ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, options.tls_verify ? 2L : 0L);
  if (!options.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options.ca_file.c_str());
  Millis connect = req.timeouts.connect;
  if (total.count() > 0 && (connect.count() <= 0 || total < connect)) connect = total;
  if (connect.count() > 0) curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect.count()));
  if (total.count() > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(total.count()));
  if (req.timeouts.low_speed_bytes > 0 && req.timeouts.low_speed_time.count() > 0) {
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(req.timeouts.low_speed_bytes));
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, static_cast<long>(req.timeouts.low_speed_time.count()));
  }
  if (req.decode_content) curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // whatever libcurl decodes
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &state);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &state);

  Headers headers(nullptr, curl_slist_free_all);
  for (const std::string& h : hop.headers) headers.reset(curl_slist_append(headers.release(), h.c_str()));
  // AWS SigV4, by libcurl, which signs every header set here: only towards the request's own origin (a
  // redirect elsewhere gets neither the signature nor the token).
  std::string sigv4_provider;
  if (req.aws_sigv4 && Origin(hop.url) == Origin(req.url)) {
    const AwsSigV4& aws = *req.aws_sigv4;
    sigv4_provider = "aws:amz:" + aws.region + ":" + aws.service;
    curl_easy_setopt(e, CURLOPT_AWS_SIGV4, sigv4_provider.c_str());
    curl_easy_setopt(e, CURLOPT_USERNAME, aws.credentials.access_key.c_str());
    curl_easy_setopt(e, CURLOPT_PASSWORD, aws.credentials.secret_key.c_str());
    std::string payload = "UNSIGNED-PAYLOAD";
    if (hop.send_body && !req.body_reader.read && req.multipart.empty()) payload = base::Sha256Hex(req.body);
    else if (!hop.send_body) payload = base::Sha256Hex("");
    else if (!aws.payload_sha256.empty()) payload = aws.payload_sha256;
    headers.reset(curl_slist_append(headers.release(), ("x-amz-content-sha256: " + payload).c_str()));
    if (!aws.credentials.session_token.empty())
      headers.reset(curl_slist_append(headers.release(),
                                      ("x-amz-security-token: " + aws.credentials.session_token).c_str()));
  }
  // No 100-continue round trip — except when signing for AWS: libcurl 7.88 would sign the empty "Expect:"
  // it then does not send, and S3 would refuse the signature. S3 answers 100 Continue at once anyway.
  if (sigv4_provider.empty()) headers.reset(curl_slist_append(headers.release(), "Expect:"));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get());

  Mime mime(nullptr, curl_mime_free);
  if (hop.send_body && !req.multipart.empty()) {
    mime.reset(curl_mime_init(e));
    for (const Part& p : req.multipart) {
      curl_mimepart* part = curl_mime_addpart(mime.get());
      curl_mime_name(part, p.name.c_str());
      curl_mime_data(part, p.data.data(), p.data.size());
      if (!p.filename.empty()) curl_mime_filename(part, p.filename.c_str());
      if (!p.content_type.empty()) curl_mime_type(part, p.content_type.c_str());
    }
  }
  SetBody(e, req, hop, &state, mime.get());

  curl_multi_add_handle(multi.get(), e);
  int running = 1;
  CURLcode code = CURLE_OK;
  while (true) {
    CURLMcode mc = curl_multi_perform(multi.get(), &running);
    if (mc != CURLM_OK) {
      curl_multi_remove_handle(multi.get(), e);
      return fail(ErrorKind::Other, curl_multi_strerror(mc));
    }
    if (!running) break;
    if (req.cancelled && req.cancelled()) {
      curl_multi_remove_handle(multi.get(), e);
      return fail(ErrorKind::Cancelled, "cancelled");
    }
    curl_multi_poll(multi.get(), nullptr, 0, 50, nullptr);
  }
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left))
    if (msg->msg == CURLMSG_DONE) code = msg->data.result;
  curl_multi_remove_handle(multi.get(), e);

  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  out.status = static_cast<int>(status);
  if (state.too_large)
    return fail(ErrorKind::TooLarge, "the answer is over " + std::to_string(req.max_body_bytes) + " bytes");
  if (state.aborted) return fail(ErrorKind::Aborted, "the receiver stopped the transfer");
  if (code != CURLE_OK) return fail(Classify(code), errbuf[0] ? errbuf : curl_easy_strerror(code));
  char* location = nullptr;
  if (status >= 300 && status < 400 && curl_easy_getinfo(e, CURLINFO_REDIRECT_URL, &location) == CURLE_OK &&
      location)
    out.redirect_url = location;
  return out;
}

}  // namespace wasmq::http::internal
