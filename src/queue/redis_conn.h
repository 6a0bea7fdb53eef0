// File: src/queue/redis_conn.h
//
// Internal to the Redis backend: the store URL, one connection (hiredis, synchronous), and a small pool of
// connections shared by the store's threads.
//
// A hiredis context is not thread-safe, so every call borrows a connection from the pool for its duration.
// A connection that fails (I/O error, timeout, protocol error) is dropped, never reused: after a failure the
// stream may hold a half-read reply. The next borrower reconnects — but not faster than the backoff allows
// (100 ms doubling to 5 s after each failed connect), so a store whose Redis is down answers Unavailable at
// once instead of hammering the server or spinning.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "queue/error.h"

namespace wasmq::queue::detail {

// redis://[user:pass@]host:port/db (a password alone: redis://:pass@host:port/db), with an optional
// ?prefix=NAME that overrides the key prefix.
struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string user = {}, password = {};
  std::string prefix = {};      // from ?prefix=, empty when absent
  std::string Display() const;  // host:port/db, without the password
};
Result<RedisAddress> ParseRedisUrl(std::string_view url);

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// Reads a reply's string / integer element (nil and non-strings give "" / 0).
std::string Str(const redisReply* r);
int64_t Int(const redisReply* r);

class Connection {
 public:
  // Connects, authenticates and selects the database. Unavailable with a message saying which of these
  // failed and why: "cannot connect to redis at …: Connection refused", "authentication failed …".
  static Result<std::unique_ptr<Connection>> Open(const RedisAddress& addr,
                                                  std::chrono::milliseconds timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one command and reads its reply. An error *reply* (e.g. a script's) is returned as a reply of type
  // REDIS_REPLY_ERROR; only a broken connection is an Error (and marks the connection broken).
  Result<Reply> Command(const std::vector<std::string>& args);
  // Pipelines several commands: one round trip for all.
  Result<std::vector<Reply>> Pipeline(const std::vector<std::vector<std::string>>& commands);
  // Reads the next message pushed by the server (pub/sub). Blocks up to the read timeout (none: forever).
  Result<Reply> Read();
  void SetReadTimeout(std::optional<std::chrono::milliseconds> timeout);
  // Makes a Read blocked in another thread return (with an error). Safe from any thread.
  void Interrupt();
  bool broken() const { return broken_; }

 private:
  explicit Connection(redisContext* ctx) : ctx_(ctx) {}
  Error Broken(const char* what);

  redisContext* ctx_;
  bool broken_ = false;
};

class ConnectionPool {
 public:
  ConnectionPool(RedisAddress addr, size_t max_connections);

  // A connection for the duration of one call; handed back (or dropped when broken) on destruction.
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> c) : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (c_) pool_->Return(std::move(c_));
    }
    Connection* operator->() { return c_.get(); }
    Connection& operator*() { return *c_; }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> c_;
  };

  // Waits for a free connection, or opens one; Unavailable while the server cannot be reached (see the
  // backoff above).
  Result<Lease> Get() EXCLUDES(mu_);
  const RedisAddress& address() const { return addr_; }

 private:
  void Return(std::unique_ptr<Connection> c) EXCLUDES(mu_);

  const RedisAddress addr_;
  const size_t max_;
  base::Mutex mu_;
  base::CondVar cv_;
  std::vector<std::unique_ptr<Connection>> idle_ GUARDED_BY(mu_);
  size_t open_ GUARDED_BY(mu_) = 0;                                   // idle + lent + being opened
  std::chrono::steady_clock::time_point retry_at_ GUARDED_BY(mu_){};  // no connect attempt before this
  int failures_ GUARDED_BY(mu_) = 0;                                  // failed connects in a row
  std::string last_error_ GUARDED_BY(mu_);
};

// The reconnect delay after `failures` failed attempts in a row: 100 ms doubling to 5 s.
std::chrono::milliseconds ReconnectBackoff(int failures);

}  // namespace wasmq::queue::detail
