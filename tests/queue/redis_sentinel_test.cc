// The Redis store behind Sentinel (redis+sentinel://), against real redis-server and redis-sentinel
// processes (sentinel_harness.h): the URL, discovery, a wrong master name, one sentinel left, WAIT, and
// failovers under load — the primary killed (kill -9) and a graceful SENTINEL FAILOVER — after which every
// task acknowledged to a producer is done exactly once.
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <mutex>
#include <set>

#include "helpers.h"
#include "queue/redis_conn.h"
#include "sentinel_harness.h"

namespace wasmq::queue {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::NewTask;
using wasmq::testing::RedisServer;
using wasmq::testing::SentinelCluster;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

Claimed ClaimOne(Store& s, const std::string& owner) {
  auto r = s.Dequeue({.owner = owner, .lease_ms = 5000});
  EXPECT_TRUE(r.ok() && r->size() == 1) << (r.ok() ? "nothing claimed" : r.error().message);
  return r.ok() && !r->empty() ? (*r)[0] : Claimed{};
}

TEST(RedisSentinelUrlTest, ParsesSentinelsMasterDbAndCredentials) {
  auto a = detail::ParseRedisUrl(
      "redis+sentinel://app:p%40ss@10.0.0.1:26380,sentinel-b,10.0.0.3:1/mymaster/2"
      "?prefix=formy&sentinel_user=watch&sentinel_password=s%26cret");
  ASSERT_OK(a);
  ASSERT_TRUE(a->sentinel());
  ASSERT_EQ(a->sentinels.size(), 3u);
  EXPECT_EQ(a->sentinels[0].Display(), "10.0.0.1:26380");
  EXPECT_EQ(a->sentinels[1].Display(), "sentinel-b:26379");  // the sentinels' default port
  EXPECT_EQ(a->sentinels[2].port, 1);
  EXPECT_EQ(a->master_name, "mymaster");
  EXPECT_EQ(a->db, 2);
  EXPECT_EQ(a->user, "app");
  EXPECT_EQ(a->password, "p@ss");
  EXPECT_EQ(a->prefix, "formy");
  EXPECT_EQ(a->sentinel_user, "watch");
  EXPECT_EQ(a->sentinel_password, "s&cret");
  EXPECT_EQ(a->Display(), "sentinel mymaster@10.0.0.1:26380,sentinel-b:26379,10.0.0.3:1/2");
  auto b = detail::ParseRedisUrl("redis+sentinel://127.0.0.1:26379/m");
  ASSERT_OK(b);
  EXPECT_EQ(b->db, 0);
  EXPECT_TRUE(b->password.empty());
  EXPECT_CODE(detail::ParseRedisUrl("redis+sentinel://127.0.0.1:26379"), Code::InvalidArgument);
  EXPECT_CODE(detail::ParseRedisUrl("redis+sentinel://127.0.0.1:26379//0"), Code::InvalidArgument);
  EXPECT_CODE(detail::ParseRedisUrl("redis+sentinel://h:1,:2/m/0"), Code::InvalidArgument);
  EXPECT_CODE(detail::ParseRedisUrl("redis+sentinel://h:99999/m/0"), Code::InvalidArgument);
  EXPECT_CODE(detail::ParseRedisUrl("redis+sentinel://h/m/x"), Code::InvalidArgument);
  EXPECT_CODE(detail::ParseRedisUrl("redis+sentinel://h/m/0?db=1"), Code::InvalidArgument);
  // A plain URL takes no sentinel parameter.
  EXPECT_CODE(detail::ParseRedisUrl("redis://h:1/0?sentinel_password=x"), Code::InvalidArgument);
  auto plain = detail::ParseRedisUrl("redis://h:1/0?prefix=p");
  ASSERT_OK(plain);
  EXPECT_FALSE(plain->sentinel());
}

// The store finds the primary through the sentinels, writes there, and an acknowledged create is already
// on the replica (WAIT 1, the default with Sentinel).
TEST(RedisSentinelTest, DiscoversThePrimaryAndAcknowledgesWhatTheReplicaHas) {
  auto cluster = SentinelCluster::Start();
  ASSERT_NE(cluster, nullptr) << RedisServer::last_error();
  const int primary = cluster->PrimaryPort();
  ASSERT_EQ(primary, cluster->node(0).port());
  auto store = OpenStore(cluster->url(), {.redis_prefix = "s"});
  ASSERT_OK(store);
  EXPECT_EQ((*store)->backend(), "redis");
  for (int i = 0; i < 20; ++i) {
    const std::string id = "task_" + std::to_string(i);
    ASSERT_OK((*store)->Create(NewTask(id, "HEAD_SWAP", NowMs())));
    // Acknowledged, so on the replica too — at once, no polling.
    EXPECT_EQ(RedisServer::RawCommand(cluster->node(1).port(), "HEXISTS s:task:data:" + id + " mode"), ":1\r\n");
  }
  Claimed c = ClaimOne(**store, "w");
  ASSERT_OK((*store)->Complete(c.lease, {}));
  EXPECT_NE(RedisServer::RawCommand(cluster->node(1).port(), "HGET s:task:data:" + c.task.task_id + " status")
                .find("done"),
            std::string::npos);
  EXPECT_NE(RedisServer::RawCommand(primary, "INFO commandstats").find("cmdstat_wait:calls="),
            std::string::npos);
}

TEST(RedisSentinelTest, AWrongMasterNameIsAClearError) {
  auto cluster = SentinelCluster::Start();
  ASSERT_NE(cluster, nullptr) << RedisServer::last_error();
  auto store = OpenStore(cluster->url(0, "no-such-master"));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, Code::Unavailable);
  EXPECT_NE(store.error().message.find("no sentinel knows a master named 'no-such-master'"), std::string::npos)
      << store.error().message;
  // Every sentinel down: each one's reason is named.
  for (int i = 0; i < 3; ++i) cluster->sentinel(i).Kill();
  auto down = OpenStore(cluster->url());
  ASSERT_FALSE(down.ok());
  EXPECT_NE(down.error().message.find("no primary found for master 'wasmq-test'"), std::string::npos)
      << down.error().message;
  EXPECT_NE(down.error().message.find("Connection refused"), std::string::npos) << down.error().message;
}

