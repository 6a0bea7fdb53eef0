// The configuration loader: precedence, every kind of value, and errors that name the variable.
#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "base/units.h"

namespace wasmq::config {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wasmq-config-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    input_.dotenv_path = (dir_ / ".env").string();
    input_.getenv = [this](const std::string& k) -> std::optional<std::string> {
      auto it = env_.find(k);
      return it == env_.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void WriteDotEnv(const std::string& text) { std::ofstream(input_.dotenv_path) << text; }
  std::string ErrorOf() {
    auto r = Load(input_);
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.error().message;
  }

  std::filesystem::path dir_;
  std::map<std::string, std::string> env_;
  LoadInput input_;
};

TEST_F(ConfigTest, Defaults) {
  auto c = Load(input_);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->addr, "127.0.0.1:8080");
  EXPECT_EQ(c->store_url, "sqlite:wasmq-data/wasmq.db");
  EXPECT_GE(c->workers, 1);
  EXPECT_EQ(c->task_timeout_ms, 300'000);
  EXPECT_EQ(c->max_retries, 3);
  EXPECT_EQ(c->lease_ms, 30'000);
  EXPECT_EQ(c->task_ttl_ms, 7 * 86'400'000LL);
  EXPECT_EQ(c->max_memory_bytes, 256u << 20);
  EXPECT_FALSE(c->sqlite_sync_full);
  EXPECT_EQ(c->redis_port, 6379);
  EXPECT_EQ(c->redis_prefix, "wasmq");
  EXPECT_EQ(c->prefetch, -1);  // auto
}

TEST_F(ConfigTest, FlagBeatsEnvBeatsDotEnvBeatsDefault) {
  WriteDotEnv(
      "# comment\nWASMQ_WORKERS=2\nWASMQ_MAX_RETRIES=7\nexport WASMQ_LEASE=\"10s\"\nWASMQ_TASK_TIMEOUT=1m # "
      "c\n");
  env_["WASMQ_WORKERS"] = "3";
  env_["WASMQ_MAX_RETRIES"] = "8";
  input_.flags["workers"] = "4";
  auto c = Load(input_);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->workers, 4);               // flag
  EXPECT_EQ(c->max_retries, 8);           // env over .env
  EXPECT_EQ(c->lease_ms, 10'000);         // .env, quoted, with export
  EXPECT_EQ(c->task_timeout_ms, 60'000);  // .env, trailing comment
  EXPECT_EQ(c->retry_backoff_ms, 1000);   // default
}

// Issue 17: /metrics behind a token, or on an address of its own.
TEST_F(ConfigTest, MetricsTokenAndAddress) {
  auto d = Load(input_);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->metrics_token, "");
  EXPECT_EQ(d->metrics_addr, "");
  env_["WASMQ_METRICS_TOKEN"] = "scrape-me";
  input_.flags["metrics-addr"] = "127.0.0.1:9100";
  auto c = Load(input_);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->metrics_token, "scrape-me");
  EXPECT_EQ(c->metrics_addr, "127.0.0.1:9100");
  input_.flags["metrics-addr"] = "9100";
  EXPECT_EQ(ErrorOf(), "--metrics-addr '9100': must be HOST:PORT");
}

TEST_F(ConfigTest, ErrorsNameTheVariableAndItsSource) {
  env_["WASMQ_WORKERS"] = "abc";
  EXPECT_EQ(ErrorOf(), "WASMQ_WORKERS=abc (environment): must be an integer from 0 to 1024");
  env_.clear();
  WriteDotEnv("REDIS_PORT=99999\n");
  EXPECT_EQ(ErrorOf(), "REDIS_PORT=99999 (.env): must be an integer from 1 to 65535");
  WriteDotEnv("");
  input_.flags["task-timeout"] = "30";
  EXPECT_EQ(ErrorOf(), "--task-timeout '30': must be a duration with a unit: 250ms, 30s, 5m, 2h, 7d");
  input_.flags.clear();
  input_.flags["no-such"] = "1";
  EXPECT_EQ(ErrorOf(), "--no-such: no such setting");
  input_.flags.clear();

  const std::pair<const char*, const char*> bad[] = {
      {"WASMQ_ADDR", "localhost"},
      {"WASMQ_STORE", "mysql://x"},
      {"WASMQ_MODE_LIMITS", "HEAD_SWAP"},
      {"WASMQ_MODE_LIMITS", "HEAD_SWAP=0"},
      {"WASMQ_PIPELINES", "X=/no/such.wasm"},
      {"WASMQ_PIPELINES_DIR", "/no/such/dir"},
      {"WASMQ_MODES", "bad mode"},
      {"WASMQ_MAX_MEMORY", "12parsecs"},
      {"WASMQ_SQLITE_SYNC", "sometimes"},
      {"WASMQ_LEASE", "5ms"},
      {"WASMQ_RETRY_BACKOFF_MAX", "1ms"},
      {"WASMQ_MAX_RETRIES", "-1"},
      {"WASMQ_PREFETCH", "lots"},
      {"WASMQ_NN_MODELS", "isnet"},
      {"WASMQ_NN_MODELS", "=/m.onnx"},
      {"WASMQ_NN_THREADS", "0"},
      {"WASMQ_NN_MAX_GRAPH", "1"},
      {"WASMQ_NN_MAX_TENSOR", "huge"},
  };
  for (auto [var, value] : bad) {
    env_ = {{var, value}};
    std::string msg = ErrorOf();
    EXPECT_TRUE(msg.starts_with(std::string(var) + "=" + value + " (environment): ")) << var << " -> " << msg;
  }
}

TEST_F(ConfigTest, MalformedDotEnvNamesTheLine) {
  WriteDotEnv("A=1\nthis line is wrong\n");
  EXPECT_EQ(ErrorOf(), input_.dotenv_path + ":2: expected KEY=VALUE");
  WriteDotEnv("A=\"open\n");
  EXPECT_EQ(ErrorOf(), input_.dotenv_path + ":1: unterminated quote");
}

TEST_F(ConfigTest, DotEnvParsing) {
  auto r = ParseDotEnv("A=1\r\n  B = two words \nC='x # y'\nD=\"a\\nb\"\nE=\n# F=no\nA=3", "f");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)["A"], "3");
  EXPECT_EQ((*r)["B"], "two words");
  EXPECT_EQ((*r)["C"], "x # y");
  EXPECT_EQ((*r)["D"], "a\nb");
  EXPECT_EQ((*r)["E"], "");
  EXPECT_FALSE(r->count("F"));
}

