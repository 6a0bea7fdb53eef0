// Delayed tasks, per-user fairness and per-user limits (fairness.h), run on both stores: the SQLite file and
// a real redis-server (redis_harness.h).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <map>
#include <thread>

#include "helpers.h"
#include "queue/redis_store.h"
#include "queue/service.h"
#include "queue/sqlite_store.h"
#include "redis_harness.h"

namespace wasmq::queue {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::NewTask;
using testing::TempDir;

enum class Backend { Sqlite, Redis };

class FairnessTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::Redis) {
      redis_ = wasmq::testing::SharedRedis();
      ASSERT_NE(redis_, nullptr) << wasmq::testing::RedisServer::last_error();
      prefix_ = wasmq::testing::UniquePrefix();
    }
    Reopen();
  }

  // (Re)opens the store with these limits; `real_clock` for the tests that wait on time.
  void Reopen(FairnessOptions fairness = {}, bool real_clock = false) {
    store_.reset();
    StoreOptions o{.clock = real_clock ? std::function<int64_t()>(NowMs) : clock_.fn()};
    o.fairness = std::move(fairness);
    Result<std::unique_ptr<Store>> s = Internal("unset");
    if (GetParam() == Backend::Sqlite) {
      s = OpenStore("sqlite:" + dir_.file("tasks.db"), o);
    } else {
      o.redis_prefix = prefix_;
      s = OpenStore(redis_->url(), o);
    }
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }

  Result<void> Add(const std::string& id, const std::string& user, int priority = 0, int64_t run_at = 0) {
    TaskInfo t = NewTask(id, "HEAD_SWAP", clock_.now, priority);
    t.user_id = user;
    if (run_at) t.run_at = run_at;
    return store_->Create(t);
  }

  // Claims one task at a time; the ids in claim order ("" when nothing was ready).
  std::string ClaimOne(Lease* lease = nullptr) {
    auto r = store_->Dequeue({.owner = "w", .lease_ms = 60'000});
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r.ok() || r->empty()) return "";
    if (lease) *lease = r->front().lease;
    return r->front().task.task_id;
  }

  TempDir dir_;
  FakeClock clock_;
  wasmq::testing::RedisServer* redis_ = nullptr;
  std::string prefix_;
  std::unique_ptr<Store> store_;
};

TEST_P(FairnessTest, DelayedTaskStaysPendingUntilItsRunAt) {
  ASSERT_OK(Add("task_later", "", 0, clock_.now + 5000));
  auto t = store_->Get("task_later");
  ASSERT_OK(t);
  EXPECT_EQ(t->status, TaskStatus::Pending);
  EXPECT_EQ(t->run_at, clock_.now + 5000);
  auto list = store_->List({});
  ASSERT_OK(list);
  ASSERT_EQ(list->tasks.size(), 1u);
  EXPECT_EQ(list->tasks[0].run_at, clock_.now + 5000);
  EXPECT_EQ(ClaimOne(), "");
  EXPECT_EQ(store_->Stats()->delayed, 1);
  clock_.Advance(4999);
  EXPECT_EQ(ClaimOne(), "");
  clock_.Advance(1);
  EXPECT_EQ(ClaimOne(), "task_later");
}

TEST_P(FairnessTest, ServiceTurnsDelayMsAndRunAtIntoRunAt) {
  TaskService service(*store_, {.clock = clock_.fn()});
  auto a = service.Create({.mode = "HEAD_SWAP", .delay_ms = 1500});
  ASSERT_OK(a);
  EXPECT_EQ(a->run_at, clock_.now + 1500);
  auto b = service.Create({.mode = "HEAD_SWAP", .run_at = clock_.now + 7000});
  ASSERT_OK(b);
  EXPECT_EQ(b->run_at, clock_.now + 7000);
  auto past = service.Create({.mode = "HEAD_SWAP", .run_at = clock_.now - 7000});  // due already: ready now
  ASSERT_OK(past);
  EXPECT_EQ(past->run_at, clock_.now);
  EXPECT_CODE(service.Create({.mode = "HEAD_SWAP", .run_at = clock_.now + 1, .delay_ms = 1}),
              Code::InvalidArgument);
  EXPECT_CODE(service.Create({.mode = "HEAD_SWAP", .delay_ms = kMaxDelayMs + 1}), Code::InvalidArgument);
}

// A worker blocked in Dequeue wakes when a delayed task becomes due, without anyone creating anything.
TEST_P(FairnessTest, BlockedDequeueWakesWhenADelayedTaskIsDue) {
  Reopen({}, /*real_clock=*/true);
  if (auto* s = dynamic_cast<SqliteStore*>(store_.get())) s->set_external_poll(10s);  // no polling help
  TaskInfo t = NewTask("task_due", "HEAD_SWAP", NowMs());
  t.run_at = t.created_at + 300;
  ASSERT_OK(store_->Create(t));
  const auto start = std::chrono::steady_clock::now();
  auto r = store_->Dequeue({.owner = "w", .wait = 5s});
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_OK(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->front().task.task_id, "task_due");
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 2s);
}

