// `wasmq serve` and `wasmq task` as processes: kill -9 mid-task and restart (the task completes once),
// graceful and hurried shutdown, start-up refusals, and the task commands' outputs and exit codes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "api/client.h"
#include "helpers.h"

namespace wasmq::worker {
namespace {

using namespace std::chrono_literals;
using queue::TaskStatus;
using testing::TempDir;

struct Ran {
  int code = -1;
  std::string out, err;
};

// Starts `wasmq ARGS` (or `program ARGS`) in `dir` with `env` added; stdout/stderr go to files in `dir`.
pid_t Spawn(const std::string& dir, const std::vector<std::string>& args, const std::vector<std::string>& env,
            const std::string& tag, const char* program = WASMQ_BINARY) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  if (chdir(dir.c_str()) != 0) _exit(120);
  int out = open((tag + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int err = open((tag + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  dup2(out, 1);
  dup2(err, 2);
  for (const std::string& e : env) putenv(strdup(e.c_str()));
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(program, argv.data());
  _exit(121);
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = {"WASMQ_STORE=sqlite:" + dir_.file("tasks.db"), "WASMQ_DATA_DIR=" + dir_.file("data"), "WASMQ_ADDR=127.0.0.1:0",
            "WASMQ_PIPELINES=slow=" + testing::ModulePath("slow") + ",loop=" + testing::ModulePath("loop") +
                ",trap=" + testing::ModulePath("trap") + ",progress=" + testing::ModulePath("progress"),
            "WASMQ_RETRY_BACKOFF=10ms"};
  }
  void TearDown() override {
    for (pid_t p : servers_) {
      kill(p, SIGKILL);
      waitpid(p, nullptr, 0);
    }
  }

  Ran Wasmq(const std::vector<std::string>& args, std::vector<std::string> extra_env = {},
            const char* program = WASMQ_BINARY) {
    std::vector<std::string> env = env_;
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    pid_t pid = Spawn(dir_.str(), args, env, "cmd", program);
    int status = 0;
    waitpid(pid, &status, 0);
    Ran r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = Slurp(dir_.file("cmd.out"));
    r.err = Slurp(dir_.file("cmd.err"));
    return r;
  }

  // Starts `wasmq serve` and waits for its "ready" line.
  pid_t StartServe(const std::string& tag, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"serve", "--lease", "2s"};
    if (std::find(extra.begin(), extra.end(), "--workers") == extra.end()) extra.insert(extra.end(), {"--workers", "1"});
    args.insert(args.end(), extra.begin(), extra.end());
    pid_t pid = Spawn(dir_.str(), args, env_, tag);
    servers_.push_back(pid);
    bool ready =
        WaitUntil([&] { return Slurp(dir_.file(tag + ".err")).find("ready (pid") != std::string::npos; });
    EXPECT_TRUE(ready) << Slurp(dir_.file(tag + ".err"));
    return pid;
  }

  // Exit status of a serve process after `signal`, bounded in time.
  int StopServe(pid_t pid, int signal, std::chrono::milliseconds limit = 30s) {
    kill(pid, signal);
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "serve did not stop";
        return -1;
      }
      std::this_thread::sleep_for(10ms);
    }
    servers_.erase(std::find(servers_.begin(), servers_.end(), pid));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  // The store as another process sees it: polled, since this process gets no events from `serve`.
  static bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = 30s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }
  queue::TaskInfo Get(const std::string& id) {
    auto store = queue::OpenStore("sqlite:" + dir_.file("tasks.db"));
    EXPECT_TRUE(store.ok());
    auto t = (*store)->Get(id);
    EXPECT_TRUE(t.ok()) << t.error().message;
    return t.ok() ? *t : queue::TaskInfo{};
  }
  std::string Submit(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"task", "submit"};
    all.insert(all.end(), args.begin(), args.end());
    Ran r = Wasmq(all);
    EXPECT_EQ(r.code, 0) << r.err;
    std::string id = r.out.substr(0, r.out.find('\n'));
    EXPECT_TRUE(queue::IsTaskId(id)) << id;
    return id;
  }