TEST_F(ConfigTest, StoreUrlFromRedisVariables) {
  env_ = {{"REDIS_HOST", "cache.local"}, {"REDIS_PORT", "6380"}, {"REDIS_DB", "2"}};
  auto c = Load(input_);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->store_url, "redis://cache.local:6380/2");
  input_.flags["store"] = "sqlite:/tmp/x.db";  // an explicit store wins
  EXPECT_EQ(Load(input_)->store_url, "sqlite:/tmp/x.db");
  input_.flags = {{"data-dir", "/srv/wasmq"}};
  env_.clear();
  EXPECT_EQ(Load(input_)->store_url, "sqlite:/srv/wasmq/wasmq.db");
}

TEST_F(ConfigTest, SentinelStoreAndWaitSettings) {
  input_.flags["store"] = "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster/0";
  auto c = Load(input_);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->store_url, "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster/0");
  EXPECT_EQ(c->redis_wait_replicas, -1);  // auto
  EXPECT_EQ(c->redis_wait_timeout_ms, 1000);
  env_ = {{"WASMQ_REDIS_WAIT_REPLICAS", "2"}, {"WASMQ_REDIS_WAIT_TIMEOUT", "250ms"}};
  c = Load(input_);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->redis_wait_replicas, 2);
  EXPECT_EQ(c->redis_wait_timeout_ms, 250);
  env_ = {{"WASMQ_REDIS_WAIT_REPLICAS", "some"}};
  EXPECT_NE(ErrorOf().find("WASMQ_REDIS_WAIT_REPLICAS=some (environment)"), std::string::npos) << ErrorOf();
  env_.clear();
  input_.flags["store"] = "rediss://h/0";
  EXPECT_NE(ErrorOf().find("redis+sentinel://"), std::string::npos) << ErrorOf();
}

