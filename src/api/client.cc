// File: src/api/client.cc
#include "api/client.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "api/query.h"
#include "json/json.h"

namespace wasmq::api {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using queue::Json;

constexpr uint64_t kMaxResponseBytes = 256ull << 20;

queue::Error ErrorFor(int status, const std::string& body) {
  std::string message = "HTTP " + std::to_string(status);
  Json j = wasmq::json::Parse(body);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const Json& e = j["error"];
    message = e.value("code", "ERROR") + ": " + e.value("message", "") + " (HTTP " + std::to_string(status) + ")";
  }
  if (status == 404) return queue::NotFound(message);
  if (status == 409) return queue::Conflict(message);
  if (status == 503) return queue::Unavailable(message);
  if (status == 429) return queue::Error{queue::Code::RateLimited, message};
  if (status >= 400 && status < 500) return queue::InvalidArgument(message);
  return queue::Internal(message);
}

std::string Encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

Client::Client(ClientOptions options) : options_(std::move(options)) {
  std::string_view url = options_.server;
  if (!url.starts_with("http://")) {
    bad_url_ = queue::InvalidArgument("server: '" + options_.server + "' must be http://HOST[:PORT]");
    return;
  }
  url.remove_prefix(7);
  while (url.ends_with('/')) url.remove_suffix(1);
  if (url.empty() || url.find('/') != std::string_view::npos) {
    bad_url_ = queue::InvalidArgument("server: '" + options_.server + "' must be http://HOST[:PORT]");
    return;
  }
  std::string_view port = "80";
  if (url.starts_with('[')) {  // [::1]:8080
    size_t close = url.find(']');
    std::string_view rest = close == std::string_view::npos ? "x" : url.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) {
      bad_url_ = queue::InvalidArgument("server: '" + options_.server + "' has a malformed IPv6 address");
      return;
    }
    host_ = std::string(url.substr(1, close - 1));
    if (!rest.empty()) port = rest.substr(1);
  } else {
    size_t colon = url.rfind(':');
    host_ = std::string(url.substr(0, colon));
    if (colon != std::string_view::npos) port = url.substr(colon + 1);
  }
  int n = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
  if (host_.empty() || ec != std::errc() || p != port.data() + port.size() || n < 1 || n > 65535) {
    bad_url_ = queue::InvalidArgument("server: '" + options_.server + "' must be http://HOST[:PORT]");
    return;
  }
  port_ = std::string(port);
}

// Runs the one asynchronous operation started on `ioc` until it completes: Beast's timeouts (the stream's
// expiry) bound only asynchronous operations. Not ioc.run(), which would also wait out a pending timer.
void Await(net::io_context& ioc, beast::error_code& ec, bool& done) {
  while (!done && ioc.run_one()) {
  }
  if (!done) ec = net::error::operation_aborted;
  if (ec) throw boost::system::system_error(ec);
  done = false;
}

queue::Result<std::pair<int, std::string>> Client::Exchange(std::string_view method, std::string_view target,
                                                            std::string_view body, std::string_view content_type) {
  if (bad_url_) return *bad_url_;
  try {
    net::io_context ioc;
    beast::error_code ec;
    bool done = false;
    auto finish = [&](beast::error_code e, auto&&...) {
      ec = e;
      done = true;
    };
    tcp::resolver resolver(ioc);
    auto endpoints = resolver.resolve(host_, port_);
    beast::tcp_stream stream(ioc);
    stream.expires_after(options_.timeout);  // one deadline for the whole exchange
    stream.async_connect(endpoints, finish);
    Await(ioc, ec, done);
    http::request<http::string_body> req(http::string_to_verb(method), std::string(target), 11);
    req.set(http::field::host, host_ + ":" + port_);
    req.set(http::field::user_agent, "wasmq-client");
    if (!options_.token.empty()) req.set(http::field::authorization, "Bearer " + options_.token);
    if (!body.empty() || method == "POST") {
      req.set(http::field::content_type, content_type);
      req.body() = std::string(body);
    }
    req.prepare_payload();
    http::async_write(stream, req, finish);
    Await(ioc, ec, done);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBytes);
    http::async_read(stream, buffer, parser, finish);
    Await(ioc, ec, done);
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    auto& res = parser.get();
    return std::pair<int, std::string>(static_cast<int>(res.result_int()), std::move(res.body()));
  } catch (const boost::system::system_error& e) {
    std::string why = e.code() == beast::error::timeout ? "no answer within " + std::to_string(options_.timeout.count()) + " s"
                                                        : e.code().message();
    return queue::Unavailable("cannot reach " + options_.server + ": " + why);
  }
}