TEST_P(FairnessTest, UsersAreServedRoundRobin) {
  for (int i = 0; i < 4; ++i) ASSERT_OK(Add("task_a" + std::to_string(i), "alice"));
  for (int i = 0; i < 2; ++i) ASSERT_OK(Add("task_b" + std::to_string(i), "bob"));
  ASSERT_OK(Add("task_n0", ""));
  std::vector<std::string> order;
  for (int i = 0; i < 7; ++i) order.push_back(ClaimOne());
  // Each round serves every user with a task once; alice's backlog goes on alone at the end.
  std::map<std::string, int> first_three;
  for (int i = 0; i < 3; ++i) first_three[order[i].substr(5, 1)]++;
  EXPECT_EQ(first_three, (std::map<std::string, int>{{"a", 1}, {"b", 1}, {"n", 1}})) << ::testing::PrintToString(order);
  EXPECT_EQ(order[3].substr(5, 1) == "a" || order[4].substr(5, 1) == "a", true);
  EXPECT_EQ(order[5], "task_a2");
  EXPECT_EQ(order[6], "task_a3");
  EXPECT_EQ(ClaimOne(), "");
}

TEST_P(FairnessTest, PrioritiesOrderOneUsersTasksAndAgeingBoundsTheWait) {
  ASSERT_OK(Add("task_low", "alice", 0));
  clock_.Advance(1);
  ASSERT_OK(Add("task_high", "alice", 5));
  EXPECT_EQ(ClaimOne(), "task_high");
  EXPECT_EQ(ClaimOne(), "task_low");
  // A low-priority task is passed only by tasks that became ready within (difference) · kPriorityAgingMs
  // after it: a priority-5 task arriving later than 5 · 10 s runs after it.
  ASSERT_OK(Add("task_old_low", "alice", 0));
  clock_.Advance(5 * kPriorityAgingMs + 1);
  ASSERT_OK(Add("task_late_high", "alice", 5));
  EXPECT_EQ(ClaimOne(), "task_old_low");
  EXPECT_EQ(ClaimOne(), "task_late_high");
}

TEST_P(FairnessTest, WeightsShareTheClaims) {
  FairnessOptions f;
  f.users["alice"] = {.weight = 3};
  Reopen(f);
  for (int i = 0; i < 20; ++i) ASSERT_OK(Add("task_a" + std::to_string(i), "alice"));
  for (int i = 0; i < 20; ++i) ASSERT_OK(Add("task_b" + std::to_string(i), "bob"));
  std::map<char, int> served;
  for (int i = 0; i < 16; ++i) served[ClaimOne()[5]]++;
  EXPECT_NEAR(served['a'], 12, 1);
  EXPECT_NEAR(served['b'], 4, 1);
}

