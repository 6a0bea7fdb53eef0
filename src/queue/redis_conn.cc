// File: src/queue/redis_conn.cc
#include "queue/redis_conn.h"

#include <sys/socket.h>

#include <charconv>

namespace wasmq::queue::detail {
namespace {

std::optional<int> ParseInt(std::string_view s, int lo, int hi) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return std::nullopt;
  return v;
}

// %XX escapes, so that a password may hold '@', ':' or '/'.
std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int v = 0;
    auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc() || p != s.data() + i + 3) return std::nullopt;
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

timeval ToTimeval(std::chrono::milliseconds ms) {
  return {static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>(ms.count() % 1000 * 1000)};
}

}  // namespace

std::string RedisAddress::Display() const {
  return host + ":" + std::to_string(port) + "/" + std::to_string(db);
}

Result<RedisAddress> ParseRedisUrl(std::string_view url) {
  const std::string whole(url);
  auto bad = [&](const std::string& why) {
    return InvalidArgument("store: '" + whole + "': " + why +
                           " (expected redis://[user:pass@]host:port/db, e.g. redis://127.0.0.1:6379/0)");
  };
  if (!url.starts_with("redis://")) return bad("not a redis:// URL");
  url.remove_prefix(8);
  RedisAddress a;
  if (size_t q = url.find('?'); q != std::string_view::npos) {
    std::string_view query = url.substr(q + 1);
    url = url.substr(0, q);
    if (!query.starts_with("prefix=") || query.size() == 7)
      return bad("the only query parameter is prefix=NAME");
    a.prefix = std::string(query.substr(7));
    if (a.prefix.find_first_of(" {}&") != std::string::npos)
      return bad("the prefix must not hold spaces or braces");
  }
  if (size_t at = url.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = url.substr(0, at);
    url = url.substr(at + 1);
    size_t colon = userinfo.find(':');
    auto user =
        PercentDecode(colon == std::string_view::npos ? std::string_view() : userinfo.substr(0, colon));
    auto pass = PercentDecode(colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1));
    if (!user || !pass) return bad("bad %-escape in the user or password");
    a.user = *user;
    a.password = *pass;
  }
  std::string_view hostport = url, db;
  if (size_t slash = url.find('/'); slash != std::string_view::npos) {
    hostport = url.substr(0, slash);
    db = url.substr(slash + 1);
  }
  if (!db.empty()) {
    auto n = ParseInt(db, 0, 1'000'000);
    if (!n) return bad("the database must be a number");
    a.db = *n;
  }
  std::string_view host = hostport;
  if (size_t colon = hostport.rfind(':'); colon != std::string_view::npos) {
    host = hostport.substr(0, colon);
    auto p = ParseInt(hostport.substr(colon + 1), 1, 65535);
    if (!p) return bad("the port must be a number from 1 to 65535");
    a.port = *p;
  }
  if (host.empty()) return bad("a host is required");
  a.host = std::string(host);
  return a;
}

std::string Str(const redisReply* r) {
  if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS && r->type != REDIS_REPLY_ERROR))
    return {};
  return std::string(r->str, r->len);
}

int64_t Int(const redisReply* r) {
  if (!r) return 0;
  if (r->type == REDIS_REPLY_INTEGER) return r->integer;
  if (r->type == REDIS_REPLY_STRING) {
    int64_t v = 0;
    std::from_chars(r->str, r->str + r->len, v);
    return v;
  }
  return 0;
}

Result<std::unique_ptr<Connection>> Connection::Open(const RedisAddress& addr,
                                                     std::chrono::milliseconds timeout) {
  const timeval tv = ToTimeval(timeout);
  redisContext* ctx = redisConnectWithTimeout(addr.host.c_str(), addr.port, tv);
  if (!ctx) return Unavailable("redis " + addr.Display() + ": out of memory");
  if (ctx->err) {
    std::string why = ctx->errstr;
    redisFree(ctx);
    return Unavailable("cannot connect to redis at " + addr.host + ":" + std::to_string(addr.port) + ": " +
                       why);
  }
  std::unique_ptr<Connection> c(new Connection(ctx));
  redisSetTimeout(ctx, tv);
  // Keepalive: a server that vanished without closing the socket (a cut network) is noticed by the kernel.
  redisEnableKeepAlive(ctx);
  if (!addr.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!addr.user.empty()) auth.push_back(addr.user);
    auth.push_back(addr.password);
    auto r = c->Command(auth);
    if (!r) return r.error();
    if ((*r)->type == REDIS_REPLY_ERROR)
      return Unavailable("redis " + addr.Display() +
                         ": authentication failed (check the user and password in " +
                         "the store URL): " + Str(r->get()));
  }
  auto ping = c->Command({"PING"});
  if (!ping) return ping.error();
  if ((*ping)->type == REDIS_REPLY_ERROR) {
    std::string msg = Str(ping->get());
    if (msg.starts_with("NOAUTH"))
      return Unavailable("redis " + addr.Display() +
                         ": the server requires a password (redis://:PASSWORD@host:port/db): " + msg);
    return Unavailable("redis " + addr.Display() + ": " + msg);
  }
  if (addr.db != 0) {
    auto r = c->Command({"SELECT", std::to_string(addr.db)});
    if (!r) return r.error();
    if ((*r)->type == REDIS_REPLY_ERROR)
      return Unavailable("redis " + addr.Display() + ": cannot select database " + std::to_string(addr.db) +
                         ": " + Str(r->get()));
  }
  return c;
}

