// The documented maximum image (WQ_MAX_PIXELS, the README's "Built-in pipelines") against the worker's
// default limits: the largest allowed image passes under the default --max-memory, and one pixel more is
// refused with IMAGE_TOO_LARGE before anything is decoded.
#include <cmath>

#include "base/units.h"
#include "config/config.h"
#include "harness.h"

extern "C" {
#include "common/image.h"
}

namespace wasmq::pipelines::testing {
namespace {

// The pipelines compiled under the engine limits `wasmq serve` / `wasmq worker` use by default.
const worker::PipelineRegistry& UnderDefaultLimits() {
  static worker::PipelineRegistry* registry = [] {
    uint64_t max_memory = 0;
    for (const config::Setting& s : config::Settings())
      if (s.key == "max-memory") max_memory = base::ParseBytes(s.fallback).value_or(0);
    EXPECT_GT(max_memory, 0u);
    wasm::EngineConfig engine;
    engine.max_memory_bytes = std::min<uint64_t>(max_memory, engine.max_memory_bytes);
    auto* r = new worker::PipelineRegistry(engine);
    auto added = r->AddBuiltins(pipelines::BuiltinModules());
    if (!added) ADD_FAILURE() << added.error().message;
    return r;
  }();
  return *registry;
}

// A photo-like test image: a subject on a slightly noisy plain background (what the matte estimates).
Image Photo(int w, int h) {
  Image img(w, h, {32, 128, 144});
  Lcg rng(5);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const bool subject = x > w / 4 && x < 3 * w / 4 && y > h / 4 && y < 3 * h / 4;
      Rgb c = subject ? Rgb{208, 48, 48} : Rgb{32, 128, 144};
      const int n = rng.Noise(3);
      img.set(x, y, {uint8_t(c.r + n), uint8_t(c.g + n), uint8_t(c.b + n)});
    }
  return img;
}

const int kSide = static_cast<int>(std::lround(std::sqrt(double(WQ_MAX_PIXELS))));

TEST(Limits, TheMaximumIsASquareTheDocsName) { EXPECT_EQ(int64_t(kSide) * kSide, int64_t(WQ_MAX_PIXELS)); }

// The heaviest case: BACKGROUND_CHANGE with a background image of the same size (two full-size inputs,
// the estimated matte, the feathered composite). About 13 s of CPU under the interpreter on the CI machine.
TEST(Limits, TheLargestAllowedImagePassesUnderTheDefaultMemoryCap) {
  const std::string png = EncodePng(Photo(kSide, kSide));
  PipelineRun run("BACKGROUND_CHANGE");
  run.UseRegistry(&UnderDefaultLimits());
  run.Input("source.png", png);
  run.Input("background_image.png", png);
  Outcome r = run.Wasm({{"background_image", "img_bg"}, {"feather", 4}});
  ASSERT_TRUE(r.ok) << r;
  EXPECT_EQ(r.image.w, kSide);
  EXPECT_EQ(r.image.h, kSide);
}

TEST(Limits, OnePixelMoreIsRefusedBeforeDecoding) {
  // WQ_MAX_PIXELS + 1 pixels in a shape the pipelines accept per dimension, and one more row.
  const int64_t more = int64_t(WQ_MAX_PIXELS) + 1;
  int w = 1;
  for (int d = 2; d < 1000; ++d)
    if (more % d == 0) {
      w = d;
      break;
    }
  for (auto [pw, ph] : {std::pair<uint32_t, uint32_t>{uint32_t(w), uint32_t(more / w)},
                        std::pair<uint32_t, uint32_t>{uint32_t(kSide), uint32_t(kSide + 1)}}) {
    for (const char* mode : {"BACKGROUND_CHANGE", "POSE_CHANGE", "HEAD_SWAP"}) {
      PipelineRun run(mode);
      run.UseRegistry(&UnderDefaultLimits());
      run.Input("source.png", PngHeader(pw, ph));
      run.InputPng("reference_image", Image(8, 8));
      Json config = std::string(mode) == "BACKGROUND_CHANGE" ? Json{{"background_color", "white"}}
                    : std::string(mode) == "POSE_CHANGE"     ? Json{{"rotate", 90}}
                                                             : Json{{"reference_image", "img_ref"},
                                                                {"source_box", {0, 0, 4, 4}},
                                                                {"reference_box", {0, 0, 4, 4}}};
      Outcome r = run.Wasm(config);
      EXPECT_EQ(r.code, "IMAGE_TOO_LARGE") << mode << " " << pw << "x" << ph << ": " << r;
    }
  }
}

}  // namespace
}  // namespace wasmq::pipelines::testing
