// File: src/queue/redis_sentinel_watch.cc
//
// The Redis store's sentinel watcher (redis+sentinel:// only): one connection SUBSCRIBEd to +switch-master
// on a sentinel, read by one thread. Sentinels publish "+switch-master <master> <old ip> <old port> <new ip>
// <new port>" when a failover of <master> has ended. Without it a store would notice a failover only when
// a call failed on the old primary; with it, every pooled connection and the event subscriber move to the
// new primary at once — which matters most after a graceful failover, where the old primary stays up and
// reachable (it refuses writes with READONLY once demoted).
//
// When the sentinel it listens to goes away, it moves to the next one in the URL's order, with the same
// backoff as the other connections once it has tried them all.
#include <sstream>

#include "queue/redis_store.h"

namespace wasmq::queue {

void RedisStore::OnPrimaryChanged() {
  pool_.Invalidate();
  {
    base::MutexLock lock(sub_mu_);
    reconnect_now_ = true;
    if (sub_conn_) sub_conn_->Interrupt();
  }
  sub_cv_.NotifyAll();
}

void RedisStore::SentinelWatchLoop() {
  const detail::RedisAddress& addr = pool_.address();
  size_t next = 0;
  int failures = 0;
  for (;;) {
    {
      base::MutexLock lock(sub_mu_);
      if (stopping_) return;
    }
    std::unique_ptr<detail::Connection> conn;
    for (size_t tried = 0; tried < addr.sentinels.size() && !conn; ++tried) {
      const detail::HostPort& at = addr.sentinels[next];
      next = (next + 1) % addr.sentinels.size();
      auto c = detail::Connection::Connect(at, std::chrono::seconds(2));
      if (!c) continue;
      if (!addr.sentinel_password.empty()) {
        std::vector<std::string> auth = {"AUTH"};
        if (!addr.sentinel_user.empty()) auth.push_back(addr.sentinel_user);
        auth.push_back(addr.sentinel_password);
        auto r = (*c)->Command(auth);
        if (!r || (*r)->type == REDIS_REPLY_ERROR) continue;
      }
      auto r = (*c)->Command({"SUBSCRIBE", "+switch-master"});
      if (r && (*r)->type == REDIS_REPLY_ARRAY) conn = std::move(*c);
    }
    {
      base::MutexLock lock(sub_mu_);
      if (stopping_) return;
      watch_conn_ = conn.get();
    }
    if (conn) {
      failures = 0;
      conn->SetReadTimeout(std::nullopt);
      for (;;) {
        auto m = conn->Read();
        if (!m) break;
        const redisReply* r = m->get();
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || detail::Str(r->element[0]) != "message")
          continue;
        std::istringstream words(detail::Str(r->element[2]));
        std::string master;
        words >> master;
        if (master == addr.master_name) OnPrimaryChanged();
      }
      base::MutexLock lock(sub_mu_);
      watch_conn_ = nullptr;
    }
    base::MutexLock lock(sub_mu_);
    sub_cv_.WaitFor(lock, detail::ReconnectBackoff(++failures),
                    [&]() REQUIRES(sub_mu_) { return stopping_; });
  }
}

}  // namespace wasmq::queue
