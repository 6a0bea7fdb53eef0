// The comfyui engine against a local server speaking ComfyUI's API: upload, prompt with the placeholders
// filled in, history polled through a few "not yet" answers, view; an execution error; a prompt that
// never finishes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engines/engines.h"
#include "fake_comfyui.h"
#include "http_server.h"

namespace wasmq::engines {
namespace {

using namespace std::chrono_literals;
using testing::FakeComfy;
using testing::HttpReq;
using testing::TestServer;
using Json = nlohmann::json;

const std::string kPng = std::string("\x89PNG\r\n\x1a\n", 8) + "input pixels";

// A workflow in ComfyUI's API format with the engine's placeholders.
const Json kWorkflow = Json::parse(R"({
  "3": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}", "steps": "{{steps}}", "model": ["4", 0]}},
  "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a photo of {{prompt}}, detailed"}},
  "10": {"class_type": "LoadImage", "inputs": {"image": "{{input_image}}"}},
  "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "wasmq"}}
})");

std::unique_ptr<EngineRegistry> Registry(const std::string& url, int64_t timeout_ms = 10'000) {
  Json config = {{"engines",
                  {{"comfy",
                    {{"kind", "comfyui"},
                     {"url", url + "/"},
                     {"workflow", kWorkflow},
                     {"defaults", {{"steps", 20}}},
                     {"poll_interval_ms", 10},
                     {"timeout_ms", timeout_ms}}}}}};
  auto r = EngineRegistry::Parse(config.dump(), "test.json");
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(*r) : nullptr;
}

TEST(ComfyUiEngine, UploadsPromptsPollsAndFetchesTheOutput) {
  FakeComfy comfy;
  TestServer server([&](const HttpReq& r) { return comfy.Handle(r); });
  auto reg = Registry(server.url());
  Response r = reg->Call("comfy", {R"({"prompt":"a red fox","seed":7})", kPng});
  ASSERT_EQ(r.status, Status::Ok) << r.message;
  EXPECT_EQ(r.payload, "RESULT PNG");
  Json j = Json::parse(r.json);
  EXPECT_EQ(j["prompt_id"], "p-42");
  EXPECT_EQ(j["images"][0]["filename"], "wasmq_00001_.png");
  EXPECT_EQ(j["images"][0]["node"], "9");
  // The placeholders: typed when alone, text inside a string, defaults, the uploaded image.
  Json wf = comfy.prompt["prompt"];
  EXPECT_EQ(wf["3"]["inputs"]["seed"], 7);
  EXPECT_EQ(wf["3"]["inputs"]["steps"], 20);
  EXPECT_EQ(wf["6"]["inputs"]["text"], "a photo of a red fox, detailed");
  EXPECT_EQ(wf["10"]["inputs"]["image"], "in/wasmq-1.png");
  EXPECT_TRUE(comfy.prompt["client_id"].is_string());
  EXPECT_EQ(comfy.uploaded, kPng);
  EXPECT_EQ(comfy.polls, 3);  // two "not yet", then the outputs
}

TEST(ComfyUiEngine, AnExecutionErrorFailsWithTheNodesMessage) {
  FakeComfy comfy;
  comfy.fail = true;
  TestServer server([&](const HttpReq& r) { return comfy.Handle(r); });
  Response r = Registry(server.url())->Call("comfy", {R"({"prompt":"x"})", kPng});
  EXPECT_EQ(r.status, Status::Failed);
  EXPECT_NE(r.message.find("node 3 (KSampler) failed: CUDA out of memory"), std::string::npos) << r.message;
}

TEST(ComfyUiEngine, APromptThatNeverFinishesTimesOut) {
  FakeComfy comfy;
  comfy.never = true;
  TestServer server([&](const HttpReq& r) { return comfy.Handle(r); });
  auto t0 = std::chrono::steady_clock::now();
  Response r = Registry(server.url(), 300)->Call("comfy", {R"({"prompt":"x"})", kPng});
  EXPECT_EQ(r.status, Status::Timeout) << r.message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_GE(comfy.polls, 2);
  EXPECT_EQ(comfy.deleted, Json::parse(R"({"delete":["p-42"]})")) << "the abandoned prompt leaves the queue";
}

TEST(ComfyUiEngine, AMissingPlaceholderValueIsABadRequestBeforeAnyPrompt) {
  FakeComfy comfy;
  TestServer server([&](const HttpReq& r) { return comfy.Handle(r); });
  Response r = Registry(server.url())->Call("comfy", {R"({"seed":1})", kPng});  // no "prompt"
  EXPECT_EQ(r.status, Status::BadRequest);
  EXPECT_NE(r.message.find("{{prompt}}"), std::string::npos) << r.message;
  for (const HttpReq& q : server.requests()) EXPECT_NE(q.path(), "/prompt");
}

TEST(ComfyUiEngine, AnUnreachableServerIsUnavailable) {
  Response r = Registry("http://127.0.0.1:" + std::to_string(testing::ClosedPort()))
                   ->Call("comfy", {R"({"prompt":"x"})", kPng});
  EXPECT_EQ(r.status, Status::Unavailable) << r.message;
}

}  // namespace
}  // namespace wasmq::engines
