// The pipeline ABI beyond progress, through the pool: wasmq.fail becomes the task's TaskError, wasmq.log
// reaches the worker's log (rate-limited), engine calls reach the registry and their failures map to codes,
// a stopped task aborts a blocked engine call, and config "*_image" uploads are staged into /in.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engines/engines.h"
#include "helpers.h"
#include "worker/runner_imports.h"

namespace wasmq::worker {
namespace {

using namespace std::chrono_literals;
using queue::TaskStatus;
using testing::EventWaiter;
using testing::TempDir;

// Answers {"echo": <request>} and the payload reversed.
class EchoEngine : public engines::Engine {
 public:
  std::string_view kind() const override { return "test"; }
  engines::Response Call(const engines::Request& r, const engines::CallContext&) const override {
    engines::Response out;
    out.json = R"({"echo":)" + r.json + "}";
    out.payload.assign(r.payload.rbegin(), r.payload.rend());
    return out;
  }
};

// Fails with a fixed status.
class BrokenEngine : public engines::Engine {
 public:
  explicit BrokenEngine(engines::Status s) : status_(s) {}
  std::string_view kind() const override { return "test"; }
  engines::Response Call(const engines::Request&, const engines::CallContext&) const override {
    return engines::Failure(status_, "connection refused by 127.0.0.1:9");
  }