// The issue's scenario: one user's backlog of 10 000 tasks delays another user's single new task by at most
// about one task slot per worker. Here 4 workers claim one task each at a time: the newcomer's task is the
// very next one handed out.
TEST_P(FairnessTest, TenThousandTaskBacklogDelaysAnotherUsersTaskByOneSlot) {
  for (int i = 0; i < 10'000; ++i) ASSERT_OK(Add("task_noisy" + std::to_string(i), "noisy", i % 7));
  constexpr int kWorkers = 4;
  for (int i = 0; i < 25; ++i) EXPECT_NE(ClaimOne(), "");  // the noisy user is being served
  clock_.Advance(1);
  ASSERT_OK(Add("task_quiet", "quiet", -100));  // even at the lowest priority
  int claims_until_quiet = 0;
  for (std::string id; id != "task_quiet" && claims_until_quiet < 10'000; ++claims_until_quiet) id = ClaimOne();
  EXPECT_LE(claims_until_quiet, kWorkers) << "claims until the quiet user's task";
  EXPECT_EQ(claims_until_quiet, 1);
}

TEST_P(FairnessTest, RunningLimitHoldsBackOnlyThatUser) {
  FairnessOptions f;
  f.defaults.max_running = 1;
  f.users["bob"] = {.max_running = 2};
  Reopen(f);
  for (int i = 0; i < 3; ++i) ASSERT_OK(Add("task_a" + std::to_string(i), "alice"));
  for (int i = 0; i < 3; ++i) ASSERT_OK(Add("task_b" + std::to_string(i), "bob"));
  Lease alice_lease;
  std::map<char, int> served;
  for (int i = 0; i < 6; ++i) {
    Lease l;
    std::string id = ClaimOne(&l);
    if (id.empty()) break;
    if (id[5] == 'a') alice_lease = l;
    served[id[5]]++;
  }
  EXPECT_EQ(served['a'], 1);
  EXPECT_EQ(served['b'], 2);
  ASSERT_OK(store_->Complete(alice_lease, {}));
  EXPECT_EQ(ClaimOne(), "task_a1");
  EXPECT_EQ(ClaimOne(), "");
}

TEST_P(FairnessTest, PendingLimitRefusesPastIt) {
  FairnessOptions f;
  f.defaults.max_pending = 2;
  Reopen(f);
  ASSERT_OK(Add("task_1", "alice"));
  ASSERT_OK(Add("task_2", "alice"));
  auto refused = Add("task_3", "alice");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Code::RateLimited);
  EXPECT_GT(refused.error().retry_after_ms, 0);
  ASSERT_OK(Add("task_b", "bob"));  // another user is not affected
  EXPECT_NE(ClaimOne(), "");
  EXPECT_NE(ClaimOne(), "");
  ASSERT_OK(Add("task_3", "alice"));  // one of hers started: room again
  EXPECT_EQ(store_->Get("task_3")->status, TaskStatus::Pending);
}

TEST_P(FairnessTest, PerMinuteLimitAnswersWhenToRetry) {
  FairnessOptions f;
  f.defaults.per_minute = 2;
  f.users["vip"] = {.per_minute = 0};
  Reopen(f);
  ASSERT_OK(Add("task_1", "alice"));
  ASSERT_OK(Add("task_2", "alice"));
  auto refused = Add("task_3", "alice");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Code::RateLimited);
  EXPECT_EQ(refused.error().retry_after_ms, 30'000);  // one token every 30 s
  EXPECT_CODE(store_->Get("task_3"), Code::NotFound);
  for (int i = 0; i < 5; ++i) ASSERT_OK(Add("task_vip" + std::to_string(i), "vip"));
  clock_.Advance(30'000);
  ASSERT_OK(Add("task_3", "alice"));
  EXPECT_CODE(Add("task_4", "alice"), Code::RateLimited);
}

INSTANTIATE_TEST_SUITE_P(Backends, FairnessTest, ::testing::Values(Backend::Sqlite, Backend::Redis),
                         [](const auto& p) { return p.param == Backend::Sqlite ? "sqlite" : "redis"; });

TEST(FairnessOptions, ParsesPerUserOverrides) {
  UserLimits d{.weight = 1, .max_running = 4};
  auto m = ParseUserLimits("alice:weight=2.5,max_running=8; bob:per_minute=60,max_pending=100;", d);
  ASSERT_OK(m);
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ(m->at("alice").weight, 2.5);
  EXPECT_EQ(m->at("alice").max_running, 8);
  EXPECT_EQ(m->at("bob").max_running, 4);  // the defaults where an override says nothing
  EXPECT_EQ(m->at("bob").per_minute, 60);
  EXPECT_EQ(m->at("bob").max_pending, 100);
  EXPECT_CODE(ParseUserLimits("alice", d), Code::InvalidArgument);
  EXPECT_CODE(ParseUserLimits("alice:speed=3", d), Code::InvalidArgument);
  EXPECT_CODE(ParseUserLimits("alice:weight=0", d), Code::InvalidArgument);
}

// A version-3 file (before fairness: tasks_ready, no fair tables) is migrated to version 4 in place.
TEST(SqliteMigration, Version3FileGainsTheFairHandOut) {
  TempDir dir;
  const std::string path = dir.file("v3.db");
  FakeClock clock;
  {
    auto s = SqliteStore::Open(path, {.clock = clock.fn()});
    ASSERT_OK(s);
    for (const char* user : {"alice", "alice", "bob"}) {
      TaskInfo t = NewTask(std::string("task_") + user + std::to_string(clock.now), "HEAD_SWAP", clock.now);
      t.user_id = user;
      ASSERT_OK((*s)->Create(t));
      clock.Advance(1);
    }
  }
  {
    // Back to version 3's shape.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const char* v3 = R"sql(
DROP INDEX tasks_fair; DROP INDEX tasks_due; DROP TABLE fair_users; DROP TABLE fair_clock;
CREATE INDEX tasks_ready ON tasks (priority DESC, run_at) WHERE status = 'pending';
PRAGMA user_version = 3;
)sql";
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, v3, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_close(db);
  }
  auto s = SqliteStore::Open(path, {.clock = clock.fn()});
  ASSERT_OK(s);
  std::vector<std::string> users;
  for (int i = 0; i < 3; ++i) {
    auto c = (*s)->Dequeue({.owner = "w"});
    ASSERT_OK(c);
    ASSERT_EQ(c->size(), 1u);
    users.push_back(c->front().task.user_id);
  }
  EXPECT_EQ(users, (std::vector<std::string>{"alice", "bob", "alice"}));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_GE(sqlite3_column_int(st, 0), 4);  // 4, or a later version's number
  sqlite3_finalize(st);
  sqlite3_close(db);
}

}  // namespace
}  // namespace wasmq::queue
