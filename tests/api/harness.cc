// File: tests/api/harness.cc
#include "harness.h"

#include <openssl/evp.h>
#include <stdlib.h>

#include <functional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace wasmq::api::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

tcp::endpoint Loopback(uint16_t port) { return {net::ip::make_address("127.0.0.1"), port}; }

}  // namespace

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "wasmq-api-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) std::abort();
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

#define WASMQ_FLAKY(call)                                                    \
  if (down.load()) return queue::Unavailable("store: connection refused"); \
  return call

queue::Result<void> FlakyStore::Ping() { WASMQ_FLAKY(inner_.Ping()); }
queue::Result<void> FlakyStore::Create(const queue::TaskInfo& t) { WASMQ_FLAKY(inner_.Create(t)); }
queue::Result<queue::TaskInfo> FlakyStore::Get(std::string_view id) { WASMQ_FLAKY(inner_.Get(id)); }
queue::Result<queue::TaskListResponse> FlakyStore::List(const queue::ListQuery& q) { WASMQ_FLAKY(inner_.List(q)); }
queue::Result<queue::TaskInfo> FlakyStore::Cancel(std::string_view id) { WASMQ_FLAKY(inner_.Cancel(id)); }
queue::Result<queue::QueueStats> FlakyStore::Stats() { WASMQ_FLAKY(inner_.Stats()); }
queue::Result<queue::QueueStats> FlakyStore::UserStats(std::string_view user_id) {
  WASMQ_FLAKY(inner_.UserStats(user_id));
}

std::string HttpReply::error_code() const {
  Json j = json();
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return "";
  return j["error"].value("code", "");
}

// Runs the asynchronous operations started on `ioc` to completion. Beast's timeouts (tcp_stream expiry,
// WebSocket timeouts) bound only asynchronous operations, so every network call here is one.
void Run(net::io_context& ioc) {
  ioc.run();
  ioc.restart();
}

HttpReply Http(uint16_t port, const std::string& method, const std::string& target, const std::string& body,
               const Headers& headers) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(kIoTimeout);
  beast::error_code ec;
  stream.async_connect(Loopback(port), [&](beast::error_code e) { ec = e; });
  Run(ioc);
  if (ec) throw beast::system_error(ec);
  http::request<http::string_body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    req.set(k, v);
    has_type = has_type || beast::iequals(k, "content-type");
  }
  if (!body.empty()) {
    if (!has_type) req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1ull << 30);
  if (method == "HEAD") parser.skip(true);
  // Write and read at once: the server may answer (413) before it has read the whole body.
  http::async_write(stream, req, [](beast::error_code, size_t) {});
  http::async_read(stream, buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
  Run(ioc);
  if (ec) throw beast::system_error(ec);
  HttpReply reply;
  auto& res = parser.get();
  reply.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = std::string(f.value());
  }
  reply.body = res.body();
  return reply;
}

std::string Raw(uint16_t port, const std::string& bytes, std::chrono::milliseconds timeout) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(kIoTimeout);
  beast::error_code ec;
  stream.async_connect(Loopback(port), [&](beast::error_code e) { ec = e; });
  Run(ioc);
  if (ec) throw beast::system_error(ec);
  stream.expires_after(timeout);
  net::async_write(stream, net::buffer(bytes), [](beast::error_code, size_t) {});
  std::string out;
  char buf[4096];
  std::function<void(beast::error_code, size_t)> on_read = [&](beast::error_code e, size_t n) {
    out.append(buf, n);
    if (!e) stream.async_read_some(net::buffer(buf), on_read);
  };
  stream.async_read_some(net::buffer(buf), on_read);
  Run(ioc);
  return out;
}

int RawStatus(const std::string& answer) {
  if (!answer.starts_with("HTTP/1.1 ") || answer.size() < 12) return 0;
  return std::atoi(answer.substr(9, 3).c_str());
}

struct WsClient::Impl {
  net::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
};

WsClient::WsClient() : impl_(std::make_unique<Impl>()) {}
WsClient::~WsClient() = default;

int WsClient::Connect(uint16_t port, const std::string& target, const Headers& headers) {
  auto& lowest = beast::get_lowest_layer(impl_->ws);
  lowest.expires_after(kIoTimeout);
  beast::error_code ec;
  lowest.async_connect(Loopback(port), [&](beast::error_code e) { ec = e; });
  Run(impl_->ioc);
  if (ec) return -1;
  impl_->ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    for (const auto& [k, v] : headers) req.set(k, v);
  }));
  // (Beast 1.74's synchronous handshake would also drop the response of a refused upgrade.)
  websocket::response_type res;
  impl_->ws.async_handshake(res, "127.0.0.1:" + std::to_string(port), target, [&](beast::error_code e) { ec = e; });
  Run(impl_->ioc);
  refusal_body_ = res.body();
  if (ec && ec != websocket::error::upgrade_declined) return -1;
  lowest.expires_never();
  impl_->ws.set_option(websocket::stream_base::timeout{kIoTimeout, kIoTimeout, false});
  return static_cast<int>(res.result_int());
}