 private:
  engines::Status status_;
};

// Blocks until the call is cancelled (or a minute passes).
class StuckEngine : public engines::Engine {
 public:
  StuckEngine() { timeout_ms_ = 60'000; }
  std::string_view kind() const override { return "test"; }
  engines::Response Call(const engines::Request&, const engines::CallContext& ctx) const override {
    if (ctx.cancel) ctx.cancel->SleepFor(std::chrono::milliseconds(60'000));
    return engines::Failure(engines::Status::Timeout, "never answered");
  }
};

class AbiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = queue::OpenStore("sqlite:" + dir_.file("tasks.db"));
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
    ASSERT_TRUE(registry_.Load({{"abi", testing::ModulePath("abi")}}).ok());
    service_ = std::make_unique<queue::TaskService>(
        *store_, queue::ServiceOptions{
                     .default_max_retries = 0, .default_timeout_ms = 20'000, .extra_modes = {"abi"}});
    waiter_ = std::make_unique<EventWaiter>(*store_);
    auto reg = engines::EngineRegistry::Load("");
    ASSERT_TRUE(reg.ok()) << reg.error().message;
    engines_ = std::move(*reg);
    engines_->Add("echo", std::make_unique<EchoEngine>());
    engines_->Add("down", std::make_unique<BrokenEngine>(engines::Status::Unavailable));
    engines_->Add("picky", std::make_unique<BrokenEngine>(engines::Status::BadRequest));
    engines_->Add("stuck", std::make_unique<StuckEngine>());
    options_.workers = 1;
    options_.data_dir = dir_.file("data");
    options_.retry_backoff_ms = 1;
    options_.retry_backoff_max_ms = 5;
    options_.engines = engines_.get();
    options_.log = [this](std::string_view line) {
      std::lock_guard l(log_mu_);
      log_.emplace_back(line);
    };
  }
  void TearDown() override {
    if (pool_) pool_->Shutdown(0ms);
    pool_.reset();
    waiter_.reset();
  }

  void StartPool() {
    pool_ = std::make_unique<WorkerPool>(*store_, registry_, options_);
    auto r = pool_->Start();
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  std::string Submit(queue::Json config, int max_retries = 0, int64_t timeout_ms = 0,
                     std::string source = "") {
    queue::TaskCreateRequest req;
    req.mode = "abi";
    req.config = std::move(config);
    req.max_retries = max_retries;
    if (timeout_ms) req.timeout_ms = timeout_ms;
    req.source_image = std::move(source);
    auto t = service_->Create(req);
    EXPECT_TRUE(t.ok()) << t.error().message;
    return t.ok() ? t->task_id : "";
  }

  queue::TaskInfo WaitFor(const std::string& id, TaskStatus status) {
    bool ok = waiter_->WaitUntil([&] {
      auto t = store_->Get(id);
      return t.ok() && t->status == status;
    });
    auto t = store_->Get(id);
    EXPECT_TRUE(ok && t.ok()) << id << " did not become " << queue::ToString(status);
    return t.ok() ? *t : queue::TaskInfo{};
  }

  std::vector<std::string> LogLines() {
    std::lock_guard l(log_mu_);
    return log_;
  }

  // Where a done task's outputs are: the directory its result names.
  std::string OutDir(const queue::TaskInfo& t) const {
    EXPECT_TRUE(t.result && t.result->output_dir.starts_with("out-")) << t.task_id;
    return options_.data_dir + "/tasks/" + t.task_id + "/" + (t.result ? t.result->output_dir : "");
  }

  static std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  TempDir dir_;
  std::unique_ptr<queue::Store> store_;
  PipelineRegistry registry_;
  std::unique_ptr<queue::TaskService> service_;
  std::unique_ptr<EventWaiter> waiter_;
  std::unique_ptr<engines::EngineRegistry> engines_;
  PoolOptions options_;
  std::unique_ptr<WorkerPool> pool_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

TEST_F(AbiTest, FailBecomesTheTaskErrorWithoutRetry) {
  StartPool();
  queue::TaskInfo t = WaitFor(Submit({{"action", "fail"}}, /*max_retries=*/2), TaskStatus::Failed);
  ASSERT_TRUE(t.error);
  EXPECT_EQ(t.error->code, "BOX_OUTSIDE_IMAGE");
  EXPECT_EQ(t.error->message, "box 10,10,500,500 is outside the 100x100 image");
  EXPECT_FALSE(t.error->retryable);
  EXPECT_EQ(t.attempt, 1);
}

TEST_F(AbiTest, RetryableFailIsRetriedWithBackoff) {
  StartPool();
  queue::TaskInfo t = WaitFor(Submit({{"action", "fail_retry"}}, /*max_retries=*/1), TaskStatus::Failed);
  ASSERT_TRUE(t.error);
  EXPECT_EQ(t.error->code, "ENGINE_TIMEOUT");
  EXPECT_TRUE(t.error->retryable);
  EXPECT_EQ(t.attempt, 2);
}

TEST_F(AbiTest, FailWithACodeNotInUpperSnakeCaseTraps) {
  StartPool();
  queue::TaskInfo t = WaitFor(Submit({{"action", "bad_code"}}), TaskStatus::Failed);
  ASSERT_TRUE(t.error);
  EXPECT_EQ(t.error->code, "TRAP");
  EXPECT_NE(t.error->message.find("UPPER_SNAKE_CASE"), std::string::npos) << t.error->message;
}

TEST_F(AbiTest, LogLinesReachTheWorkerLogTaggedAndRateLimited) {
  StartPool();
  std::string id = Submit({{"action", "log"}});
  WaitFor(id, TaskStatus::Done);
  int hello = 0;
  for (const std::string& line : LogLines())
    if (line.find(id) != std::string::npos && line.find("hello from the pipeline") != std::string::npos)
      ++hello;
  EXPECT_EQ(hello, 4);
  auto has = [&](const std::string& s) {
    for (const std::string& line : LogLines())
      if (line.find(s) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has(id + " (abi) debug: hello")) << ::testing::PrintToString(LogLines());
  EXPECT_TRUE(has(id + " (abi) error: hello"));

  std::string flood = Submit({{"action", "log_flood"}});
  WaitFor(flood, TaskStatus::Done);
  int lines = 0;
  for (const std::string& line : LogLines())
    if (line.find(flood) != std::string::npos && line.find("flood") != std::string::npos) ++lines;
  EXPECT_LE(lines, 2 * kLogLinesPerSecond);  // 5000 written; at most a second or two's worth kept
  EXPECT_TRUE(has(flood + " (abi): ")) << "the dropped lines are counted in the log";
  EXPECT_TRUE(has("log lines dropped"));
}

TEST_F(AbiTest, ImageInputsFromTheConfigAreStagedIntoIn) {
  const std::string files = options_.data_dir + "/files";
  testing::WriteUpload(files, "img_src", "", std::string("\x89PNG\r\n\x1a\n", 8) + "src");
  testing::WriteUpload(files, "img_bg", "", "\xff\xd8\xff\xe0 jpeg");
  testing::WriteUpload(files, "img_mask", "", std::string("\x89PNG\r\n\x1a\n", 8) + "mask");
  StartPool();
  std::string id = Submit({{"action", "inputs"},
                           {"background_image", "img_bg"},
                           {"mask_image", "img_mask"},
                           {"colour", "img_bg"},  // not a *_image key: not staged
                           {"empty_image", ""}},  // empty: nothing to stage
                          0, 0, "img_src");
  queue::TaskInfo t = WaitFor(id, TaskStatus::Done);
  std::string listed = Slurp(OutDir(t) + "/inputs.txt");
  std::istringstream lines(listed);
  std::vector<std::string> names;
  for (std::string n; std::getline(lines, n);) names.push_back(n);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"background_image.jpg", "mask_image.png", "source.png"}))
      << listed;
}

TEST_F(AbiTest, AMissingOrEscapingImageIdFailsWithInputNotFound) {
  std::filesystem::create_directories(options_.data_dir + "/files");
  StartPool();
  for (const char* id : {"img_nope", "../tasks.db", "/etc/passwd"}) {
    queue::TaskInfo t =
        WaitFor(Submit({{"action", "inputs"}, {"reference_image", id}}, 2), TaskStatus::Failed);
    ASSERT_TRUE(t.error) << id;
    EXPECT_EQ(t.error->code, "INPUT_NOT_FOUND") << id;
    EXPECT_NE(t.error->message.find("reference_image"), std::string::npos) << t.error->message;
    EXPECT_FALSE(t.error->retryable);
    EXPECT_EQ(t.attempt, 1);
  }
}

// A task's inputs are only its owner's own uploads: a config value naming another user's upload, its
// metadata file (img_….json) or anything but an exact upload id fails as an unknown id does — the same
// code, the same message — so a task can neither read another user's file nor learn that it exists.
TEST_F(AbiTest, ImageInputsAreOnlyTheOwnersOwnUploads) {
  const std::string files = options_.data_dir + "/files";
  const std::string alice = "img_20261207_aaaaaaaaaaaaaaaaaa", unknown = "img_20261207_zzzzzzzzzzzzzzzzzz";
  testing::WriteUpload(files, alice, "alice", std::string("\x89PNG\r\n\x1a\n", 8) + "alice's");
  StartPool();
  auto submit = [&](const std::string& user, const std::string& mask) {
    queue::TaskCreateRequest req;
    req.mode = "abi";
    req.user_id = user;
    req.config = {{"action", "inputs"}, {"mask_image", mask}};
    auto t = service_->Create(req);
    EXPECT_TRUE(t.ok()) << t.error().message;
    return t.ok() ? t->task_id : "";
  };
  auto refused = [&](const std::string& user, const std::string& mask) {
    queue::TaskInfo t = WaitFor(submit(user, mask), TaskStatus::Failed);
    EXPECT_TRUE(t.error) << mask;
    if (!t.error) return std::string();
    EXPECT_EQ(t.error->code, "INPUT_NOT_FOUND") << mask;
    EXPECT_FALSE(t.error->retryable);
    std::string m = t.error->message;  // the id given is the only difference between the messages
    if (auto at = m.find(mask.substr(0, 128)); at != std::string::npos)
      m.replace(at, mask.substr(0, 128).size(), "ID");
    return m;
  };
  const std::string foreign = refused("mallory", alice);
  EXPECT_EQ(refused("mallory", alice + ".json"), foreign);  // the metadata file is never an input
  EXPECT_EQ(refused("mallory", unknown), foreign);
  EXPECT_EQ(refused("alice", alice + ".json"), foreign);
  EXPECT_EQ(refused("alice", alice + ".png"), foreign);  // exactly the id: no suffix
  EXPECT_EQ(refused("alice", "files/" + alice), foreign);
  EXPECT_EQ(refused("", alice), foreign);  // an anonymous task does not see alice's uploads either
  std::string own = submit("alice", alice);
  WaitFor(own, TaskStatus::Done);
}

// Error messages name the input, never a path of the server: a missing config upload and a missing
// source image say which key or id, not where the data directory is.
TEST_F(AbiTest, InputErrorsCarryNoServerPath) {
  std::filesystem::create_directories(options_.data_dir + "/files");
  StartPool();
  queue::TaskInfo t = WaitFor(
      Submit({{"action", "inputs"}, {"mask_image", "img_20261207_zzzzzzzzzzzzzzzzzz"}}), TaskStatus::Failed);
  ASSERT_TRUE(t.error);
  EXPECT_EQ(t.error->code, "INPUT_NOT_FOUND");
  EXPECT_NE(t.error->message.find("mask_image"), std::string::npos) << t.error->message;
  EXPECT_EQ(t.error->message.find(options_.data_dir), std::string::npos) << t.error->message;
  EXPECT_EQ(t.error->message.find(dir_.str()), std::string::npos) << t.error->message;
  t = WaitFor(Submit({{"action", "inputs"}}, 0, 0, "img_20261207_yyyyyyyyyyyyyyyyyy"), TaskStatus::Failed);
  ASSERT_TRUE(t.error);
  EXPECT_EQ(t.error->code, "BAD_INPUT");
  EXPECT_NE(t.error->message.find("source_image"), std::string::npos) << t.error->message;
  EXPECT_EQ(t.error->message.find(dir_.str()), std::string::npos) << t.error->message;
}

TEST_F(AbiTest, EngineCallRoundTripsJsonAndPayload) {
  StartPool();
  std::string id = Submit({{"action", "engine"}, {"engine", "echo"}, {"request", {{"k", 7}}}});
  queue::TaskInfo t = WaitFor(id, TaskStatus::Done);
  ASSERT_TRUE(t.result);
  EXPECT_EQ(t.result->output, (queue::Json{{"rc", 0}, {"json_bytes", 16}, {"payload_bytes", 7}}));
  const std::string out = OutDir(t) + "/";
  EXPECT_EQ(Slurp(out + "response.json"), R"({"echo":{"k":7}})");
  EXPECT_EQ(Slurp(out + "response.bin"), "DAOLYAP");
}

TEST_F(AbiTest, EngineFailuresMapToTheirCodes) {
  StartPool();
  queue::TaskInfo down = WaitFor(Submit({{"action", "engine"}, {"engine", "down"}}, 1), TaskStatus::Failed);
  ASSERT_TRUE(down.error);
  EXPECT_EQ(down.error->code, "ENGINE_UNAVAILABLE");
  EXPECT_NE(down.error->message.find("connection refused"), std::string::npos) << down.error->message;
  EXPECT_TRUE(down.error->retryable);
  EXPECT_EQ(down.attempt, 2);

  queue::TaskInfo picky = WaitFor(Submit({{"action", "engine"}, {"engine", "picky"}}, 1), TaskStatus::Failed);
  ASSERT_TRUE(picky.error);
  EXPECT_EQ(picky.error->code, "ENGINE_BAD_REQUEST");
  EXPECT_EQ(picky.attempt, 1);

  queue::TaskInfo unknown = WaitFor(Submit({{"action", "engine"}, {"engine", "nope"}}), TaskStatus::Failed);
  ASSERT_TRUE(unknown.error);
  EXPECT_EQ(unknown.error->code, "ENGINE_UNKNOWN");
  EXPECT_NE(unknown.error->message.find("face-detect"), std::string::npos) << "names the known engines";
}

TEST_F(AbiTest, TheTaskTimeoutAbortsABlockedEngineCall) {
  StartPool();
  auto t0 = std::chrono::steady_clock::now();
  queue::TaskInfo t =
      WaitFor(Submit({{"action", "engine"}, {"engine", "stuck"}}, 0, 300), TaskStatus::Failed);
  ASSERT_TRUE(t.error);
  EXPECT_EQ(t.error->code, "TIMEOUT");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);  // not the engine's 60 s
}

TEST_F(AbiTest, BadPointersTrapAndSmallBuffersAreRefused) {
  StartPool();
  queue::TaskInfo oob = WaitFor(Submit({{"action", "engine_oob"}}), TaskStatus::Failed);
  ASSERT_TRUE(oob.error);
  EXPECT_EQ(oob.error->code, "TRAP");
  EXPECT_NE(oob.error->message.find("outside the module's memory"), std::string::npos) << oob.error->message;
  queue::TaskInfo small = WaitFor(Submit({{"action", "small_buf"}}), TaskStatus::Done);
  ASSERT_TRUE(small.result);
  EXPECT_EQ(small.result->output, (queue::Json{{"json_bytes", 28}}));
}

// `wasmq serve` and `wasmq worker` read the engine config file at start-up: a bad one stops them, naming
// the file and the field.
TEST(EngineConfig, ABadFileStopsStartUpNamingTheField) {
  TempDir dir;
  std::ofstream(dir.file("engines.json"))
      << R"({"engines":{"my-api":{"kind":"http","url":"http://h","retries":"3"}}})";
  for (const std::string cmd : {"serve --addr 127.0.0.1:0 --workers 1", "worker --concurrency 1"}) {
    const std::string line = std::string(WASMQ_BINARY) + " " + cmd + " --data-dir " + dir.file("data") +
                             " --store sqlite:" + dir.file("t.db") + " --engine-config " +
                             dir.file("engines.json") + " 2>&1";
    FILE* p = popen(line.c_str(), "r");
    ASSERT_TRUE(p);
    std::string out;
    char buf[512];
    while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    int status = pclose(p);
    EXPECT_EQ(WEXITSTATUS(status), 2) << cmd << ": " << out;
    EXPECT_NE(out.find("engine config " + dir.file("engines.json") +
                       ": engines.my-api.retries: must be an integer from 0 to 10"),
              std::string::npos)
        << cmd << ": " << out;
  }
}

TEST(FailCode, IsUpperSnakeCaseOfAtMost64Characters) {
  EXPECT_TRUE(IsFailCode("INVALID_CONFIG"));
  EXPECT_TRUE(IsFailCode("E2"));
  EXPECT_FALSE(IsFailCode(""));
  EXPECT_FALSE(IsFailCode("_X"));
  EXPECT_FALSE(IsFailCode("2X"));
  EXPECT_FALSE(IsFailCode("Bad"));
  EXPECT_FALSE(IsFailCode("A-B"));
  EXPECT_TRUE(IsFailCode(std::string(64, 'A')));
  EXPECT_FALSE(IsFailCode(std::string(65, 'A')));
}

}  // namespace
}  // namespace wasmq::worker