// Two of the three sentinels down (the first two the URL names): discovery goes on to the third, and so
// does the +switch-master watcher.
TEST(RedisSentinelTest, WorksWithAllSentinelsButOneDown) {
  auto cluster = SentinelCluster::Start();
  ASSERT_NE(cluster, nullptr) << RedisServer::last_error();
  cluster->sentinel(0).Kill();
  cluster->sentinel(1).Kill();
  auto t0 = Clock::now();
  auto store = OpenStore(cluster->url());
  ASSERT_OK(store);
  EXPECT_LT(Clock::now() - t0, 2s) << "refused sentinels must be passed over at once";
  ASSERT_OK((*store)->Create(NewTask("task_one", "HEAD_SWAP", NowMs())));
  Claimed c = ClaimOne(**store, "w");
  ASSERT_OK((*store)->Complete(c.lease, {}));
  EXPECT_EQ((*store)->Get("task_one")->status, TaskStatus::Done);
}

// A replica that stops acknowledging (SIGSTOP): a create or a finish is written to the primary but not
// acknowledged — Unavailable after the WAIT timeout. Sent again once the replica is back, the finish is
// recognised as already applied and acknowledged; another lease's finish is still refused.
TEST(RedisSentinelTest, AWriteNoReplicaConfirmedIsNotAcknowledged) {
  auto cluster = SentinelCluster::Start();
  ASSERT_NE(cluster, nullptr) << RedisServer::last_error();
  auto store = OpenStore(cluster->url(), {.redis_wait_timeout_ms = 300});
  ASSERT_OK(store);
  ASSERT_OK((*store)->Create(NewTask("task_a", "HEAD_SWAP", NowMs())));
  Claimed c = ClaimOne(**store, "w");
  cluster->node(1).Pause();
  auto t0 = Clock::now();
  auto created = (*store)->Create(NewTask("task_b", "HEAD_SWAP", NowMs()));
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, Code::Unavailable);
  EXPECT_NE(created.error().message.find("0 of the 1 replicas required confirmed it within 300 ms"),
            std::string::npos)
      << created.error().message;
  EXPECT_LT(Clock::now() - t0, 2s);
  auto completed = (*store)->Complete(c.lease, TaskResult{{"x.png"}, nullptr, 1});
  EXPECT_CODE(completed, Code::Unavailable);
  cluster->node(1).Resume();
  ASSERT_OK((*store)->Complete(c.lease, TaskResult{{"x.png"}, nullptr, 1}));  // the same finish again
  auto t = (*store)->Get("task_a");
  ASSERT_OK(t);
  EXPECT_EQ(t->status, TaskStatus::Done);
  Lease other = c.lease;
  other.token += 1;
  EXPECT_CODE((*store)->Complete(other, {}), Code::Conflict);
  Lease stranger = c.lease;
  stranger.owner = "someone-else";
  EXPECT_CODE((*store)->Complete(stranger, {}), Code::Conflict);
}

