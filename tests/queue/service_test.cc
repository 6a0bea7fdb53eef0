// The task service: validation, defaults, ids, and delegation to the store.
#include "queue/service.h"

#include <gtest/gtest.h>

#include "helpers.h"

namespace wasmq::queue {
namespace {

using testing::FakeClock;
using testing::TempDir;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteStore::Open(dir_.file("t.db"), {.clock = clock_.fn()});
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    service_ = std::make_unique<TaskService>(*store_, ServiceOptions{.default_max_retries = 4,
                                                                     .default_timeout_ms = 9000,
                                                                     .extra_modes = {"thumbnail"},
                                                                     .clock = clock_.fn()});
  }
  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<TaskService> service_;
};

TEST_F(ServiceTest, CreateFillsIdsAndDefaults) {
  auto t = service_->Create(
      {.mode = "HEAD_SWAP", .source_image = "img_1", .config = {{"reference_image", "img_2"}}});
  ASSERT_OK(t);
  EXPECT_TRUE(IsTaskId(t->task_id)) << t->task_id;
  EXPECT_TRUE(t->task_id.starts_with("task_20231117_"));
  EXPECT_EQ(t->status, TaskStatus::Pending);
  EXPECT_EQ(t->max_retries, 4);
  EXPECT_EQ(t->timeout_ms, 9000);
  EXPECT_EQ(t->created_at, clock_.now);
  auto got = service_->Get(t->task_id);
  ASSERT_OK(got);
  EXPECT_EQ(ToJson(*got), ToJson(*t));
  auto custom = service_->Create({.mode = "thumbnail", .max_retries = 0, .timeout_ms = 5});
  ASSERT_OK(custom);
  EXPECT_EQ(custom->max_retries, 0);
  EXPECT_EQ(custom->timeout_ms, 5);
}

TEST_F(ServiceTest, UnknownModeIsRefusedListingTheKnownOnes) {
  auto r = service_->Create({.mode = "FACE_SWAP"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Code::InvalidArgument);
  EXPECT_EQ(r.error().message,
            "mode: unknown mode 'FACE_SWAP' (known: BACKGROUND_CHANGE, HEAD_SWAP, POSE_CHANGE, thumbnail)");
  EXPECT_CODE(service_->Create({.mode = "bad mode"}), Code::InvalidArgument);
  EXPECT_CODE(service_->Create({.mode = "HEAD_SWAP", .priority = 1000}), Code::InvalidArgument);
  EXPECT_EQ(store_->Stats()->counts[TaskStatus::Pending], 0);
}

TEST_F(ServiceTest, IdsAreCheckedBeforeTheStore) {
  EXPECT_CODE(service_->Get("../../etc/passwd"), Code::InvalidArgument);
  EXPECT_CODE(service_->Get("img_20231117_x"), Code::InvalidArgument);
  EXPECT_CODE(service_->Get("task_20231117_abc123"), Code::NotFound);  // the seed's own shape is accepted
  EXPECT_CODE(service_->Cancel("nope"), Code::InvalidArgument);
}

TEST_F(ServiceTest, TheSeedsWholeCycle) {
  auto t = service_->Create({.mode = "POSE_CHANGE"});
  ASSERT_OK(t);
  auto claimed = store_->Dequeue({.owner = "w"});
  ASSERT_OK(claimed);
  ASSERT_EQ(claimed->size(), 1u);
  const Lease& lease = (*claimed)[0].lease;
  ASSERT_OK(service_->UpdateProgress(lease, 70, "rendering"));
  EXPECT_EQ(service_->Get(t->task_id)->current_step, "rendering");
  ASSERT_OK(service_->Complete(lease, {{"pose.png"}, nullptr, 3}));
  EXPECT_EQ(service_->Get(t->task_id)->status, TaskStatus::Done);
  EXPECT_CODE(service_->Fail(lease, {}), Code::Conflict);
  EXPECT_CODE(service_->Cancel(t->task_id), Code::Conflict);

  auto second = service_->Create({.mode = "HEAD_SWAP"});
  ASSERT_OK(service_->Cancel(second->task_id));
  auto list = service_->List({.status = TaskStatus::Cancelled});
  ASSERT_EQ(list->total, 1);
  EXPECT_EQ(list->tasks[0].task_id, second->task_id);
  EXPECT_CODE(service_->List({.mode = "no such"}), Code::InvalidArgument);
  auto stats = service_->Stats();
  EXPECT_EQ(stats->counts[TaskStatus::Done], 1);
  EXPECT_EQ(stats->counts[TaskStatus::Cancelled], 1);
}

}  // namespace
}  // namespace wasmq::queue
