// File: src/api/server.cc
//
// ApiServer: owns the I/O threads, the listening socket (and metrics_addr's, whose connections get /metrics
// alone), and everything the connections share. It warns on stderr when it listens beyond loopback with
// auth off. The accept loop reserves a connection slot before starting a session; when all max_connections
// are taken it answers a canned 503 and closes (at most kMaxRejecting such answers at once; beyond that the
// socket is just closed). When accept itself fails (out of file descriptors) it waits a moment instead of
// spinning.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cmath>
#include <cstdio>
#include <thread>

#include "api/api.h"
#include "api/app.h"
#include "api/http_session.h"
#include "api/server_state.h"
#include "api/task_metrics.h"
#include "base/mutex.h"

namespace wasmq::api {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

constexpr int kMaxRejecting = 64;
const std::string& BusyResponse() {
  static const std::string kBusy = [] {
    std::string body = R"({"success":false,"error":{"code":"UNAVAILABLE","message":"too many connections"}})";
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
           "Retry-After: 1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  return kBusy;
}

// "IP:PORT" ("[v6]:PORT" too) into its parts; false when it is not one.
bool SplitHostPort(const std::string& text, std::string* host, uint16_t* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size() || text.size() - colon > 6) return false;
  std::string h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  unsigned p = 0;
  for (char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9') return false;
    p = p * 10 + static_cast<unsigned>(c - '0');
  }
  boost::system::error_code ec;
  net::ip::make_address(h, ec);
  if (ec || p > 65535) return false;
  *host = h;
  *port = static_cast<uint16_t>(p);
  return true;
}

// A listening socket on addr:port, or the error.
boost::system::error_code Listen(tcp::acceptor& acceptor, const std::string& addr, uint16_t port) {
  boost::system::error_code ec;
  tcp::endpoint ep(net::ip::make_address(addr), port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  return ec;
}

}  // namespace

queue::Result<void> ValidateConfig(const ApiConfig& c) {
  using queue::InvalidArgument;
  boost::system::error_code ec;
  net::ip::make_address(c.addr, ec);
  if (ec) return InvalidArgument("addr: '" + c.addr + "' is not an IP address");
  if (c.threads < 0 || c.threads > 256) return InvalidArgument("threads: must be from 0 to 256");
  if (c.auth_required && c.jwt_secret.size() < 32)
    return InvalidArgument("jwt_secret: auth is on, so a secret of at least 32 bytes is required");
  if (c.max_upload_bytes < 1) return InvalidArgument("max_upload_bytes: must be at least 1");
  if (c.max_json_bytes < 1024) return InvalidArgument("max_json_bytes: must be at least 1024");
  if (c.max_header_bytes < 1024 || c.max_header_bytes > (1u << 20))
    return InvalidArgument("max_header_bytes: must be from 1 KiB to 1 MiB");
  if (c.max_connections < 1) return InvalidArgument("max_connections: must be at least 1");
  if (!std::isfinite(c.rate_limit) || c.rate_limit < 0) return InvalidArgument("rate_limit: must be 0 or more");
  if (c.rate_burst < 0) return InvalidArgument("rate_burst: must be 0 or more");
  for (auto t : {c.header_timeout, c.body_timeout, c.idle_timeout})
    if (t.count() <= 0) return InvalidArgument("timeouts must be positive");
  if (c.shutdown_grace.count() < 0) return InvalidArgument("shutdown_grace: must not be negative");
  if (c.files_dir.empty()) return InvalidArgument("files_dir: must be set");
  std::string host;
  uint16_t port = 0;
  if (!c.metrics_addr.empty() && !SplitHostPort(c.metrics_addr, &host, &port))
    return InvalidArgument("metrics_addr: '" + c.metrics_addr + "' is not IP:PORT");
  for (const std::string& o : c.cors_origins) {
    bool ok = o == "*" || ((o.starts_with("http://") || o.starts_with("https://")) &&
                           o.find('/', o.find("//") + 2) == std::string::npos);
    if (!ok) return InvalidArgument("cors_origins: '" + o + "' must be * or scheme://host[:port], without a path");
  }
  return {};
}

class ApiServer::Impl {
 public:
  Impl(queue::TaskService& tasks, ApiConfig config)
      : tasks_(tasks), config_(std::move(config)), sessions_(static_cast<size_t>(std::max(1, config_.max_connections))) {}

