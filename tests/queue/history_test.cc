// The dashboard's views of the store, on both backends: each task's events (attempts and timeline, the
// progress bound), Requeue of a failed task, the worker registry, finished tasks in a window; and the
// migration of a version-1 SQLite file.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "helpers.h"
#include "queue/redis_store.h"
#include "queue/sqlite_store.h"
#include "redis_harness.h"

namespace wasmq::queue {
namespace {

using testing::FakeClock;
using testing::NewTask;
using testing::TempDir;

enum class Backend { Sqlite, Redis };

class HistoryTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::Redis) {
      redis_ = wasmq::testing::SharedRedis();
      ASSERT_NE(redis_, nullptr) << wasmq::testing::RedisServer::last_error();
      prefix_ = wasmq::testing::UniquePrefix();
      auto s = OpenStore(redis_->url(), {.clock = clock_.fn(), .redis_prefix = prefix_});
      ASSERT_TRUE(s.ok()) << s.error().message;
      store_ = std::move(*s);
    } else {
      auto s = OpenStore("sqlite:" + dir_.file("tasks.db"), {.clock = clock_.fn()});
      ASSERT_TRUE(s.ok()) << s.error().message;
      store_ = std::move(*s);
    }
  }

  Claimed Claim(const std::string& owner = "wasmq/hostA/42/abcd/boot/ns") {
    auto r = store_->Dequeue({.owner = owner, .lease_ms = 1000});
    EXPECT_TRUE(r.ok() && !r->empty());
    return r.ok() && !r->empty() ? r->front() : Claimed{};
  }

  std::vector<std::string> Kinds(const std::string& id) {
    auto h = store_->History(id);
    EXPECT_TRUE(h.ok()) << h.error().message;
    std::vector<std::string> kinds;
    if (h.ok())
      for (const HistoryEvent& e : *h) kinds.push_back(e.kind);
    return kinds;
  }

  TempDir dir_;
  FakeClock clock_;
  wasmq::testing::RedisServer* redis_ = nullptr;
  std::string prefix_;
  std::unique_ptr<Store> store_;
};

TaskError Err(std::string code, int attempt) {
  return {.code = std::move(code), .message = "boom", .attempt = attempt, .retryable = true};
}

TEST_P(HistoryTest, AttemptsAndTimelineOfARetriedThenDoneTask) {
  ASSERT_OK(store_->Create(NewTask("t1", "HEAD_SWAP", clock_.now)));
  clock_.Advance(10);
  Claimed c1 = Claim();
  clock_.Advance(10);
  ASSERT_OK(store_->Progress(c1.lease, 30, "decoding"));
  clock_.Advance(10);
  ASSERT_OK(store_->Retry(c1.lease, Err("TIMEOUT", 1), clock_.now));
  clock_.Advance(10);
  Claimed c2 = Claim("wasmq/hostB/7/ef01/boot/ns");
  ASSERT_OK(store_->Progress(c2.lease, 50, "half"));
  clock_.Advance(10);
  ASSERT_OK(store_->Complete(c2.lease, TaskResult{.duration_ms = 10}));
  EXPECT_EQ(Kinds("t1"), (std::vector<std::string>{"created", "started", "progress", "retry_scheduled", "started",
                                                   "progress", "done"}));

  auto task = store_->Get("t1");
  ASSERT_OK(task);
  auto events = store_->History("t1");
  ASSERT_OK(events);
  Json attempts = AttemptsJson(*task, *events);
  ASSERT_EQ(attempts.size(), 2u) << attempts.dump();
  EXPECT_EQ(attempts[0]["attempt"], 1);
  EXPECT_EQ(attempts[0]["outcome"], "timeout");
  EXPECT_EQ(attempts[0]["error"]["code"], "TIMEOUT");
  EXPECT_EQ(attempts[0]["worker"], "hostA:42");
  EXPECT_EQ(attempts[0]["started_at"], FormatTime(1700208000010));
  EXPECT_EQ(attempts[0]["finished_at"], FormatTime(1700208000030));
  EXPECT_EQ(attempts[1]["outcome"], "done");
  EXPECT_EQ(attempts[1]["worker"], "hostB:7");
  EXPECT_TRUE(attempts[1]["error"].is_null());
  Json timeline = TimelineJson(*task, *events);
  ASSERT_EQ(timeline.size(), 7u);
  EXPECT_EQ(timeline[2]["kind"], "progress");
  EXPECT_EQ(timeline[2]["progress"], 30);
  EXPECT_EQ(timeline[2]["step"], "decoding");
  EXPECT_EQ(timeline[2]["attempt"], 1);
  EXPECT_EQ(timeline[6]["kind"], "done");
  EXPECT_EQ(timeline[6]["progress"], 100);
}

