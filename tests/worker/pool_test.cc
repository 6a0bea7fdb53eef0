// The worker pool end to end on the SQLite store with the C test pipelines: every way an attempt ends,
// retries, timeouts, cancel, limits, order, recovery, cleanup and shutdown.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "helpers.h"
#include "worker/owner.h"

namespace wasmq::worker {
namespace {

using namespace std::chrono_literals;
using queue::TaskStatus;
using testing::EventWaiter;
using testing::TempDir;

// Forwards to a real store, except that after Arm(d) the next FinishMany starts an outage of `d` during which
// finishes and heartbeats answer Unavailable (as during a Redis Sentinel failover). It counts the finishes
// sent after the lease they name had expired (as far as this store's heartbeats extended it).
class OutageStore final : public queue::Store {
 public:
  explicit OutageStore(queue::Store& inner) : inner_(inner) {}
  void Arm(std::chrono::milliseconds outage) { armed_ms_ = outage.count(); }

  std::atomic<int> refused_finishes{0};
  std::atomic<int> late_finishes{0};

  std::string_view backend() const override { return inner_.backend(); }
  queue::Result<void> Ping() override { return inner_.Ping(); }
  queue::Result<void> Create(const queue::TaskInfo& t) override { return inner_.Create(t); }
  queue::Result<queue::TaskInfo> Get(std::string_view id) override { return inner_.Get(id); }
  queue::Result<queue::TaskListResponse> List(const queue::ListQuery& q) override { return inner_.List(q); }
  queue::Result<queue::TaskInfo> Cancel(std::string_view id) override { return inner_.Cancel(id); }
  queue::Result<queue::QueueStats> Stats() override { return inner_.Stats(); }
  queue::Result<queue::QueueStats> UserStats(std::string_view u) override { return inner_.UserStats(u); }
  queue::Result<std::vector<queue::Claimed>> Dequeue(const queue::DequeueRequest& r) override {
    return inner_.Dequeue(r);
  }
  void WakeWaiters() override { inner_.WakeWaiters(); }
  queue::Result<int64_t> Heartbeat(const queue::Lease& l, int64_t ms) override {
    if (Down()) return queue::Error{queue::Code::Unavailable, "outage"};
    auto r = inner_.Heartbeat(l, ms);
    if (r) {
      std::lock_guard lock(mu_);
      renewed_[Key(l)] = *r;
    }
    return r;
  }
  queue::Result<void> Progress(const queue::Lease& l, int p, std::string_view s) override {
    return inner_.Progress(l, p, s);
  }
  std::vector<queue::Result<void>> FinishMany(const std::vector<queue::Finish>& items) override {
    if (int64_t ms = armed_ms_.exchange(0)) down_until_ = queue::NowMs() + ms;
    {
      std::lock_guard lock(mu_);
      for (const queue::Finish& f : items)
        if (queue::NowMs() >= std::max(f.lease.expires_at, renewed_[Key(f.lease)])) ++late_finishes;
    }
    if (Down()) {
      refused_finishes += static_cast<int>(items.size());
      return std::vector<queue::Result<void>>(items.size(), queue::Error{queue::Code::Unavailable, "outage"});
    }
    return inner_.FinishMany(items);
  }
  queue::Result<queue::RecoveryReport> RecoverLeases(const std::function<bool(std::string_view)>& dead) override {
    return inner_.RecoverLeases(dead);
  }
  queue::Result<std::vector<std::string>> Cleanup(int64_t before, int limit) override {
    return inner_.Cleanup(before, limit);
  }
  queue::Subscription Subscribe(queue::EventCallback cb) override { return inner_.Subscribe(std::move(cb)); }

 private:
  bool Down() const { return queue::NowMs() < down_until_; }
  static std::string Key(const queue::Lease& l) { return l.task_id + "/" + std::to_string(l.token); }

