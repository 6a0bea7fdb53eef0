// File: tests/schedule/firing_test.cc
//
// Schedules on both stores (SQLite and a real redis-server): storage, pause / resume / delete, catch-up of
// missed occurrences, and two firing loops (as on two nodes) racing over the same schedules, every
// occurrence firing exactly once. Time is a fake clock moved by hand.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <thread>

#include "../queue/helpers.h"
#include "../queue/redis_harness.h"
#include "schedule/schedule.h"

namespace wasmq::schedule {
namespace {

using queue::testing::FakeClock;
using queue::testing::TempDir;

enum class Backend { Sqlite, Redis };

struct Node {
  std::unique_ptr<queue::Store> store;
  std::unique_ptr<queue::TaskService> tasks;
  std::unique_ptr<ScheduleService> schedules;
};

class FiringTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    clock_.now = *queue::ParseTime("2026-01-01T00:00:00Z");
    if (GetParam() == Backend::Redis) {
      redis_ = wasmq::testing::SharedRedis();
      ASSERT_NE(redis_, nullptr) << wasmq::testing::RedisServer::last_error();
      prefix_ = wasmq::testing::UniquePrefix("sched");
    }
    a_ = OpenNode();
    b_ = OpenNode();
    ASSERT_TRUE(a_.schedules && b_.schedules);
  }

  // A node: its own store object on the same data (another process would open the same), its services.
  Node OpenNode() {
    Node n;
    auto s = GetParam() == Backend::Sqlite
                 ? queue::OpenStore("sqlite:" + dir_.file("tasks.db"), {.clock = clock_.fn()})
                 : queue::OpenStore(redis_->url(), {.clock = clock_.fn(), .redis_prefix = prefix_});
    EXPECT_TRUE(s.ok()) << s.error().message;
    if (!s) return n;
    n.store = std::move(*s);
    n.tasks = std::make_unique<queue::TaskService>(*n.store, queue::ServiceOptions{.clock = clock_.fn()});
    n.schedules = std::make_unique<ScheduleService>(*n.tasks, ServiceOptions{.clock = clock_.fn()});
    return n;
  }

  ScheduleInfo Create(const std::string& cron, queue::CatchUp catch_up = queue::CatchUp::Once,
                      const std::string& user = "alice") {
    ScheduleRequest req;
    req.cron = cron;
    req.timezone = "Europe/Paris";
    req.task = {{"mode", "HEAD_SWAP"}, {"priority", 5}, {"config", {{"k", "v"}}}};
    req.catch_up = catch_up;
    auto s = a_.schedules->Create(req, user);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? *s : ScheduleInfo{};
  }

  int64_t TaskCount() {
    auto l = a_.store->List({.page_size = 1});
    EXPECT_TRUE(l.ok()) << l.error().message;
    return l.ok() ? l->total : -1;
  }

  int Fire(Node& n) {
    auto r = n.schedules->FireDue();
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : -1;
  }

  TempDir dir_;
  FakeClock clock_;
  wasmq::testing::RedisServer* redis_ = nullptr;
  std::string prefix_;
  Node a_, b_;
};

TEST_P(FiringTest, CreateStoresTheFirstOccurrenceAndShowsTheNextRuns) {
  ScheduleInfo s = Create("*/5 * * * *");
  EXPECT_TRUE(s.schedule_id.starts_with("sched_"));
  EXPECT_EQ(s.next_due, *queue::ParseTime("2026-01-01T00:05:00Z"));
  auto got = b_.schedules->Get(s.schedule_id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->cron, "*/5 * * * *");
  EXPECT_EQ(got->user_id, "alice");
  EXPECT_EQ(got->task["mode"], "HEAD_SWAP");
  queue::Json j = b_.schedules->ToJson(*got);
  EXPECT_EQ(j["next_runs"], (queue::Json{"2026-01-01T01:05:00+01:00", "2026-01-01T01:10:00+01:00",
                                         "2026-01-01T01:15:00+01:00", "2026-01-01T01:20:00+01:00",
                                         "2026-01-01T01:25:00+01:00"}));
  EXPECT_EQ(j["catch_up"], "once");
  EXPECT_EQ(j["timezone"], "Europe/Paris");
}

