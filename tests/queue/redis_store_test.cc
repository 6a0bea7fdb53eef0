// The Redis store's own concerns (the Store contract it shares with SQLite is in store_test.cc): store URLs,
// start-up errors, the seed's key layout, events of other processes, an idle waiter's silence, and a
// redis-server killed and restarted.
#include "queue/redis_store.h"

#include <gtest/gtest.h>

#include <future>

#include "helpers.h"
#include "queue/redis_conn.h"
#include "redis_harness.h"

namespace wasmq::queue {
namespace {

using namespace std::chrono_literals;
using testing::NewTask;
using wasmq::testing::RedisServer;
using wasmq::testing::SharedRedis;
using wasmq::testing::UniquePrefix;

// An integer reply (":42\r\n") of a raw command.
int64_t RawInt(int port, const std::string& cmd) {
  std::string r = RedisServer::RawCommand(port, cmd);
  return r.starts_with(":") ? std::stoll(r.substr(1)) : -1;
}

// INFO's total_commands_processed.
int64_t CommandsProcessed(int port) {
  std::string info = RedisServer::RawCommand(port, "INFO stats");
  size_t at = info.find("total_commands_processed:");
  return at == std::string::npos ? -1 : std::stoll(info.substr(at + 25));
}

// How many EVALSHA the server ran (INFO commandstats).
int64_t EvalShaCalls(int port) {
  std::string info = RedisServer::RawCommand(port, "INFO commandstats");
  size_t at = info.find("cmdstat_evalsha:calls=");
  return at == std::string::npos ? 0 : std::stoll(info.substr(at + 22));
}

Claimed ClaimOne(Store& s, const std::string& owner) {
  auto r = s.Dequeue({.owner = owner, .lease_ms = 5000});
  EXPECT_TRUE(r.ok() && r->size() == 1) << (r.ok() ? "nothing claimed" : r.error().message);
  return r.ok() && !r->empty() ? (*r)[0] : Claimed{};
}

TEST(RedisUrlTest, ParsesEveryPart) {
  auto a = detail::ParseRedisUrl("redis://127.0.0.1:6390/3");
  ASSERT_OK(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 6390);
  EXPECT_EQ(a->db, 3);
  EXPECT_TRUE(a->password.empty());
  auto b = detail::ParseRedisUrl("redis://app:p%40ss@redis.internal:7000/0?prefix=formy");
  ASSERT_OK(b);
  EXPECT_EQ(b->user, "app");
  EXPECT_EQ(b->password, "p@ss");
  EXPECT_EQ(b->host, "redis.internal");
  EXPECT_EQ(b->prefix, "formy");
  auto c = detail::ParseRedisUrl("redis://:secret@localhost");
  ASSERT_OK(c);
  EXPECT_EQ(c->user, "");
  EXPECT_EQ(c->password, "secret");
  EXPECT_EQ(c->port, 6379);
  EXPECT_EQ(c->db, 0);
  EXPECT_EQ(c->Display(), "localhost:6379/0");
  EXPECT_CODE(detail::ParseRedisUrl("redis://host:99999/0"), Code::InvalidArgument);
  EXPECT_CODE(detail::ParseRedisUrl("redis://host:1/x"), Code::InvalidArgument);
  EXPECT_CODE(detail::ParseRedisUrl("redis://:1/0"), Code::InvalidArgument);
  EXPECT_CODE(OpenStore("redis://host:1/0?db=2"), Code::InvalidArgument);
}

TEST(RedisOpenTest, ClearErrorsForAnUnreachableServerAndAWrongPassword) {
  // Nothing listens on a port just released.
  auto probe = RedisServer::Start();
  ASSERT_NE(probe, nullptr) << RedisServer::last_error();
  const int dead_port = probe->port();
  probe.reset();
  auto unreachable = OpenStore("redis://127.0.0.1:" + std::to_string(dead_port) + "/0");
  ASSERT_FALSE(unreachable.ok());
  EXPECT_EQ(unreachable.error().code, Code::Unavailable);
  EXPECT_NE(unreachable.error().message.find("cannot connect to redis at 127.0.0.1:"), std::string::npos)
      << unreachable.error().message;

  auto secured = RedisServer::Start({"--requirepass", "s3cret"});
  ASSERT_NE(secured, nullptr) << RedisServer::last_error();
  const std::string hostport = "127.0.0.1:" + std::to_string(secured->port());
  auto wrong = OpenStore("redis://:nope@" + hostport + "/0");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("authentication failed"), std::string::npos) << wrong.error().message;
  auto missing = OpenStore("redis://" + hostport + "/0");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("requires a password"), std::string::npos)
      << missing.error().message;
  auto right = OpenStore("redis://:s3cret@" + hostport + "/2");
  ASSERT_OK(right);
  ASSERT_OK((*right)->Ping());
  ASSERT_OK((*right)->Create(NewTask("task_pw", "HEAD_SWAP", NowMs())));
  EXPECT_EQ((*right)->Get("task_pw")->status, TaskStatus::Pending);
}