  queue::Store& inner_;
  std::atomic<int64_t> armed_ms_{0};
  std::atomic<int64_t> down_until_{0};
  std::mutex mu_;
  std::map<std::string, int64_t> renewed_;  // guarded by mu_: lease → expiry after its last heartbeat
};

class PoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = queue::OpenStore("sqlite:" + dir_.file("tasks.db"));
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
    std::map<std::string, std::string> paths;
    for (const char* m : testing::kTestModes) paths[m] = testing::ModulePath(m);
    ASSERT_TRUE(registry_.Load(paths).ok());
    service_ = std::make_unique<queue::TaskService>(
        *store_, queue::ServiceOptions{
                     .default_max_retries = 0,
                     .default_timeout_ms = 20'000,
                     .extra_modes = {std::begin(testing::kTestModes), std::end(testing::kTestModes)}});
    waiter_ = std::make_unique<EventWaiter>(*store_);
    options_.workers = 2;
    options_.data_dir = dir_.file("data");
    options_.lease_ms = 2'000;
    options_.retry_backoff_ms = 1;
    options_.retry_backoff_max_ms = 5;
    options_.log = [](std::string_view line) {
      fprintf(stderr, "  [pool] %.*s\n", int(line.size()), line.data());
    };
  }
  void TearDown() override {
    if (pool_) pool_->Shutdown(0ms);
    pool_.reset();
    waiter_.reset();
  }

