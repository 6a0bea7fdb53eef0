// File: tests/engines/http_server.h
//
// A small HTTP/1.1 server for the engine tests, on 127.0.0.1 and a free port: one thread accepts, each
// connection gets one request (Content-Length bodies) and one answer from the test's handler, then is
// closed. It records every request. A handler may block in Hold(), which returns when the server stops,
// so a "slow server" never outlives its test.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace wasmq::engines::testing {

struct HttpReq {
  std::string method, target, body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string path() const { return target.substr(0, target.find('?')); }
  std::string query() const {
    size_t q = target.find('?');
    return q == std::string::npos ? "" : target.substr(q + 1);
  }
};

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers = {};  // more, e.g. Location, Retry-After
};

class TestServer {
 public:
  using Handler = std::function<HttpReply(const HttpReq&)>;
  explicit TestServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(fd_, 64);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~TestServer() {
    {
      std::lock_guard l(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
    for (auto& t : workers_) t.join();
    close(fd_);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<HttpReq> requests() {
    std::lock_guard l(mu_);
    return requests_;
  }
  // Blocks a handler until the server stops (a server that never answers).
  void Hold() {
    std::unique_lock l(mu_);
    cv_.wait(l, [this] { return stopping_; });
  }

 private:
  void Loop() {
    while (true) {
      {
        std::lock_guard l(mu_);
        if (stopping_) return;
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      workers_.emplace_back([this, c] { Serve(c); });
    }
  }

  void Serve(int c) {
    std::string data;
    char buf[65536];
    size_t header_end = std::string::npos, need = 0;
    while (true) {
      ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      data.append(buf, static_cast<size_t>(n));
      if (header_end == std::string::npos && (header_end = data.find("\r\n\r\n")) != std::string::npos) {
        std::string lower = data.substr(0, header_end);
        for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        size_t cl = lower.find("content-length:");
        need = cl == std::string::npos ? 0 : std::stoul(lower.substr(cl + 15));
      }
      if (header_end != std::string::npos && data.size() >= header_end + 4 + need) break;
    }
    if (header_end == std::string::npos) {
      close(c);
      return;
    }
    HttpReq req;
    std::string head = data.substr(0, header_end);
    size_t line_end = head.find("\r\n");
    std::string first = head.substr(0, line_end);
    req.method = first.substr(0, first.find(' '));
    req.target = first.substr(first.find(' ') + 1, first.rfind(' ') - first.find(' ') - 1);
    size_t at = line_end == std::string::npos ? head.size() : line_end + 2;
    while (at < head.size()) {
      size_t e = head.find("\r\n", at);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(at, e - at);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        req.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
      }
      at = e + 2;
    }
    req.body = data.substr(header_end + 4, need);
    {
      std::lock_guard l(mu_);
      requests_.push_back(req);
    }
    HttpReply r = handler_(req);
    std::string out = "HTTP/1.1 " + std::to_string(r.status) + " X\r\nContent-Type: " + r.content_type +
                      "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n";
    for (const auto& [name, value] : r.headers) out += name + ": " + value + "\r\n";
    out += "Connection: close\r\n\r\n" + r.body;
    size_t sent = 0;
    while (sent < out.size()) {
      ssize_t n = send(c, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    close(c);
  }

  Handler handler_;
  int fd_ = -1, port_ = 0;
  std::thread thread_;
  std::vector<std::thread> workers_;  // touched by the accept thread only, joined after it
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<HttpReq> requests_;
};

// A port nothing listens on (bound, then closed).
inline int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace wasmq::engines::testing
