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
  if (!sentinel()) return host + ":" + std::to_string(port) + "/" + std::to_string(db);
  std::string out = "sentinel " + master_name + "@";
  for (size_t i = 0; i < sentinels.size(); ++i) {
    if (i) out += ',';
    out += sentinels[i].Display();
  }
  return out + "/" + std::to_string(db);
}

Result<RedisAddress> ParseRedisUrl(std::string_view url) {
  const std::string whole(url);
  const bool sentinel = url.starts_with("redis+sentinel://");
  auto bad = [&](const std::string& why) {
    return InvalidArgument(
        "store: '" + whole + "': " + why +
        (sentinel ? " (expected redis+sentinel://[user:pass@]host:port,host:port/master/db, e.g. "
                    "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster/0)"
                  : " (expected redis://[user:pass@]host:port/db, e.g. redis://127.0.0.1:6379/0)"));
  };
  if (!sentinel && !url.starts_with("redis://")) return bad("not a redis:// URL");
  url.remove_prefix(sentinel ? 17 : 8);
  RedisAddress a;
  if (size_t q = url.find('?'); q != std::string_view::npos) {
    std::string_view query = url.substr(q + 1);
    url = url.substr(0, q);
    const char* known = sentinel ? "prefix=NAME, sentinel_user=NAME and sentinel_password=PASS"
                                 : "prefix=NAME";
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view param = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      size_t eq = param.find('=');
      std::string_view key = param.substr(0, eq);
      auto value = PercentDecode(eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1));
      if (!value) return bad("bad %-escape in " + std::string(key));
      if (key == "prefix" && !value->empty()) {
        a.prefix = *value;
        if (a.prefix.find_first_of(" {}&") != std::string::npos)
          return bad("the prefix must not hold spaces or braces");
      } else if (sentinel && key == "sentinel_user") {
        a.sentinel_user = *value;
      } else if (sentinel && key == "sentinel_password" && !value->empty()) {
        a.sentinel_password = *value;
      } else {
        return bad(std::string("the query parameters are ") + known);
      }
    }
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
  std::string_view hostport = url, path;
  if (size_t slash = url.find('/'); slash != std::string_view::npos) {
    hostport = url.substr(0, slash);
    path = url.substr(slash + 1);
  }
  std::string_view db = path;
  if (sentinel) {
    size_t slash = path.find('/');
    a.master_name = std::string(path.substr(0, slash));
    db = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (a.master_name.empty()) return bad("the master's name is required");
  }
  if (!db.empty()) {
    auto n = ParseInt(db, 0, 1'000'000);
    if (!n) return bad("the database must be a number");
    a.db = *n;
  }
  auto parse_host = [&](std::string_view hp, int default_port) -> std::optional<HostPort> {
    HostPort h{std::string(hp), default_port};
    if (size_t colon = hp.rfind(':'); colon != std::string_view::npos) {
      h.host = std::string(hp.substr(0, colon));
      auto p = ParseInt(hp.substr(colon + 1), 1, 65535);
      if (!p) return std::nullopt;
      h.port = *p;
    }
    return h;
  };
  if (sentinel) {
    while (true) {
      size_t comma = hostport.find(',');
      auto h = parse_host(hostport.substr(0, comma), 26379);
      if (!h) return bad("a sentinel's port must be a number from 1 to 65535");
      if (h->host.empty()) return bad("every sentinel needs a host");
      a.sentinels.push_back(std::move(*h));
      if (comma == std::string_view::npos) break;
      hostport.remove_prefix(comma + 1);
    }
    return a;
  }
  auto h = parse_host(hostport, 6379);
  if (!h) return bad("the port must be a number from 1 to 65535");
  if (h->host.empty()) return bad("a host is required");
  a.host = std::move(h->host);
  a.port = h->port;
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

std::vector<std::string_view> SplitFields(std::string_view s, size_t count) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < count) {
    size_t bar = s.find('|');
    if (bar == std::string_view::npos) break;
    out.push_back(s.substr(0, bar));
    s.remove_prefix(bar + 1);
  }
  out.push_back(s);
  return out;
}