  void StartPool(queue::Store* through = nullptr) {
    pool_ = std::make_unique<WorkerPool>(through ? *through : *store_, registry_, options_);
    auto r = pool_->Start();
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  std::string Submit(const std::string& mode, queue::Json config = queue::Json::object(), int max_retries = 0,
                     int64_t timeout_ms = 0, int priority = 0, const std::string& source = "") {
    queue::TaskCreateRequest req;
    req.mode = mode;
    req.config = std::move(config);
    req.max_retries = max_retries;
    if (timeout_ms) req.timeout_ms = timeout_ms;
    req.priority = priority;
    req.source_image = source;
    auto t = service_->Create(req);
    EXPECT_TRUE(t.ok()) << t.error().message;
    return t.ok() ? t->task_id : "";
  }

  queue::TaskInfo Get(const std::string& id) {
    auto t = store_->Get(id);
    EXPECT_TRUE(t.ok()) << t.error().message;
    return t.ok() ? *t : queue::TaskInfo{};
  }

  // Waits until the task reaches `status` (bounded); returns it.
  queue::TaskInfo WaitFor(const std::string& id, TaskStatus status, std::chrono::milliseconds limit = 30s) {
    bool ok = waiter_->WaitUntil(
        [&] {
          auto t = store_->Get(id);
          return t.ok() && t->status == status;
        },
        limit);
    queue::TaskInfo t = Get(id);
    EXPECT_TRUE(ok) << id << " is " << queue::ToString(t.status) << ", expected " << queue::ToString(status);
    return t;
  }

  TempDir dir_;
  std::unique_ptr<queue::Store> store_;
  PipelineRegistry registry_;
  std::unique_ptr<queue::TaskService> service_;
  std::unique_ptr<EventWaiter> waiter_;
  PoolOptions options_;
  std::unique_ptr<WorkerPool> pool_;
};

TEST_F(PoolTest, ProgressPipelineCompletesWithItsResult) {
  StartPool();
  std::string id = Submit("progress");
  queue::TaskInfo t = WaitFor(id, TaskStatus::Done);
  EXPECT_EQ(t.progress, 100);
  EXPECT_EQ(t.attempt, 1);
  ASSERT_TRUE(t.result);
  EXPECT_EQ(t.result->output_files, std::vector<std::string>{"result.txt"});
  EXPECT_EQ(t.result->output, (queue::Json{{"ok", true}, {"attempt", "1"}}));
  // Kept in the directory of the attempt the store accepted, which the result names.
  EXPECT_TRUE(t.result->output_dir.starts_with("out-")) << t.result->output_dir;
  std::ifstream f(options_.data_dir + "/tasks/" + id + "/" + t.result->output_dir + "/result.txt");
  std::string line;
  std::getline(f, line);
  EXPECT_EQ(line, id);  // the module read its task JSON from stdin
  // Its progress calls reached the store as events, in order, clamped to 0..100.
  std::vector<int> percents;
  std::vector<std::string> steps;
  for (const auto& e : waiter_->events())
    if (e.task_id == id && e.kind == queue::TaskEvent::Kind::Progress) {
      percents.push_back(e.progress);
      steps.push_back(e.current_step);
    }
  EXPECT_EQ(percents, (std::vector<int>{10, 50, 90, 100}));
  EXPECT_EQ(steps.front(), "reading input");
  EXPECT_EQ(steps.back(), "clamped to 100");
}

TEST_F(PoolTest, SourceImageIsStagedIntoIn) {
  testing::WriteUpload(options_.data_dir + "/files", "img_20231117_abc", "",
                       std::string("\x89PNG\r\n\x1a\n", 8) + "PNGDATA");
  StartPool();
  std::string id = Submit("progress", queue::Json::object(), 0, 0, 0, "img_20231117_abc");
  queue::TaskInfo t = WaitFor(id, TaskStatus::Done);
  ASSERT_TRUE(t.result);
  EXPECT_EQ(t.result->output_files, (std::vector<std::string>{"copy-source.png", "result.txt"}));
  std::string missing = Submit("progress", queue::Json::object(), 3, 0, 0, "img_missing");
  queue::TaskInfo m = WaitFor(missing, TaskStatus::Failed);
  ASSERT_TRUE(m.error);
  EXPECT_EQ(m.error->code, "BAD_INPUT");
  EXPECT_FALSE(m.error->retryable);
  EXPECT_EQ(m.attempt, 1);  // not retried: it cannot succeed
}

TEST_F(PoolTest, TrapIsRetriedWithBackoffThenFails) {
  StartPool();
  std::string id = Submit("trap", queue::Json::object(), /*max_retries=*/2);
  queue::TaskInfo t = WaitFor(id, TaskStatus::Failed);
  EXPECT_EQ(t.attempt, 3);
  ASSERT_TRUE(t.error);
  EXPECT_EQ(t.error->code, "TRAP");
  EXPECT_EQ(t.error->attempt, 3);
  EXPECT_TRUE(t.error->retryable);
  EXPECT_NE(t.error->message.find("unreachable"), std::string::npos) << t.error->message;
  EXPECT_EQ(t.error->stderr_tail, "about to trap\n");
  int pending_again = 0;
  for (const auto& e : waiter_->events())
    if (e.task_id == id && e.kind == queue::TaskEvent::Kind::Status && e.status == TaskStatus::Pending)
      ++pending_again;
  EXPECT_EQ(pending_again, 2);
  EXPECT_TRUE(waiter_->WaitUntil([&] { return pool_->stats().failed == 1; }, 10s));
  EXPECT_EQ(pool_->stats().retried, 2);
}

TEST_F(PoolTest, FlakyPipelineSucceedsOnRetry) {
  StartPool();
  std::string id = Submit("flaky", queue::Json::object(), 1);
  queue::TaskInfo t = WaitFor(id, TaskStatus::Done);
  EXPECT_EQ(t.attempt, 2);
  EXPECT_EQ(t.result->output, (queue::Json{{"recovered", true}}));
  ASSERT_TRUE(t.error);  // the first attempt's error stays for the record
  EXPECT_EQ(t.error->code, "EXIT");
}

TEST_F(PoolTest, NonZeroExitFails) {
  StartPool();
  queue::TaskInfo t = WaitFor(Submit("exit3"), TaskStatus::Failed);
  EXPECT_EQ(t.error->code, "EXIT");
  EXPECT_EQ(t.error->message, "the pipeline exited with status 3");
  EXPECT_EQ(t.error->stderr_tail, "giving up\n");
}

TEST_F(PoolTest, OutputOverTheQuotaFailsTheTaskAndIsRemoved) {
  options_.max_output_bytes = 1 << 20;
  StartPool();
  // bigout ignores the EDQUOT it gets at 1 MiB and exits 0.
  queue::TaskInfo t = WaitFor(Submit("bigout", queue::Json::object(), 3), TaskStatus::Failed);
  ASSERT_TRUE(t.error);
  EXPECT_EQ(t.error->code, "OUTPUT_TOO_LARGE");
  EXPECT_FALSE(t.error->retryable);
  EXPECT_EQ(t.attempt, 1);
  EXPECT_NE(t.error->message.find("more than 1048576 bytes of output"), std::string::npos)
      << t.error->message;
  EXPECT_EQ(t.error->message.find(options_.data_dir), std::string::npos) << t.error->message;
  EXPECT_FALSE(std::filesystem::exists(options_.data_dir + "/tasks/" + t.task_id + "/out"));
  // Nothing of the partial output is left anywhere under the data directory.
  for (const auto& e : std::filesystem::recursive_directory_iterator(options_.data_dir))
    EXPECT_NE(e.path().filename(), "part.bin") << e.path();
}

TEST_F(PoolTest, OutputFileCountIsLimitedToo) {
  options_.max_output_files = 1;
  StartPool();
  queue::TaskInfo t = WaitFor(Submit("bigout"), TaskStatus::Failed);  // part.bin, then other.txt
  ASSERT_TRUE(t.error);
  EXPECT_EQ(t.error->code, "OUTPUT_TOO_LARGE");
  EXPECT_NE(t.error->message.find("more than 1 output files"), std::string::npos) << t.error->message;
}

TEST_F(PoolTest, ResultOverTheStdoutCapFailsAndLogsSayTheyWereCut) {
  StartPool();
  queue::TaskInfo t = WaitFor(Submit("bigout", {{"stdout", 2 << 20}}), TaskStatus::Failed);
  ASSERT_TRUE(t.error);
  EXPECT_EQ(t.error->code, "OUTPUT_TOO_LARGE");
  EXPECT_NE(t.error->message.find("stdout"), std::string::npos) << t.error->message;
  EXPECT_NE(t.error->stderr_tail.find("[stderr cut at 1048576 bytes: 1048576 more bytes dropped]"),
            std::string::npos);
  // Under the cap the result is the module's stdout as before.
  queue::TaskInfo ok = WaitFor(Submit("bigout", {{"stdout", 1000}}), TaskStatus::Done);
  ASSERT_TRUE(ok.result);
  EXPECT_EQ(ok.result->output, std::string(1000, 'x'));
}

TEST_F(PoolTest, UnlinkablePipelineFailsWithoutRetry) {
  StartPool();
  queue::TaskInfo t = WaitFor(Submit("bad_import", queue::Json::object(), 5), TaskStatus::Failed);
  EXPECT_EQ(t.attempt, 1);
  EXPECT_EQ(t.error->code, "PIPELINE_INVALID");
  EXPECT_FALSE(t.error->retryable);
}

TEST_F(PoolTest, TimeoutInterruptsAnEndlessLoop) {
  StartPool();
  auto t0 = std::chrono::steady_clock::now();
  std::string id = Submit("loop", queue::Json::object(), 1, /*timeout_ms=*/150);
  queue::TaskInfo t = WaitFor(id, TaskStatus::Failed);
  EXPECT_EQ(t.error->code, "TIMEOUT");
  EXPECT_EQ(t.error->message, "the pipeline ran past its timeout of 150 ms");
  EXPECT_EQ(t.attempt, 2);  // a timeout is retried like any transient failure
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  // The executors are free again.
  WaitFor(Submit("progress"), TaskStatus::Done);
}

TEST_F(PoolTest, CancelInterruptsARunningTask) {
  options_.workers = 1;
  StartPool();
  std::string id = Submit("loop", queue::Json::object(), 3);
  ASSERT_TRUE(waiter_->WaitUntil([&] { return Get(id).current_step == "looping"; }));
  auto c = service_->Cancel(id);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->status, TaskStatus::Cancelled);
  // The single executor was freed: the next task runs.
  WaitFor(Submit("progress"), TaskStatus::Done);
  queue::TaskInfo t = Get(id);
  EXPECT_EQ(t.status, TaskStatus::Cancelled);
  EXPECT_EQ(t.attempt, 1);
  EXPECT_EQ(pool_->stats().cancelled, 1);
}

