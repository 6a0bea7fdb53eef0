// File: src/api/http_session.cc
#include "api/http_session.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <chrono>
#include <cstdio>
#include <limits>
#include <optional>

#include "api/envelope.h"
#include "api/ws_session.h"
#include "storage/storage.h"

namespace wasmq::api {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// After an early error answer (413 before the body), what the client still sends is read and dropped for
// this long / this much before closing: closing with unread data makes the kernel send a reset, which can
// destroy the answer before the client reads it.
constexpr auto kDrainTime = std::chrono::seconds(2);
constexpr size_t kDrainBytes = 4 << 20;

bool IEquals(std::string_view a, std::string_view b) { return beast::iequals(a, b); }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The request as the App sees it, without its body.
template <class Fields>
Request RequestHead(const http::header<true, Fields>& msg, const std::string& remote) {
  Request r;
  r.method = std::string(msg.method_string());
  std::string_view target = msg.target();
  size_t q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
  r.headers.reserve(16);
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    r.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  r.remote = remote;
  return r;
}

// A file to receive an upload's body (storage::CreateSpoolFile: unlinked, in the files directory).
beast::file TempBodyFile(const std::string& dir, beast::error_code& ec) {
  int fd = storage::CreateSpoolFile(dir).release();
  beast::file f;
  if (fd < 0) {
    ec = beast::error_code(errno, beast::system_category());
    std::fprintf(stderr, "wasmq api: cannot create a temporary file in %s: %s\n", dir.c_str(),
                 ec.message().c_str());
    return f;
  }
  f.native_handle(fd);
  return f;
}

class HttpSession final : public Session, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, ServerState& state, Slot slot, bool metrics_only)
      : stream_(std::move(socket)),
        state_(state),
        slot_(std::move(slot)),
        buffer_(state.config.max_header_bytes + 64 * 1024),
        metrics_only_(metrics_only) {
    state_.metrics.http_connections++;
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string();
  }
  ~HttpSession() override {
    state_.metrics.http_connections--;
    state_.sessions.Untrack(this);
  }

  void Start() {
    state_.sessions.Track(this, std::weak_ptr<Session>(shared_from_this()));
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  void Shutdown() override {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->draining_ = true;
      if (self->idle_) self->Close();
    });
  }

 private:
  void ReadHeader() {
    if (draining_ || state_.draining.load()) return Close();
    idle_ = true;
    file_parser_.reset();
    parser_.emplace();
    parser_->header_limit(state_.config.max_header_bytes);
    // The body limit depends on the route, known once the header is in; until then the largest, or Beast
    // would refuse a large Content-Length inside the header read. (Not boost::none: Beast 1.74 compares
    // the length with the optional itself, and every length is greater than none.)
    parser_->body_limit(std::numeric_limits<uint64_t>::max());
    auto wait = state_.config.header_timeout + (first_ ? std::chrono::seconds(0) : state_.config.idle_timeout);
    first_ = false;
    stream_.expires_after(wait);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    idle_ = false;
    admitted_.reset();
    start_ = std::chrono::steady_clock::now();
    if (ec == http::error::body_limit) return SendError(413, code::kPayloadTooLarge, "request body too large");
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
      return SendError(431, code::kHeadersTooLarge, "request headers too large");
    if (ec && ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message)
      return SendError(400, code::kBadRequest, "malformed HTTP request: " + ec.message());
    if (ec) return Close();  // closed, reset, or timed out before a whole header arrived
    auto& msg = parser_->get();
    if (std::string_view bad = BadFraming(msg); !bad.empty())
      return SendError(400, code::kBadRequest, std::string(bad));
    std::string_view path = msg.target().substr(0, msg.target().find('?'));
    if (!state_.config.metrics_addr.empty() && (path == "/metrics") != metrics_only_)
      return SendError(404, code::kNotFound, "no route " + std::string(path.substr(0, 256)));
    if (beast::websocket::is_upgrade(msg)) return Upgrade();
    uint64_t limit = state_.app.BodyLimit(msg.method_string(), path);
    if (auto len = parser_->content_length(); len && *len > limit)
      return SendError(413, code::kPayloadTooLarge,
                       "the body is " + std::to_string(*len) + " bytes; the limit here is " + std::to_string(limit));
    parser_->body_limit(limit);
    if (parser_->is_done()) return Handle();
    // A body is coming: whatever the headers decide (token, rate limit, origin) is decided before a byte
    // of it is read, and before the client is told to send it (100-continue).
    auto screened = state_.app.Screen(RequestHead(msg, remote_));
    if (auto* refusal = std::get_if<Response>(&screened)) {
      if (state_.config.access_log) Log(std::string(msg.method_string()), std::string(path), refusal->status);
      return Send(std::move(*refusal), false, false);
    }
    if (auto* caller = std::get_if<Caller>(&screened)) admitted_ = std::move(*caller);
    const bool expect_continue = beast::iequals(msg[http::field::expect], "100-continue");
    if (state_.app.StreamsBody(msg.method_string(), path)) {  // `msg` and `path` are gone after this
      beast::error_code fe;
      beast::file f = TempBodyFile(state_.config.files_dir, fe);
      if (fe) return SendError(503, code::kUnavailable, "cannot store the upload now");
      file_parser_.emplace(std::move(*parser_));
      file_parser_->body_limit(limit);
      file_parser_->get().body().reset(std::move(f), fe);
      if (fe) return SendError(503, code::kUnavailable, "cannot store the upload now");
    }
    if (expect_continue) {
      stream_.expires_after(state_.config.body_timeout);
      return net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                              [self = shared_from_this()](beast::error_code e, size_t) {
                                if (e) return self->Close();
                                self->ReadBody();
                              });
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(state_.config.body_timeout);
    auto done = [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec == http::error::body_limit)
        return self->SendError(413, code::kPayloadTooLarge, "request body too large");
      if (ec == beast::error::timeout)
        return self->SendError(408, code::kRequestTimeout, "request body too slow");
      if (ec && ec.category() == http::make_error_code(http::error::bad_target).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message)
        return self->SendError(400, code::kBadRequest, "malformed HTTP request: " + ec.message());
      if (ec) return self->Close();
      self->Handle();
    };
    if (file_parser_) return http::async_read(stream_, buffer_, *file_parser_, std::move(done));
    http::async_read(stream_, buffer_, *parser_, std::move(done));
  }

  void Handle() {
    if (file_parser_) return HandleFileBody();
    auto& msg = parser_->get();
    bool keep_alive = msg.keep_alive();
    bool head = msg.method() == http::verb::head;
    Request req = ToRequest(msg, remote_);
    Response res = state_.app.Handle(req, admitted_);
    if (state_.config.access_log) Log(req.method, req.path, res.status);
    keep_alive = keep_alive && !res.close;
    Send(std::move(res), keep_alive, head);
  }

  // An upload, its body in the temporary file: mapped for the App (page cache, not the heap), then the
  // file is closed, which frees it.
  void HandleFileBody() {
    auto& msg = file_parser_->get();
    bool keep_alive = msg.keep_alive();
    Request req = RequestHead(msg, remote_);
    int fd = msg.body().file().native_handle();
    struct stat st;
    void* map = MAP_FAILED;
    size_t size = ::fstat(fd, &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
    if (size > 0) {
      map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (map == MAP_FAILED) {
        file_parser_.reset();
        return SendError(503, code::kUnavailable, "cannot read the upload now");
      }
      req.body_file = std::string_view(static_cast<const char*>(map), size);
    }
    Response res = state_.app.Handle(req, admitted_);
    if (map != MAP_FAILED) ::munmap(map, size);
    file_parser_.reset();
    if (state_.config.access_log) Log(req.method, req.path, res.status);
    keep_alive = keep_alive && !res.close;
    Send(std::move(res), keep_alive, false);
  }

  void Upgrade() {
    auto& msg = parser_->get();
    if (!parser_->is_done()) return SendError(400, code::kBadRequest, "a WebSocket upgrade has no body");
    Request req = ToRequest(msg, remote_);
    auto target = state_.app.AuthorizeWatch(req);
    if (auto* refusal = std::get_if<Response>(&target)) {
      if (state_.config.access_log) Log(req.method, req.path, refusal->status);
      return Send(std::move(*refusal), false, false);
    }
    if (state_.config.access_log) Log(req.method, req.path, 101);
    stream_.expires_never();  // the WebSocket sets its own timeouts
    StartWsSession(stream_.release_socket(), parser_->release(), state_, std::move(slot_),
                   std::get<WatchTarget>(std::move(target)));
  }

  void SendError(int status, std::string_view code, std::string message) {
    Response r = Fail(status, code, message);
    state_.metrics.ObserveHttp("unmatched", "other", status, 0);
    Send(std::move(r), false, false);
  }

  template <class Body>
  void Write(std::shared_ptr<http::response<Body>> msg) {
    stream_.expires_after(state_.config.body_timeout);
    bool close = msg->need_eof();
    http::async_write(stream_, *msg, [self = shared_from_this(), msg, close](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      if (close) return self->DrainAndClose();
      self->ReadHeader();
    });
  }

  template <class Body>
  void Prepare(http::response<Body>& msg, Response& res, bool keep_alive) {
    msg.result(static_cast<unsigned>(res.status));
    msg.version(11);
    for (auto& [k, v] : res.headers) msg.set(k, v);
    msg.set(http::field::server, "wasmq");
    msg.keep_alive(keep_alive && !draining_ && !state_.draining.load());
  }

  void Send(Response res, bool keep_alive, bool head) {
    bool no_body = res.status == 204 || res.status == 304 || (res.status >= 100 && res.status < 200);
    if (res.file && !head && !no_body) {
      auto msg = std::make_shared<http::response<http::file_body>>();
      Prepare(*msg, res, keep_alive);
      beast::file f;
      f.native_handle(res.file.release());
      beast::error_code ec;
      msg->body().reset(std::move(f), ec);
      if (ec) return SendError(500, code::kInternal, "cannot read the file");
      msg->prepare_payload();
      return Write(std::move(msg));
    }
    if (head || no_body) {
      auto msg = std::make_shared<http::response<http::empty_body>>();
      Prepare(*msg, res, keep_alive);
      if (!no_body) msg->content_length(res.file ? res.file_size : res.body.size());
      return Write(std::move(msg));
    }
    auto msg = std::make_shared<http::response<http::string_body>>();
    Prepare(*msg, res, keep_alive);
    msg->body() = std::move(res.body);
    msg->prepare_payload();
    Write(std::move(msg));
  }

  void DrainAndClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    drain_deadline_ = std::chrono::steady_clock::now() + kDrainTime;
    Drain();
  }

  void Drain() {
    stream_.expires_at(drain_deadline_);
    stream_.async_read_some(net::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kDrainBytes) return self->Close();
      self->Drain();
    });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  void Log(const std::string& method, const std::string& path, int status) {
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
    char line[512];
    std::snprintf(line, sizeof line, "%s %s %s %d %.1fms", remote_.c_str(), method.c_str(), path.substr(0, 200).c_str(),
                  status, ms);
    if (state_.config.log)
      state_.config.log(std::string("api: ") + line);
    else
      std::fprintf(stderr, "wasmq api: %s\n", line);
  }

  beast::tcp_stream stream_;
  ServerState& state_;
  Slot slot_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::request_parser<http::file_body>> file_parser_;  // an upload's, once its header is in
  std::optional<Caller> admitted_;  // what App::Screen admitted for the request whose body is being read
  std::string remote_;
  bool first_ = true;
  bool idle_ = false;      // waiting for the next request's header
  bool draining_ = false;  // Shutdown() was called: close after the response in flight
  std::chrono::steady_clock::time_point start_, drain_deadline_;
  size_t drained_ = 0;
  char scratch_[16 * 1024];
  const bool metrics_only_;  // accepted on metrics_addr: serves /metrics and nothing else
};

}  // namespace

