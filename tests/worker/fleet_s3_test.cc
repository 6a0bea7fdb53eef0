// A fleet with no shared file system: `wasmq serve --workers 0` and `wasmq worker`, each with its own data
// directory, on one real redis-server and one s3rver (`--storage s3://…`). A client uploads through the
// API, the worker stages the input from the bucket, runs the task and publishes its outputs there, and the
// client downloads them from the API (streamed from the bucket) or, with --storage-redirect on, from the
// bucket itself through a presigned URL.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "../queue/redis_harness.h"
#include "helpers.h"
#include "storage/s3rver_harness.h"

namespace wasmq::worker {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;
using wasmq::testing::RedisServer;
using wasmq::testing::S3rver;

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Runs a shell command; its stdout.
std::string Shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

class FleetS3Test : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = RedisServer::Start();
    ASSERT_NE(redis_, nullptr) << RedisServer::last_error();
    s3_ = S3rver::Start("fleet");
    ASSERT_NE(s3_, nullptr) << S3rver::last_error();
    auto s = queue::OpenStore(redis_->url(), {.redis_prefix = "s3fleet"});
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }
  void TearDown() override {
    for (pid_t pid : pids_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }

  pid_t Spawn(const std::string& tag, const std::vector<std::string>& args, std::vector<std::string> env) {
    env.insert(env.end(), {"WASMQ_STORE=" + redis_->url(), "WASMQ_REDIS_PREFIX=s3fleet",
                           "WASMQ_DATA_DIR=" + dir_.file(tag), "WASMQ_STORAGE=" + s3_->url("fleet/a"),
                           "WASMQ_STORAGE_PART_SIZE=5MiB", "AWS_ACCESS_KEY_ID=S3RVER",
                           "AWS_SECRET_ACCESS_KEY=S3RVER", "WASMQ_PIPELINES=copyin=" + testing::ModulePath("copyin")});
    const std::string err = dir_.file(tag + ".err");
    pid_t pid = fork();
    if (pid == 0) {
      int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(e, 2);
      for (const std::string& v : env) putenv(strdup(v.c_str()));
      std::vector<char*> argv = {const_cast<char*>(WASMQ_BINARY)};
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(WASMQ_BINARY, argv.data());
      _exit(121);
    }
    pids_.push_back(pid);
    return pid;
  }
  std::string Log(const std::string& tag) const { return Slurp(dir_.file(tag + ".err")); }
  bool WaitLog(const std::string& tag, const std::string& text) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (Log(tag).find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }
  // An API node; its base URL.
  std::string StartApi(const std::string& tag, std::vector<std::string> env = {}) {
    Spawn(tag, {"serve", "--workers", "0", "--addr", "127.0.0.1:0"}, std::move(env));
    EXPECT_TRUE(WaitLog(tag, "ready (pid")) << Log(tag);
    const std::string log = Log(tag);
    const size_t at = log.find("on http://") + 3;
    return log.substr(at, log.find('/', at + 7) - at);
  }

  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<S3rver> s3_;
  std::unique_ptr<queue::Store> store_;
  TempDir dir_;
  std::vector<pid_t> pids_;
};