TEST_F(PoolTest, CancelPendingTaskNeverRuns) {
  options_.workers = 1;
  options_.mode_limits = {{"slow", 1}};
  StartPool();
  std::string first = Submit("slow", {{"sleep_ms", 300}});
  std::string second = Submit("slow", {{"sleep_ms", 300}});
  ASSERT_TRUE(service_->Cancel(second).ok());
  WaitFor(first, TaskStatus::Done);
  queue::TaskInfo t = Get(second);
  EXPECT_EQ(t.status, TaskStatus::Cancelled);
  EXPECT_EQ(t.attempt, 0);
  EXPECT_EQ(t.started_at, 0);
}

// Stop a run whose lease another process took over (it recovered the task as if we had died): our next
// heartbeat is refused, the run stops, its result is never written, and the task completes once after.
TEST_F(PoolTest, LostLeaseStopsTheRunAndTheTaskStillCompletesOnce) {
  options_.workers = 1;
  options_.lease_ms = 300;  // heartbeats every 100 ms
  StartPool();
  std::string id = Submit("slow", {{"sleep_ms", 2000}}, 3);
  ASSERT_TRUE(waiter_->WaitUntil([&] { return Get(id).progress > 0; }));
  auto other = queue::OpenStore("sqlite:" + dir_.file("tasks.db"));
  ASSERT_TRUE(other.ok());
  auto rec = (*other)->RecoverLeases([](std::string_view) { return true; });  // "its owner is dead"
  ASSERT_TRUE(rec.ok());
  ASSERT_EQ(rec->requeued, std::vector<std::string>{id});
  queue::TaskInfo t = WaitFor(id, TaskStatus::Done);
  EXPECT_EQ(t.attempt, 2);
  EXPECT_GE(pool_->stats().lost, 1);
  int done_events = 0;
  for (const auto& e : waiter_->events())
    if (e.task_id == id && e.status == TaskStatus::Done) ++done_events;
  EXPECT_EQ(done_events, 1);
}