Request ToRequest(http::request<http::string_body>& msg, const std::string& remote) {
  Request r = RequestHead(msg, remote);
  r.body = std::move(msg.body());
  return r;
}

Request ToRequestHead(const http::request_header<>& msg, const std::string& remote) {
  return RequestHead(msg, remote);
}

std::string_view BadFraming(const http::fields& headers) {
  // RFC 9112 §6.3: a request whose Transfer-Encoding does not end in chunked has no length the server can
  // know, and whatever follows would be read as another request (smuggling): 400, and the connection
  // closes. The codings of every Transfer-Encoding field, in order; the last must be exactly "chunked".
  std::string_view last;
  bool present = false;
  for (const auto& f : headers) {
    if (f.name() != http::field::transfer_encoding) continue;
    present = true;
    std::string_view v = f.value();
    for (size_t start = 0; start <= v.size();) {
      size_t comma = v.find(',', start);
      std::string_view coding =
          Trim(v.substr(start, comma == std::string_view::npos ? v.npos : comma - start));
      if (!coding.empty()) last = coding;
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  if (present && !IEquals(last, "chunked"))
    return "Transfer-Encoding must end in chunked (RFC 9112, section 6.3)";
  return {};
}

void StartHttpSession(tcp::socket socket, ServerState& state, Slot slot, bool metrics_only) {
  std::make_shared<HttpSession>(std::move(socket), state, std::move(slot), metrics_only)->Start();
}

}  // namespace wasmq::api
