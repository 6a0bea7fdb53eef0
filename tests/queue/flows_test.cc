// Flows on every backend (the same cases on SQLite and on a real redis-server): idempotent creates, also
// racing from two store objects (two processes on one file, two API nodes on one Redis), tasks that wait on
// others and are released or cancelled by the store when those finish, batches, dead letters.
#include <gtest/gtest.h>

#include <set>
#include <thread>

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

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::Sqlite ? "sqlite" : "redis";
}

class FlowsTest : public ::testing::TestWithParam<Backend> {
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

  // Another store object on the same data, as another process or API node would open it.
  Result<std::unique_ptr<Store>> Open() {
    if (GetParam() == Backend::Sqlite)
      return OpenStore("sqlite:" + dir_.file("tasks.db"), {.clock = clock_.fn()});
    return OpenStore(redis_->url(), {.clock = clock_.fn(), .redis_prefix = prefix_});
  }

  TaskInfo Task(const std::string& id, std::vector<std::string> deps = {}, const std::string& user = "") {
    TaskInfo t = NewTask(id, "HEAD_SWAP", clock_.now, 0, 0);
    t.depends_on = std::move(deps);
    t.user_id = user;
    return t;
  }

  // Claims every ready task; returns them by id.
  std::map<std::string, Lease> ClaimReady() {
    auto r = store_->Dequeue({.owner = "w1", .lease_ms = 60'000, .max_tasks = 50});
    EXPECT_TRUE(r.ok()) << r.error().message;
    std::map<std::string, Lease> out;
    if (r.ok())
      for (Claimed& c : *r) out[c.task.task_id] = c.lease;
    return out;
  }

  TaskInfo Get(const std::string& id) {
    auto t = store_->Get(id);
    EXPECT_TRUE(t.ok()) << t.error().message;
    return t.ok() ? *t : TaskInfo{};
  }

  TempDir dir_;
  FakeClock clock_;
  wasmq::testing::RedisServer* redis_ = nullptr;
  std::string prefix_;
  std::unique_ptr<Store> store_;
};

TEST_P(FlowsTest, OneKeyOneTask) {
  SubmitOptions o{.idempotency_key = "order-17", .fingerprint = "f1"};
  auto first = store_->Submit(Task("task_1", {}, "alice"), o);
  ASSERT_OK(first);
  EXPECT_FALSE(first->existing);
  auto again = store_->Submit(Task("task_2", {}, "alice"), o);
  ASSERT_OK(again);
  EXPECT_TRUE(again->existing);
  EXPECT_EQ(again->task.task_id, "task_1");
  EXPECT_CODE(store_->Get("task_2"), Code::NotFound);
  // The same key with another body: refused, naming the reason.
  auto other = store_->Submit(Task("task_3", {}, "alice"), {.idempotency_key = "order-17", .fingerprint = "f2"});
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, Code::Conflict);
  EXPECT_EQ(other.error().reason, reason::kIdempotencyConflict);
  // Keys are per user.
  auto bob = store_->Submit(Task("task_4", {}, "bob"), o);
  ASSERT_OK(bob);
  EXPECT_FALSE(bob->existing);
  // Without a key, Submit is Create.
  ASSERT_OK(store_->Submit(Task("task_5", {}, "alice"), {}));
  EXPECT_EQ(store_->Stats()->counts[TaskStatus::Pending], 3);
}

TEST_P(FlowsTest, KeyExpiresAfterItsTtl) {
  SubmitOptions o{.idempotency_key = "k", .fingerprint = "f", .idempotency_ttl_ms = 200};
  ASSERT_OK(store_->Submit(Task("task_1"), o));
  // SQLite reads the store's clock, Redis its own (PX): move both past the TTL.
  clock_.Advance(300);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto later = store_->Submit(Task("task_2"), o);
  ASSERT_OK(later);
  EXPECT_FALSE(later->existing);
  EXPECT_EQ(later->task.task_id, "task_2");
}

// Many concurrent creates with one key, from two store objects (two processes on one SQLite file; two API
// nodes on one Redis): exactly one task.
TEST_P(FlowsTest, RacingCreatesWithOneKeyMakeOneTask) {
  auto second = Open();
  ASSERT_OK(second);
  Store* stores[2] = {store_.get(), second->get()};
  constexpr int kThreads = 8, kEach = 10;
  std::mutex mu;
  std::set<std::string> ids;
  int created = 0, failed = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      for (int j = 0; j < kEach; ++j) {
        auto r = stores[i % 2]->Submit(Task("task_" + std::to_string(i) + "_" + std::to_string(j)),
                                       {.idempotency_key = "same", .fingerprint = "f"});
        std::lock_guard lock(mu);
        if (!r.ok()) {
          ++failed;
          ADD_FAILURE() << r.error().message;
          continue;
        }
        ids.insert(r->task.task_id);
        created += r->existing ? 0 : 1;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(created, 1);
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(store_->List({})->total, 1);
}

TEST_P(FlowsTest, WaitsUntilEveryDependencyIsDone) {
  ASSERT_OK(store_->Create(Task("task_a")));
  ASSERT_OK(store_->Create(Task("task_b")));
  auto c = store_->Submit(Task("task_c", {"task_a", "task_b"}), {});
  ASSERT_OK(c);
  EXPECT_EQ(c->task.waiting_on, (std::vector<std::string>{"task_a", "task_b"}));
  EXPECT_EQ(Get("task_c").run_at, clock_.now.load());  // its own run_at shows, not the parked one
  auto claimed = ClaimReady();
  ASSERT_EQ(claimed.size(), 2u);  // c is not claimable
  EXPECT_FALSE(claimed.count("task_c"));
  clock_.Advance(10);
  ASSERT_OK(store_->Complete(claimed["task_a"], {}));
  TaskInfo now = Get("task_c");
  EXPECT_EQ(now.status, TaskStatus::Pending);
  EXPECT_EQ(now.waiting_on, (std::vector<std::string>{"task_b"}));
  EXPECT_EQ(now.depends_on, (std::vector<std::string>{"task_a", "task_b"}));
  EXPECT_TRUE(ClaimReady().empty());
  ASSERT_OK(store_->Complete(claimed["task_b"], {}));
  EXPECT_TRUE(Get("task_c").waiting_on.empty());
  auto last = ClaimReady();
  ASSERT_EQ(last.size(), 1u);
  EXPECT_TRUE(last.count("task_c"));
  // A dependency already done is not waited for.
  auto d = store_->Submit(Task("task_d", {"task_a"}), {});
  ASSERT_OK(d);
  EXPECT_TRUE(d->task.waiting_on.empty());
  EXPECT_EQ(ClaimReady().size(), 1u);
}

TEST_P(FlowsTest, AFailedDependencyCancelsTheChain) {
  ASSERT_OK(store_->Create(Task("task_a")));
  ASSERT_OK(store_->Submit(Task("task_b", {"task_a"}), {}));
  ASSERT_OK(store_->Submit(Task("task_c", {"task_b"}), {}));
  ASSERT_OK(store_->Create(Task("task_x")));
  ASSERT_OK(store_->Submit(Task("task_y", {"task_x"}), {}));
  auto claimed = ClaimReady();
  ASSERT_EQ(claimed.size(), 2u);
  ASSERT_OK(store_->Fail(claimed["task_a"], {.code = "TRAP", .message = "boom", .attempt = 1}));
  for (const char* id : {"task_b", "task_c"}) {
    TaskInfo t = Get(id);
    EXPECT_EQ(t.status, TaskStatus::Cancelled) << id;
    ASSERT_TRUE(t.error.has_value()) << id;
    EXPECT_EQ(t.error->code, error_code::kDependencyFailed) << id;
    EXPECT_GT(t.finished_at, 0) << id;
  }
  // Cancelling a dependency cancels its dependents too; a cancelled dependency refuses new dependents.
  ASSERT_OK(store_->Cancel("task_x"));
  EXPECT_EQ(Get("task_y").status, TaskStatus::Cancelled);
  auto late = store_->Submit(Task("task_z", {"task_x"}), {});
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Code::Conflict);
  EXPECT_EQ(late.error().reason, reason::kDependencyFailed);
  EXPECT_TRUE(ClaimReady().empty());
  auto stats = store_->Stats();
  ASSERT_OK(stats);
  EXPECT_EQ(stats->counts[TaskStatus::Cancelled], 4);  // b, c, x, y
}

TEST_P(FlowsTest, ForeignAndUnknownDependenciesAreRefused) {
  ASSERT_OK(store_->Create(Task("task_alice", {}, "alice")));
  EXPECT_CODE(store_->Submit(Task("task_b", {"task_alice"}, "bob"), {}), Code::InvalidArgument);
  EXPECT_CODE(store_->Submit(Task("task_c", {"task_nope"}, "alice"), {}), Code::InvalidArgument);
  EXPECT_CODE(store_->Submit(Task("task_d", {"task_d"}, "alice"), {}), Code::InvalidArgument);
  EXPECT_CODE(store_->Get("task_b"), Code::NotFound);
  EXPECT_CODE(store_->Get("task_c"), Code::NotFound);
  ASSERT_OK(store_->Submit(Task("task_e", {"task_alice"}, "alice"), {}));
}

TEST_P(FlowsTest, BatchIsAllOrNothingAndCounts) {
  BatchInfo b{.batch_id = "batch_1", .user_id = "alice", .created_at = clock_.now};
  std::vector<TaskInfo> tasks = {Task("task_1", {}, "alice"), Task("task_2", {}, "alice"),
                                 Task("task_3", {}, "alice")};
  for (TaskInfo& t : tasks) t.batch_id = "batch_1";
  // One bad dependency: nothing is stored.
  std::vector<TaskInfo> bad = tasks;
  bad[2].depends_on = {"task_nope"};
  EXPECT_CODE(store_->CreateBatch(b, bad), Code::InvalidArgument);
  EXPECT_EQ(store_->List({})->total, 0);
  EXPECT_CODE(store_->GetBatch("batch_1"), Code::NotFound);
  ASSERT_OK(store_->CreateBatch(b, tasks));
  auto got = store_->GetBatch("batch_1");
  ASSERT_OK(got);
  EXPECT_EQ(got->task_ids, (std::vector<std::string>{"task_1", "task_2", "task_3"}));
  EXPECT_EQ(got->counts[TaskStatus::Pending], 3);
  EXPECT_EQ(got->user_id, "alice");
  EXPECT_EQ(Get("task_2").batch_id, "batch_1");
  auto claimed = ClaimReady();
  ASSERT_EQ(claimed.size(), 3u);
  ASSERT_OK(store_->Complete(claimed["task_1"], {}));
  ASSERT_OK(store_->Progress(claimed["task_2"], 50, "half"));
  got = store_->GetBatch("batch_1");
  ASSERT_OK(got);
  EXPECT_EQ(got->counts[TaskStatus::Done], 1);
  EXPECT_EQ(got->counts[TaskStatus::Processing], 2);
  EXPECT_EQ(got->finished, 1);
  EXPECT_DOUBLE_EQ(got->progress, 50.0);
  EXPECT_CODE(store_->CreateBatch(b, {Task("task_9", {}, "alice")}), Code::Conflict);  // the id is taken
}

TEST_P(FlowsTest, DeadLettersAreFailedTasksFiltered) {
  TaskInfo a = Task("task_a"), b = Task("task_b"), c = Task("task_c");
  b.mode = "POSE_CHANGE";
  for (const TaskInfo& t : {a, b, c}) ASSERT_OK(store_->Create(t));
  auto claimed = ClaimReady();
  ASSERT_EQ(claimed.size(), 3u);
  ASSERT_OK(store_->Fail(claimed["task_a"], {.code = "TRAP", .message = "x", .attempt = 1}));
  clock_.Advance(5);
  ASSERT_OK(store_->Fail(claimed["task_b"], {.code = "TIMEOUT", .message = "y", .attempt = 1}));
  ASSERT_OK(store_->Complete(claimed["task_c"], {}));
  auto all = store_->DeadLetters({});
  ASSERT_OK(all);
  ASSERT_EQ(all->total, 2);
  EXPECT_EQ(all->tasks[0].task_id, "task_b");  // newest failure first
  EXPECT_EQ(all->tasks[0].error->code, "TIMEOUT");
  auto trap = store_->DeadLetters({.error_code = "TRAP"});
  ASSERT_OK(trap);
  ASSERT_EQ(trap->total, 1);
  EXPECT_EQ(trap->tasks[0].task_id, "task_a");
  auto pose = store_->DeadLetters({.mode = "POSE_CHANGE"});
  ASSERT_OK(pose);
  ASSERT_EQ(pose->total, 1);
  EXPECT_EQ(pose->tasks[0].task_id, "task_b");
  auto paged = store_->DeadLetters({.page = 2, .page_size = 1});
  ASSERT_OK(paged);
  ASSERT_EQ(paged->tasks.size(), 1u);
  EXPECT_FALSE(paged->has_more);
  // Through the service: retry what matches, refuse nothing here; the requeued task is no dead letter.
  TaskService service(*store_, {.clock = clock_.fn()});
  auto report = service.RetryDeadLetters({.error_code = "TRAP"}, 100);
  ASSERT_OK(report);
  EXPECT_EQ(report->retried, (std::vector<std::string>{"task_a"}));
  EXPECT_EQ(Get("task_a").status, TaskStatus::Pending);
  EXPECT_EQ(store_->DeadLetters({})->total, 1);
  EXPECT_CODE(store_->Requeue("task_c"), Code::Conflict);  // done, not failed
}

// The service names tasks and fingerprints requests: the same body with one key is one task, another body
// with it is refused.
TEST_P(FlowsTest, ServiceFingerprintsTheRequest) {
  TaskService service(*store_, {.clock = clock_.fn()});
  TaskCreateRequest req{.mode = "HEAD_SWAP", .config = {{"a", 1}}, .idempotency_key = "k1"};
  auto first = service.Submit(req);
  ASSERT_OK(first);
  auto again = service.Submit(req);
  ASSERT_OK(again);
  EXPECT_TRUE(again->existing);
  EXPECT_EQ(again->task.task_id, first->task.task_id);
  req.config = {{"a", 2}};
  auto other = service.Submit(req);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().reason, reason::kIdempotencyConflict);
  auto batch = service.CreateBatch({{.mode = "HEAD_SWAP"}, {.mode = "POSE_CHANGE", .depends_on = {first->task.task_id}}},
                                   "");
  ASSERT_OK(batch);
  EXPECT_EQ(batch->task_ids.size(), 2u);
  EXPECT_TRUE(batch->batch_id.starts_with("batch_"));
  auto got = service.GetBatch(batch->batch_id);
  ASSERT_OK(got);
  EXPECT_EQ(got->counts[TaskStatus::Pending], 2);
  EXPECT_EQ(Get(batch->task_ids[1]).waiting_on, (std::vector<std::string>{first->task.task_id}));
}

INSTANTIATE_TEST_SUITE_P(Backends, FlowsTest, ::testing::Values(Backend::Sqlite, Backend::Redis), BackendName);

}  // namespace
}  // namespace wasmq::queue