namespace {
beast::error_code ReadOne(net::io_context& ioc, websocket::stream<beast::tcp_stream>& ws, beast::flat_buffer& buffer) {
  beast::error_code ec;
  bool done = false;
  buffer.consume(buffer.size());
  ws.async_read(buffer, [&](beast::error_code e, size_t) {
    ec = e;
    done = true;
  });
  // Not ioc.run(): the stream's idle timer (the read deadline) stays pending after the read, and run()
  // would wait for it to fire, which closes the connection.
  while (!done && ioc.run_one()) {
  }
  if (ioc.stopped()) ioc.restart();
  return ec;
}
}  // namespace

Json WsClient::Read() {
  beast::error_code ec = ReadOne(impl_->ioc, impl_->ws, impl_->buffer);
  if (ec) {
    ADD_FAILURE() << "WebSocket read: " << ec.message();
    return nullptr;
  }
  return Json::parse(beast::buffers_to_string(impl_->buffer.data()), nullptr, false);
}

int WsClient::ReadUntilClose() {
  while (true) {
    beast::error_code ec = ReadOne(impl_->ioc, impl_->ws, impl_->buffer);
    if (ec == websocket::error::closed) return impl_->ws.reason().code;
    if (ec) return -1;
  }
}

std::string PngBytes(size_t extra) { return std::string("\x89PNG\r\n\x1a\n", 8) + std::string(extra, 'p'); }
std::string JpegBytes(size_t extra) { return std::string("\xFF\xD8\xFF\xE0", 4) + std::string(extra, 'j'); }
std::string WebpBytes(size_t extra) { return "RIFF" + std::string("\x10\x00\x00\x00", 4) + "WEBPVP8 " + std::string(extra, 'w'); }

std::string Sha256Hex(const std::string& bytes) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), d, &n, EVP_sha256(), nullptr);
  std::string out;
  char buf[3];
  for (unsigned int i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", d[i]);
    out += buf;
  }
  return out;
}

std::string Multipart(const std::string& boundary, const std::string& field, const std::string& filename,
                      const std::string& content_type, const std::string& data) {
  return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + field + "\"; filename=\"" + filename +
         "\"\r\nContent-Type: " + content_type + "\r\n\r\n" + data + "\r\n--" + boundary + "--\r\n";
}

ApiTest::~ApiTest() { StopServer(); }

void ApiTest::StartServer(ApiConfig config) {
  if (!store_url_.empty()) {
    auto u = queue::OpenStore(store_url_, {.fairness = fairness_});
    ASSERT_TRUE(u.ok()) << u.error().message;
    url_store_ = std::move(*u);
  } else {
    auto s = queue::SqliteStore::Open((dir_.path() / "tasks.db").string(), {.fairness = fairness_});
    ASSERT_TRUE(s.ok()) << s.error().message;
    sqlite_ = std::move(*s);
  }
  store_ = std::make_unique<FlakyStore>(inner());
  tasks_ = std::make_unique<queue::TaskService>(*store_, queue::ServiceOptions{});
  config.addr = "127.0.0.1";
  config.port = 0;
  config.threads = 2;
  config.files_dir = (dir_.path() / "files").string();
  config.tasks_dir = (dir_.path() / "tasks").string();
  if (config.auth_required && config.jwt_secret.empty()) config.jwt_secret = kSecret;
  config_ = config;
  server_ = std::make_unique<ApiServer>(*tasks_, config);
  auto r = server_->Start();
  ASSERT_TRUE(r.ok()) << r.error().message;
}

void ApiTest::StopServer() {
  if (server_) server_->Stop();
  server_.reset();
  tasks_.reset();
  store_.reset();
  sqlite_.reset();
  url_store_.reset();
}

Headers ApiTest::Auth(const std::string& token) const {
  if (token.empty()) return {};
  return {{"Authorization", "Bearer " + token}};
}

HttpReply ApiTest::Get(const std::string& target, const std::string& token) {
  return Http(port(), "GET", target, "", Auth(token));
}

HttpReply ApiTest::Post(const std::string& target, const Json& body, const std::string& token) {
  return Http(port(), "POST", target, body.is_null() ? "" : body.dump(), Auth(token));
}

std::string ApiTest::Submit(const std::string& token, Json body) {
  HttpReply r = Post("/api/v1/tasks", body, token);
  EXPECT_EQ(r.status, 201) << r.body;
  return r.json()["data"].value("task_id", "");
}

std::string ApiTest::Upload(const std::string& token) {
  Headers h = Auth(token);
  h.emplace_back("Content-Type", "image/png");
  HttpReply r = Http(port(), "POST", "/api/v1/files", PngBytes(), h);
  EXPECT_EQ(r.status, 201) << r.body;
  return r.json()["data"].value("file_id", "");
}

queue::Lease ApiTest::Claim() {
  auto claimed = inner().Dequeue({.owner = "test-worker", .lease_ms = 60'000});
  EXPECT_TRUE(claimed.ok());
  if (!claimed.ok() || claimed->empty()) {
    ADD_FAILURE() << "no task to claim";
    return {};
  }
  return claimed->front().lease;
}

}  // namespace wasmq::api::testing
