// Routing a mode through an engine (config {"engine": NAME}, pipelines/common/engine.h): each built-in
// pipeline hands the source image and its config to the engine instead of running its own algorithm, and
// writes what the engine answers. Against a real engine registry: an http engine pointed at a local server
// (tests/engines/http_server.h), and a recording stand-in for the exact request.
#include <algorithm>
#include <map>
#include <optional>

#include "../engines/http_server.h"
#include "harness.h"

namespace wasmq::pipelines::testing {
namespace {

using engines::testing::HttpReply;
using engines::testing::HttpReq;
using engines::testing::TestServer;

const std::vector<std::string> kModes = {"BACKGROUND_CHANGE", "POSE_CHANGE", "HEAD_SWAP"};

// A config each pipeline would accept on its own, so routing is what makes the difference.
Json OwnConfig(const std::string& mode) {
  if (mode == "BACKGROUND_CHANGE") return {{"background_color", "teal"}, {"quality", 80}};
  if (mode == "POSE_CHANGE") return {{"rotate", 90}, {"flip", "horizontal"}};
  return {{"reference_image", "img_ref"}, {"feather", 0.5}};
}

Image Gradient(int w, int h) {
  Image img(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) img.set(x, y, {Clamp8(x * 4), Clamp8(y * 4), 90});
  return img;
}

// One run as the worker does it, keeping /out's files as bytes (the harness decodes them).
struct Routed {
  std::optional<worker::ModuleFailure> failure;
  std::optional<uint32_t> exit_code;
  std::string stdout_data;
  std::map<std::string, std::string> files;  // /out
  std::vector<std::string> progress;
};

Routed RunRouted(const std::string& mode, Json config, const engines::EngineRegistry& registry,
           const std::string& source = EncodePng(Gradient(48, 32))) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "in");
  std::filesystem::create_directories(dir.path() / "out");
  if (!source.empty()) std::ofstream(dir.path() / "in" / "source.png", std::ios::binary) << source;
  std::ofstream(dir.path() / "in" / "reference_image.png", std::ios::binary) << EncodePng(Gradient(16, 16));
  Routed r;
  const worker::Pipeline* p = Builtins().Find(mode);
  if (!p) {
    ADD_FAILURE() << "no built-in module for " << mode;
    return r;
  }
  Json task = {{"task_id", "task_route"}, {"mode", mode},         {"status", "processing"},
               {"attempt", 1},            {"source_image", "img_source"}, {"config", std::move(config)}};
  worker::RunRequest req;
  req.engine = &Builtins().engine();
  req.module = p->module.get();
  req.stdin_data = task.dump();
  req.args = {mode};
  req.env = {"WASMQ_TASK_ID=task_route", "WASMQ_MODE=" + mode, "WASMQ_ATTEMPT=1"};
  req.dirs = {(dir.path() / "in").string(), (dir.path() / "out").string()};
  req.engines = &registry;
  req.on_progress = [&r](int, std::string_view msg) {
    r.progress.emplace_back(msg);
    return true;
  };
  worker::RunOutcome out = worker::RunPipeline(req);
  r.failure = out.failure;
  r.exit_code = out.exit_code;
  r.stdout_data = out.stdout_data;
  for (const auto& e : std::filesystem::directory_iterator(dir.path() / "out"))
    r.files[e.path().filename().string()] = Slurp(e.path());
  return r;
}

std::unique_ptr<engines::EngineRegistry> Registry(const Json& engines_json) {
  auto loaded = engines::EngineRegistry::Parse(Json{{"engines", engines_json}}.dump(), "routing.json");
  EXPECT_TRUE(loaded.ok()) << loaded.error().message;
  return loaded.ok() ? std::move(*loaded) : nullptr;
}