TEST_F(ConfigTest, PipelinesFromDirAndList) {
  std::filesystem::create_directories(dir_ / "p");
  std::ofstream(dir_ / "p" / "HEAD_SWAP.wasm") << "x";
  std::ofstream(dir_ / "p" / "thumbnail.wasm") << "x";
  std::ofstream(dir_ / "p" / "notes.txt") << "x";
  std::ofstream(dir_ / "other.wasm") << "x";
  input_.flags["pipelines-dir"] = (dir_ / "p").string();
  input_.flags["pipelines"] = "HEAD_SWAP=" + (dir_ / "other.wasm").string();
  input_.flags["mode-limits"] = "HEAD_SWAP=2, thumbnail=1";
  auto c = Load(input_);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->pipelines.size(), 2u);
  EXPECT_EQ(c->pipelines["HEAD_SWAP"], (dir_ / "other.wasm").string());  // the explicit one wins
  EXPECT_EQ(c->pipelines["thumbnail"], (dir_ / "p" / "thumbnail.wasm").string());
  EXPECT_EQ(c->mode_limits["HEAD_SWAP"], 2);
  EXPECT_EQ(c->mode_limits["thumbnail"], 1);
  EXPECT_TRUE(c->nn_models.empty());
  EXPECT_EQ(c->nn_threads, 0);  // auto: one per CPU
  EXPECT_EQ(c->nn_max_graph_bytes, 512u << 20);
  EXPECT_EQ(c->nn_max_tensor_bytes, 256u << 20);
  input_.flags["nn-model"] = "isnet=/m/isnet.onnx, pose=registry.example.com/models/pose:1";
  input_.flags["nn-threads"] = "3";
  c = Load(input_);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->nn_models, (std::vector<std::string>{"isnet=/m/isnet.onnx", "pose=registry.example.com/models/pose:1"}));
  EXPECT_EQ(c->nn_threads, 3);
}

// The settings read sizes and durations with base/units.h (tests/base has the full table).
TEST(ConfigParsers, DurationsAndSizes) {
  EXPECT_EQ(base::ParseDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(base::ParseDuration("30s"), std::chrono::milliseconds(30'000));
  EXPECT_EQ(base::ParseDuration("5m"), std::chrono::milliseconds(300'000));
  EXPECT_EQ(base::ParseDuration("2h"), std::chrono::milliseconds(7'200'000));
  EXPECT_EQ(base::ParseDuration("7d"), std::chrono::milliseconds(604'800'000));
  EXPECT_EQ(base::ParseDuration("0"), std::chrono::milliseconds(0));
  EXPECT_EQ(base::ParseDuration("30"), std::nullopt);
  EXPECT_EQ(base::ParseDuration("-1s"), std::nullopt);
  EXPECT_EQ(base::ParseDuration("1.5s"), std::nullopt);
  EXPECT_EQ(base::ParseBytes("65536"), 65536u);
  EXPECT_EQ(base::ParseBytes("64KiB"), 65536u);
  EXPECT_EQ(base::ParseBytes("256MiB"), 256u << 20);
  EXPECT_EQ(base::ParseBytes("1GiB"), 1u << 30);
  EXPECT_EQ(base::ParseBytes("1TB"), std::nullopt);
}

// One rule everywhere: what `wasmq run --max-memory 16mb` takes, WASMQ_MAX_MEMORY takes too.
TEST_F(ConfigTest, UnitsAreCaseInsensitiveLikeTheCommandLine) {
  env_ = {{"WASMQ_MAX_MEMORY", "16mb"}, {"WASMQ_MAX_UPLOAD", "1gb"}, {"WASMQ_TASK_TIMEOUT", "90S"}};
  auto c = Load(input_);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->max_memory_bytes, 16u << 20);
  EXPECT_EQ(c->max_upload_bytes, 1u << 30);
  EXPECT_EQ(c->task_timeout_ms, 90'000);
  WriteDotEnv("WASMQ_MAX_OUTPUT=2Mb\n");
  env_.clear();
  c = Load(input_);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->max_output_bytes, 2u << 20);
}

TEST(ConfigTable, KeysAndVariablesAreUnique) {
  std::set<std::string_view> keys, envs;
  for (const Setting& s : Settings()) {
    EXPECT_TRUE(keys.insert(s.key).second) << s.key;
    EXPECT_TRUE(envs.insert(s.env).second) << s.env;
    EXPECT_FALSE(s.help.empty()) << s.key;
  }
  for (const char* seed : {"REDIS_HOST", "REDIS_PORT", "REDIS_DB"}) EXPECT_TRUE(envs.count(seed)) << seed;
}

// The README's configuration table is the one place a user reads: every setting is in it, with its flag.
TEST(ConfigDocs, ReadmeListsEverySetting) {
  std::ifstream f(WASMQ_README);
  ASSERT_TRUE(f) << WASMQ_README;
  std::string readme((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  for (const Setting& s : Settings()) {
    EXPECT_NE(readme.find("| `" + std::string(s.env) + "` | flag `--" + std::string(s.key) + "`"), std::string::npos)
        << s.env << " is missing from README.md's configuration table";
  }
}

}  // namespace
}  // namespace wasmq::config