TEST_F(PoolTest, PerModeLimitIsNeverExceeded) {
  options_.workers = 3;
  options_.mode_limits = {{"slow", 1}};
  StartPool();
  std::vector<std::string> slow;
  for (int i = 0; i < 3; ++i) slow.push_back(Submit("slow", {{"sleep_ms", 150}}));
  std::string fast = Submit("progress");  // another mode is not held back by the limit
  WaitFor(fast, TaskStatus::Done);
  for (const std::string& id : slow) WaitFor(id, TaskStatus::Done);
  int running = 0, most = 0;
  for (const auto& e : waiter_->events()) {
    if (e.mode != "slow" || e.kind != queue::TaskEvent::Kind::Status) continue;
    if (e.status == TaskStatus::Processing) most = std::max(most, ++running);
    if (e.status == TaskStatus::Done) --running;
  }
  EXPECT_EQ(most, 1);
  auto fast_done = Get(fast).finished_at, last_slow_done = Get(slow.back()).finished_at;
  EXPECT_LT(fast_done, last_slow_done);
}

TEST_F(PoolTest, HandsOutByPriorityThenFifo) {
  options_.workers = 1;
  std::vector<std::string> ids = {Submit("noop", {}, 0, 0, 0), Submit("noop", {}, 0, 0, 7),
                                  Submit("noop", {}, 0, 0, 0), Submit("noop", {}, 0, 0, 7)};
  StartPool();
  for (const std::string& id : ids) WaitFor(id, TaskStatus::Done);
  std::vector<std::string> order;
  for (const auto& e : waiter_->events())
    if (e.kind == queue::TaskEvent::Kind::Status && e.status == TaskStatus::Processing)
      order.push_back(e.task_id);
  EXPECT_EQ(order, (std::vector<std::string>{ids[1], ids[3], ids[0], ids[2]}));
}