  ~Impl() { Stop(); }

  queue::Result<void> Start() {
    base::MutexLock lock(lifecycle_mu_);
    if (started_) return queue::InvalidArgument("the server is already started");
    if (auto r = ValidateConfig(config_); !r) return r;
    auto files = storage::OpenLocalUploadStore(config_.files_dir);  // also where request bodies spool
    if (!files) return files.error();
    files_ = config_.upload_store ? config_.upload_store : std::shared_ptr<storage::UploadStore>(std::move(*files));
    web_ = std::make_unique<StaticFiles>(config_.web_root);
    app_ = std::make_unique<App>(ApiContext{config_, tasks_, *files_, metrics_, *web_, draining_});
    int threads = config_.threads > 0 ? config_.threads : std::max(2u, std::thread::hardware_concurrency());
    ioc_ = std::make_unique<net::io_context>(threads);
    fanout_ = std::make_unique<net::strand<net::io_context::executor_type>>(net::make_strand(*ioc_));
    hub_ = std::make_unique<WatchHub>(
        tasks_.store(), config_.auth_required, [this](std::function<void()> job) { net::post(*ioc_, std::move(job)); },
        [this](std::function<void()> job) { net::post(*fanout_, std::move(job)); });
    task_metrics_ = std::make_unique<TaskMetrics>(tasks_.store(), metrics_);
    state_ = std::make_unique<ServerState>(ServerState{config_, *app_, *hub_, tasks_, metrics_, sessions_, draining_});

    acceptor_ = std::make_unique<tcp::acceptor>(net::make_strand(*ioc_));
    if (auto ec = Listen(*acceptor_, config_.addr, config_.port)) {
      Teardown();
      return queue::Unavailable("cannot listen on " + config_.addr + ":" + std::to_string(config_.port) + ": " +
                                ec.message());
    }
    port_ = acceptor_->local_endpoint().port();
    if (!config_.metrics_addr.empty()) {
      std::string host;
      uint16_t port = 0;
      SplitHostPort(config_.metrics_addr, &host, &port);
      metrics_acceptor_ = std::make_unique<tcp::acceptor>(net::make_strand(*ioc_));
      if (auto ec = Listen(*metrics_acceptor_, host, port)) {
        Teardown();
        return queue::Unavailable("cannot listen on " + config_.metrics_addr + " (metrics): " + ec.message());
      }
      metrics_port_ = metrics_acceptor_->local_endpoint().port();
    }
    WarnIfExposed();
    Accept(*acceptor_, false);
    if (metrics_acceptor_) Accept(*metrics_acceptor_, true);
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { ioc_->run(); });
    started_ = true;
    return {};
  }

  void Stop() {
    base::MutexLock lock(lifecycle_mu_);
    if (!started_ || stopped_) return;
    stopped_ = true;
    draining_ = true;
    net::post(acceptor_->get_executor(), [this] {
      boost::system::error_code ec;
      acceptor_->close(ec);  // a retry timer pending in Accept sees it closed and stops
    });
    if (metrics_acceptor_)
      net::post(metrics_acceptor_->get_executor(), [this] {
        boost::system::error_code ec;
        metrics_acceptor_->close(ec);
      });
    sessions_.ShutdownAll();
    if (!sessions_.WaitEmpty(std::chrono::steady_clock::now() + config_.shutdown_grace))
      std::fprintf(stderr, "wasmq api: %zu connections still open after the shutdown grace; closing them\n",
                   sessions_.count());
    ioc_->stop();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    Teardown();
  }

  uint16_t port() const { return port_; }
  uint16_t metrics_port() const { return metrics_port_; }
  Metrics& metrics() { return metrics_; }

 private:
  // With auth off, anyone who can reach the port owns every task and file: fine on loopback, worth a
  // warning anywhere else (0.0.0.0, a LAN address), where it is easy to end up by accident.
  void WarnIfExposed() const {
    if (config_.auth_required) return;
    boost::system::error_code ec;
    auto addr = net::ip::make_address(config_.addr, ec);
    if (!ec && addr.is_loopback()) return;
    std::fprintf(
        stderr,
        "wasmq api: warning: listening on %s with auth off (WASMQ_AUTH=off): anyone who can reach this "
        "address can read, submit and cancel every task; set WASMQ_AUTH=jwt or listen on 127.0.0.1\n",
        config_.addr.c_str());
  }

