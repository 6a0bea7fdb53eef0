// File: tests/storage/s3rver_harness.h
//
// s3rver (npm, an S3-compatible server; it checks access keys but not V4 signatures) for the object storage tests: started
// by node on 127.0.0.1 and a free port with its own directory and a bucket, ready once the port accepts
// (polled, no fixed sleep), killed by pid — and by the kernel if the test process dies first
// (PR_SET_PDEATHSIG). It is installed by scripts/setup (`npm ci` of tests/storage/package.json into
// BUILD/tests/storage/npm); missing, the tests fail saying so. Its keys are S3RVER / S3RVER.
//
//   auto s3 = S3rver::Start("bucket");
//   ASSERT_TRUE(s3) << S3rver::last_error();
//   storage::S3Options o = s3->Options("prefix");
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/storage.h"

#ifndef S3RVER_BIN
#error "S3RVER_BIN (the installed s3rver script) must be defined by the build"
#endif

namespace wasmq::testing {

// A free TCP port on 127.0.0.1 (bound, read back, closed).
inline int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

inline bool PortAccepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

class S3rver {
 public:
  static std::unique_ptr<S3rver> Start(std::string bucket) {
    if (access(S3RVER_BIN, R_OK) != 0) {
      Error() = std::string(S3RVER_BIN) + " missing: run scripts/setup (npm ci of tests/storage)";
      return nullptr;
    }
    std::unique_ptr<S3rver> s(new S3rver());
    s->bucket_ = std::move(bucket);
    std::string tmpl = (std::filesystem::temp_directory_path() / "wasmq-s3rver-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      Error() = "mkdtemp failed";
      return nullptr;
    }
    s->dir_ = tmpl;
    for (int attempt = 0; attempt < 5; ++attempt) {
      s->port_ = FreeLoopbackPort();
      if (s->Launch()) return s;
    }
    return nullptr;
  }
  ~S3rver() {
    Kill();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void Kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  // Again on the same port and directory (what it stored is still there).
  bool Restart() {
    Kill();
    return Launch();
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string url(const std::string& prefix) const {
    return "s3://" + bucket_ + "/" + prefix + "?endpoint=" + endpoint() + "&region=us-east-1";
  }
  storage::S3Options Options(const std::string& prefix) const {
    storage::S3Options o;
    o.bucket = bucket_;
    o.prefix = prefix;
    o.endpoint = endpoint();
    o.region = "us-east-1";
    o.access_key = "S3RVER";
    o.secret_key = "S3RVER";
    o.retries = 2;
    return o;
  }
  static std::string& last_error() { return Error(); }

 private:
  S3rver() = default;
  static std::string& Error() {
    static std::string e;
    return e;
  }

  bool Launch() {
    const std::string port = std::to_string(port_), log = dir_ + "/s3rver.log", data = dir_ + "/data";
    std::filesystem::create_directories(data);
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      execlp("node", "node", S3RVER_BIN, "--directory", data.c_str(), "--address", "127.0.0.1", "--port",
             port.c_str(), "--silent", "--no-vhost-buckets", "--configure-bucket", bucket_.c_str(),
             static_cast<char*>(nullptr));
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (PortAccepts(port_)) return true;
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        Error() = "s3rver exited at start (see " + log + ")";
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Error() = "s3rver did not listen on port " + port + " within 30 s";
    Kill();
    return false;
  }

  std::string bucket_, dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace wasmq::testing