queue::Result<Json> Client::Call(std::string_view method, std::string_view target, std::string_view body,
                                 std::string_view content_type) {
  auto r = Exchange(method, target, body, content_type);
  if (!r) return r.error();
  auto& [status, text] = *r;
  if (status >= 300) return ErrorFor(status, text);
  Json j = wasmq::json::Parse(text);
  if (!j.is_object() || !j.value("success", false))
    return queue::Internal("the server's answer is not a wasmq envelope (HTTP " + std::to_string(status) + ")");
  return j["data"];
}

queue::Result<std::string> Client::Fetch(std::string_view target) {
  auto r = Exchange("GET", target, {}, {});
  if (!r) return r.error();
  if (r->first >= 300) return ErrorFor(r->first, r->second);
  return std::move(r->second);
}

queue::Result<Json> Client::Submit(const Json& request) { return Call("POST", "/api/v1/tasks", request.dump()); }
queue::Result<Json> Client::Get(std::string_view id) { return Call("GET", "/api/v1/tasks/" + Encode(id)); }
queue::Result<Json> Client::Cancel(std::string_view id) {
  return Call("POST", "/api/v1/tasks/" + Encode(id) + "/cancel");
}
queue::Result<Json> Client::Retry(std::string_view id) {
  return Call("POST", "/api/v1/tasks/" + Encode(id) + "/retry");
}
queue::Result<Json> Client::Stats() { return Call("GET", "/api/v1/tasks/stats"); }

queue::Result<Json> Client::List(const ListOptions& o) {
  std::string target = "/api/v1/tasks?page=" + std::to_string(o.page) + "&page_size=" + std::to_string(o.page_size);
  if (!o.status.empty()) target += "&status=" + Encode(o.status);
  if (!o.mode.empty()) target += "&mode=" + Encode(o.mode);
  return Call("GET", target);
}

queue::Result<Json> Client::Upload(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return queue::InvalidArgument("cannot read " + path);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return Call("POST", "/api/v1/files", bytes.str(), "application/octet-stream");
}

queue::Result<void> Client::Watch(std::string_view task_id, const std::function<bool(const Json&)>& on_message) {
  if (bad_url_) return *bad_url_;
  try {
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    websocket::stream<beast::tcp_stream> ws(ioc);
    beast::get_lowest_layer(ws).expires_after(options_.timeout);
    beast::get_lowest_layer(ws).connect(resolver.resolve(host_, port_));
    beast::get_lowest_layer(ws).expires_never();
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    std::string token = options_.token;
    ws.set_option(websocket::stream_base::decorator([token](websocket::request_type& req) {
      req.set(http::field::user_agent, "wasmq-client");
      if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    }));
    ws.read_message_max(kMaxResponseBytes);
    // The asynchronous handshake: Beast 1.74's synchronous one drops the response of a refused upgrade,
    // and with it the server's reason.
    websocket::response_type handshake;
    beast::error_code ec;
    bool done = false;
    ws.async_handshake(handshake, host_ + ":" + port_, "/api/v1/tasks/" + Encode(task_id) + "/ws",
                       [&](beast::error_code e) {
                         ec = e;
                         done = true;
                       });
    // Until the handshake is done, not ioc.run(): that would also wait out its pending timeout timer.
    while (!done && ioc.run_one()) {
    }
    if (ec == websocket::error::upgrade_declined)
      return ErrorFor(static_cast<int>(handshake.result_int()), handshake.body());
    if (ec) throw boost::system::system_error(ec);
    beast::flat_buffer buffer;
    while (true) {
      ws.read(buffer, ec);
      if (ec == websocket::error::closed) return {};
      if (ec) throw boost::system::system_error(ec);
      Json message = wasmq::json::Parse(beast::buffers_to_string(buffer.data()));
      buffer.consume(buffer.size());
      if (!on_message(message)) {
        ws.close(websocket::close_code::normal, ec);
        return {};
      }
    }
  } catch (const boost::system::system_error& e) {
    return queue::Unavailable("cannot watch through " + options_.server + ": " + e.code().message());
  }
}

std::string ProgressLine(int percent, std::string_view status, std::string_view step, int width) {
  percent = std::clamp(percent, 0, 100);
  int filled = percent * width / 100;
  char pct[8];
  std::snprintf(pct, sizeof pct, "%3d%%", percent);
  return "[" + std::string(filled, '#') + std::string(width - filled, '-') + "] " + pct + "  " + std::string(status) +
         (step.empty() ? "" : "  " + std::string(step));
}

}  // namespace wasmq::api