  // The API's URL from serve's log line "API and dashboard on http://127.0.0.1:PORT/ ..." (it listens on
  // a free port: WASMQ_ADDR=127.0.0.1:0).
  std::string ApiUrl(const std::string& tag) {
    std::string log = Slurp(dir_.file(tag + ".err"));
    size_t at = log.find("on http://");
    if (at == std::string::npos) return "";
    at += 3;
    return log.substr(at, log.find('/', at + 7) - at);
  }

  TempDir dir_;
  std::vector<std::string> env_;
  std::vector<pid_t> servers_;
};

// The README's main job: a task goes in through the REST API (`wasmq task --server`), runs in serve's
// pool, streams its progress over the WebSocket and comes back as files; the dashboard and /metrics are
// served by the same process.
TEST_F(ServeTest, TasksGoThroughTheApiEndToEnd) {
  pid_t pid = StartServe("serve");
  const std::string url = ApiUrl("serve");
  ASSERT_TRUE(url.starts_with("http://127.0.0.1:")) << url;
  std::ofstream(dir_.file("in.png"), std::ios::binary) << std::string("\x89PNG\r\n\x1a\n", 8) << "pixels";

  Ran up = Wasmq({"task", "upload", "--server", url, dir_.file("in.png")});
  ASSERT_EQ(up.code, 0) << up.err;
  std::string img = up.out.substr(0, up.out.find('\n'));
  EXPECT_TRUE(img.starts_with("img_")) << img;
  std::string id = Submit({"--server", url, "--mode", "progress", "--source-image", img});

  Ran watch = Wasmq({"task", "watch", "--server", url, id});
  EXPECT_EQ(watch.code, 0) << watch.err;
  EXPECT_NE(watch.out.find("done  100%"), std::string::npos) << watch.out;
  EXPECT_NE(watch.out.find("outputs: copy-source.png result.txt"), std::string::npos) << watch.out;

  // In a terminal (script(1) gives it one) watch draws one bar, redrawn in place.
  std::string again = Submit({"--server", url, "--mode", "slow", "--config", R"({"sleep_ms":300})"});
  Ran tty = Wasmq({"-qfec", std::string(WASMQ_BINARY) + " task watch --server " + url + " " + again, "/dev/null"}, {},
                  "/usr/bin/script");
  EXPECT_EQ(tty.code, 0) << tty.out << tty.err;
  EXPECT_NE(tty.out.find("\r[###"), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find("] 100%  done"), std::string::npos) << tty.out;

  Ran outs = Wasmq({"task", "outputs", "--server", url, id, "-o", dir_.file("outs")});
  ASSERT_EQ(outs.code, 0) << outs.err;
  EXPECT_EQ(Slurp(dir_.file("outs/result.txt")), id + "\n");
  EXPECT_EQ(Slurp(dir_.file("outs/copy-source.png")), std::string("\x89PNG\r\n\x1a\n", 8) + "pixels");

  api::Client client({.server = url});
  auto page = client.Fetch("/");
  ASSERT_TRUE(page.ok()) << page.error().message;
  EXPECT_NE(page->find("wasmq"), std::string::npos);
  auto metrics = client.Fetch("/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->find("wasmq_wasm_instantiation_seconds_count{mode=\"progress\"} 1"), std::string::npos) << *metrics;
  EXPECT_NE(metrics->find("wasmq_tasks{status=\"done\"} 2"), std::string::npos) << *metrics;

  Ran bad = Wasmq({"task", "submit", "--server", url, "--mode", "NOPE"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("VALIDATION"), std::string::npos) << bad.err;
  EXPECT_EQ(StopServe(pid, SIGTERM), 0);
  Ran gone = Wasmq({"task", "get", "--server", url, id});
  EXPECT_EQ(gone.code, 1);
  EXPECT_NE(gone.err.find("UNAVAILABLE"), std::string::npos) << gone.err;
}

// With WASMQ_AUTH=jwt every call needs a token that `wasmq token` signs, and users see only their own tasks.
TEST_F(ServeTest, AuthOnNeedsTokensAndSeparatesUsers) {
  const std::string secret = "0123456789abcdef0123456789abcdef";
  env_.push_back("WASMQ_AUTH=jwt");
  env_.push_back("WASMQ_JWT_SECRET=" + secret);
  pid_t pid = StartServe("serve");
  const std::string url = ApiUrl("serve");
  auto token = [&](const std::string& user) {
    Ran t = Wasmq({"token", "--sub", user, "--ttl", "10m"});
    EXPECT_EQ(t.code, 0) << t.err;
    return t.out.substr(0, t.out.find('\n'));
  };
  const std::string alice = token("alice"), bob = token("bob");
  Ran anonymous = Wasmq({"task", "submit", "--server", url, "--mode", "slow"});
  EXPECT_NE(anonymous.code, 0);
  EXPECT_NE(anonymous.err.find("UNAUTHORIZED"), std::string::npos) << anonymous.err;
  std::string id = Submit({"--server", url, "--token", alice, "--mode", "slow", "--config", R"({"sleep_ms":1})"});
  EXPECT_EQ(Wasmq({"task", "get", "--server", url, "--token", alice, id}).code, 0);
  Ran other = Wasmq({"task", "get", "--server", url, "--token", bob, id});
  EXPECT_EQ(other.code, 1);
  EXPECT_NE(other.err.find("NOT_FOUND"), std::string::npos) << other.err;
  Ran watch = Wasmq({"task", "watch", id}, {"WASMQ_SERVER=" + url, "WASMQ_TOKEN=" + alice});
  EXPECT_EQ(watch.code, 0) << watch.out << watch.err;
  EXPECT_EQ(StopServe(pid, SIGTERM), 0);
}

TEST_F(ServeTest, AnApiOnlyNodeRunsNoTasks) {
  pid_t pid = StartServe("api", {"--workers", "0"});
  EXPECT_NE(Slurp(dir_.file("api.err")).find("no workers (API only)"), std::string::npos);
  std::string id = Submit({"--server", ApiUrl("api"), "--mode", "slow"});
  Ran get = Wasmq({"task", "get", "--server", ApiUrl("api"), id});
  EXPECT_NE(get.out.find("\"status\": \"pending\""), std::string::npos) << get.out;
  EXPECT_EQ(StopServe(pid, SIGTERM), 0);
}

// The issue's acceptance test: SIGKILL the serving process in the middle of a task, start it again, and
// the task completes exactly once (attempt 2, its partial output replaced, one result).
TEST_F(ServeTest, KillNineMidTaskThenRestartCompletesOnce) {
  std::string id = Submit({"--mode", "slow", "--config", R"({"sleep_ms":1500})", "--max-retries", "1"});
  pid_t first = StartServe("serve1");
  ASSERT_TRUE(WaitUntil([&] { return Get(id).progress >= 10; })) << "the task never started";
  kill(first, SIGKILL);
  waitpid(first, nullptr, 0);
  servers_.clear();
  queue::TaskInfo mid = Get(id);
  EXPECT_EQ(mid.status, TaskStatus::Processing);  // the dead process's lease is still recorded
  EXPECT_LT(mid.progress, 100);

  pid_t second = StartServe("serve2");
  ASSERT_TRUE(WaitUntil([&] { return Get(id).status == TaskStatus::Done; }))
      << Slurp(dir_.file("serve2.err"));
  queue::TaskInfo t = Get(id);
  EXPECT_EQ(t.attempt, 2);
  ASSERT_TRUE(t.result);
  EXPECT_EQ(t.result->output_files, std::vector<std::string>{"done.txt"});
  EXPECT_FALSE(t.error);
  std::string log = Slurp(dir_.file("serve2.err"));
  EXPECT_NE(log.find("recovered " + id), std::string::npos) << log;  // at start-up, not after the lease
  EXPECT_EQ(StopServe(second, SIGTERM), 0);
  log = Slurp(dir_.file("serve2.err"));
  EXPECT_NE(log.find("stopped: 1 completed, 0 failed"), std::string::npos) << log;
  Ran list = Wasmq({"task", "list", "--status", "done", "--json"});
  ASSERT_EQ(list.code, 0);
  EXPECT_EQ(queue::Json::parse(list.out)["total"], 1);
}

TEST_F(ServeTest, SigtermLetsTheRunningTaskFinish) {
  pid_t pid = StartServe("serve");
  std::string id = Submit({"--mode", "slow", "--config", R"({"sleep_ms":500})"});
  ASSERT_TRUE(WaitUntil([&] { return Get(id).progress >= 10; }));
  EXPECT_EQ(StopServe(pid, SIGTERM), 0);
  EXPECT_EQ(Get(id).status, TaskStatus::Done);
}

TEST_F(ServeTest, SecondSignalHandsTheTaskBackAtOnce) {
  pid_t pid = StartServe("serve", {"--shutdown-grace", "1h"});
  std::string id = Submit({"--mode", "loop", "--max-retries", "0"});
  ASSERT_TRUE(WaitUntil([&] { return Get(id).current_step == "looping"; }));
  kill(pid, SIGINT);
  ASSERT_TRUE(
      WaitUntil([&] { return Slurp(dir_.file("serve.err")).find("received SIGINT") != std::string::npos; }));
  EXPECT_EQ(StopServe(pid, SIGINT, 10s), 0);
  queue::TaskInfo t = Get(id);
  EXPECT_EQ(t.status, TaskStatus::Pending);
  EXPECT_EQ(t.attempt, 0);
  EXPECT_NE(Slurp(dir_.file("serve.err")).find("1 handed back"), std::string::npos);
}

TEST_F(ServeTest, CancelFromAnotherProcessStopsTheRunningTask) {
  pid_t pid = StartServe("serve");
  std::string id = Submit({"--mode", "loop", "--max-retries", "3"});
  ASSERT_TRUE(WaitUntil([&] { return Get(id).current_step == "looping"; }));
  Ran c = Wasmq({"task", "cancel", id});
  EXPECT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(c.out, id + " cancelled\n");
  // The serving process notices at its next heartbeat (lease 2s → every ~670 ms) and frees its worker.
  std::string next = Submit({"--mode", "slow", "--config", R"({"sleep_ms":50})"});
  ASSERT_TRUE(WaitUntil([&] { return Get(next).status == TaskStatus::Done; }));
  EXPECT_EQ(Get(id).status, TaskStatus::Cancelled);
  EXPECT_NE(Slurp(dir_.file("serve.err")).find("stopped (cancelled)"), std::string::npos);
  EXPECT_EQ(StopServe(pid, SIGTERM), 0);
}

TEST_F(ServeTest, BadConfigurationStopsStartUp) {
  Ran r = Wasmq({"serve"}, {"WASMQ_WORKERS=many"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "wasmq serve: WASMQ_WORKERS=many (environment): must be an integer from 0 to 1024\n");
  r = Wasmq({"serve", "--task-timeout", "10"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--task-timeout '10': must be a duration"), std::string::npos) << r.err;
  std::ofstream(dir_.file("broken.wasm")) << "\0asm junk";
  r = Wasmq({"serve", "--pipelines", "broken=" + dir_.file("broken.wasm")});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("pipeline broken: " + dir_.file("broken.wasm")), std::string::npos) << r.err;
  std::ofstream(dir_.file(".env")) << "WASMQ_LEASE=forever\n";
  r = Wasmq({"serve"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("WASMQ_LEASE=forever (.env)"), std::string::npos) << r.err;
}

TEST_F(ServeTest, TaskCommandsOutputsAndExitCodes) {
  // Bad input names the field, exit 2; nothing is stored.
  Ran bad = Wasmq({"task", "submit", "--request", R"({"mode":"slow","priority":"high"})"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("priority: must be an integer"), std::string::npos) << bad.err;
  bad = Wasmq({"task", "submit", "--mode", "slow", "--config", "{not json"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("config: invalid JSON at byte"), std::string::npos) << bad.err;
  bad = Wasmq({"task", "submit", "--mode", "FACE_SWAP"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("unknown mode 'FACE_SWAP'"), std::string::npos) << bad.err;

  std::string id = Submit({"--mode", "slow", "--priority", "5", "--source-image", "img_x"});
  Ran get = Wasmq({"task", "get", id});
  ASSERT_EQ(get.code, 0) << get.err;
  auto j = queue::Json::parse(get.out);
  EXPECT_EQ(j["status"], "pending");
  EXPECT_EQ(j["priority"], 5);
  EXPECT_EQ(j["source_image"], "img_x");
  Ran missing = Wasmq({"task", "get", "task_20231117_0000000000000000"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("NOT_FOUND"), std::string::npos);

  Ran list = Wasmq({"task", "list"});
  EXPECT_EQ(list.code, 0);
  EXPECT_NE(list.out.find(id), std::string::npos);
  EXPECT_NE(list.out.find("page 1 of 1, 1 task(s)"), std::string::npos) << list.out;

  EXPECT_EQ(Wasmq({"task", "cancel", id}).code, 0);
  Ran again = Wasmq({"task", "cancel", id});
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find("CONFLICT: task " + id + " is cancelled"), std::string::npos) << again.err;
  Ran watch = Wasmq({"task", "watch", id});
  EXPECT_EQ(watch.code, 1);  // it ended, but not done
  EXPECT_NE(watch.out.find("cancelled"), std::string::npos);

  Ran stats = Wasmq({"task", "stats"});
  ASSERT_EQ(stats.code, 0);
  EXPECT_EQ(queue::Json::parse(stats.out)["counts"]["cancelled"], 1);
}

TEST_F(ServeTest, WatchFollowsATaskToItsEnd) {
  pid_t pid = StartServe("serve");
  std::string id = Submit({"--mode", "trap", "--max-retries", "1"});
  Ran watch = Wasmq({"task", "watch", id, "--interval-ms", "20"});
  EXPECT_EQ(watch.code, 1);
  EXPECT_NE(watch.out.find("failed  0%  TRAP: "), std::string::npos) << watch.out;
  // A failed task can be retried: back to pending, and it fails again the same way.
  Ran retry = Wasmq({"task", "retry", id});
  EXPECT_EQ(retry.code, 0) << retry.err;
  EXPECT_EQ(retry.out, id + " pending again\n");
  Ran twice = Wasmq({"task", "retry", id});
  if (twice.code != 0) {  // refused while it is pending or running again (it may already have failed again)
    EXPECT_NE(twice.err.find("only a failed task can be retried"), std::string::npos) << twice.err;
  }
  ASSERT_TRUE(WaitUntil([&] { return Get(id).status == TaskStatus::Failed; }));
  EXPECT_EQ(Get(id).attempt, 2);  // counted from 0 again: 1 + max_retries
  id = Submit({"--mode", "slow", "--config", R"({"sleep_ms":300})"});
  watch = Wasmq({"task", "watch", id, "--interval-ms", "20"});
  EXPECT_EQ(watch.code, 0);
  EXPECT_NE(watch.out.find("processing"), std::string::npos) << watch.out;
  EXPECT_NE(watch.out.find("done  100%  step 6 of 6  outputs: done.txt"), std::string::npos) << watch.out;
  EXPECT_EQ(StopServe(pid, SIGTERM), 0);
}

}  // namespace
}  // namespace wasmq::worker