Connection::~Connection() { redisFree(ctx_); }

Error Connection::Broken(const char* what) {
  broken_ = true;
  std::string why = ctx_->err ? ctx_->errstr : "no reply";
  return Unavailable(std::string("redis: ") + what + ": " + why);
}

Result<Reply> Connection::Command(const std::vector<std::string>& args) {
  if (broken_) return Unavailable("redis: connection broken");
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(args.size()), argv.data(), lens.data()));
  if (!r) return Broken("command failed");
  return Reply(r);
}

Result<std::vector<Reply>> Connection::Pipeline(const std::vector<std::vector<std::string>>& commands) {
  if (broken_) return Unavailable("redis: connection broken");
  for (const auto& args : commands) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(args.size()), argv.data(), lens.data()) != REDIS_OK)
      return Broken("pipeline failed");
  }
  std::vector<Reply> out;
  for (size_t i = 0; i < commands.size(); ++i) {
    void* r = nullptr;
    if (redisGetReply(ctx_, &r) != REDIS_OK || !r) return Broken("pipeline failed");
    out.emplace_back(static_cast<redisReply*>(r));
  }
  return out;
}

Result<Reply> Connection::Read() {
  if (broken_) return Unavailable("redis: connection broken");
  void* r = nullptr;
  if (redisGetReply(ctx_, &r) != REDIS_OK || !r) return Broken("read failed");
  return Reply(static_cast<redisReply*>(r));
}

void Connection::SetReadTimeout(std::optional<std::chrono::milliseconds> timeout) {
  redisSetTimeout(ctx_, timeout ? ToTimeval(*timeout) : timeval{0, 0});
}

void Connection::Interrupt() { ::shutdown(ctx_->fd, SHUT_RDWR); }

std::chrono::milliseconds ReconnectBackoff(int failures) {
  int64_t ms = 100;
  for (int i = 1; i < failures && ms < 5000; ++i) ms *= 2;
  return std::chrono::milliseconds(std::min<int64_t>(ms, 5000));
}

ConnectionPool::ConnectionPool(RedisAddress addr, size_t max_connections)
    : addr_(std::move(addr)), max_(std::max<size_t>(1, max_connections)) {}

Result<ConnectionPool::Lease> ConnectionPool::Get() {
  using Clock = std::chrono::steady_clock;
  base::MutexLock lock(mu_);
  for (;;) {
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
    if (open_ < max_) break;
    cv_.Wait(lock);
  }
  if (Clock::now() < retry_at_) return Unavailable(last_error_ + " (retrying in the background)");
  ++open_;
  lock.Unlock();
  auto c = Connection::Open(addr_, std::chrono::seconds(5));
  lock.Lock();
  if (!c) {
    --open_;
    retry_at_ = Clock::now() + ReconnectBackoff(++failures_);
    last_error_ = c.error().message;
    cv_.NotifyOne();
    return c.error();
  }
  failures_ = 0;
  return Lease(this, std::move(*c));
}

void ConnectionPool::Return(std::unique_ptr<Connection> c) {
  base::MutexLock lock(mu_);
  if (c->broken()) {
    // The server probably went away (restart, network): the idle connections are as dead as this one, and
    // each would fail one more call if kept.
    open_ -= 1 + idle_.size();
    idle_.clear();
    cv_.NotifyAll();
  } else {
    idle_.push_back(std::move(c));
  }
  cv_.NotifyOne();
}

}  // namespace wasmq::queue::detail
