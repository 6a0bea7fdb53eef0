// File: tests/storage/fault_proxy.h
//
// A tiny TCP proxy in front of s3rver for fault injection: the next N requests are answered
// "503 SlowDown" (S3's throttling answer) without reaching the store, and a callback may fire once the
// clients have sent a given number of bytes through it (to kill the store mid-upload). Every other byte
// passes through unchanged, so SigV4 signatures (over the Host the client sent) still verify.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace wasmq::testing {

class FaultProxy {
 public:
  explicit FaultProxy(int upstream_port) : upstream_(upstream_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(listen_fd_, 64);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~FaultProxy() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    acceptor_.join();
    std::vector<std::thread> conns;
    {
      std::lock_guard<std::mutex> lock(mu_);
      conns.swap(conns_);
    }
    for (auto& t : conns) t.join();
  }

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The next `n` requests get 503 SlowDown.
  void SlowDownNext(int n) { slow_down_ = n; }
  int slowed_down() const { return slowed_; }
  // Calls `fn` once, when clients have sent more than `bytes` through the proxy in all.
  void OnSentBytes(int64_t bytes, std::function<void()> fn) {
    std::lock_guard<std::mutex> lock(mu_);
    trigger_bytes_ = bytes;
    trigger_ = std::move(fn);
  }
  int64_t sent() const { return sent_; }

 private:
  void Accept() {
    while (!stop_) {
      int c = accept(listen_fd_, nullptr, nullptr);
      if (c < 0) return;
      std::lock_guard<std::mutex> lock(mu_);
      conns_.emplace_back([this, c] { Serve(c); });
    }
  }

  // Reads one request (headers and a Content-Length body) and answers 503 SlowDown.
  void Refuse(int c) {
    std::string in;
    char buf[65536];
    size_t need = std::string::npos;
    while (true) {
      if (size_t end = in.find("\r\n\r\n"); end != std::string::npos && need == std::string::npos) {
        size_t length = 0;
        std::string lower = in.substr(0, end);
        for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (size_t at = lower.find("content-length:"); at != std::string::npos)
          length = std::strtoull(lower.c_str() + at + 15, nullptr, 10);
        need = end + 4 + length;
      }
      if (need != std::string::npos && in.size() >= need) break;
      ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    const std::string body =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your "
        "request rate.</Message></Error>";
    const std::string answer = "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
    ++slowed_;
  }

  void Serve(int c) {
    if (slow_down_.fetch_sub(1) > 0) {
      Refuse(c);
      close(c);
      return;
    }
    int u = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(upstream_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(u, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(u);
      close(c);
      return;
    }
    char buf[65536];
    pollfd fds[2] = {{c, POLLIN, 0}, {u, POLLIN, 0}};
    while (!stop_) {
      if (poll(fds, 2, 100) < 0) break;
      bool done = false;
      for (int i = 0; i < 2 && !done; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = recv(fds[i].fd, buf, sizeof buf, 0);
        if (n <= 0 || send(fds[1 - i].fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) {
          done = true;
          break;
        }
        if (i == 0) Sent(n);
      }
      if (done) break;
    }
    close(u);
    close(c);
  }

  void Sent(int64_t n) {
    const int64_t total = sent_ += n;
    std::function<void()> fn;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (trigger_ && total > trigger_bytes_) fn = std::exchange(trigger_, nullptr);
    }
    if (fn) fn();
  }

  int upstream_, port_ = 0, listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> slow_down_{0}, slowed_{0};
  std::atomic<int64_t> sent_{0};
  std::mutex mu_;  // guards conns_, trigger_, trigger_bytes_
  std::vector<std::thread> conns_;
  std::thread acceptor_;
  int64_t trigger_bytes_ = 0;
  std::function<void()> trigger_;
};

}  // namespace wasmq::testing
