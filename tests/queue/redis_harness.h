// File: tests/queue/redis_harness.h
//
// A real redis-server for the tests: started on a free loopback port with its own directory (appendonly on,
// no RDB snapshots), ready once it answers PING (the socket is polled, no fixed sleep), killed by pid when
// the test process ends — and by the kernel if the test process dies first (PR_SET_PDEATHSIG). When
// redis-server is not installed the Redis tests fail with a message naming the fix (scripts/setup installs
// it); they never skip.
//
//   RedisServer* redis = SharedRedis();    // one per test process, started at first use
//   ASSERT_TRUE(redis) << RedisServer::last_error();
//   auto store = OpenStore(redis->url(), {.redis_prefix = UniquePrefix()});
//
// RedisServer::StartSentinel runs redis-sentinel the same way (sentinel_harness.h builds a primary, its
// replicas and three sentinels from these).
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

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace wasmq::testing {

class RedisServer {
 public:
  // Starts a server; nullptr (and last_error()) when it cannot. `extra` goes on its command line.
  static std::unique_ptr<RedisServer> Start(std::vector<std::string> extra = {}) {
    const std::string binary = FindBinary();
    if (binary.empty()) {
      Error() = "redis-server is not installed (Debian: apt-get install redis-server, or run scripts/setup)";
      return nullptr;
    }
    std::unique_ptr<RedisServer> s(new RedisServer());
    s->binary_ = binary;
    s->extra_ = std::move(extra);
    if (!s->MakeDir()) return nullptr;
    for (int attempt = 0; attempt < 5; ++attempt) {
      s->port_ = FreePort();
      if (s->Launch()) return s;
    }
    return nullptr;
  }

  // A sentinel on a free port: `config` is its sentinel.conf without the port line (written into its own
  // directory, which the sentinel rewrites as it learns). nullptr (and last_error()) when it cannot start.
  static std::unique_ptr<RedisServer> StartSentinel(const std::string& config, int port = 0) {
    const std::string binary = FindBinary();
    if (binary.empty() || access("/usr/bin/redis-sentinel", X_OK) != 0) {
      Error() = "redis-sentinel is not installed (Debian: apt-get install redis-sentinel, or run scripts/setup)";
      return nullptr;
    }
    std::unique_ptr<RedisServer> s(new RedisServer());
    s->binary_ = "/usr/bin/redis-sentinel";
    s->sentinel_ = true;
    s->sentinel_config_ = config;
    if (!s->MakeDir()) return nullptr;
    for (int attempt = 0; attempt < 5; ++attempt) {
      s->port_ = port ? port : FreePort();
      if (s->Launch()) return s;
      if (port) break;
    }
    return nullptr;
  }

  ~RedisServer() {
    Kill();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // SIGKILL, as a crash would; the data directory (the AOF) stays for Restart().
  void Kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  // Starts again on the same port and directory: the server replays its AOF.
  bool Restart() {
    Kill();
    return Launch();
  }
  // The same, with other extra arguments from now on (e.g. {"--replicaof", "127.0.0.1", "6390"}).
  bool Restart(std::vector<std::string> extra) {
    extra_ = std::move(extra);
    return Restart();
  }
  // SIGSTOP / SIGCONT: a server that hangs (or a replica that stops acknowledging) without closing sockets.
  void Pause() { ::kill(pid_, SIGSTOP); }
  void Resume() { ::kill(pid_, SIGCONT); }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string url(int db = 0) const {
    return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
  }
  const std::filesystem::path& dir() const { return dir_; }

  static std::string& Error() {
    static std::string e;
    return e;
  }
  static const std::string& last_error() { return Error(); }

  // One command over a raw socket ("PING" → "+PONG\r\n"), for readiness and small test checks.
  static std::string RawCommand(int port, const std::string& inline_command,
                                std::chrono::milliseconds timeout = std::chrono::milliseconds(500)) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return "";
    timeval tv{0, static_cast<suseconds_t>(timeout.count() * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string out;
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      std::string line = inline_command + "\r\n";
      if (write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
        // Until the whole reply is in: a bulk string ("$N\r\n" + N bytes + "\r\n") or one line.
        char buf[4096];
        for (;;) {
          ssize_t n = read(fd, buf, sizeof buf);
          if (n <= 0) break;
          out.append(buf, static_cast<size_t>(n));
          size_t eol = out.find("\r\n");
          if (eol == std::string::npos) continue;
          if (out[0] != '$') break;
          long len = std::atol(out.c_str() + 1);
          if (len < 0 || out.size() >= eol + 2 + static_cast<size_t>(len) + 2) break;
        }
      }
    }
    close(fd);
    return out;
  }

 private:
  RedisServer() = default;

  bool MakeDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wasmq-redis-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      Error() = "mkdtemp failed";
      return false;
    }
    dir_ = tmpl;
    return true;
  }

  static std::string FindBinary() {
    for (const char* p : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"})
      if (access(p, X_OK) == 0) return p;
    return "";
  }

 public:
  // A loopback port nothing listens on right now.
  static int FreePort() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      close(fd);
      return 0;
    }
    close(fd);
    return ntohs(a.sin_port);
  }

 private:
  // Starts the process and waits until it answers PING (or exits: then false).
  bool Launch() {
    std::vector<std::string> args = {
        binary_, "--port", std::to_string(port_), "--bind", "127.0.0.1", "--appendonly",
        "yes",   "--dir",  dir_.string(),         "--save", "",          "--daemonize",
        "no"};
    if (sentinel_) {
      // A sentinel reads (and rewrites) its file; only the port changes between launch attempts.
      const std::string conf = (dir_ / "sentinel.conf").string();
      FILE* f = fopen(conf.c_str(), "w");
      if (!f) {
        Error() = "cannot write " + conf;
        return false;
      }
      fprintf(f, "port %d\nbind 127.0.0.1\ndir %s\n%s\n", port_, dir_.c_str(), sentinel_config_.c_str());
      fclose(f);
      args = {binary_, conf};
    }
    args.insert(args.end(), extra_.begin(), extra_.end());
    const std::string log = (dir_ / "redis.log").string();
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    auto pause = std::chrono::milliseconds(1);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        Error() = "redis-server exited at start-up (see " + log + ")";
        return false;
      }
      const std::string reply = RawCommand(port_, "PING");
      if (reply.starts_with("+PONG") || reply.starts_with("-NOAUTH")) return true;
      // Polling the socket: the server needs a few milliseconds; back off up to 20 ms between looks.
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(20));
    }
    Error() = "redis-server did not answer PING within 20 s";
    Kill();
    return false;
  }

  std::string binary_;
  bool sentinel_ = false;
  std::string sentinel_config_;
  std::vector<std::string> extra_;
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// The test process's shared server, started at first use and killed at exit.
inline RedisServer* SharedRedis() {
  static std::unique_ptr<RedisServer> server = RedisServer::Start();
  return server.get();
}

// A key prefix no other test in this process uses, so tests sharing a server never see each other's keys.
inline std::string UniquePrefix(const std::string& base = "t") {
  static std::atomic<int> counter{0};
  return base + std::to_string(getpid()) + "_" + std::to_string(counter++);
}

}  // namespace wasmq::testing