int64_t ToInt(std::string_view s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

Result<std::unique_ptr<Connection>> Connection::Connect(const HostPort& at,
                                                        std::chrono::milliseconds timeout) {
  const timeval tv = ToTimeval(timeout);
  redisContext* ctx = redisConnectWithTimeout(at.host.c_str(), at.port, tv);
  if (!ctx) return Unavailable("redis " + at.Display() + ": out of memory");
  if (ctx->err) {
    std::string why = ctx->errstr;
    redisFree(ctx);
    return Unavailable("cannot connect to redis at " + at.Display() + ": " + why);
  }
  std::unique_ptr<Connection> c(new Connection(ctx));
  redisSetTimeout(ctx, tv);
  // Keepalive: a server that vanished without closing the socket (a cut network) is noticed by the kernel.
  redisEnableKeepAlive(ctx);
  return c;
}

Result<std::unique_ptr<Connection>> Connection::Open(const RedisAddress& addr,
                                                     std::chrono::milliseconds timeout) {
  return addr.sentinel() ? OpenViaSentinels(addr, timeout) : OpenDirect(addr, timeout);
}

Result<std::unique_ptr<Connection>> Connection::OpenDirect(const RedisAddress& addr,
                                                           std::chrono::milliseconds timeout) {
  auto opened = Connect({addr.host, addr.port}, timeout);
  if (!opened) return opened.error();
  std::unique_ptr<Connection> c = std::move(*opened);
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

// Each sentinel in turn: where is the primary, and is it one? A sentinel that is down, does not know the
// master, or names a node that is not (or no longer) a primary — its view lags a failover — is passed over.
Result<std::unique_ptr<Connection>> Connection::OpenViaSentinels(const RedisAddress& addr,
                                                                 std::chrono::milliseconds timeout) {
  const std::string name = addr.master_name;
  std::string why;
  size_t unknown = 0;
  auto note = [&](const HostPort& s, const std::string& what) {
    if (!why.empty()) why += "; ";
    why += s.Display();
    why += ": ";
    why += what;
  };
  for (const HostPort& s : addr.sentinels) {
    auto sc = Connect(s, std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(2)));
    if (!sc) {
      note(s, sc.error().message);
      continue;
    }
    if (!addr.sentinel_password.empty()) {
      std::vector<std::string> auth = {"AUTH"};
      if (!addr.sentinel_user.empty()) auth.push_back(addr.sentinel_user);
      auth.push_back(addr.sentinel_password);
      auto r = (*sc)->Command(auth);
      if (!r || (*r)->type == REDIS_REPLY_ERROR) {
        note(s, "sentinel authentication failed (sentinel_password in the store URL): " +
                    (r ? Str(r->get()) : r.error().message));
        continue;
      }
    }
    auto r = (*sc)->Command({"SENTINEL", "get-master-addr-by-name", name});
    if (!r) {
      note(s, r.error().message);
      continue;
    }
    const redisReply* reply = r->get();
    if (reply->type == REDIS_REPLY_NIL) {
      ++unknown;
      note(s, "no master named '" + name + "'");
      continue;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
      std::string msg = Str(reply);
      note(s, msg.starts_with("NOAUTH") ? "the sentinel requires a password (?sentinel_password=PASS): " + msg
                                        : "unexpected answer " + msg);
      continue;
    }
    RedisAddress primary = addr;
    primary.sentinels.clear();
    primary.host = Str(reply->element[0]);
    primary.port = static_cast<int>(Int(reply->element[1]));
    auto c = OpenDirect(primary, timeout);
    if (!c) {
      note(s, "primary " + HostPort{primary.host, primary.port}.Display() + ": " + c.error().message);
      continue;
    }
    auto role = (*c)->Command({"ROLE"});
    if (!role) {
      note(s, "primary " + primary.Display() + ": " + role.error().message);
      continue;
    }
    const redisReply* rr = role->get();
    const std::string is =
        rr->type == REDIS_REPLY_ARRAY && rr->elements > 0 ? Str(rr->element[0]) : Str(rr);
    if (is == "master") return std::move(*c);
    note(s, HostPort{primary.host, primary.port}.Display() + " answers ROLE " + is +
                ", not master (a failover under way)");
  }
  if (unknown == addr.sentinels.size())
    return Unavailable("redis sentinel: no sentinel knows a master named '" + name + "' (check the name in " +
                       "redis+sentinel://…/MASTER/DB): " + why);
  return Unavailable("redis sentinel: no primary found for master '" + name + "': " + why);
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
  NoteReply(r);
  return Reply(r);
}

// A primary demoted to a replica (a failover) refuses writes with READONLY — in Redis 7 a script's write
// too, with the same code first. Its connections must not be reused: the next one rediscovers.
void Connection::NoteReply(const redisReply* r) {
  if (r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("READONLY"))
    broken_ = true;
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
    NoteReply(static_cast<redisReply*>(r));
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
  // A primary change while this one is being opened (it may have found the old primary) makes it stale:
  // Return drops it after this call.
  const uint64_t generation = generation_;
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
  (*c)->generation = generation;
  return Lease(this, std::move(*c));
}

void ConnectionPool::Invalidate() {
  base::MutexLock lock(mu_);
  ++generation_;
  open_ -= idle_.size();
  idle_.clear();
  failures_ = 0;
  retry_at_ = {};
  cv_.NotifyAll();
}

void ConnectionPool::Return(std::unique_ptr<Connection> c) {
  base::MutexLock lock(mu_);
  if (c->generation != generation_) {
    --open_;  // opened before the primary changed
  } else if (c->broken()) {
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