TEST_F(FleetS3Test, ServeAndWorkerShareOnlyTheBucket) {
  const std::string api = StartApi("api");
  Spawn("worker", {"worker", "--concurrency", "1"}, {});
  ASSERT_TRUE(WaitLog("worker", "ready (pid")) << Log("worker");
  EXPECT_NE(Log("worker").find("uploads and outputs in s3://fleet/fleet/a"), std::string::npos) << Log("worker");

  // Upload through the API: the bytes go to the bucket.
  // An image by its first bytes (what the API's sniffer and the worker's staging look at), 300 KiB long.
  std::string png = std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  for (int i = 0; png.size() < (300u << 10); ++i) png += static_cast<char>((i * 7919) % 251);
  std::ofstream(dir_.file("in.png"), std::ios::binary) << png;
  const std::string uploaded = Shell("curl -s -H 'Content-Type: image/png' --data-binary @" + dir_.file("in.png") +
                                   " " + api + "/api/v1/files");
  const queue::Json file = queue::Json::parse(uploaded, nullptr, false);
  ASSERT_TRUE(file.is_object() && file["success"] == true) << uploaded;
  const std::string file_id = file["data"]["file_id"];

  const std::string created = Shell("curl -s -H 'Content-Type: application/json' -d '{\"mode\":\"copyin\","
                                  "\"source_image\":\"" + file_id + "\"}' " + api + "/api/v1/tasks");
  const queue::Json task = queue::Json::parse(created, nullptr, false);
  ASSERT_TRUE(task.is_object() && task["success"] == true) << created;
  const std::string id = task["data"]["task_id"];

  queue::TaskInfo t;
  for (auto deadline = std::chrono::steady_clock::now() + 60s; std::chrono::steady_clock::now() < deadline;) {
    t = *store_->Get(id);
    if (t.status == queue::TaskStatus::Done || t.status == queue::TaskStatus::Failed) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(t.status, queue::TaskStatus::Done) << queue::ToJson(t).dump() << Log("worker");
  ASSERT_TRUE(t.result.has_value());
  EXPECT_EQ(t.result->output_files, (std::vector<std::string>{"big.bin", "copy.png"}));

  // Nothing crossed a file system: the API node has no task directory, the worker no upload.
  EXPECT_FALSE(std::filesystem::exists(dir_.file("api") + "/tasks/" + id));
  EXPECT_FALSE(std::filesystem::exists(dir_.file("worker") + "/files/" + file_id));

  // Streamed through the API from the bucket.
  Shell("curl -s -f -o " + dir_.file("copy.png") + " " + api + "/api/v1/tasks/" + id + "/outputs/copy.png");
  EXPECT_EQ(Slurp(dir_.file("copy.png")), png);
  Shell("curl -s -f -o " + dir_.file("big.bin") + " " + api + "/api/v1/tasks/" + id + "/outputs/big.bin");
  EXPECT_EQ(std::filesystem::file_size(dir_.file("big.bin")), 6u << 20);

  // With --storage-redirect on: 302 to a presigned URL of the bucket, which plain curl follows.
  const std::string api2 = StartApi("api2", {"WASMQ_STORAGE_REDIRECT=on"});
  const std::string head = Shell("curl -s -o /dev/null -D - " + api2 + "/api/v1/tasks/" + id + "/outputs/copy.png");
  EXPECT_NE(head.find("HTTP/1.1 302"), std::string::npos) << head;
  EXPECT_NE(head.find("Location: " + s3_->endpoint() + "/fleet/fleet/a/tasks/" + id + "/"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Amz-Signature="), std::string::npos) << head;
  Shell("curl -s -f -L -o " + dir_.file("via-redirect.png") + " " + api2 + "/api/v1/tasks/" + id + "/outputs/copy.png");
  EXPECT_EQ(Slurp(dir_.file("via-redirect.png")), png);
}

// A model in the bucket: `wasmq models path NAME=s3://…` downloads it once into the cache and prints the
// path (what WASI-NN's --nn-model NAME=s3://… resolves through).
TEST_F(FleetS3Test, ModelsComeFromTheBucket) {
  storage::S3Options o = s3_->Options("");
  auto bucket = storage::OpenS3(o);
  const std::string model(3u << 20, 'm');
  ASSERT_TRUE(bucket->PutBytes("models/tiny.onnx", model).ok());
  const std::string url = "s3://fleet/models/tiny.onnx?endpoint=" + s3_->endpoint() + "&region=us-east-1";
  const std::string env = "AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER WASMQ_CACHE_DIR=" + dir_.file("cache");
  const std::string path = Shell(env + " " + WASMQ_BINARY + " models path 'tiny=" + url + "'");
  ASSERT_FALSE(path.empty());
  const std::string local = path.substr(0, path.find('\n'));
  EXPECT_EQ(local, dir_.file("cache") + "/models/s3/fleet/models/tiny.onnx");
  EXPECT_EQ(Slurp(local), model);
  // A missing object: the command fails and says which.
  const std::string missing = Shell(env + " " + WASMQ_BINARY + " models path 'x=s3://fleet/models/none.onnx?endpoint=" +
                                    s3_->endpoint() + "' 2>&1");
  EXPECT_NE(missing.find("no object models/none.onnx"), std::string::npos) << missing;
}

}  // namespace
}  // namespace wasmq::worker