TEST_P(HistoryTest, ProgressEventsAreBoundedOldestFirst) {
  ASSERT_OK(store_->Create(NewTask("t1", "HEAD_SWAP", clock_.now)));
  Claimed c = Claim();
  for (int i = 0; i < kMaxProgressEvents + 50; ++i) {
    clock_.Advance(1);
    ASSERT_OK(store_->Progress(c.lease, i % 101, "step " + std::to_string(i)));
  }
  ASSERT_OK(store_->Fail(c.lease, Err("TRAP", 1)));
  auto events = store_->History("t1");
  ASSERT_OK(events);
  ASSERT_EQ(events->size(), size_t{kMaxProgressEvents} + 3);  // created, started, 200 progress, failed
  EXPECT_EQ((*events)[0].kind, "created");
  EXPECT_EQ((*events)[1].kind, "started");
  EXPECT_EQ((*events)[2].detail, "step 50");  // the 50 oldest went
  EXPECT_EQ((*events)[kMaxProgressEvents + 1].detail, "step 249");
  EXPECT_EQ(events->back().kind, "failed");
  auto task = store_->Get("t1");
  ASSERT_OK(task);
  Json attempts = AttemptsJson(*task, *events);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0]["outcome"], "failed");
  EXPECT_EQ(attempts[0]["error"]["code"], "TRAP");
}

TEST_P(HistoryTest, RequeueOnlyAFailedTaskAndKeepItsHistory) {
  ASSERT_OK(store_->Create(NewTask("t1", "HEAD_SWAP", clock_.now, 0, 0)));
  EXPECT_CODE(store_->Requeue("t1"), Code::Conflict);  // pending
  Claimed c = Claim();
  EXPECT_CODE(store_->Requeue("t1"), Code::Conflict);  // processing
  ASSERT_OK(store_->Fail(c.lease, Err("EXIT", 1)));
  EXPECT_CODE(store_->Requeue("nope"), Code::NotFound);
  clock_.Advance(100);
  auto t = store_->Requeue("t1");
  ASSERT_OK(t);
  EXPECT_EQ(t->status, TaskStatus::Pending);
  EXPECT_EQ(t->attempt, 0);
  EXPECT_EQ(t->max_retries, 0);
  EXPECT_FALSE(t->error.has_value());
  EXPECT_EQ(t->finished_at, 0);
  auto stats = store_->Stats();
  ASSERT_OK(stats);
  EXPECT_EQ(stats->counts[TaskStatus::Failed], 0);
  EXPECT_EQ(stats->queue_length, 1);
  // It runs again, attempt 1 again, and the first attempt is still in its history.
  Claimed again = Claim();
  EXPECT_EQ(again.task.attempt, 1);
  ASSERT_OK(store_->Complete(again.lease, TaskResult{}));
  EXPECT_CODE(store_->Requeue("t1"), Code::Conflict);  // done
  EXPECT_EQ(Kinds("t1"), (std::vector<std::string>{"created", "started", "failed", "retried", "started", "done"}));
  auto events = store_->History("t1");
  ASSERT_OK(events);
  Json attempts = AttemptsJson(*store_->Get("t1"), *events);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0]["outcome"], "failed");
  EXPECT_EQ(attempts[1]["outcome"], "done");
  Json timeline = TimelineJson(*store_->Get("t1"), *events);
  EXPECT_EQ(timeline[3]["kind"], "retry_scheduled");
}

