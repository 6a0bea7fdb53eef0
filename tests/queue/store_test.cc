// The Store contract, run on every backend: every operation, every transition through it, leases,
// ordering, waits, events, statistics and cleanup. The same behaviour is expected of the embedded SQLite
// store and of the Redis store (a real redis-server, started by redis_harness.h; when it is missing the
// Redis cases fail).
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "helpers.h"
#include "queue/redis_store.h"
#include "queue/sqlite_store.h"
#include "queue/waiters.h"
#include "redis_harness.h"

namespace wasmq::queue {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::NewTask;
using testing::TempDir;

enum class Backend { Sqlite, Redis };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::Sqlite ? "sqlite" : "redis";
}

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::Redis) {
      redis_ = wasmq::testing::SharedRedis();
      ASSERT_NE(redis_, nullptr) << wasmq::testing::RedisServer::last_error();
      prefix_ = wasmq::testing::UniquePrefix();
    }
    auto s = Open();
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }

  // Another store object on the same data: for SQLite the same file, for Redis the same server and prefix
  // (as another process would open it).
  Result<std::unique_ptr<Store>> Open() {
    if (GetParam() == Backend::Sqlite)
      return OpenStore("sqlite:" + dir_.file("tasks.db"), {.clock = clock_.fn()});
    return OpenStore(redis_->url(), {.clock = clock_.fn(), .redis_prefix = prefix_});
  }

  // How soon a blocked SQLite Dequeue looks for other processes' submissions (Redis is told by pub/sub).
  void SetExternalPoll(std::chrono::milliseconds every) {
    if (auto* s = dynamic_cast<SqliteStore*>(store_.get())) s->set_external_poll(every);
  }

  // Creates a task and returns its id.
  std::string Add(const std::string& id, const std::string& mode = "HEAD_SWAP", int priority = 0,
                  int retries = 2) {
    auto r = store_->Create(NewTask(id, mode, clock_.now, priority, retries));
    EXPECT_TRUE(r.ok()) << r.error().message;
    return id;
  }

  // Claims one task (no wait); fails the test when there is none.
  Claimed Claim(const std::string& owner = "w1", std::vector<std::string> modes = {}) {
    auto r = store_->Dequeue({.owner = owner, .lease_ms = 1000, .modes = std::move(modes)});
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r.ok() || r->empty()) {
      ADD_FAILURE() << "nothing to claim";
      return {};
    }
    return std::move(r->front());
  }

  std::vector<Claimed> ClaimAll(int max, const std::string& owner = "w1") {
    auto r = store_->Dequeue({.owner = owner, .lease_ms = 1000, .max_tasks = max});
    EXPECT_TRUE(r.ok());
    return r.ok() ? std::move(*r) : std::vector<Claimed>{};
  }

  TaskStatus StatusOf(const std::string& id) {
    auto t = store_->Get(id);
    EXPECT_TRUE(t.ok()) << t.error().message;
    return t.ok() ? t->status : TaskStatus::Pending;
  }

  TempDir dir_;
  FakeClock clock_;
  wasmq::testing::RedisServer* redis_ = nullptr;
  std::string prefix_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, CreateGetRoundTrip) {
  TaskInfo t = NewTask("task_a", "HEAD_SWAP", clock_.now, 4);
  t.user_id = "user_1";
  t.source_image = "img_1";
  ASSERT_OK(store_->Create(t));
  auto got = store_->Get("task_a");
  ASSERT_OK(got);
  EXPECT_EQ(ToJson(*got), ToJson(t));
  EXPECT_CODE(store_->Get("task_nope"), Code::NotFound);
  EXPECT_CODE(store_->Create(t), Code::Conflict);  // same id
  TaskInfo bad = t;
  bad.task_id = "task_b";
  bad.status = TaskStatus::Done;
  EXPECT_CODE(store_->Create(bad), Code::InvalidArgument);
  ASSERT_OK(store_->Ping());
  EXPECT_EQ(store_->backend(), GetParam() == Backend::Sqlite ? "sqlite" : "redis");
}