std::unique_ptr<engines::EngineRegistry> HttpRegistry(const TestServer& server, int timeout_ms = 5000) {
  return Registry({{"api", {{"kind", "http"}, {"url", server.url() + "/v1/edit"}, {"timeout_ms", timeout_ms},
                            {"retries", 0}}}});
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(Routing, EachModeSendsTheSourceToTheEngineAndWritesTheImageItAnswers) {
  const std::string answer = EncodePng(Image(20, 10, {200, 30, 30}));
  TestServer server([&answer](const HttpReq&) { return HttpReply{200, "image/png", answer}; });
  auto reg = HttpRegistry(server);
  const std::string source = EncodePng(Gradient(48, 32));
  for (const std::string& mode : kModes) {
    SCOPED_TRACE(mode);
    Json config = OwnConfig(mode);
    config["engine"] = "api";
    Routed r = RunRouted(mode, config, *reg, source);
    ASSERT_FALSE(r.failure) << r.failure->code << ": " << r.failure->message;
    ASSERT_EQ(r.exit_code, 0u) << r.stdout_data;
    ASSERT_EQ(r.files.size(), 1u);
    EXPECT_EQ(r.files["result.png"], answer);  // byte for byte: nothing re-encoded

    HttpReq seen = server.requests().back();
    EXPECT_EQ(seen.body, source);
    EXPECT_NE(seen.query().find("mode=" + mode), std::string::npos) << seen.query();
    EXPECT_EQ(seen.query().find("engine"), std::string::npos) << "the engine's own name is not sent";

    Json summary = Json::parse(r.stdout_data);
    EXPECT_EQ(summary["engine"], "api");
    EXPECT_EQ(summary["output"], "result.png");
    EXPECT_EQ(summary["bytes"], answer.size());
    EXPECT_EQ(summary["response"]["content_type"], "image/png");
    EXPECT_EQ(summary["response"]["status"], 200);
    EXPECT_TRUE(Contains(r.progress, "sending to engine api"));
    EXPECT_TRUE(Contains(r.progress, "engine api answered"));
  }
  EXPECT_EQ(server.requests().size(), kModes.size());
}

TEST(Routing, TheRequestIsTheConfigWithoutEngineAndWithTheMode) {
  auto reg = Registry(Json::object());
  auto recorder = std::make_unique<FakeFaceEngine>(R"({"note":"no picture today"})");
  const FakeFaceEngine* seen = recorder.get();
  reg->Add("recorder", std::move(recorder));
  const std::string source = EncodePng(Gradient(40, 30));
  Json config = {{"engine", "recorder"},        {"prompt", "a \"quoted\" fox\n"}, {"steps", 25},
                 {"strength", 0.75},            {"hd", true},                     {"seed", nullptr},
                 {"size", {{"w", 512}, {"h", 256}}}, {"tags", {"a", 1, false}}, {"mode", "SPOOFED"}};
  Routed r = RunRouted("POSE_CHANGE", config, *reg, source);
  ASSERT_EQ(seen->requests().size(), 1u);
  Json expected = config;
  expected.erase("engine");
  expected["mode"] = "POSE_CHANGE";  // the task's mode, not one the config claims
  EXPECT_EQ(Json::parse(seen->requests()[0].json), expected) << seen->requests()[0].json;
  EXPECT_EQ(seen->requests()[0].payload, source);

  // It answered JSON and no image: the task fails (not retryable), and nothing is left in /out.
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->code, "ENGINE_FAILED");
  EXPECT_FALSE(r.failure->retryable);
  EXPECT_NE(r.failure->message.find("engine recorder returned no image"), std::string::npos) << r.failure->message;
  EXPECT_NE(r.failure->message.find("no picture today"), std::string::npos) << r.failure->message;
  EXPECT_TRUE(r.files.empty());
}

TEST(Routing, TheOutputIsNamedAfterThePayloadsFirstBytes) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {std::string("\xFF\xD8\xFF\xE0", 4) + "jfif", "result.jpg"},
      {std::string("RIFF\x10\0\0\0WEBPVP8 ", 16), "result.webp"},
      {"GIF89a....", "result.gif"},
      {"just bytes", "result.bin"},
  };
  std::string body;
  TestServer server([&body](const HttpReq&) { return HttpReply{200, "application/octet-stream", body}; });
  auto reg = HttpRegistry(server);
  for (const auto& [payload, name] : cases) {
    SCOPED_TRACE(name);
    body = payload;
    Routed r = RunRouted("BACKGROUND_CHANGE", {{"engine", "api"}}, *reg);
    ASSERT_FALSE(r.failure) << r.failure->code << ": " << r.failure->message;
    ASSERT_EQ(r.files.size(), 1u);
    EXPECT_EQ(r.files[name], payload);
    EXPECT_EQ(Json::parse(r.stdout_data)["output"], name);
  }
}

TEST(Routing, AServerErrorFailsTheTaskWithEngineFailed) {
  TestServer server([](const HttpReq&) { return HttpReply{500, "text/plain", "model crashed"}; });
  auto reg = HttpRegistry(server);
  for (const std::string& mode : kModes) {
    SCOPED_TRACE(mode);
    Json config = OwnConfig(mode);
    config["engine"] = "api";
    Routed r = RunRouted(mode, config, *reg);
    ASSERT_TRUE(r.failure);
    EXPECT_EQ(r.failure->code, "ENGINE_FAILED");
    EXPECT_FALSE(r.failure->retryable);
    EXPECT_EQ(r.failure->message.rfind("engine api: ", 0), 0u) << r.failure->message;
    EXPECT_NE(r.failure->message.find("model crashed"), std::string::npos) << r.failure->message;
    EXPECT_TRUE(r.files.empty());
  }
}

