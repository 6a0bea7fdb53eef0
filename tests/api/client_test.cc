// The client `wasmq task --server` uses, against the real server.
#include "api/client.h"

#include <fstream>

#include "harness.h"

namespace wasmq::api::testing {
namespace {

class ClientTest : public ApiTest {
 protected:
  void SetUp() override { StartServer({.auth_required = true}); }
  Client Connect(const std::string& user) {
    return Client({.server = "http://127.0.0.1:" + std::to_string(port()), .token = Token(user)});
  }
};

TEST_F(ClientTest, SubmitGetListCancelStats) {
  Client c = Connect("alice");
  auto t = c.Submit({{"mode", "HEAD_SWAP"}});
  ASSERT_TRUE(t.ok()) << t.error().message;
  std::string id = (*t)["task_id"];
  EXPECT_EQ((*c.Get(id))["status"], "pending");
  auto list = c.List({.status = "pending"});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)["total"], 1);
  EXPECT_EQ((*c.Cancel(id))["status"], "cancelled");
  auto again = c.Cancel(id);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, queue::Code::Conflict);
  EXPECT_NE(again.error().message.find("CONFLICT"), std::string::npos);
  EXPECT_EQ((*c.Stats())["counts"]["cancelled"], 1);
  EXPECT_EQ(Connect("bob").Get(id).error().code, queue::Code::NotFound);
  auto bad = c.Submit({{"mode", "NOPE"}});
  EXPECT_EQ(bad.error().code, queue::Code::InvalidArgument);
}

TEST_F(ClientTest, UploadAndWatch) {
  Client c = Connect("alice");
  std::string path = (dir_.path() / "in.png").string();
  std::ofstream(path, std::ios::binary) << PngBytes();
  auto f = c.Upload(path);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ((*f)["content_type"], "image/png");
  std::string id = (*c.Submit({{"mode", "HEAD_SWAP"}, {"source_image", (*f)["file_id"]}}))["task_id"];
  queue::Lease lease = Claim();
  std::vector<Json> seen;
  auto r = c.Watch(id, [&](const Json& m) {
    seen.push_back(m);
    if (seen.size() == 1) {
      EXPECT_TRUE(store_->Complete(lease, {}).ok());  // finish it once we watch
    }
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.error().message;  // the server closed the stream: the task finished
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.front()["type"], "snapshot");
  EXPECT_EQ(seen.back()["status"], "done");
  auto missing = c.Watch("task_20230101_nothere", [](const Json&) { return true; });
  EXPECT_EQ(missing.error().code, queue::Code::NotFound);
}

TEST_F(ClientTest, ConnectionFailuresAndBadUrls) {
  StopServer();
  Client gone({.server = "http://127.0.0.1:1", .timeout = std::chrono::seconds(2)});
  EXPECT_EQ(gone.Get("task_1").error().code, queue::Code::Unavailable);
  for (std::string bad : {"https://x", "127.0.0.1:8080", "http://", "http://host:99999", "http://h/x", "http://[::1"})
    EXPECT_EQ(Client({.server = bad}).Stats().error().code, queue::Code::InvalidArgument) << bad;
  EXPECT_EQ(ProgressLine(50, "processing", "resizing", 10), "[#####-----]  50%  processing  resizing");
  EXPECT_EQ(ProgressLine(150, "done", "", 4), "[####] 100%  done");
}

}  // namespace
}  // namespace wasmq::api::testing