// The trace context of the request that created a task comes back with the task, and with its claim, so
// that the worker's spans continue the request's trace; a task without one has none.
TEST_P(StoreTest, KeepsTheTraceContext) {
  TaskInfo t = NewTask("task_traced", "HEAD_SWAP", clock_.now, 0);
  t.trace_context = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\nrojo=00f067aa0ba902b7";
  ASSERT_OK(store_->Create(t));
  auto got = store_->Get("task_traced");
  ASSERT_OK(got);
  EXPECT_EQ(got->trace_context, t.trace_context);
  EXPECT_EQ(Claim().task.trace_context, t.trace_context);
  ASSERT_OK(store_->Create(NewTask("task_plain", "HEAD_SWAP", clock_.now, 0)));
  EXPECT_EQ(Claim().task.trace_context, "");
}

TEST_P(StoreTest, DequeueByPriorityThenFifo) {
  Add("task_1", "HEAD_SWAP", 0);
  clock_.Advance(1);
  Add("task_2", "HEAD_SWAP", 5);
  clock_.Advance(1);
  Add("task_3", "HEAD_SWAP", 0);
  clock_.Advance(1);
  Add("task_4", "HEAD_SWAP", 5);
  Add("task_5", "HEAD_SWAP", -1);  // same millisecond as task_4: creation order breaks the tie
  Add("task_6", "HEAD_SWAP", -1);
  std::vector<std::string> order;
  for (int i = 0; i < 6; ++i) order.push_back(Claim().task.task_id);
  EXPECT_EQ(order, (std::vector<std::string>{"task_2", "task_4", "task_1", "task_3", "task_5", "task_6"}));
  EXPECT_TRUE(ClaimAll(1).empty());
}

TEST_P(StoreTest, DequeueBatchKeepsQueueOrder) {
  for (int i = 0; i < 5; ++i) {
    Add("task_" + std::to_string(i), "HEAD_SWAP", i == 3 ? 9 : 0);
    clock_.Advance(1);
  }
  auto got = ClaimAll(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].task.task_id, "task_3");
  EXPECT_EQ(got[1].task.task_id, "task_0");
  EXPECT_EQ(got[2].task.task_id, "task_1");
  for (const Claimed& c : got) {
    EXPECT_EQ(c.task.status, TaskStatus::Processing);
    EXPECT_EQ(c.task.attempt, 1);
    EXPECT_EQ(c.lease.owner, "w1");
    EXPECT_EQ(c.lease.expires_at, clock_.now + 1000);
    EXPECT_EQ(c.task.started_at, clock_.now);
    EXPECT_EQ(c.task.config["k"], "v");
  }
}

TEST_P(StoreTest, DequeueFiltersByMode) {
  Add("task_h", "HEAD_SWAP");
  Add("task_p", "POSE_CHANGE");
  Add("task_c", "custom.v1");
  EXPECT_EQ(Claim("w", {"POSE_CHANGE"}).task.task_id, "task_p");
  EXPECT_TRUE(store_->Dequeue({.owner = "w", .modes = {"POSE_CHANGE"}})->empty());
  EXPECT_EQ(Claim("w", {"custom.v1", "BACKGROUND_CHANGE"}).task.task_id, "task_c");
  EXPECT_EQ(Claim("w").task.task_id, "task_h");
}

// Each legal transition through the store, and the illegal ones refused without a change.
TEST_P(StoreTest, CompleteFailAndTheirRefusals) {
  Add("task_ok");
  Add("task_bad");
  Claimed a = Claim(), b = Claim();
  clock_.Advance(250);
  ASSERT_OK(store_->Complete(a.lease, TaskResult{{"out.png"}, Json{{"x", 1}}, 200}));
  ASSERT_OK(store_->Fail(b.lease, TaskError{"TRAP", "boom", 1, false, "", clock_.now}));
  auto ok = store_->Get("task_ok");
  EXPECT_EQ(ok->status, TaskStatus::Done);
  EXPECT_EQ(ok->progress, 100);
  EXPECT_EQ(ok->finished_at, clock_.now);
  ASSERT_TRUE(ok->result);
  EXPECT_EQ(ok->result->output_files, std::vector<std::string>{"out.png"});
  auto bad = store_->Get("task_bad");
  EXPECT_EQ(bad->status, TaskStatus::Failed);
  ASSERT_TRUE(bad->error);
  EXPECT_EQ(bad->error->message, "boom");

  // Terminal: nothing more applies.
  EXPECT_CODE(store_->Complete(a.lease, {}), Code::Conflict);
  EXPECT_CODE(store_->Fail(a.lease, {}), Code::Conflict);
  EXPECT_CODE(store_->Retry(b.lease, {}, clock_.now), Code::Conflict);
  EXPECT_CODE(store_->Release(b.lease), Code::Conflict);
  EXPECT_CODE(store_->Progress(a.lease, 5, "x"), Code::Conflict);
  EXPECT_CODE(store_->Heartbeat(a.lease, 1000), Code::Conflict);
  EXPECT_CODE(store_->Cancel("task_ok"), Code::Conflict);
  EXPECT_CODE(store_->Cancel("task_bad"), Code::Conflict);
  EXPECT_EQ(StatusOf("task_ok"), TaskStatus::Done);
  EXPECT_EQ(StatusOf("task_bad"), TaskStatus::Failed);
}