TEST_P(FiringTest, ListsByOwner) {
  Create("0 * * * *", queue::CatchUp::Once, "alice");
  Create("0 * * * *", queue::CatchUp::Once, "bob");
  Create("0 * * * *", queue::CatchUp::Once, "alice");
  const std::string alice = "alice";
  auto mine = b_.schedules->List(&alice);
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(mine->size(), 2u);
  auto all = b_.schedules->List(nullptr);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
}

TEST_P(FiringTest, RefusesBadRequests) {
  ScheduleRequest req;
  req.cron = "61 * * * *";
  req.task = {{"mode", "HEAD_SWAP"}};
  auto r = a_.schedules->Create(req, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "cron: minute: 61 is out of range 0-59");
  req.cron = "* * * * *";
  req.timezone = "Europe/Atlantis";
  r = a_.schedules->Create(req, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, queue::Code::InvalidArgument);
  req.timezone = "UTC";
  req.task = {{"mode", "NO_SUCH_MODE"}};
  r = a_.schedules->Create(req, "");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().message.starts_with("task.mode: unknown mode 'NO_SUCH_MODE'")) << r.error().message;
  req.task = {{"mode", "HEAD_SWAP"}, {"user_id", "mallory"}};
  r = a_.schedules->Create(req, "alice");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "task.user_id: is the schedule's owner; it cannot name another user");
  EXPECT_EQ(TaskCount(), 0);
}