// Producers, workers and a reaper, each with its own store (as separate processes would be), running
// until Stop. Producers count what was acknowledged to them; workers count the completions acknowledged to
// them per task id. A call that fails (the store is unavailable during a failover) is retried: a producer
// draws a new id (as TaskService does), a worker sends the same finish again until it is acknowledged or
// refused.
class Load {
 public:
  Load(std::string url, std::string prefix, int producers, int workers) : url_(std::move(url)) {
    options_.redis_prefix = std::move(prefix);
    for (int p = 0; p < producers; ++p) threads_.emplace_back([this, p] { Produce(p); });
    for (int w = 0; w < workers; ++w) threads_.emplace_back([this, w] { Work(w); });
    threads_.emplace_back([this] { Reap(); });
  }
  ~Load() { Stop(); }

  // Producers stop; workers go on until Stop.
  void StopProducing() { stop_producing_ = true; }
  void Stop() {
    stop_producing_ = true;
    if (stop_.exchange(true)) return;
    {
      std::lock_guard l(mu_);
      for (Store* s : worker_stores_) s->WakeWaiters();
    }
    for (auto& t : threads_) t.join();
  }

  // Waits until `n` more tasks are acknowledged than at the call; false after `timeout`.
  bool WaitAcknowledged(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock l(mu_);
    const size_t target = acked_.size() + n;
    return cv_.wait_for(l, timeout, [&] { return acked_.size() >= target; });
  }
  // Waits until every acknowledged task has a completion; false after `timeout`.
  bool WaitAllDone(std::chrono::milliseconds timeout) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, timeout, [&] {
      for (const std::string& id : acked_)
        if (!completions_.contains(id)) return false;
      return true;
    });
  }
  // The first acknowledgement (create or finish) after `t`, or nullopt.
  std::optional<Clock::time_point> FirstAckAfter(Clock::time_point t) {
    std::lock_guard l(mu_);
    for (Clock::time_point a : ack_times_)
      if (a > t) return a;
    return std::nullopt;
  }

  std::set<std::string> acked() {
    std::lock_guard l(mu_);
    return acked_;
  }
  std::map<std::string, int> completions() {
    std::lock_guard l(mu_);
    return completions_;
  }
  int create_failures() const { return create_failures_; }
  int finish_retries() const { return finish_retries_; }

 private:
  std::unique_ptr<Store> Open() {
    while (!stop_) {
      auto s = OpenStore(url_, options_);
      if (s) return std::move(*s);
      std::this_thread::sleep_for(50ms);
    }
    return nullptr;
  }

  void Acknowledged(const std::string* created, const std::string* completed) {
    std::lock_guard l(mu_);
    if (created) acked_.insert(*created);
    if (completed) ++completions_[*completed];
    ack_times_.push_back(Clock::now());
    cv_.notify_all();
  }

  void Produce(int p) {
    auto store = Open();
    for (int n = 0; store && !stop_producing_; ++n) {
      const std::string id = "task_p" + std::to_string(p) + "_" + std::to_string(n);
      if ((store->Create(NewTask(id, "HEAD_SWAP", NowMs(), 0, 5))).ok()) {
        Acknowledged(&id, nullptr);
        std::this_thread::sleep_for(3ms);  // a steady trickle, not a flood, on a shared machine
      } else {
        ++create_failures_;
        std::this_thread::sleep_for(20ms);
      }
    }
  }

  void Work(int w) {
    auto store = Open();
    if (!store) return;
    {
      std::lock_guard l(mu_);
      worker_stores_.push_back(store.get());
    }
    const std::string owner = "worker" + std::to_string(w);
    while (!stop_) {
      // A long wait: after a failover, only the re-established pub/sub subscription wakes it in time.
      auto claimed = store->Dequeue({.owner = owner,
                                     .lease_ms = 2000,
                                     .max_tasks = 4,
                                     .wait = 30s,
                                     .give_up = [this] { return stop_.load(); }});
      if (!claimed) {
        std::this_thread::sleep_for(20ms);
        continue;
      }
      for (const Claimed& c : *claimed) {
        for (;;) {
          auto r = store->Complete(c.lease, TaskResult{{}, nullptr, 1});
          if (r.ok()) {
            Acknowledged(nullptr, &c.task.task_id);
            break;
          }
          if (r.error().code != Code::Unavailable) break;  // refused: another attempt has it
          ++finish_retries_;
          std::this_thread::sleep_for(20ms);
        }
      }
    }
    std::lock_guard l(mu_);
    std::erase(worker_stores_, store.get());
  }

  // Puts back the tasks whose claim or worker was lost in a failover (their lease expires).
  void Reap() {
    auto store = Open();
    while (store && !stop_) {
      (void)store->RecoverLeases(nullptr);
      std::this_thread::sleep_for(200ms);
    }
  }

  const std::string url_;
  StoreOptions options_;
  std::atomic<bool> stop_{false}, stop_producing_{false};
  std::atomic<int> create_failures_{0}, finish_retries_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> acked_;
  std::map<std::string, int> completions_;
  std::vector<Clock::time_point> ack_times_;
  std::vector<Store*> worker_stores_;
  std::vector<std::thread> threads_;
};