// Several ends of attempts in one transaction: each guarded by its own lease, each with its own result.
TEST_P(StoreTest, FinishManyAppliesEachItemUnderItsOwnLease) {
  for (const char* id : {"task_a", "task_b", "task_c", "task_d", "task_e"}) Add(id);
  auto claimed = ClaimAll(5);
  ASSERT_EQ(claimed.size(), 5u);
  ASSERT_OK(store_->Cancel("task_b"));  // its lease is revoked before the batch
  std::vector<Finish> items(5);
  using K = Finish::Kind;
  const K kinds[] = {K::Complete, K::Complete, K::Fail, K::Retry, K::Release};
  for (int i = 0; i < 5; ++i) {
    items[i].kind = kinds[i];
    items[i].lease = claimed[i].lease;
    items[i].error = {"TRAP", "x", 1, true, "", clock_.now};
  }
  items[0].result.output_files = {"a.png"};
  items[3].run_at = clock_.now + 100;
  std::vector<TaskEvent> seen;
  Subscription sub = store_->Subscribe([&](const TaskEvent& e) { seen.push_back(e); });
  auto results = store_->FinishMany(items);
  ASSERT_EQ(results.size(), 5u);
  EXPECT_TRUE(results[0].ok());
  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error().code, Code::Conflict);
  EXPECT_TRUE(results[2].ok());
  EXPECT_TRUE(results[3].ok());
  EXPECT_TRUE(results[4].ok());
  EXPECT_EQ(StatusOf("task_a"), TaskStatus::Done);
  EXPECT_EQ(StatusOf("task_b"), TaskStatus::Cancelled);
  EXPECT_EQ(StatusOf("task_c"), TaskStatus::Failed);
  EXPECT_EQ(store_->Get("task_d")->run_at, clock_.now + 100);
  EXPECT_EQ(store_->Get("task_e")->attempt, 0);
  EXPECT_EQ(seen.size(), 4u);  // one event per applied item, none for the refused one
  EXPECT_TRUE(store_->FinishMany({}).empty());
}

TEST_P(StoreTest, WritesAboutAPendingTaskAreRefused) {
  Add("task_p");
  Lease fake{"task_p", "w1", 0, 0, 0};
  EXPECT_CODE(store_->Complete(fake, {}), Code::Conflict);
  EXPECT_CODE(store_->Fail(fake, {}), Code::Conflict);
  EXPECT_CODE(store_->Progress(fake, 1, ""), Code::Conflict);
  EXPECT_EQ(StatusOf("task_p"), TaskStatus::Pending);
  Lease missing{"task_missing", "w1", 1, 1, 0};
  EXPECT_CODE(store_->Complete(missing, {}), Code::NotFound);
}

TEST_P(StoreTest, CancelPendingAndProcessing) {
  Add("task_p");
  Add("task_r");
  auto c = store_->Cancel("task_p");
  ASSERT_OK(c);
  EXPECT_EQ(c->status, TaskStatus::Cancelled);
  EXPECT_EQ(c->finished_at, clock_.now);
  Claimed r = Claim();
  EXPECT_EQ(r.task.task_id, "task_r");  // a cancelled task is never handed out
  ASSERT_OK(store_->Cancel("task_r"));
  EXPECT_EQ(StatusOf("task_r"), TaskStatus::Cancelled);
  // The worker's lease is revoked: its result is refused, and says why.
  auto done = store_->Complete(r.lease, {});
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().code, Code::Conflict);
  EXPECT_NE(done.error().message.find("cancelled"), std::string::npos) << done.error().message;
  EXPECT_CODE(store_->Heartbeat(r.lease, 1000), Code::Conflict);
  EXPECT_CODE(store_->Cancel("task_r"), Code::Conflict);
  EXPECT_CODE(store_->Cancel("task_zzz"), Code::NotFound);
}