TEST_P(FiringTest, FiresAtEachOccurrenceAsTheOwner) {
  ScheduleInfo s = Create("*/5 * * * *");
  EXPECT_EQ(Fire(a_), 0);  // not due yet
  clock_.Advance(5 * 60'000);
  EXPECT_EQ(Fire(a_), 1);
  EXPECT_EQ(Fire(a_), 0);  // claimed: the same occurrence never again
  auto got = a_.schedules->Get(s.schedule_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->next_due, *queue::ParseTime("2026-01-01T00:10:00Z"));
  ASSERT_FALSE(got->last_task_id.empty());
  auto task = a_.store->Get(got->last_task_id);
  ASSERT_TRUE(task.ok()) << task.error().message;
  EXPECT_EQ(task->user_id, "alice");
  EXPECT_EQ(task->mode, "HEAD_SWAP");
  EXPECT_EQ(task->priority, 5);
  EXPECT_EQ(task->status, queue::TaskStatus::Pending);
  EXPECT_EQ(task->config, (queue::Json{{"k", "v"}}));
  // The task is ready for a worker.
  auto claimed = b_.store->Dequeue({.owner = "w"});
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ(claimed->front().task.task_id, got->last_task_id);
}

TEST_P(FiringTest, TwoLoopsRacingFireEachOccurrenceExactlyOnce) {
  Create("* * * * *");
  Create("*/2 * * * *");
  constexpr int kMinutes = 40;
  std::atomic<int> created{0};
  for (int minute = 1; minute <= kMinutes; ++minute) {
    clock_.Advance(60'000);
    // Both nodes fire at once, each a few times, as two API nodes' loops would within one second.
    auto loop = [&](Node& n) {
      for (int i = 0; i < 3; ++i) {
        auto r = n.schedules->FireDue();
        EXPECT_TRUE(r.ok()) << r.error().message;
        if (r) created += *r;
      }
    };
    std::thread ta(loop, std::ref(a_)), tb(loop, std::ref(b_));
    ta.join();
    tb.join();
  }
  EXPECT_EQ(created.load(), kMinutes + kMinutes / 2);
  EXPECT_EQ(TaskCount(), kMinutes + kMinutes / 2);
}

TEST_P(FiringTest, PausedSchedulesDoNotFireAndResumeFromNow) {
  ScheduleInfo s = Create("*/5 * * * *");
  auto p = b_.schedules->Pause(s.schedule_id);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_TRUE(p->paused);
  EXPECT_TRUE(b_.schedules->ToJson(*p)["next_runs"].empty());
  clock_.Advance(60 * 60'000);
  EXPECT_EQ(Fire(a_), 0);
  auto r = b_.schedules->Resume(s.schedule_id);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->paused);
  // Nothing is caught up for the paused hour: the next occurrence is the first after the resume.
  EXPECT_EQ(r->next_due, *queue::ParseTime("2026-01-01T01:05:00Z"));
  EXPECT_EQ(Fire(a_), 0);
  clock_.Advance(5 * 60'000);
  EXPECT_EQ(Fire(a_), 1);
  EXPECT_EQ(TaskCount(), 1);
  // Idempotent.
  EXPECT_TRUE(b_.schedules->Resume(s.schedule_id).ok());
  EXPECT_TRUE(b_.schedules->Pause(s.schedule_id).ok());
  EXPECT_TRUE(b_.schedules->Pause(s.schedule_id).ok());
}

TEST_P(FiringTest, CreatedPausedWaitsForResume) {
  ScheduleRequest req;
  req.cron = "* * * * *";
  req.task = {{"mode", "HEAD_SWAP"}};
  req.paused = true;
  auto s = a_.schedules->Create(req, "");
  ASSERT_TRUE(s.ok());
  clock_.Advance(10 * 60'000);
  EXPECT_EQ(Fire(a_), 0);
}

TEST_P(FiringTest, DeletedSchedulesStop) {
  ScheduleInfo s = Create("* * * * *");
  ASSERT_TRUE(b_.schedules->Delete(s.schedule_id).ok());
  clock_.Advance(5 * 60'000);
  EXPECT_EQ(Fire(a_), 0);
  auto got = a_.schedules->Get(s.schedule_id);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, queue::Code::NotFound);
  auto again = a_.schedules->Delete(s.schedule_id);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, queue::Code::NotFound);
  auto list = a_.schedules->List(nullptr);
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST_P(FiringTest, CatchUpOnceRunsOneTaskForEveryMissedOccurrence) {
  ScheduleInfo s = Create("*/5 * * * *", queue::CatchUp::Once);
  clock_.Advance(3 * 60 * 60'000 + 60'000);  // down for three hours: 36 occurrences missed
  EXPECT_EQ(Fire(a_) + Fire(b_), 1);
  EXPECT_EQ(TaskCount(), 1);
  auto got = a_.schedules->Get(s.schedule_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->next_due, *queue::ParseTime("2026-01-01T03:05:00Z"));
}

TEST_P(FiringTest, CatchUpSkipDropsMissedOccurrencesButRunsOnTimeOnes) {
  ScheduleInfo s = Create("*/5 * * * *", queue::CatchUp::Skip);
  clock_.Advance(3 * 60 * 60'000 + 60'000);
  EXPECT_EQ(Fire(a_), 0);
  EXPECT_EQ(TaskCount(), 0);
  auto got = a_.schedules->Get(s.schedule_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->next_due, *queue::ParseTime("2026-01-01T03:05:00Z"));
  clock_.Advance(4 * 60'000 + 2'000);  // 03:05:02: two seconds late is on time
  EXPECT_EQ(Fire(a_), 1);
}

// A file of schema version 3 (before schedules) gains the table when opened, its tasks kept.
TEST(SqliteScheduleMigration, AVersion3FileGainsSchedules) {
  TempDir dir;
  const std::string path = dir.file("old.db");
  {
    auto s = queue::OpenStore("sqlite:" + path);
    ASSERT_TRUE(s.ok()) << s.error().message;
    ASSERT_TRUE((*s)->Create(queue::testing::NewTask("task_20260101_000000_aaaaaaaaaaaa", "HEAD_SWAP", 1)).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE schedules; PRAGMA user_version = 3", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto s = queue::OpenStore("sqlite:" + path);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE((*s)->Get("task_20260101_000000_aaaaaaaaaaaa").ok());
  queue::ScheduleInfo info;
  info.schedule_id = "sched_1";
  info.cron = "* * * * *";
  info.next_due = 60'000;
  EXPECT_TRUE((*s)->CreateSchedule(info).ok());
  auto due = (*s)->DueSchedules(60'000, 10);
  ASSERT_TRUE(due.ok()) << due.error().message;
  EXPECT_EQ(due->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Stores, FiringTest, ::testing::Values(Backend::Sqlite, Backend::Redis),
                         [](const auto& p) { return p.param == Backend::Sqlite ? "sqlite" : "redis"; });

}  // namespace
}  // namespace wasmq::schedule