TEST_F(PoolTest, StartRecoversTasksOfADeadProcess) {
  // A task claimed by a process of this host, boot and pid namespace that no longer exists (a pid that
  // cannot be alive): this process's owner name with another pid and nonce.
  std::string id = Submit("progress", {}, 2);
  std::vector<std::string> parts;
  std::string me = ThisProcessOwner();
  for (size_t at; (at = me.find('/')) != std::string::npos; me.erase(0, at + 1))
    parts.push_back(me.substr(0, at));
  parts.push_back(me);
  ASSERT_EQ(parts.size(), 6u);
  std::string dead = "wasmq/" + parts[1] + "/999999999/deadbeef/" + parts[4] + "/" + parts[5];
  auto claimed = store_->Dequeue({.owner = dead, .lease_ms = 3'600'000});
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  StartPool();  // the lease has an hour left, but its owner is gone: taken back at once
  queue::TaskInfo t = WaitFor(id, TaskStatus::Done, 10s);
  EXPECT_EQ(t.attempt, 2);
  EXPECT_EQ(pool_->stats().recovered, 1);
}

TEST_F(PoolTest, ExpiredLeaseOfAnotherHostIsRecoveredPeriodically) {
  options_.lease_ms = 200;
  std::string id = Submit("progress", {}, 2);
  auto claimed = store_->Dequeue({.owner = "wasmq/elsewhere/1/x", .lease_ms = 200});
  ASSERT_EQ(claimed->size(), 1u);
  StartPool();
  queue::TaskInfo t = WaitFor(id, TaskStatus::Done, 10s);
  EXPECT_EQ(t.attempt, 2);
}

TEST_F(PoolTest, CleanupRemovesFinishedTasksAndTheirFiles) {
  options_.task_ttl_ms = 100;
  options_.cleanup_interval_ms = 20;
  StartPool();
  std::string id = Submit("progress");
  WaitFor(id, TaskStatus::Done);
  const std::string dir = options_.data_dir + "/tasks/" + id;
  ASSERT_TRUE(
      waiter_->WaitUntil([&] { return !store_->Get(id).ok() && !std::filesystem::exists(dir); }, 10s));
  EXPECT_EQ(store_->Get(id).error().code, queue::Code::NotFound);
  // The pool counts after the store call returns: wait for that too.
  EXPECT_TRUE(waiter_->WaitUntil([&] { return pool_->stats().cleaned >= 1; }, 10s));
}

TEST_F(PoolTest, GracefulShutdownLetsRunningTasksFinish) {
  options_.workers = 1;
  StartPool();
  std::string id = Submit("slow", {{"sleep_ms", 300}});
  ASSERT_TRUE(waiter_->WaitUntil([&] { return Get(id).progress > 0; }));  // running, not just claimed
  std::string queued = Submit("slow", {{"sleep_ms", 300}});
  pool_->Shutdown(30s);
  EXPECT_EQ(Get(id).status, TaskStatus::Done);
  queue::TaskInfo q = Get(queued);
  EXPECT_EQ(q.status, TaskStatus::Pending);  // never taken: shutdown stops claiming first
  EXPECT_EQ(q.attempt, 0);
}