TEST_P(StoreTest, ProgressAndHeartbeat) {
  Add("task_1");
  Claimed c = Claim();
  clock_.Advance(10);
  ASSERT_OK(store_->Progress(c.lease, 42, "segmenting"));
  auto t = store_->Get("task_1");
  EXPECT_EQ(t->progress, 42);
  EXPECT_EQ(t->current_step, "segmenting");
  EXPECT_EQ(t->updated_at, clock_.now);
  EXPECT_CODE(store_->Progress(c.lease, 101, ""), Code::InvalidArgument);
  EXPECT_CODE(store_->Progress(c.lease, -1, ""), Code::InvalidArgument);
  ASSERT_OK(store_->Progress(c.lease, 50, std::string(5000, 's')));
  EXPECT_EQ(store_->Get("task_1")->current_step.size(), kMaxStepLength);
  auto exp = store_->Heartbeat(c.lease, 5000);
  ASSERT_OK(exp);
  EXPECT_EQ(*exp, clock_.now + 5000);
  // The extended lease is not expired after the original 1 s.
  clock_.Advance(2000);
  auto rec = store_->RecoverLeases(nullptr);
  ASSERT_OK(rec);
  EXPECT_TRUE(rec->requeued.empty());
}

TEST_P(StoreTest, RetryWaitsForRunAtAndKeepsTheError) {
  Add("task_1");
  Claimed c = Claim();
  ASSERT_OK(
      store_->Retry(c.lease, TaskError{"TIMEOUT", "too slow", 1, true, "", clock_.now}, clock_.now + 500));
  auto t = store_->Get("task_1");
  EXPECT_EQ(t->status, TaskStatus::Pending);
  EXPECT_EQ(t->run_at, clock_.now + 500);
  ASSERT_TRUE(t->error);
  EXPECT_EQ(t->error->code, "TIMEOUT");
  EXPECT_TRUE(ClaimAll(1).empty());  // not before run_at
  auto stats = store_->Stats();
  EXPECT_EQ(stats->queue_length, 0);
  EXPECT_EQ(stats->delayed, 1);
  clock_.Advance(500);
  Claimed again = Claim();
  EXPECT_EQ(again.task.attempt, 2);
  EXPECT_GT(again.lease.token, c.lease.token);
  EXPECT_TRUE(again.task.error);  // the last error stays visible while it runs again
  // The first claim's lease is stale now.
  EXPECT_CODE(store_->Complete(c.lease, {}), Code::Conflict);
  ASSERT_OK(store_->Complete(again.lease, {}));
}

TEST_P(StoreTest, ReleaseReturnsTheTaskWithoutCountingTheAttempt) {
  Add("task_1");
  clock_.Advance(5);
  Add("task_2");
  Claimed c = Claim();
  ASSERT_EQ(c.task.task_id, "task_1");
  ASSERT_OK(store_->Release(c.lease));
  auto t = store_->Get("task_1");
  EXPECT_EQ(t->status, TaskStatus::Pending);
  EXPECT_EQ(t->attempt, 0);
  Claimed again = Claim();
  EXPECT_EQ(again.task.task_id, "task_1");  // back at its old place, ahead of task_2
  EXPECT_EQ(again.task.attempt, 1);
  EXPECT_CODE(store_->Release(c.lease), Code::Conflict);
}

TEST_P(StoreTest, StaleWorkerIsRefusedAfterLeaseExpiry) {
  Add("task_1");
  Claimed first = Claim("w1");
  clock_.Advance(1001);
  auto rec = store_->RecoverLeases(nullptr);
  ASSERT_OK(rec);
  EXPECT_EQ(rec->requeued, std::vector<std::string>{"task_1"});
  Claimed second = Claim("w2");
  EXPECT_EQ(second.task.attempt, 2);
  auto stale = store_->Complete(first.lease, TaskResult{{"stale"}, nullptr, 1});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, Code::Conflict);
  EXPECT_NE(stale.error().message.find("held by w2"), std::string::npos) << stale.error().message;
  EXPECT_CODE(store_->Progress(first.lease, 10, ""), Code::Conflict);
  ASSERT_OK(store_->Complete(second.lease, TaskResult{{"fresh"}, nullptr, 1}));
  EXPECT_EQ(store_->Get("task_1")->result->output_files, std::vector<std::string>{"fresh"});
}