TEST(Routing, AnUnknownEngineFailsWithEngineUnknown) {
  auto reg = Registry(Json::object());
  for (const std::string& mode : kModes) {
    SCOPED_TRACE(mode);
    Json config = OwnConfig(mode);
    config["engine"] = "no-such-engine";
    Routed r = RunRouted(mode, config, *reg);
    ASSERT_TRUE(r.failure);
    EXPECT_EQ(r.failure->code, "ENGINE_UNKNOWN");
    EXPECT_FALSE(r.failure->retryable);
    EXPECT_NE(r.failure->message.find("no-such-engine"), std::string::npos) << r.failure->message;
    EXPECT_NE(r.failure->message.find("face-detect"), std::string::npos) << "lists the known engines";
  }
}

TEST(Routing, ASlowEngineTimesOutAndTheTaskIsRetryable) {
  TestServer slow([&slow](const HttpReq&) {
    slow.Hold();
    return HttpReply{};
  });
  auto reg = HttpRegistry(slow, /*timeout_ms=*/200);
  for (const std::string& mode : kModes) {
    SCOPED_TRACE(mode);
    Json config = OwnConfig(mode);
    config["engine"] = "api";
    auto t0 = std::chrono::steady_clock::now();
    Routed r = RunRouted(mode, config, *reg);
    ASSERT_TRUE(r.failure);
    EXPECT_EQ(r.failure->code, "ENGINE_TIMEOUT");
    EXPECT_TRUE(r.failure->retryable);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
    EXPECT_TRUE(r.files.empty());
  }
}

TEST(Routing, AnUnreachableEngineIsRetryable) {
  auto reg = Registry({{"api", {{"kind", "http"},
                                    {"url", "http://127.0.0.1:" + std::to_string(engines::testing::ClosedPort())},
                                    {"retries", 0}}}});
  Routed r = RunRouted("HEAD_SWAP", {{"engine", "api"}}, *reg);
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->code, "ENGINE_UNAVAILABLE");
  EXPECT_TRUE(r.failure->retryable);
}

TEST(Routing, AnEngineValueThatIsNotANameIsInvalidConfig) {
  auto reg = Registry(Json::object());
  for (const Json& bad : {Json(""), Json(7), Json::array({"api"}), Json(true)}) {
    SCOPED_TRACE(bad.dump());
    Routed r = RunRouted("BACKGROUND_CHANGE", {{"engine", bad}, {"background_color", "teal"}}, *reg);
    ASSERT_TRUE(r.failure);
    EXPECT_EQ(r.failure->code, "INVALID_CONFIG");
    EXPECT_NE(r.failure->message.find("config.engine"), std::string::npos) << r.failure->message;
  }
  // null is "not given", like every other key: the pipeline runs its own algorithm.
  Routed own = RunRouted("BACKGROUND_CHANGE", {{"engine", nullptr}, {"background_color", "teal"}}, *reg);
  ASSERT_FALSE(own.failure) << own.failure->code << ": " << own.failure->message;
  Json summary = Json::parse(own.stdout_data);
  EXPECT_FALSE(summary.contains("engine"));
  EXPECT_EQ(summary["width"], 48);
}

TEST(Routing, WithoutASourceImageNothingIsSent) {
  TestServer server([](const HttpReq&) { return HttpReply{200, "image/png", "unused"}; });
  auto reg = HttpRegistry(server);
  Routed r = RunRouted("POSE_CHANGE", {{"engine", "api"}}, *reg, /*source=*/"");
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->code, "MISSING_INPUT");
  EXPECT_TRUE(server.requests().empty());
}

TEST(Routing, TheNativeBuildFollowsTheSameConvention) {
  // The native shim reaches no engine but face-detect: a routed task fails as an unreachable engine does.
  PipelineRun run("BACKGROUND_CHANGE");
  run.InputPng("source", Gradient(16, 16));
  Outcome r = run.Native({{"engine", "api"}, {"background_color", "teal"}});
  EXPECT_EQ(r.code, "ENGINE_UNAVAILABLE") << r;
  EXPECT_TRUE(r.retryable);
  EXPECT_EQ(r.message.rfind("engine api: ", 0), 0u) << r.message;
}

}  // namespace
}  // namespace wasmq::pipelines::testing