// The seed's keys, under the seed's prefix: a tool reading formy:task:queue / processing / data sees them.
TEST(RedisLayoutTest, SeedKeysUnderPrefixFormy) {
  RedisServer* redis = SharedRedis();
  ASSERT_NE(redis, nullptr) << RedisServer::last_error();
  auto store = OpenStore(redis->url() + "?prefix=formy");
  ASSERT_OK(store);
  const int64_t now = NowMs();
  ASSERT_OK((*store)->Create(NewTask("task_a", "HEAD_SWAP", now)));
  ASSERT_OK((*store)->Create(NewTask("task_b", "HEAD_SWAP", now)));
  ASSERT_OK((*store)->Create(NewTask("task_c", "POSE_CHANGE", now)));
  EXPECT_EQ(RawInt(redis->port(), "LLEN formy:task:queue"), 3);
  Claimed a = ClaimOne(**store, "w1");
  EXPECT_EQ(a.task.task_id, "task_a");
  EXPECT_EQ(RawInt(redis->port(), "LLEN formy:task:queue"), 2);
  EXPECT_EQ(RawInt(redis->port(), "SISMEMBER formy:task:processing task_a"), 1);
  EXPECT_EQ(RawInt(redis->port(), "HEXISTS formy:task:data:task_b mode"), 1);
  EXPECT_NE(RedisServer::RawCommand(redis->port(), "HGET formy:task:data:task_a status").find("processing"),
            std::string::npos);
  ASSERT_OK((*store)->Complete(a.lease, {}));
  EXPECT_EQ(RawInt(redis->port(), "SCARD formy:task:processing"), 0);
  ASSERT_OK((*store)->Cancel("task_c"));  // a cancelled task leaves the queue list
  EXPECT_EQ(RawInt(redis->port(), "LLEN formy:task:queue"), 1);
}

// Subscribe on one store hears the changes made through another (another process, another node).
TEST(RedisEventsTest, ChangesOfOtherStoresAreRelayed) {
  RedisServer* redis = SharedRedis();
  ASSERT_NE(redis, nullptr) << RedisServer::last_error();
  const std::string prefix = UniquePrefix();
  auto watcher = OpenStore(redis->url(), {.redis_prefix = prefix});
  auto worker = OpenStore(redis->url(), {.redis_prefix = prefix});
  ASSERT_OK(watcher);
  ASSERT_OK(worker);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<TaskEvent> seen;
  Subscription sub = (*watcher)->Subscribe([&](const TaskEvent& e) {
    std::lock_guard l(mu);
    seen.push_back(e);
    cv.notify_all();
  });
  ASSERT_OK((*worker)->Create(NewTask("task_x", "HEAD_SWAP", NowMs())));
  ASSERT_OK((*worker)->Create(NewTask("task_y", "HEAD_SWAP", NowMs())));
  Claimed c = ClaimOne(**worker, "w");
  ASSERT_OK((*worker)->Progress(c.lease, 40, "halfway | almost"));
  ASSERT_OK((*worker)->Complete(c.lease, {}));
  ASSERT_OK((*worker)->Cancel("task_y"));
  std::unique_lock l(mu);
  ASSERT_TRUE(cv.wait_for(l, 10s, [&] { return seen.size() >= 6; })) << seen.size() << " events";
  EXPECT_EQ(seen[0].kind, TaskEvent::Kind::Created);
  EXPECT_EQ(seen[2].status, TaskStatus::Processing);
  EXPECT_EQ(seen[3].kind, TaskEvent::Kind::Progress);
  EXPECT_EQ(seen[3].progress, 40);
  EXPECT_EQ(seen[3].current_step, "halfway | almost");
  EXPECT_EQ(seen[4].status, TaskStatus::Done);
  EXPECT_EQ(seen[5].status, TaskStatus::Cancelled);
  EXPECT_EQ(seen[5].task_id, "task_y");
}