TEST_P(StoreTest, RecoverLeasesOfDeadOwnersAndExhaustedTasks) {
  Add("task_live", "HEAD_SWAP", 0, 3);
  Add("task_dead", "HEAD_SWAP", 0, 3);
  Add("task_last", "HEAD_SWAP", 0, 0);  // no retry allowed
  Claimed live = Claim("alive"), dead = Claim("gone"), last = Claim("gone");
  auto rec = store_->RecoverLeases([](std::string_view owner) { return owner == "gone"; });
  ASSERT_OK(rec);
  EXPECT_EQ(rec->requeued, std::vector<std::string>{"task_dead"});
  EXPECT_EQ(rec->failed, std::vector<std::string>{"task_last"});
  EXPECT_EQ(StatusOf("task_live"), TaskStatus::Processing);
  auto t = store_->Get("task_last");
  EXPECT_EQ(t->status, TaskStatus::Failed);
  ASSERT_TRUE(t->error);
  EXPECT_EQ(t->error->code, "LEASE_EXPIRED");
  EXPECT_EQ(t->error->attempt, 1);
  EXPECT_NE(t->error->message.find("gone"), std::string::npos);
  EXPECT_EQ(store_->Get("task_dead")->run_at, clock_.now);
}

TEST_P(StoreTest, ListNewestFirstPagedAndFiltered) {
  for (int i = 0; i < 7; ++i) {
    Add("task_" + std::to_string(i), i % 2 ? "POSE_CHANGE" : "HEAD_SWAP");
    if (i != 5) clock_.Advance(10);  // task_5 and task_6 share a timestamp
  }
  Claimed c = Claim();  // task_0 (oldest, same priority)
  ASSERT_OK(store_->Complete(c.lease, {}));

  auto all = store_->List({.page_size = 3});
  ASSERT_OK(all);
  EXPECT_EQ(all->total, 7);
  ASSERT_EQ(all->tasks.size(), 3u);
  EXPECT_EQ(all->tasks[0].task_id, "task_6");
  EXPECT_EQ(all->tasks[1].task_id, "task_5");
  EXPECT_EQ(all->tasks[2].task_id, "task_4");
  EXPECT_TRUE(all->has_more);
  auto last = store_->List({.page = 3, .page_size = 3});
  ASSERT_EQ(last->tasks.size(), 1u);
  EXPECT_EQ(last->tasks[0].task_id, "task_0");
  EXPECT_FALSE(last->has_more);
  auto beyond = store_->List({.page = 9, .page_size = 3});
  EXPECT_TRUE(beyond->tasks.empty());

  auto pose = store_->List({.mode = "POSE_CHANGE"});
  EXPECT_EQ(pose->total, 3);
  auto done = store_->List({.status = TaskStatus::Done});
  ASSERT_EQ(done->total, 1);
  EXPECT_EQ(done->tasks[0].task_id, "task_0");
  auto pending_head = store_->List({.status = TaskStatus::Pending, .mode = "HEAD_SWAP"});
  EXPECT_EQ(pending_head->total, 3);
  EXPECT_CODE(store_->List({.page = 0}), Code::InvalidArgument);
  EXPECT_CODE(store_->List({.page_size = kMaxPageSize + 1}), Code::InvalidArgument);
}