// Checks "every acknowledged task done exactly once, and no task completed twice", from the workers'
// counts and from the store itself.
void ExpectExactlyOnce(Load& load, Store& store) {
  const auto acked = load.acked();
  const auto done = load.completions();
  ASSERT_FALSE(acked.empty());
  size_t missing = 0, twice = 0;
  for (const std::string& id : acked) {
    auto it = done.find(id);
    if (it == done.end()) ++missing;
    auto t = store.Get(id);
    ASSERT_OK(t);
    EXPECT_EQ(t->status, TaskStatus::Done) << id;
  }
  for (const auto& [id, n] : done)
    if (n != 1) {
      ++twice;
      ADD_FAILURE() << id << " completed " << n << " times";
    }
  EXPECT_EQ(missing, 0u) << "acknowledged tasks never completed";
  EXPECT_EQ(twice, 0u);
}

// kill -9 of the primary while producers create and workers run tasks: the sentinels promote the replica,
// every client follows it, the killed node comes back as a replica of the new primary (as its supervisor
// would restart it), and every task acknowledged to a producer is done exactly once.
TEST(RedisSentinelFailoverTest, PrimaryKilledUnderLoadLosesNoAcknowledgedTask) {
  auto cluster = SentinelCluster::Start();
  ASSERT_NE(cluster, nullptr) << RedisServer::last_error();
  const int old_primary = cluster->PrimaryPort();
  ASSERT_NE(old_primary, 0);
  auto observer = OpenStore(cluster->url(), {.redis_prefix = "load"});
  ASSERT_OK(observer);
  Load load(cluster->url(), "load", 2, 3);
  ASSERT_TRUE(load.WaitAcknowledged(100, 30s)) << "no load before the failover\n" << cluster->Describe();

  const auto killed_at = Clock::now();
  cluster->NodeOnPort(old_primary)->Kill();
  const int new_primary = cluster->WaitForNewPrimary(old_primary, 30s);
  ASSERT_NE(new_primary, 0) << "the sentinels did not promote the replica\n" << cluster->Describe();
  const auto promoted_at = Clock::now();
  // Reads need no replica: a client is back as soon as it has found the new primary.
  Result<void> ping = Unavailable("not tried");
  while (Clock::now() - killed_at < 30s && !(ping = (*observer)->Ping()).ok()) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(ping.ok()) << ping.error().message << "\n" << cluster->Describe();
  const auto reconnected_at = Clock::now();
  // Acknowledged writes need a replica (WAIT 1): the killed node, restarted as the new primary's replica.
  ASSERT_TRUE(cluster->NodeOnPort(old_primary)->Restart(
      SentinelCluster::NodeArgs({"--replicaof", "127.0.0.1", std::to_string(new_primary)})))
      << RedisServer::last_error();
  ASSERT_TRUE(SentinelCluster::WaitForReplicas(new_primary, 1, 30s)) << cluster->Describe();
  const auto replica_back_at = Clock::now();
  ASSERT_TRUE(load.WaitAcknowledged(100, 60s)) << "no progress after the failover\n" << cluster->Describe();
  const auto first_ack = load.FirstAckAfter(promoted_at);
  ASSERT_TRUE(first_ack.has_value());
  load.StopProducing();
  EXPECT_TRUE(load.WaitAllDone(60s)) << "acknowledged tasks still not done after 60 s";
  load.Stop();
  std::printf("[ failover ] kill -9 -> promoted after %.2f s, a client reconnected %.2f s, replica back %.2f s, "
              "first acknowledged write %.2f s after the kill; %zu tasks acknowledged, %d creates and %d "
              "finishes retried\n",
              Seconds(promoted_at - killed_at), Seconds(reconnected_at - killed_at),
              Seconds(replica_back_at - killed_at), Seconds(*first_ack - killed_at), load.acked().size(),
              load.create_failures(), load.finish_retries());
  EXPECT_LT(reconnected_at - promoted_at, 5s) << "clients must follow the new primary within a bounded time";
  ExpectExactlyOnce(load, **observer);
}

