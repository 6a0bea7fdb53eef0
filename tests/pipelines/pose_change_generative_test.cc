// POSE_CHANGE, method "generative": the pipeline draws the target pose as an OpenPose skeleton, uploads it
// beside the source to a comfyui engine running pipelines/workflows/pose_change_openpose*.json, and writes
// the image the engine answers. Against the ComfyUI stand-in (tests/engines/fake_comfyui.h): the workflow
// it receives has every placeholder filled and the ControlNet wired; the output is its image; failures
// map to TaskError codes. The templates themselves are checked for dangling links and unknown placeholders.
#include <cstdlib>
#include <regex>
#include <set>

#include "../engines/fake_comfyui.h"
#include "harness.h"

namespace wasmq::pipelines::testing {
namespace {

using engines::testing::FakeComfy;
using engines::testing::HttpReq;
using engines::testing::TestServer;

const std::string kTemplate = std::string(WASMQ_WORKFLOWS_DIR) + "/pose_change_openpose.json";
const std::string kFromPhoto = std::string(WASMQ_WORKFLOWS_DIR) + "/pose_change_openpose_from_photo.json";

Image Smooth(int w, int h) {
  Image img(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      img.set(x, y, {Clamp8(int(128 + 100 * std::sin(x * 0.11) * std::cos(y * 0.07))), Clamp8(2 * x + y),
                     Clamp8(200 - y * 2)});
  return img;
}

// A standing figure in a 96×64 picture, by joint name (OpenPose's).
const Json kPose = {{"nose", {48, 10}},           {"neck", {48, 20}},         {"right_shoulder", {38, 20}},
                    {"right_elbow", {30, 30}},    {"right_wrist", {24, 40}},  {"left_shoulder", {58, 20}},
                    {"left_elbow", {68, 12}},     {"left_wrist", {76, 4}},    {"right_hip", {42, 42}},
                    {"left_hip", {54, 42}},       {"right_knee", {41, 52}},   {"left_knee", {56, 52}},
                    {"right_eye", {46, 8}},       {"left_eye", {50, 8}}};

std::unique_ptr<engines::EngineRegistry> ComfyRegistry(const TestServer& server,
                                                       const std::string& workflow = kTemplate) {
  Json config = {{"engines",
                  {{"comfyui",
                    {{"kind", "comfyui"},
                     {"url", server.url()},
                     {"workflow", workflow},
                     {"defaults", {{"checkpoint", "v1-5-pruned-emaonly.safetensors"},
                                   {"controlnet", "control_v11p_sd15_openpose.pth"}}},
                     {"poll_interval_ms", 10},
                     {"timeout_ms", 10'000}}}}}};
  auto r = engines::EngineRegistry::Parse(config.dump(), "pose.json");
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(*r) : nullptr;
}

Image Crop(const Image& img, int x0, int w) {
  Image out(w, img.h);
  for (int y = 0; y < img.h; ++y)
    for (int x = 0; x < w; ++x) out.set(x, y, img.at(x0 + x, y));
  return out;
}

// With POSE_CHANGE_DUMP_DIR set, the test leaves the upload and the output there as PNG, to look at.
void Dump(const std::string& name, const std::string& png) {
  if (const char* dir = std::getenv("POSE_CHANGE_DUMP_DIR"))
    std::ofstream(std::string(dir) + "/" + name, std::ios::binary) << png;
}

TEST(PoseChangeGenerative, SendsSourceAndDrawnPoseAndWritesTheEnginesImage) {
  FakeComfy comfy;
  comfy.pending_polls = 1;
  Image generated = Smooth(96, 64);
  for (int y = 0; y < 64; ++y) generated.set(10, y, {255, 255, 255});  // something the source does not have
  comfy.output = EncodePng(generated);
  TestServer server([&](const HttpReq& r) { return comfy.Handle(r); });
  auto reg = ComfyRegistry(server);

  PipelineRun run("POSE_CHANGE");
  Image src = Smooth(96, 64);
  run.InputPng("source", src);
  Outcome r = run.Wasm({{"method", "generative"}, {"target_keypoints", kPose}, {"prompt", "a dancer, \"mid-leap\""},
                        {"seed", 1234}, {"steps", 12}, {"size", 96}},
                       reg.get());
  ASSERT_TRUE(r.ok) << r;
  EXPECT_EQ(MaxDiff(r.image, generated), 0) << "the output is the engine's image";
  EXPECT_EQ(r.output_name, "result.png");
  EXPECT_EQ(r.summary["method"], "generative");
  EXPECT_EQ(r.summary["engine"], "comfyui");
  EXPECT_EQ(r.summary["seed"], 1234);
  EXPECT_EQ(r.summary["bytes"], comfy.output.size());
  EXPECT_EQ(r.summary["width"], 96);
  EXPECT_EQ(r.summary["response"]["prompt_id"], "p-42");

  // The workflow ComfyUI got: every placeholder filled, with its JSON type.
  const Json& wf = comfy.prompt["prompt"];
  EXPECT_EQ(wf.dump().find("{{"), std::string::npos) << wf.dump();
  EXPECT_EQ(wf["2"]["inputs"]["image"], "in/wasmq-1.png");  // the uploaded file's name
  EXPECT_EQ(wf["6"]["inputs"]["text"], "a dancer, \"mid-leap\"");
  EXPECT_EQ(wf["7"]["inputs"]["text"], "lowres, bad anatomy, bad hands, deformed, blurry");
  const Json& sampler = wf["10"]["inputs"];
  EXPECT_EQ(sampler["seed"], 1234);
  EXPECT_EQ(sampler["steps"], 12);
  EXPECT_DOUBLE_EQ(sampler["denoise"].get<double>(), 0.85);
  EXPECT_EQ(sampler["sampler_name"], "euler");
  EXPECT_EQ(wf["1"]["inputs"]["ckpt_name"], "v1-5-pruned-emaonly.safetensors");  // the engine's defaults
  // The ControlNet: loaded by name, fed the right half (the pose), and the sampler's conditioning.
  EXPECT_EQ(wf["5"]["class_type"], "ControlNetLoader");
  EXPECT_EQ(wf["5"]["inputs"]["control_net_name"], "control_v11p_sd15_openpose.pth");
  EXPECT_EQ(wf["8"]["class_type"], "ControlNetApplyAdvanced");
  EXPECT_EQ(wf["8"]["inputs"]["control_net"], Json::parse(R"(["5", 0])"));
  EXPECT_EQ(wf["8"]["inputs"]["image"], Json::parse(R"(["4", 0])"));
  EXPECT_DOUBLE_EQ(wf["8"]["inputs"]["strength"].get<double>(), 1.0);
  EXPECT_EQ(sampler["positive"], Json::parse(R"(["8", 0])"));
  EXPECT_EQ(sampler["negative"], Json::parse(R"(["8", 1])"));
  EXPECT_EQ(wf["3"]["inputs"]["x"], 0);
  EXPECT_EQ(wf["4"]["inputs"]["x"], 96);
  EXPECT_EQ(wf["4"]["inputs"]["width"], 96);
  EXPECT_EQ(wf["4"]["inputs"]["height"], 64);

  // The upload: the source on the left, the skeleton on black on the right, in OpenPose's colours.
  Dump("pose_upload.png", comfy.uploaded);
  Dump("pose_result.png", comfy.output);
  Image up = DecodeImage(comfy.uploaded);
  ASSERT_EQ(up.w, 192);
  ASSERT_EQ(up.h, 64);
  EXPECT_GE(Psnr(Crop(up, 0, 96), src), 40.0);
  Image pose = Crop(up, 96, 96);
  EXPECT_EQ(pose.at(48, 20), (Rgb{255, 85, 0}));   // the neck's dot
  EXPECT_EQ(pose.at(24, 40), (Rgb{170, 255, 0}));  // the right wrist's
  EXPECT_EQ(pose.at(43, 20), (Rgb{153, 0, 0}));    // neck → right shoulder, at 60 % of red
  EXPECT_EQ(pose.at(5, 60), (Rgb{0, 0, 0}));
  EXPECT_EQ(pose.at(50, 60), (Rgb{0, 0, 0}));      // no ankles given: nothing below the knees
}

TEST(PoseChangeGenerative, KeypointsAsAListInOpenPoseOrderDrawTheSamePose) {
  static const char* kOrder[] = {"nose",       "neck",        "right_shoulder", "right_elbow", "right_wrist",
                                 "left_shoulder", "left_elbow", "left_wrist",   "right_hip",   "right_knee",
                                 "right_ankle", "left_hip",    "left_knee",      "left_ankle",  "right_eye",
                                 "left_eye",    "right_ear",   "left_ear"};
  Json list = Json::array();
  for (const char* joint : kOrder) list.push_back(kPose.contains(joint) ? kPose[joint] : Json(nullptr));
  FakeComfy comfy;
  comfy.pending_polls = 0;
  comfy.output = EncodePng(Image(8, 8, {1, 2, 3}));
  TestServer server([&](const HttpReq& r) { return comfy.Handle(r); });
  auto reg = ComfyRegistry(server);
  PipelineRun run("POSE_CHANGE");
  run.InputPng("source", Smooth(96, 64));
  ASSERT_TRUE(run.Wasm({{"method", "generative"}, {"target_keypoints", kPose}, {"size", 96}}, reg.get()).ok);
  std::string by_name = comfy.uploaded;
  Outcome r = run.Wasm({{"method", "generative"}, {"target_keypoints", list}, {"size", 96}}, reg.get());
  ASSERT_TRUE(r.ok) << r;
  EXPECT_EQ(comfy.uploaded, by_name);
}

TEST(PoseChangeGenerative, APoseImageFromAPhotoGoesThroughTheOpenPosePreprocessor) {
  FakeComfy comfy;
  comfy.pending_polls = 0;
  comfy.output = EncodePng(Image(16, 16, {9, 9, 9}));
  TestServer server([&](const HttpReq& r) { return comfy.Handle(r); });
  auto reg = ComfyRegistry(server, kFromPhoto);
  PipelineRun run("POSE_CHANGE");
  run.InputPng("source", Smooth(200, 100));
  run.InputPng("pose_image", Image(100, 50, {0, 200, 0}));
  // No seed given: one from the task id, the same on every attempt.
  Outcome r = run.Wasm({{"method", "generative"}, {"pose_image", "img_pose"}, {"size", 128},
                        {"checkpoint", "mine.safetensors"}, {"denoise", 1}},
                       reg.get());
  ASSERT_TRUE(r.ok) << r;
  EXPECT_EQ(r.summary["pose"], "pose_image");
  const Json& wf = comfy.prompt["prompt"];
  EXPECT_EQ(wf["13"]["class_type"], "OpenposePreprocessor");
  EXPECT_EQ(wf["13"]["inputs"]["image"], Json::parse(R"(["4", 0])"));
  EXPECT_EQ(wf["8"]["inputs"]["image"], Json::parse(R"(["13", 0])"));
  EXPECT_EQ(wf["1"]["inputs"]["ckpt_name"], "mine.safetensors");  // the task's choice over the defaults
  EXPECT_EQ(wf["10"]["inputs"]["denoise"], 1);
  EXPECT_EQ(wf["4"]["inputs"]["width"], 128);  // the longer side is `size`, both multiples of 8
  EXPECT_EQ(wf["4"]["inputs"]["height"], 64);
  EXPECT_EQ(wf["10"]["inputs"]["seed"], r.summary["seed"]);
  Image up = DecodeImage(comfy.uploaded);
  ASSERT_EQ(up.w, 256);
  EXPECT_EQ(up.at(200, 30), (Rgb{0, 200, 0}));  // the pose image fills the right half
  Outcome again = run.Wasm({{"method", "generative"}, {"pose_image", "img_pose"}, {"size", 128}}, reg.get());
  ASSERT_TRUE(again.ok) << again;
  EXPECT_EQ(again.summary["seed"], r.summary["seed"]);
}

TEST(PoseChangeGenerative, WithoutAComfyUiEngineItFailsClearly) {
  PipelineRun run("POSE_CHANGE");
  run.InputPng("source", Smooth(32, 32));
  Json config = {{"method", "generative"}, {"target_keypoints", {{"neck", {16, 8}}, {"nose", {16, 4}}}}, {"size", 64}};
  auto none = engines::EngineRegistry::Load("");
  ASSERT_TRUE(none.ok());
  Outcome r = run.Wasm(config, none->get());
  EXPECT_EQ(r.code, "ENGINE_UNKNOWN") << r;
  EXPECT_FALSE(r.retryable);
  EXPECT_NE(r.message.find("comfyui"), std::string::npos) << r.message;
  config["engine"] = "sdxl-pose";
  EXPECT_NE(run.Wasm(config, none->get()).message.find("sdxl-pose"), std::string::npos);
  // The native build reaches no engine but face-detect.
  Outcome native = run.Native(config);
  EXPECT_EQ(native.code, "ENGINE_UNAVAILABLE") << native;
  EXPECT_TRUE(native.retryable);
}

TEST(PoseChangeGenerative, EngineFailuresBecomeTaskErrors) {
  FakeComfy comfy;
  comfy.pending_polls = 0;
  comfy.fail = true;
  TestServer server([&](const HttpReq& r) { return comfy.Handle(r); });
  auto reg = ComfyRegistry(server);
  PipelineRun run("POSE_CHANGE");
  run.InputPng("source", Smooth(32, 32));
  Json config = {{"method", "generative"}, {"target_keypoints", {{"neck", {16, 8}}, {"nose", {16, 4}}}}, {"size", 64}};
  Outcome failed = run.Wasm(config, reg.get());
  EXPECT_EQ(failed.code, "ENGINE_FAILED") << failed;
  EXPECT_NE(failed.message.find("CUDA out of memory"), std::string::npos) << failed.message;
  // A deployment that names no model files (no "defaults") and a task that names none either.
  Json bare = {{"engines", {{"comfyui", {{"kind", "comfyui"}, {"url", server.url()}, {"workflow", kTemplate}}}}}};
  auto no_models = engines::EngineRegistry::Parse(bare.dump(), "bare.json");
  ASSERT_TRUE(no_models.ok());
  Outcome unnamed = run.Wasm(config, no_models->get());
  EXPECT_EQ(unnamed.code, "ENGINE_BAD_REQUEST") << unnamed;
  EXPECT_NE(unnamed.message.find("{{checkpoint}}"), std::string::npos) << unnamed.message;
  comfy.fail = false;
  comfy.output = "not an image";
  Outcome junk = run.Wasm(config, reg.get());
  EXPECT_EQ(junk.code, "ENGINE_FAILED") << junk;
  EXPECT_NE(junk.message.find("no PNG, JPEG or GIF image"), std::string::npos) << junk.message;
}

TEST(PoseChangeGenerative, ConfigErrorsReachNoServer) {
  FakeComfy comfy;
  TestServer server([&](const HttpReq& r) { return comfy.Handle(r); });
  auto reg = ComfyRegistry(server);
  PipelineRun run("POSE_CHANGE");
  run.InputPng("source", Smooth(32, 32));
  const Json two = {{"neck", {16, 8}}, {"nose", {16, 4}}};
  auto code = [&](Json config) {
    config["method"] = "generative";
    return run.Wasm(config, reg.get()).code;
  };
  EXPECT_EQ(code(Json::object()), "INVALID_CONFIG");                                          // no pose
  EXPECT_EQ(code({{"target_keypoints", two}, {"pose_image", "img_pose"}}), "INVALID_CONFIG");  // two poses
  EXPECT_EQ(code({{"target_keypoints", two}, {"rotate", 90}}), "INVALID_CONFIG");              // a geometric key
  EXPECT_EQ(code({{"target_keypoints", {{"neck", {1, 1}}, {"tail", {2, 2}}}}}), "INVALID_CONFIG");
  EXPECT_EQ(code({{"target_keypoints", {{"neck", {1, 1}}, {"left_knee", {2, 2}}}}}), "INVALID_CONFIG");  // no limb
  EXPECT_EQ(code({{"target_keypoints", {{1, 1}, {2, 2}}}}), "INVALID_CONFIG");  // a list, not 18
  EXPECT_EQ(code({{"target_keypoints", two}, {"steps", 0}}), "INVALID_CONFIG");
  EXPECT_EQ(code({{"target_keypoints", two}, {"seed", 1.5}}), "INVALID_CONFIG");
  EXPECT_EQ(code({{"target_keypoints", two}, {"engine", ""}}), "INVALID_CONFIG");
  EXPECT_EQ(code({{"target_keypoints", two}, {"sampler", ""}}), "INVALID_CONFIG");
  EXPECT_EQ(run.Wasm({{"method", "magic"}, {"rotate", 90}}, reg.get()).code, "INVALID_CONFIG");
  EXPECT_TRUE(server.requests().empty());
}

TEST(PoseChangeGenerative, TheGeometricMethodIsUnchanged) {
  PipelineRun run("POSE_CHANGE");
  run.InputPng("source", Smooth(40, 30));
  Outcome plain = run.Wasm({{"rotate", 17}, {"scale", 0.9}});
  Outcome named = run.Wasm({{"method", "geometric"}, {"rotate", 17}, {"scale", 0.9}, {"prompt", "ignored"}});
  ASSERT_TRUE(plain.ok) << plain;
  ASSERT_TRUE(named.ok) << named;
  EXPECT_EQ(MaxDiff(plain.image, named.image), 0);
  EXPECT_EQ(plain.summary["method"], "geometric");
  EXPECT_EQ(plain.summary["transform"], "explicit");
  EXPECT_EQ(plain.summary["matrix"], named.summary["matrix"]);
}

// Both templates: API format, every link points at a node, every placeholder is one the pipeline or the
// engine fills.
TEST(PoseChangeGenerative, TheWorkflowTemplatesAreWellFormed) {
  const std::set<std::string> filled = {"input_image", "prompt", "negative_prompt", "seed",  "steps",
                                        "cfg",         "denoise", "sampler",        "scheduler", "controlnet_strength",
                                        "width",       "height",  "checkpoint",     "controlnet"};
  const std::regex kPlaceholder(R"(\{\{(\w+)\}\})");
  for (const std::string& path : {kTemplate, kFromPhoto}) {
    SCOPED_TRACE(path);
    Json wf = Json::parse(Slurp(path));
    ASSERT_TRUE(wf.is_object());
    std::set<std::string> classes;
    for (auto& [id, node] : wf.items()) {
      ASSERT_TRUE(node.contains("class_type") && node.contains("inputs")) << id;
      classes.insert(node["class_type"]);
      for (auto& [name, value] : node["inputs"].items()) {
        if (value.is_array()) {
          ASSERT_EQ(value.size(), 2u) << id << "." << name;
          EXPECT_TRUE(wf.contains(value[0].get<std::string>())) << id << "." << name << " links to nothing";
        }
        if (value.is_string()) {
          const std::string& text = value.get_ref<const std::string&>();
          for (std::sregex_iterator m(text.begin(), text.end(), kPlaceholder), end; m != end; ++m)
            EXPECT_TRUE(filled.count((*m)[1])) << id << "." << name << ": {{" << (*m)[1] << "}}";
        }
      }
    }
    for (const char* c : {"CheckpointLoaderSimple", "LoadImage", "ImageCrop", "ControlNetLoader", "CLIPTextEncode",
                          "ControlNetApplyAdvanced", "VAEEncode", "KSampler", "VAEDecode", "SaveImage"})
      EXPECT_TRUE(classes.count(c)) << c;
  }
}

}  // namespace
}  // namespace wasmq::pipelines::testing