TEST_P(StoreTest, StatsCountsAndDurations) {
  for (int i = 0; i < 20; ++i) Add("task_h" + std::to_string(i), "HEAD_SWAP");
  Add("task_p", "POSE_CHANGE");
  Add("task_x", "POSE_CHANGE");
  // Twenty HEAD_SWAP tasks taking 1..20 ms: mean 10.5, nearest-rank p95 = 19.
  for (int i = 1; i <= 20; ++i) {
    Claimed c = Claim("w", {"HEAD_SWAP"});
    clock_.Advance(i);
    ASSERT_OK(store_->Complete(c.lease, {}));
  }
  Claimed p = Claim("w", {"POSE_CHANGE"});
  ASSERT_OK(store_->Fail(p.lease, {"TRAP", "x", 1, false, "", 0}));
  auto s = store_->Stats();
  ASSERT_OK(s);
  EXPECT_EQ(s->counts[TaskStatus::Done], 20);
  EXPECT_EQ(s->counts[TaskStatus::Failed], 1);
  EXPECT_EQ(s->counts[TaskStatus::Pending], 1);
  EXPECT_EQ(s->counts[TaskStatus::Cancelled], 0);
  EXPECT_EQ(s->queue_length, 1);
  EXPECT_EQ(s->processing, 0);
  EXPECT_DOUBLE_EQ(s->modes["HEAD_SWAP"].mean_ms, 10.5);
  EXPECT_DOUBLE_EQ(s->modes["HEAD_SWAP"].p95_ms, 19);
  EXPECT_EQ(s->modes["HEAD_SWAP"].done, 20);
  EXPECT_EQ(s->modes["POSE_CHANGE"].failed, 1);
  EXPECT_EQ(s->modes["POSE_CHANGE"].done, 0);
}

// Issue 17: with auth on, GET /tasks/stats showed every user's counts. UserStats counts one user's tasks.
TEST_P(StoreTest, UserStatsCountOnlyThatUsersTasks) {
  auto add = [&](const std::string& id, const std::string& user, const std::string& mode) {
    TaskInfo t = NewTask(id, mode, clock_.now, 0, 0);
    t.user_id = user;
    ASSERT_OK(store_->Create(t));
  };
  add("task_a1", "alice", "HEAD_SWAP");
  add("task_a2", "alice", "HEAD_SWAP");
  add("task_a3", "alice", "POSE_CHANGE");
  add("task_b1", "bob", "HEAD_SWAP");
  // Claimed users round-robin (a1, b1, a2, a3): a1 done in 4 ms, a2 done in 6 ms, a3 failed, b1 done in
  // 100 ms.
  const std::map<std::string, std::pair<int, bool>> outcome = {
      {"task_a1", {4, false}}, {"task_a2", {6, false}}, {"task_a3", {0, true}}, {"task_b1", {100, false}}};
  for (int i = 0; i < 4; ++i) {
    Claimed c = Claim("w");
    auto [ms, fail] = outcome.at(c.task.task_id);
    clock_.Advance(ms);
    if (fail)
      ASSERT_OK(store_->Fail(c.lease, {"TRAP", "x", 1, false, "", 0}));
    else
      ASSERT_OK(store_->Complete(c.lease, {}));
  }
  add("task_a4", "alice", "HEAD_SWAP");
  add("task_n1", "", "HEAD_SWAP");
  auto a = store_->UserStats("alice");
  ASSERT_OK(a);
  EXPECT_EQ(a->counts[TaskStatus::Done], 2);
  EXPECT_EQ(a->counts[TaskStatus::Failed], 1);
  EXPECT_EQ(a->counts[TaskStatus::Pending], 1);
  EXPECT_EQ(a->counts[TaskStatus::Processing], 0);
  EXPECT_EQ(a->queue_length, 1);
  EXPECT_EQ(a->modes["HEAD_SWAP"].done, 2);
  EXPECT_DOUBLE_EQ(a->modes["HEAD_SWAP"].mean_ms, 5);
  EXPECT_DOUBLE_EQ(a->modes["HEAD_SWAP"].p95_ms, 6);
  EXPECT_EQ(a->modes["POSE_CHANGE"].failed, 1);
  auto b = store_->UserStats("bob");
  ASSERT_OK(b);
  EXPECT_EQ(b->counts[TaskStatus::Done], 1);
  EXPECT_EQ(b->counts[TaskStatus::Pending], 0);
  EXPECT_DOUBLE_EQ(b->modes["HEAD_SWAP"].p95_ms, 100);
  EXPECT_EQ(b->modes.count("POSE_CHANGE"), 0u);
  auto anonymous = store_->UserStats("");
  ASSERT_OK(anonymous);
  EXPECT_EQ(anonymous->counts[TaskStatus::Pending], 1);
  EXPECT_EQ(anonymous->counts[TaskStatus::Done], 0);
  auto nobody = store_->UserStats("carol");
  ASSERT_OK(nobody);
  EXPECT_EQ(nobody->counts[TaskStatus::Pending], 0);
  EXPECT_TRUE(nobody->modes.empty());
  EXPECT_EQ(store_->Stats()->counts[TaskStatus::Pending], 2);  // everyone's, as before
}