// A graceful failover (SENTINEL FAILOVER) under load: the old primary stays up and is demoted. Clients move
// on +switch-master; events reach a watcher on the new primary; nothing acknowledged is lost or doubled.
TEST(RedisSentinelFailoverTest, GracefulFailoverUnderLoad) {
  auto cluster = SentinelCluster::Start();
  ASSERT_NE(cluster, nullptr) << RedisServer::last_error();
  const int old_primary = cluster->PrimaryPort();
  auto observer = OpenStore(cluster->url(), {.redis_prefix = "load"});
  ASSERT_OK(observer);
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> heard;
  Subscription sub = (*observer)->Subscribe([&](const TaskEvent& e) {
    std::lock_guard l(mu);
    heard.insert(e.task_id);
    cv.notify_all();
  });
  Load load(cluster->url(), "load", 2, 3);
  ASSERT_TRUE(load.WaitAcknowledged(100, 30s)) << "no load before the failover\n" << cluster->Describe();

  const auto asked_at = Clock::now();
  ASSERT_NE(RedisServer::RawCommand(cluster->sentinel(0).port(), std::string("SENTINEL FAILOVER ") +
                                                                     SentinelCluster::kMaster),
            "");
  const int new_primary = cluster->WaitForNewPrimary(old_primary, 30s);
  ASSERT_NE(new_primary, 0) << cluster->Describe();
  const auto switched_at = Clock::now();
  // The new primary's only replica-to-be is the old primary, which Sentinel converts after its own delay;
  // until then writes are not acknowledged (WAIT 1), only retried.
  ASSERT_TRUE(load.WaitAcknowledged(100, 60s)) << "no progress after the failover\n" << cluster->Describe();
  const auto first_ack = load.FirstAckAfter(switched_at);
  ASSERT_TRUE(first_ack.has_value());
  // An event of a task created through another store on the new primary reaches the watcher.
  auto producer = OpenStore(cluster->url(), {.redis_prefix = "load"});
  ASSERT_OK(producer);
  ASSERT_OK((*producer)->Create(NewTask("task_after_switch", "POSE_CHANGE", NowMs())));
  {
    std::unique_lock l(mu);
    EXPECT_TRUE(cv.wait_for(l, 10s, [&] { return heard.contains("task_after_switch"); }))
        << "the watcher's subscription did not follow the new primary";
  }
  load.StopProducing();
  EXPECT_TRUE(load.WaitAllDone(60s)) << "acknowledged tasks still not done after 60 s";
  load.Stop();
  std::printf("[ failover ] SENTINEL FAILOVER -> switched after %.2f s, first acknowledged write %.2f s after; %zu "
              "tasks acknowledged, %d creates and %d finishes retried\n",
              Seconds(switched_at - asked_at), Seconds(*first_ack - asked_at), load.acked().size(),
              load.create_failures(), load.finish_retries());
  EXPECT_TRUE(SentinelCluster::IsMaster(new_primary));
  EXPECT_FALSE(SentinelCluster::IsMaster(old_primary)) << "the old primary was not demoted";
  ExpectExactlyOnce(load, **observer);
}

}  // namespace
}  // namespace wasmq::queue
