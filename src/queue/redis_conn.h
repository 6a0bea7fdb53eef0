// File: src/queue/redis_conn.h
//
// Internal to the Redis backend: the store URL, one connection (hiredis, synchronous), and a small pool of
// connections shared by the store's threads.
//
// With Sentinel (redis+sentinel://…) every new connection first asks the sentinels, one after the other,
// where the primary of the named master is (SENTINEL get-master-addr-by-name), connects there and checks
// that the node answers ROLE as a master (a demoted one answers slave: the next sentinel is asked). A
// connection that gets a READONLY reply is dropped like a broken one, so the next borrower rediscovers.
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

struct HostPort {
  std::string host;
  int port = 0;
  std::string Display() const { return host + ":" + std::to_string(port); }
};

// redis://[user:pass@]host:port/db (a password alone: redis://:pass@host:port/db), with an optional
// ?prefix=NAME that overrides the key prefix; or
// redis+sentinel://[user:pass@]host:port,host:port,…/master/db with, besides prefix=NAME, the optional
// sentinel_user=NAME and sentinel_password=PASS (the sentinels' own AUTH; the userinfo is the data nodes').
// A sentinel without a port is on 26379.
struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string user = {}, password = {};
  std::string prefix = {};  // from ?prefix=, empty when absent
  // Sentinel: the sentinels asked, in order, and the name of the master they watch; empty for redis://.
  std::vector<HostPort> sentinels = {};
  std::string master_name = {};
  std::string sentinel_user = {}, sentinel_password = {};
  bool sentinel() const { return !sentinels.empty(); }
  std::string Display() const;  // host:port/db or sentinel master@host:port,…/db; never a password
};
Result<RedisAddress> ParseRedisUrl(std::string_view url);

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// Reads a reply's string / integer element (nil and non-strings give "" / 0).
std::string Str(const redisReply* r);
int64_t Int(const redisReply* r);
// The fields of a '|'-joined payload (events, history entries): at most `count`, the last taking the rest
// (it may contain '|'); and a decimal field (0 when it is not one).
std::vector<std::string_view> SplitFields(std::string_view s, size_t count);
int64_t ToInt(std::string_view s);

class Connection {
 public:
  // Connects, authenticates and selects the database. Unavailable with a message saying which of these
  // failed and why: "cannot connect to redis at …: Connection refused", "authentication failed …".
  // With Sentinel, connects to the primary the sentinels name (see above); Unavailable saying what each
  // sentinel answered when none leads to a primary ("no sentinel knows a master named …").
  static Result<std::unique_ptr<Connection>> Open(const RedisAddress& addr,
                                                  std::chrono::milliseconds timeout);
  // A bare connection (no AUTH, no SELECT): for talking to a sentinel.
  static Result<std::unique_ptr<Connection>> Connect(const HostPort& at, std::chrono::milliseconds timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one command and reads its reply. An error *reply* (e.g. a script's) is returned as a reply of type
  // REDIS_REPLY_ERROR; only a broken connection is an Error (and marks the connection broken). A READONLY
  // reply (the node was demoted to a replica) is returned too but marks the connection broken as well.
  Result<Reply> Command(const std::vector<std::string>& args);
  // Pipelines several commands: one round trip for all.
  Result<std::vector<Reply>> Pipeline(const std::vector<std::vector<std::string>>& commands);
  // Reads the next message pushed by the server (pub/sub). Blocks up to the read timeout (none: forever).
  Result<Reply> Read();
  void SetReadTimeout(std::optional<std::chrono::milliseconds> timeout);
  // Makes a Read blocked in another thread return (with an error). Safe from any thread.
  void Interrupt();
  bool broken() const { return broken_; }
  // The pool's generation when this connection was opened (ConnectionPool::Invalidate).
  uint64_t generation = 0;

 private:
  explicit Connection(redisContext* ctx) : ctx_(ctx) {}
  static Result<std::unique_ptr<Connection>> OpenDirect(const RedisAddress& addr,
                                                        std::chrono::milliseconds timeout);
  static Result<std::unique_ptr<Connection>> OpenViaSentinels(const RedisAddress& addr,
                                                              std::chrono::milliseconds timeout);
  Error Broken(const char* what);
  void NoteReply(const redisReply* r);

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
  // The primary changed (Sentinel's +switch-master): idle connections are dropped, lent ones when they come
  // back, and the next Get connects at once (no backoff left from the failover's failed attempts).
  void Invalidate() EXCLUDES(mu_);

 private:
  void Return(std::unique_ptr<Connection> c) EXCLUDES(mu_);

  const RedisAddress addr_;
  const size_t max_;
  base::Mutex mu_;
  base::CondVar cv_;
  std::vector<std::unique_ptr<Connection>> idle_ GUARDED_BY(mu_);
  size_t open_ GUARDED_BY(mu_) = 0;                                   // idle + lent + being opened
  uint64_t generation_ GUARDED_BY(mu_) = 0;                           // bumped by Invalidate
  std::chrono::steady_clock::time_point retry_at_ GUARDED_BY(mu_){};  // no connect attempt before this
  int failures_ GUARDED_BY(mu_) = 0;                                  // failed connects in a row
  std::string last_error_ GUARDED_BY(mu_);
};

// The reconnect delay after `failures` failed attempts in a row: 100 ms doubling to 5 s.
std::chrono::milliseconds ReconnectBackoff(int failures);

}  // namespace wasmq::queue::detail