// "A worker with nothing to do sends no commands": while a Dequeue is blocked, the server gets nothing from
// it. (The window is measured between two INFO reads, after the waiter's one claim.)
TEST(RedisEventsTest, AnIdleWaiterSendsNoCommands) {
  RedisServer* redis = SharedRedis();
  ASSERT_NE(redis, nullptr) << RedisServer::last_error();
  auto store = OpenStore(redis->url(), {.redis_prefix = UniquePrefix()});
  ASSERT_OK(store);
  const int64_t claims_before = EvalShaCalls(redis->port());
  auto waiter =
      std::async(std::launch::async, [&] { return (*store)->Dequeue({.owner = "idle", .wait = 2000ms}); });
  // The waiter has made its one claim (an EVALSHA) and is waiting.
  for (auto limit = std::chrono::steady_clock::now() + 1s; EvalShaCalls(redis->port()) == claims_before;)
    ASSERT_LT(std::chrono::steady_clock::now(), limit) << "the waiter never claimed";
  const int64_t before = CommandsProcessed(redis->port());
  std::this_thread::sleep_for(800ms);  // the idle period under test
  const int64_t after = CommandsProcessed(redis->port());
  EXPECT_EQ(after - before, 1) << "commands sent while idle (1 is the second INFO)";
  auto got = waiter.get();
  ASSERT_OK(got);
  EXPECT_TRUE(got->empty());
}

// Redis killed (kill -9) and restarted on its AOF: calls fail fast meanwhile, every acknowledged change is
// still there, the scripts are loaded again, and a waiter blocked across the restart wakes for a new task.
TEST(RedisRestartTest, KilledServerLosesNothingAndStoresReconnect) {
  // appendfsync always: with everysec, a busy disk makes Redis postpone its AOF writes by up to 2 s while it
  // keeps replying (docs/queue.md, "Durability"), and this test then lost writes on a loaded machine.
  auto redis = RedisServer::Start({"--appendfsync", "always"});
  ASSERT_NE(redis, nullptr) << RedisServer::last_error();
  auto a = OpenStore(redis->url());
  auto b = OpenStore(redis->url());
  ASSERT_OK(a);
  ASSERT_OK(b);
  for (int i = 0; i < 50; ++i)
    ASSERT_OK((*a)->Create(NewTask("task_" + std::to_string(i), "HEAD_SWAP", NowMs())));
  Claimed c = ClaimOne(**a, "w");
  ASSERT_OK((*a)->Complete(c.lease, TaskResult{{"x.png"}, nullptr, 1}));
  redis->Kill();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_CODE((*a)->Get("task_1"), Code::Unavailable);
  EXPECT_CODE((*a)->Create(NewTask("task_lost", "HEAD_SWAP", NowMs())), Code::Unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "a dead server must not make calls hang";
  ASSERT_TRUE(redis->Restart()) << RedisServer::last_error();
  // The pool reconnects after its backoff: retry until it does (bounded).
  Result<TaskInfo> done = Unavailable("not tried");
  for (auto deadline = std::chrono::steady_clock::now() + 15s; std::chrono::steady_clock::now() < deadline;) {
    done = (*a)->Get(c.task.task_id);
    if (done.ok() || done.error().code != Code::Unavailable) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_OK(done);
  EXPECT_EQ(done->status, TaskStatus::Done);
  auto stats = (*a)->Stats();  // a script: reloaded after NOSCRIPT
  ASSERT_OK(stats);
  EXPECT_EQ(stats->counts[TaskStatus::Pending], 49);
  EXPECT_EQ(stats->counts[TaskStatus::Done], 1);
  // A waiter on `a`, woken by a task created through `b` once both have reconnected.
  auto waiter = std::async(std::launch::async, [&] {
    return (*a)->Dequeue({.owner = "w", .modes = {"POSE_CHANGE"}, .wait = 20s});
  });
  Result<void> created = Unavailable("not tried");
  for (auto deadline = std::chrono::steady_clock::now() + 15s; std::chrono::steady_clock::now() < deadline;) {
    created = (*b)->Create(NewTask("task_after", "POSE_CHANGE", NowMs()));
    if (created.ok()) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_OK(created);
  ASSERT_EQ(waiter.wait_for(15s), std::future_status::ready);
  auto got = waiter.get();
  ASSERT_OK(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].task.task_id, "task_after");
}

}  // namespace
}  // namespace wasmq::queue