TEST_P(StoreTest, CleanupRemovesOnlyOldFinishedTasks) {
  Add("task_old_done");
  Add("task_old_cancel");
  Add("task_pending");
  Add("task_running");
  Claimed d = Claim();
  ASSERT_OK(store_->Complete(d.lease, {}));
  ASSERT_OK(store_->Cancel("task_old_cancel"));
  Claimed r = Claim();
  ASSERT_EQ(r.task.task_id, "task_pending");
  clock_.Advance(1000);
  Add("task_new");
  Claimed n = Claim();
  ASSERT_OK(store_->Complete(n.lease, {}));
  auto removed = store_->Cleanup(clock_.now - 500, 100);
  ASSERT_OK(removed);
  std::set<std::string> got(removed->begin(), removed->end());
  EXPECT_EQ(got, (std::set<std::string>{"task_old_done", "task_old_cancel"}));
  EXPECT_CODE(store_->Get("task_old_done"), Code::NotFound);
  EXPECT_TRUE(store_->Get("task_pending").ok());
  EXPECT_TRUE(store_->Get("task_running").ok());
  EXPECT_TRUE(store_->Get("task_new").ok());
  EXPECT_TRUE(store_->Cleanup(clock_.now - 500, 100)->empty());
}

TEST_P(StoreTest, EventsAfterEachCommittedChange) {
  std::vector<TaskEvent> seen;
  std::mutex mu;
  Subscription sub = store_->Subscribe([&](const TaskEvent& e) {
    std::lock_guard l(mu);
    seen.push_back(e);
  });
  Add("task_1");
  Claimed c = Claim();
  ASSERT_OK(store_->Progress(c.lease, 30, "step one"));
  ASSERT_OK(store_->Complete(c.lease, {}));
  EXPECT_FALSE(store_->Complete(c.lease, {}).ok());  // refused: no event
  Add("task_2");
  ASSERT_OK(store_->Cancel("task_2"));
  sub.Reset();
  Add("task_3");  // not seen after unsubscribing
  std::lock_guard l(mu);
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[0].kind, TaskEvent::Kind::Created);
  EXPECT_EQ(seen[1].status, TaskStatus::Processing);
  EXPECT_EQ(seen[2].kind, TaskEvent::Kind::Progress);
  EXPECT_EQ(seen[2].progress, 30);
  EXPECT_EQ(seen[2].current_step, "step one");
  EXPECT_EQ(seen[2].mode, "HEAD_SWAP");
  EXPECT_EQ(seen[3].status, TaskStatus::Done);
  EXPECT_EQ(seen[3].progress, 100);
  EXPECT_EQ(seen[4].kind, TaskEvent::Kind::Created);
  EXPECT_EQ(seen[5].status, TaskStatus::Cancelled);
  EXPECT_EQ(seen[5].task_id, "task_2");
}

// A blocked Dequeue wakes when a task is created in this process — no polling delay.
TEST_P(StoreTest, BlockedDequeueWakesOnCreate) {
  SetExternalPoll(std::chrono::hours(1));  // rule out the cross-process poll
  auto waiter = std::async(std::launch::async,
                           [&] { return store_->Dequeue({.owner = "w", .wait = std::chrono::seconds(30)}); });
  EXPECT_EQ(waiter.wait_for(50ms), std::future_status::timeout);
  auto t0 = std::chrono::steady_clock::now();
  Add("task_1");
  ASSERT_EQ(waiter.wait_for(10s), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  auto got = waiter.get();
  ASSERT_OK(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].task.task_id, "task_1");
}

// WakeWaiters ends a Dequeue that has begun. The test waits for the Dequeue's first give_up check (which
// never gives up) rather than for a head start in time: under load a thread may not have called Dequeue
// 50 ms after it was started, and WakeWaiters is not sticky for calls that begin after it.
TEST_P(StoreTest, WakeWaitersEndsABlockedDequeue) {
  SetExternalPoll(std::chrono::hours(1));
  std::promise<void> begun;
  std::once_flag once;
  auto waiter = std::async(std::launch::async, [&] {
    return store_->Dequeue({.owner = "w", .wait = std::chrono::seconds(30), .give_up = [&] {
                              std::call_once(once, [&] { begun.set_value(); });
                              return false;
                            }});
  });
  ASSERT_EQ(begun.get_future().wait_for(10s), std::future_status::ready);
  store_->WakeWaiters();
  ASSERT_EQ(waiter.wait_for(10s), std::future_status::ready);
  auto got = waiter.get();
  ASSERT_OK(got);
  EXPECT_TRUE(got->empty());
}