TEST_P(HistoryTest, CancelHandBackAndLeaseRecoveryAreRecorded) {
  ASSERT_OK(store_->Create(NewTask("t1", "HEAD_SWAP", clock_.now, 0, 1)));
  Claimed c = Claim();
  ASSERT_OK(store_->Release(c.lease));
  c = Claim();
  clock_.Advance(5000);  // the lease (1 s) runs out
  auto rec = store_->RecoverLeases(nullptr);
  ASSERT_OK(rec);
  c = Claim();
  ASSERT_OK(store_->Cancel("t1"));
  EXPECT_EQ(Kinds("t1"), (std::vector<std::string>{"created", "started", "handed_back", "started",
                                                   "retry_scheduled", "started", "cancelled"}));
  auto events = store_->History("t1");
  ASSERT_OK(events);
  Json attempts = AttemptsJson(*store_->Get("t1"), *events);
  ASSERT_EQ(attempts.size(), 3u) << attempts.dump();
  EXPECT_EQ(attempts[0]["outcome"], "handed_back");
  EXPECT_EQ(attempts[1]["outcome"], "failed");
  EXPECT_EQ(attempts[1]["error"]["code"], "LEASE_EXPIRED");
  EXPECT_EQ(attempts[2]["outcome"], "cancelled");
  EXPECT_CODE(store_->History("nope"), Code::NotFound);
  // Cleanup drops the history with the task.
  clock_.Advance(10);
  auto gone = store_->Cleanup(clock_.now + 1, 10);
  ASSERT_OK(gone);
  EXPECT_CODE(store_->History("t1"), Code::NotFound);
}

TEST_P(HistoryTest, WorkersAreRegisteredWithTheirRunningTasksAndExpire) {
  const std::string owner = "wasmq/hostA/42/abcd/boot/ns";
  WorkerInfo w = WorkerFromOwner(owner);
  EXPECT_EQ(w.id, "hostA:42:abcd");
  EXPECT_EQ(w.host, "hostA");
  EXPECT_EQ(w.pid, 42);
  w.started_at = w.last_heartbeat = clock_.now;
  w.concurrency = 2;
  w.heartbeat_ms = 1000;
  ASSERT_OK(store_->PutWorker(w));
  WorkerInfo other = WorkerFromOwner("wasmq/hostB/7/ef01/boot/ns");
  other.started_at = other.last_heartbeat = clock_.now + 1;
  other.concurrency = 1;
  other.heartbeat_ms = 1000;
  ASSERT_OK(store_->PutWorker(other));
  ASSERT_OK(store_->Create(NewTask("t1", "POSE_CHANGE", clock_.now)));
  Claimed c = Claim(owner);
  ASSERT_OK(store_->Progress(c.lease, 40, "x"));
  auto ws = store_->Workers();
  ASSERT_OK(ws);
  ASSERT_EQ(ws->size(), 2u);
  EXPECT_EQ((*ws)[0].id, "hostA:42:abcd");
  EXPECT_EQ((*ws)[0].concurrency, 2);
  ASSERT_EQ((*ws)[0].running.size(), 1u);
  EXPECT_EQ((*ws)[0].running[0].task_id, "t1");
  EXPECT_EQ((*ws)[0].running[0].mode, "POSE_CHANGE");
  EXPECT_EQ((*ws)[0].running[0].progress, 40);
  EXPECT_TRUE((*ws)[1].running.empty());
  // hostA keeps beating; hostB falls silent for more than 3 rounds and disappears.
  clock_.Advance(3500);
  w.last_heartbeat = clock_.now;
  ASSERT_OK(store_->PutWorker(w));
  ws = store_->Workers();
  ASSERT_OK(ws);
  ASSERT_EQ(ws->size(), 1u);
  EXPECT_EQ((*ws)[0].id, "hostA:42:abcd");
  EXPECT_EQ((*ws)[0].started_at, 1700208000000);
}

TEST_P(HistoryTest, FinishedTasksOfAWindow) {
  for (int i = 0; i < 3; ++i)
    ASSERT_OK(store_->Create(NewTask("t" + std::to_string(i), i == 2 ? "POSE_CHANGE" : "HEAD_SWAP", clock_.now, 0, 0)));
  TaskInfo mine = NewTask("u1", "HEAD_SWAP", clock_.now, 0, 0);
  mine.user_id = "alice";
  ASSERT_OK(store_->Create(mine));
  const int64_t start = clock_.now;
  for (int i = 0; i < 4; ++i) {
    Claimed c = Claim();
    clock_.Advance(100 * (i + 1));
    if (i == 1)
      ASSERT_OK(store_->Fail(c.lease, Err("TRAP", 1)));
    else
      ASSERT_OK(store_->Complete(c.lease, TaskResult{}));
  }
  auto all = store_->Finished(start, clock_.now + 1, nullptr);
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 4u);
  int failed = 0;
  for (const FinishedTask& f : *all) failed += f.status == TaskStatus::Failed;
  EXPECT_EQ(failed, 1);
  EXPECT_EQ((*all)[0].duration_ms, 100);
  const std::string alice = "alice";
  auto hers = store_->Finished(start, clock_.now + 1, &alice);
  ASSERT_OK(hers);
  ASSERT_EQ(hers->size(), 1u);
  EXPECT_EQ((*hers)[0].mode, "HEAD_SWAP");
  auto early = store_->Finished(start, start + 101, nullptr);
  ASSERT_OK(early);
  EXPECT_EQ(early->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, HistoryTest, ::testing::Values(Backend::Sqlite, Backend::Redis),
                         [](const auto& p) { return p.param == Backend::Sqlite ? "sqlite" : "redis"; });