TEST_F(PoolTest, ShutdownAfterGraceHandsRunningTasksBack) {
  options_.workers = 2;
  StartPool();
  std::string id = Submit("loop", {}, 0);
  ASSERT_TRUE(waiter_->WaitUntil([&] { return Get(id).current_step == "looping"; }));
  auto t0 = std::chrono::steady_clock::now();
  pool_->Shutdown(100ms);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  queue::TaskInfo t = Get(id);
  EXPECT_EQ(t.status, TaskStatus::Pending);
  EXPECT_EQ(t.attempt, 0);  // a hand-back does not use up the task's only attempt
  EXPECT_EQ(pool_->stats().released, 1);
}

TEST_F(PoolTest, StartRefusesAModeWithoutPipeline) {
  options_.modes = {"HEAD_SWAP"};
  pool_ = std::make_unique<WorkerPool>(*store_, registry_, options_);
  auto r = pool_->Start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "modes: no pipeline is registered for mode HEAD_SWAP");
}

TEST_F(PoolTest, OnlyRegisteredModesAreTaken) {
  options_.modes = {"noop"};
  StartPool();
  std::string other = Submit("progress");
  std::string mine = Submit("noop");
  WaitFor(mine, TaskStatus::Done);
  EXPECT_EQ(Get(other).status, TaskStatus::Pending);
}

TEST_F(PoolTest, ManyTasksEachCompleteExactlyOnce) {
  options_.workers = 4;
  StartPool();
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(Submit("noop"));
  for (const std::string& id : ids) WaitFor(id, TaskStatus::Done);
  EXPECT_TRUE(waiter_->WaitUntil([&] { return pool_->stats().completed == 200; }, 10s))
      << pool_->stats().completed;
  std::map<std::string, int> done;
  for (const auto& e : waiter_->events())
    if (e.status == TaskStatus::Done) ++done[e.task_id];
  EXPECT_EQ(done.size(), 200u);
  for (const auto& [id, n] : done) EXPECT_EQ(n, 1) << id;
}

// A result finished while the store is unavailable for longer than one call's retries (a failover takes
// 2–3 s) is retried while the lease lasts, and recorded once the store is back: no re-run.
TEST_F(PoolTest, AResultFinishedDuringAnOutageIsRecordedWhenTheStoreIsBack) {
  options_.lease_ms = 6'000;  // heartbeats every 2 s: the lease outlasts the outage
  OutageStore outage(*store_);
  outage.Arm(2'000ms);
  StartPool(&outage);
  std::string id = Submit("noop");
  queue::TaskInfo t = WaitFor(id, TaskStatus::Done);
  EXPECT_EQ(t.attempt, 1);
  EXPECT_GE(outage.refused_finishes.load(), 3);
  EXPECT_EQ(outage.late_finishes.load(), 0);
  EXPECT_TRUE(waiter_->WaitUntil([&] { return pool_->stats().completed == 1; }, 10s));
  EXPECT_EQ(pool_->stats().lost, 0);
  pool_->Shutdown(0ms);  // before `outage`, which the pool calls, goes
  pool_.reset();
}

// An outage longer than the lease: the result is not sent once its lease would be gone; the task is
// recovered and completes in a later attempt.
TEST_F(PoolTest, AResultIsNeverSentAfterItsLeaseIsGone) {
  options_.lease_ms = 1'000;
  OutageStore outage(*store_);
  outage.Arm(2'500ms);
  StartPool(&outage);
  std::string id = Submit("noop", queue::Json::object(), /*max_retries=*/5);
  queue::TaskInfo t = WaitFor(id, TaskStatus::Done);
  EXPECT_GE(t.attempt, 2);
  EXPECT_GT(outage.refused_finishes.load(), 0);
  EXPECT_EQ(outage.late_finishes.load(), 0);
  EXPECT_TRUE(waiter_->WaitUntil([&] { return pool_->stats().lost >= 1; }, 10s));
  pool_->Shutdown(0ms);  // before `outage`, which the pool calls, goes
  pool_.reset();
}

}  // namespace
}  // namespace wasmq::worker