  void Accept(tcp::acceptor& acceptor, bool metrics_only) {
    acceptor.async_accept(net::make_strand(*ioc_), [this, &acceptor, metrics_only](
                                                       boost::system::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {
        // EMFILE and friends: retrying at once would spin; the condition clears when connections close.
        auto timer = std::make_shared<net::steady_timer>(acceptor.get_executor());
        timer->expires_after(std::chrono::milliseconds(100));
        timer->async_wait([this, &acceptor, metrics_only, timer](boost::system::error_code e) {
          if (!e && acceptor.is_open()) Accept(acceptor, metrics_only);
        });
        return;
      }
      if (draining_) {
        boost::system::error_code ignored;
        socket.close(ignored);
      } else if (sessions_.Reserve()) {
        StartHttpSession(std::move(socket), *state_, Slot(&sessions_), metrics_only);
      } else {
        RejectBusy(std::move(socket));
      }
      Accept(acceptor, metrics_only);
    });
  }

  void RejectBusy(tcp::socket socket) {
    if (rejecting_.fetch_add(1) >= kMaxRejecting) {
      rejecting_--;
      return;  // the socket closes as it goes out of scope
    }
    auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
    stream->expires_after(std::chrono::seconds(2));
    net::async_write(*stream, net::buffer(BusyResponse()), [this, stream](boost::system::error_code, size_t) {
      boost::system::error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      rejecting_--;
    });
  }

  // Destroys what Start built, in dependency order: the io_context (and with it every session still
  // pending, whose WatchHub registrations go) before the hub, the hub and metrics feed (unsubscribing from
  // the store) before the app. The store subscriptions end first of all.
  void Teardown() REQUIRES(lifecycle_mu_) {
    if (hub_) hub_->Close();  // no store event may post to the io_context once it goes
    task_metrics_.reset();
    metrics_acceptor_.reset();
    acceptor_.reset();
    fanout_.reset();
    ioc_.reset();
    hub_.reset();
    state_.reset();
    app_.reset();
    web_.reset();
  }

  queue::TaskService& tasks_;
  const ApiConfig config_;
  Metrics metrics_;
  SessionSet sessions_;
  std::atomic<bool> draining_{false};
  std::shared_ptr<storage::UploadStore> files_;
  std::unique_ptr<StaticFiles> web_;
  std::unique_ptr<App> app_;
  std::unique_ptr<net::strand<net::io_context::executor_type>> fanout_;  // the WatchHub's deliveries
  std::unique_ptr<WatchHub> hub_;
  std::unique_ptr<TaskMetrics> task_metrics_;
  std::unique_ptr<ServerState> state_;
  std::unique_ptr<net::io_context> ioc_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<tcp::acceptor> metrics_acceptor_;  // metrics_addr's, when set
  std::vector<std::thread> threads_ GUARDED_BY(lifecycle_mu_);
  std::atomic<int> rejecting_{0};
  uint16_t port_ = 0, metrics_port_ = 0;
  // Start and Stop may come from different threads. What Start builds besides these is read by the I/O
  // threads without it: starting them publishes it, and Stop joins them before Teardown destroys it.
  base::Mutex lifecycle_mu_;
  bool started_ GUARDED_BY(lifecycle_mu_) = false;
  bool stopped_ GUARDED_BY(lifecycle_mu_) = false;
};

ApiServer::ApiServer(queue::TaskService& tasks, ApiConfig config)
    : impl_(std::make_unique<Impl>(tasks, std::move(config))) {}
ApiServer::~ApiServer() = default;
queue::Result<void> ApiServer::Start() { return impl_->Start(); }
void ApiServer::Stop() { impl_->Stop(); }
uint16_t ApiServer::port() const { return impl_->port(); }
uint16_t ApiServer::metrics_port() const { return impl_->metrics_port(); }
void ApiServer::ObserveWasmInstantiation(std::string_view mode, double seconds) {
  impl_->metrics().ObserveInstantiation(mode, seconds);
}
void ApiServer::ObserveModulePullFailure(std::string_view cause) { impl_->metrics().ObservePullFailure(cause); }

}  // namespace wasmq::api
