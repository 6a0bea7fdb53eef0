// WebSocket streams: the snapshot first, then the task's events in order, then the close.
#include "harness.h"

namespace wasmq::api::testing {
namespace {

class WebSocketTest : public ApiTest {
 protected:
  void SetUp() override { StartServer(); }
};

TEST_F(WebSocketTest, StreamsATaskFromPendingToDone) {
  std::string id = Submit();
  WsClient ws;
  ASSERT_EQ(ws.Connect(port(), "/api/v1/tasks/" + id + "/ws"), 101);
  Json snap = ws.Read();
  EXPECT_EQ(snap["type"], "snapshot");
  EXPECT_EQ(snap["task"]["status"], "pending");

  queue::Lease lease = Claim();
  ASSERT_TRUE(store_->Progress(lease, 30, "resizing").ok());
  ASSERT_TRUE(store_->Progress(lease, 60, "compositing").ok());
  ASSERT_TRUE(store_->Complete(lease, {}).ok());

  Json e = ws.Read();
  EXPECT_EQ(e["type"], "status");
  EXPECT_EQ(e["status"], "processing");
  EXPECT_EQ(e["task_id"], id);
  // Progress events may be merged when the watcher lags, never reordered: percentages only grow.
  int last = 0;
  while (true) {
    e = ws.Read();
    if (e["type"] != "progress") break;
    EXPECT_GT(e["progress"].get<int>(), last);
    last = e["progress"];
  }
  EXPECT_EQ(last, 60);
  EXPECT_EQ(e["type"], "status");
  EXPECT_EQ(e["status"], "done");
  EXPECT_EQ(ws.ReadUntilClose(), 1000);  // the task is finished: the stream ends
}

TEST_F(WebSocketTest, ALateWatcherGetsTheCurrentStateFirst) {
  std::string id = Submit();
  queue::Lease lease = Claim();
  ASSERT_TRUE(store_->Progress(lease, 40, "halfway").ok());
  WsClient ws;
  ASSERT_EQ(ws.Connect(port(), "/api/v1/tasks/" + id + "/ws"), 101);
  Json snap = ws.Read();
  EXPECT_EQ(snap["task"]["status"], "processing");
  EXPECT_EQ(snap["task"]["progress"], 40);
  EXPECT_EQ(snap["task"]["current_step"], "halfway");
  ASSERT_TRUE(store_->Progress(lease, 41, "on").ok());
  Json e = ws.Read();
  EXPECT_EQ(e["progress"], 41);
}

TEST_F(WebSocketTest, AFinishedTaskSendsItsSnapshotAndCloses) {
  std::string id = Submit();
  ASSERT_EQ(Post("/api/v1/tasks/" + id + "/cancel", nullptr).status, 200);
  WsClient ws;
  ASSERT_EQ(ws.Connect(port(), "/api/v1/tasks/" + id + "/ws"), 101);
  EXPECT_EQ(ws.Read()["task"]["status"], "cancelled");
  EXPECT_EQ(ws.ReadUntilClose(), 1000);
}

TEST_F(WebSocketTest, UnknownTasksAndRoutesAreRefusedBeforeTheUpgrade) {
  WsClient missing;
  EXPECT_EQ(missing.Connect(port(), "/api/v1/tasks/task_20230101_nothere/ws"), 404);
  EXPECT_NE(missing.refusal_body().find("NOT_FOUND"), std::string::npos);
  WsClient nowhere;
  EXPECT_EQ(nowhere.Connect(port(), "/api/v1/elsewhere"), 404);
  WsClient bad_query;
  EXPECT_EQ(bad_query.Connect(port(), "/api/v1/ws?token=%zz"), 400);
}

TEST_F(WebSocketTest, TheUserStreamShowsEveryTask) {
  std::string before = Submit();
  WsClient ws;
  ASSERT_EQ(ws.Connect(port(), "/api/v1/ws"), 101);
  Json snap = ws.Read();
  EXPECT_EQ(snap["type"], "snapshot");
  ASSERT_EQ(snap["tasks"].size(), 1u);
  EXPECT_EQ(snap["tasks"][0]["task_id"], before);
  EXPECT_EQ(snap["truncated"], false);
  std::string after = Submit();
  Json e = ws.Read();
  EXPECT_EQ(e["type"], "created");
  EXPECT_EQ(e["task_id"], after);
  Post("/api/v1/tasks/" + before + "/cancel", nullptr);
  e = ws.Read();
  EXPECT_EQ(e["task_id"], before);
  EXPECT_EQ(e["status"], "cancelled");
}

TEST_F(WebSocketTest, ManyWatchersOfOneTaskAllSeeIt) {
  std::string id = Submit();
  std::vector<std::unique_ptr<WsClient>> watchers;
  for (int i = 0; i < 50; ++i) {
    watchers.push_back(std::make_unique<WsClient>());
    ASSERT_EQ(watchers.back()->Connect(port(), "/api/v1/tasks/" + id + "/ws"), 101);
    ASSERT_EQ(watchers.back()->Read()["type"], "snapshot");
  }
  ASSERT_EQ(Post("/api/v1/tasks/" + id + "/cancel", nullptr).status, 200);
  for (auto& w : watchers) {
    EXPECT_EQ(w->Read()["status"], "cancelled");
    EXPECT_EQ(w->ReadUntilClose(), 1000);
  }
}

TEST_F(WebSocketTest, StopClosesWatchersWithGoingAway) {
  std::string id = Submit();
  WsClient ws;
  ASSERT_EQ(ws.Connect(port(), "/api/v1/tasks/" + id + "/ws"), 101);
  ws.Read();
  // Stop() waits for the close handshake, so the client must be reading meanwhile, as a real one is.
  std::thread stopper([&] { server_->Stop(); });
  EXPECT_EQ(ws.ReadUntilClose(), 1001);
  stopper.join();
}

}  // namespace
}  // namespace wasmq::api::testing