// A WakeAll that lands while a Dequeue prepares (the Redis store subscribing, slow under load) ends that
// Dequeue: it counts wake-ups from its start, not from after prepare.
TEST(ReadyWaitersTest, WakeAllDuringPrepareEndsTheDequeue) {
  wasmq::queue::detail::ReadyWaiters waiters;
  wasmq::queue::detail::EventHub hub;
  wasmq::queue::detail::ClaimSource source;
  source.prepare = [&] { waiters.WakeAll(); };
  source.clock = [] { return int64_t{0}; };
  source.try_claim = [](int64_t*) -> wasmq::queue::Result<std::vector<wasmq::queue::Claimed>> {
    return std::vector<wasmq::queue::Claimed>{};
  };
  auto t0 = std::chrono::steady_clock::now();
  auto got = waiters.Dequeue({.owner = "w", .wait = std::chrono::seconds(30)}, source, hub);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST_P(StoreTest, DequeueWaitTimesOut) {
  auto t0 = std::chrono::steady_clock::now();
  auto got = store_->Dequeue({.owner = "w", .wait = 120ms});
  ASSERT_OK(got);
  EXPECT_TRUE(got->empty());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 120ms);
}

// Another connection (as another process would) submits: the waiter sees it within the poll interval.
TEST_P(StoreTest, BlockedDequeueSeesAnotherConnectionsSubmission) {
  SetExternalPoll(20ms);
  auto other = Open();
  ASSERT_OK(other);
  auto waiter = std::async(std::launch::async,
                           [&] { return store_->Dequeue({.owner = "w", .wait = std::chrono::seconds(30)}); });
  EXPECT_EQ(waiter.wait_for(50ms), std::future_status::timeout);
  ASSERT_OK((*other)->Create(NewTask("task_ext", "HEAD_SWAP", clock_.now)));
  ASSERT_EQ(waiter.wait_for(10s), std::future_status::ready);
  auto got = waiter.get();
  ASSERT_OK(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].task.task_id, "task_ext");
}

// Many workers racing for tasks: each task is handed out exactly once.
TEST_P(StoreTest, ConcurrentClaimsHandOutEachTaskOnce) {
  constexpr int kTasks = 400, kWorkers = 4;
  std::atomic<int> done{0};
  std::vector<std::thread> workers;
  std::mutex mu;
  std::multiset<std::string> seen;
  for (int w = 0; w < kWorkers; ++w)
    workers.emplace_back([&, w] {
      const std::string owner = std::string("w").append(std::to_string(w));  // (append: GCC 12 -Wrestrict)
      while (done.load() < kTasks) {
        auto got = store_->Dequeue({.owner = owner, .max_tasks = 3, .wait = 20ms});
        if (!got.ok()) continue;
        for (const Claimed& c : *got) {
          if (store_->Complete(c.lease, {}).ok()) ++done;
          std::lock_guard l(mu);
          seen.insert(c.task.task_id);
        }
      }
    });
  for (int i = 0; i < kTasks; ++i) Add("task_" + std::to_string(i));
  for (auto& t : workers) t.join();
  EXPECT_EQ(seen.size(), size_t{kTasks});
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), size_t{kTasks});
  EXPECT_EQ(store_->Stats()->counts[TaskStatus::Done], kTasks);
}

TEST_P(StoreTest, SurvivesReopen) {
  Add("task_1");
  Claimed c = Claim();
  ASSERT_OK(store_->Progress(c.lease, 60, "half"));
  store_.reset();
  auto again = Open();
  ASSERT_OK(again);
  auto t = (*again)->Get("task_1");
  ASSERT_OK(t);
  EXPECT_EQ(t->status, TaskStatus::Processing);
  EXPECT_EQ(t->progress, 60);
  ASSERT_OK((*again)->Complete(c.lease, {}));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values(Backend::Sqlite, Backend::Redis),
                         BackendName);

}  // namespace
}  // namespace wasmq::queue