// A database written by a wasmq before history existed (schema version 1) is migrated in place: its tasks
// stay, new changes are recorded, and an old task's attempts come from its row.
TEST(SqliteMigration, Version1FileGainsHistory) {
  TempDir dir;
  const std::string path = dir.file("old.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const char* v1 = R"sql(
PRAGMA journal_mode = WAL;
CREATE TABLE tasks (
  id TEXT PRIMARY KEY, user_id TEXT NOT NULL DEFAULT '', mode TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending','processing','done','failed','cancelled')),
  priority INTEGER NOT NULL DEFAULT 0, source_image TEXT NOT NULL DEFAULT '', config TEXT NOT NULL DEFAULT '{}',
  progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100), current_step TEXT NOT NULL DEFAULT '',
  attempt INTEGER NOT NULL DEFAULT 0, max_retries INTEGER NOT NULL DEFAULT 0, timeout_ms INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL, started_at INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL DEFAULT 0, run_at INTEGER NOT NULL, duration_ms INTEGER, result TEXT, error TEXT,
  lease_owner TEXT, lease_token INTEGER NOT NULL DEFAULT 0, lease_expires_at INTEGER NOT NULL DEFAULT 0);
CREATE INDEX tasks_ready ON tasks (priority DESC, run_at) WHERE status = 'pending';
CREATE INDEX tasks_running ON tasks (lease_expires_at) WHERE status = 'processing';
INSERT INTO tasks (id, mode, status, attempt, max_retries, created_at, started_at, updated_at, finished_at, run_at,
  duration_ms, result) VALUES ('old', 'HEAD_SWAP', 'done', 1, 0, 1000, 2000, 3000, 3000, 1000, 1000,
  '{"output_files":[],"output":null,"duration_ms":1000}');
INSERT INTO tasks (id, mode, status, created_at, updated_at, run_at) VALUES ('waiting', 'HEAD_SWAP', 'pending',
  1000, 1000, 1000);
PRAGMA user_version = 1;
)sql";
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_close(db);
  }
  FakeClock clock;
  auto store = SqliteStore::Open(path, {.clock = clock.fn()});
  ASSERT_OK(store);
  auto old = (*store)->Get("old");
  ASSERT_OK(old);
  auto events = (*store)->History("old");
  ASSERT_OK(events);
  EXPECT_TRUE(events->empty());
  Json attempts = AttemptsJson(*old, *events);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0]["outcome"], "done");
  Json timeline = TimelineJson(*old, *events);
  ASSERT_EQ(timeline.size(), 3u);
  EXPECT_EQ(timeline[2]["kind"], "done");
  // The pending one runs under the new schema and is recorded from then on.
  auto c = (*store)->Dequeue({.owner = "w"});
  ASSERT_OK(c);
  ASSERT_EQ(c->size(), 1u);
  ASSERT_OK((*store)->Complete(c->front().lease, TaskResult{}));
  auto ev = (*store)->History("waiting");
  ASSERT_OK(ev);
  ASSERT_EQ(ev->size(), 2u);
  EXPECT_EQ((*ev)[0].kind, "started");
  EXPECT_EQ((*ev)[1].kind, "done");
  // Opening again changes nothing.
  store->reset();
  auto again = SqliteStore::Open(path, {.clock = clock.fn()});
  ASSERT_OK(again);
  EXPECT_EQ((*again)->History("waiting")->size(), 2u);
}

}  // namespace
}  // namespace wasmq::queue
