// Every pipeline under hostile input: corrupt, truncated, empty and oversized images, a missing source, a
// task that is not JSON, config of the wrong type. Each ends with the right TaskError code — never a trap,
// never a bare exit status.
#include "harness.h"

namespace wasmq::pipelines::testing {
namespace {

const char* kModes[] = {"BACKGROUND_CHANGE", "POSE_CHANGE", "HEAD_SWAP"};

// A config each mode would accept, so only the image is wrong.
Json GoodConfig(const std::string& mode) {
  if (mode == "BACKGROUND_CHANGE") return {{"background_color", "white"}};
  if (mode == "POSE_CHANGE") return {{"rotate", 90}};
  return {{"reference_image", "img_ref"}, {"source_box", {0, 0, 4, 4}}, {"reference_box", {0, 0, 4, 4}}};
}

struct BadImage {
  std::string name, bytes, code;
};

std::vector<BadImage> BadImages() {
  std::string png = EncodePng(Image(40, 40, {10, 200, 30}));
  std::string random;
  Lcg rng(11);
  for (int i = 0; i < 4096; ++i) random.push_back(char(rng.Next() >> 24));
  return {
      {"random bytes", random, "INVALID_IMAGE"},
      {"truncated png", png.substr(0, png.size() / 2), "INVALID_IMAGE"},
      {"empty file", "", "INVALID_IMAGE"},
      {"text", "hello, I am not a picture\n", "INVALID_IMAGE"},
      {"0x0 png", PngHeader(0, 0), "INVALID_IMAGE"},
      {"huge png header", PngHeader(60000, 60000), "IMAGE_TOO_LARGE"},
      {"huge ppm header", "P6 50000 50000 255\n", "IMAGE_TOO_LARGE"},
  };
}

TEST(Robustness, CorruptSourceImagesFailWithACode) {
  for (const char* mode : kModes) {
    for (const BadImage& bad : BadImages()) {
      PipelineRun run(mode);
      run.Input("source.png", bad.bytes);
      run.InputPng("reference_image", Image(8, 8));
      Outcome r = run.Wasm(GoodConfig(mode));
      EXPECT_EQ(r.code, bad.code) << mode << ", " << bad.name << ": " << r;
      EXPECT_FALSE(r.message.empty());
    }
  }
}

TEST(Robustness, CorruptSecondaryImagesNameTheirKey) {
  PipelineRun bg("BACKGROUND_CHANGE");
  bg.InputPng("source", Image(16, 16, {1, 2, 3}));
  bg.Input("background_image.png", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
  Outcome r = bg.Wasm({{"background_image", "img_bg"}});
  EXPECT_EQ(r.code, "INVALID_IMAGE") << r;
  EXPECT_NE(r.message.find("background_image"), std::string::npos) << r.message;
  bg.Input("mask_image.png", PngHeader(70000, 70000));
  r = bg.Wasm({{"background_color", "red"}, {"mask_image", "img_mask"}});
  EXPECT_EQ(r.code, "IMAGE_TOO_LARGE") << r;

  PipelineRun head("HEAD_SWAP");
  head.InputPng("source", Image(16, 16));
  head.Input("reference_image.jpg", std::string("\xff\xd8\xff\xe0", 4) + "truncated");
  r = head.Wasm(GoodConfig("HEAD_SWAP"));
  EXPECT_EQ(r.code, "INVALID_IMAGE") << r;
  EXPECT_NE(r.message.find("reference_image"), std::string::npos) << r.message;
}

TEST(Robustness, MissingSourceAndBadTasks) {
  for (const char* mode : kModes) {
    PipelineRun run(mode);
    Outcome r = run.Wasm(GoodConfig(mode));
    EXPECT_EQ(r.code, "MISSING_INPUT") << mode << ": " << r;
    run.InputPng("source", Image(8, 8));
    EXPECT_EQ(run.WasmRaw("this is not json").code, "INVALID_TASK") << mode;
    EXPECT_EQ(run.WasmRaw("[1,2]").code, "INVALID_TASK") << mode;
    EXPECT_EQ(run.WasmRaw("").code, "INVALID_TASK") << mode;
    EXPECT_EQ(run.WasmRaw(R"({"config":"rotate"})").code, "INVALID_CONFIG") << mode;
    EXPECT_EQ(run.WasmRaw(std::string(200, '[') + std::string(200, ']')).code, "INVALID_TASK") << mode;
  }
}

// The worker stages an upload under its own name (<file id>.<ext>); the pipelines find it by the task's
// source_image (and a config value's file id) as well as by the /in/<key>.<ext> convention.
TEST(Robustness, InputsFoundByTheirFileId) {
  PipelineRun run("BACKGROUND_CHANGE");
  run.InputPng("img_20260101_abc", Image(20, 20, {30, 180, 40}));
  Image bg(20, 20, {9, 8, 7});
  run.InputPng("img_20260101_bg", bg);
  PipelineRun* r = &run;
  Outcome out = r->WasmRaw(r->TaskJson({{"background_image", "img_20260101_bg"}}, "img_20260101_abc"));
  ASSERT_TRUE(out.ok) << out;
  EXPECT_EQ(out.image.at(0, 0), (Rgb{9, 8, 7}));
}

}  // namespace
}  // namespace wasmq::pipelines::testing
