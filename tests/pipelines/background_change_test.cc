// BACKGROUND_CHANGE on synthetic images: the foreground stays, the border region takes the new background
// (colour, gradient, image), a given mask decides alone, and the result is compared with the composite the
// test computes itself (PSNR).
#include "harness.h"

namespace wasmq::pipelines::testing {
namespace {

constexpr Rgb kRed{220, 30, 30}, kGreen{30, 180, 40}, kBlue{0, 0, 255};

bool InDisk(int x, int y, double cx, double cy, double r) { return std::hypot(x + 0.5 - cx, y + 0.5 - cy) < r; }

// A red disk on a green background, both with a little noise (like a photo of a flat scene).
Image DiskOnGreen(int size, double radius, uint32_t seed = 7) {
  Image img(size, size);
  Lcg rng(seed);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      Rgb c = InDisk(x, y, size / 2.0, size / 2.0, radius) ? kRed : kGreen;
      img.set(x, y, {Clamp8(c.r + rng.Noise(6)), Clamp8(c.g + rng.Noise(6)), Clamp8(c.b + rng.Noise(6))});
    }
  return img;
}

// What a perfect matte gives: the source inside the disk, `bg` outside.
Image Composite(const Image& src, double radius, const std::function<Rgb(int, int)>& bg) {
  Image out = src;
  for (int y = 0; y < src.h; ++y)
    for (int x = 0; x < src.w; ++x)
      if (!InDisk(x, y, src.w / 2.0, src.h / 2.0, radius)) out.set(x, y, bg(x, y));
  return out;
}

TEST(BackgroundChange, ColorReplacesTheBorderRegionAndKeepsTheDisk) {
  PipelineRun run("BACKGROUND_CHANGE");
  Image src = DiskOnGreen(128, 40);
  run.InputPng("source", src);
  Outcome r = run.Wasm({{"background_color", "#0000ff"}, {"feather", 0}});
  ASSERT_TRUE(r.ok) << r;
  Image expected = Composite(src, 40, [](int, int) { return kBlue; });
  EXPECT_GE(Psnr(r.image, expected), 30.0);
  EXPECT_EQ(r.image.at(0, 0), kBlue);
  EXPECT_EQ(r.image.at(127, 64), kBlue);
  EXPECT_EQ(r.image.at(64, 64), src.at(64, 64));  // the foreground is the source, untouched
  EXPECT_EQ(r.summary["output"], "result.png");
  EXPECT_EQ(r.summary["width"], 128);
  EXPECT_EQ(r.summary["matte"], "estimated");
  EXPECT_EQ(r.summary["background"], "color");
  EXPECT_NEAR(r.summary["foreground_fraction"].get<double>(), M_PI * 40 * 40 / (128.0 * 128), 0.02);
  // Progress step by step, ending at 100.
  ASSERT_GE(r.progress.size(), 5u);
  for (size_t i = 1; i < r.progress.size(); ++i) EXPECT_GE(r.progress[i].first, r.progress[i - 1].first);
  EXPECT_EQ(r.progress.back().first, 100);
}

TEST(BackgroundChange, FeatheringSoftensOnlyTheEdge) {
  PipelineRun run("BACKGROUND_CHANGE");
  Image src = DiskOnGreen(128, 40);
  run.InputPng("source", src);
  Outcome r = run.Wasm({{"background_color", "blue"}, {"feather", 4}});
  ASSERT_TRUE(r.ok) << r;
  // Away from the edge band the result is the hard composite.
  Image expected = Composite(src, 40, [](int, int) { return kBlue; }), got = r.image;
  for (int y = 0; y < 128; ++y)
    for (int x = 0; x < 128; ++x)
      if (std::abs(std::hypot(x + 0.5 - 64, y + 0.5 - 64) - 40) < 12) got.set(x, y, expected.at(x, y));
  EXPECT_GE(Psnr(got, expected), 35.0);
  // Across the edge the colour fades from the disk's red into blue, without the old green in between.
  for (int x = 100; x <= 108; ++x) {
    Rgb c = r.image.at(x, 64);
    EXPECT_LT(c.g, 45) << "x=" << x << " " << c;
    EXPECT_GT(c.r + c.b, 200) << "x=" << x << " " << c;
  }
  EXPECT_GT(r.image.at(104, 64).r, 40);
  EXPECT_GT(r.image.at(104, 64).b, 40);
  EXPECT_GT(r.image.at(100, 64).r, r.image.at(108, 64).r);
  EXPECT_EQ(r.image.at(64, 64), src.at(64, 64));
  EXPECT_EQ(r.image.at(2, 2), kBlue);
}

TEST(BackgroundChange, ColourSyntaxes) {
  PipelineRun run("BACKGROUND_CHANGE");
  run.InputPng("source", DiskOnGreen(64, 20));
  for (auto [text, rgb] : std::vector<std::pair<std::string, Rgb>>{{"rebeccapurple", {0x66, 0x33, 0x99}},
                                                                   {"rgb(10, 20, 30)", {10, 20, 30}},
                                                                   {"#abc", {0xaa, 0xbb, 0xcc}},
                                                                   {"WHITE", {255, 255, 255}}}) {
    Outcome r = run.Wasm({{"background_color", text}});
    ASSERT_TRUE(r.ok) << text << ": " << r;
    EXPECT_EQ(r.image.at(0, 0), rgb) << text;
  }
  Outcome bad = run.Wasm({{"background_color", "blurple"}});
  EXPECT_EQ(bad.code, "UNKNOWN_COLOR") << bad;
  EXPECT_NE(bad.message.find("blurple"), std::string::npos) << bad.message;
}

TEST(BackgroundChange, GradientFollowsTheCssAngle) {
  PipelineRun run("BACKGROUND_CHANGE");
  Image src = DiskOnGreen(128, 30);
  run.InputPng("source", src);
  // 90deg: from the left edge (black) to the right edge (white).
  Outcome r = run.Wasm({{"background_gradient", {{"from", "black"}, {"to", "white"}, {"angle", 90}}}, {"feather", 0}});
  ASSERT_TRUE(r.ok) << r;
  Image expected = Composite(src, 30, [](int x, int) {
    uint8_t v = Clamp8(int(std::lround(255.0 * (x + 0.5) / 128)));
    return Rgb{v, v, v};
  });
  EXPECT_GE(Psnr(r.image, expected), 30.0);
  for (int x = 1; x < 128; ++x) EXPECT_GE(r.image.at(x, 0).r, r.image.at(x - 1, 0).r);
  EXPECT_EQ(r.summary["background"], "gradient");
  // The default angle (180deg) runs top to bottom.
  r = run.Wasm({{"background_gradient", {{"from", "#000000"}, {"to", "#ffffff"}}}});
  ASSERT_TRUE(r.ok) << r;
  EXPECT_LT(r.image.at(0, 0).r, 10);
  EXPECT_GT(r.image.at(0, 127).r, 245);
  EXPECT_EQ(r.image.at(0, 0), r.image.at(127, 0));
}

TEST(BackgroundChange, BackgroundImageCoversTheSource) {
  PipelineRun run("BACKGROUND_CHANGE");
  run.InputPng("source", DiskOnGreen(64, 16));
  // 128×64, left half yellow, right half cyan: covering 64×64 keeps the middle 64×64 square.
  Image bg(128, 64);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 128; ++x) bg.set(x, y, x < 64 ? Rgb{255, 255, 0} : Rgb{0, 255, 255});
  run.InputPng("background_image", bg);
  Outcome r = run.Wasm({{"background_image", "img_background"}, {"feather", 0}});
  ASSERT_TRUE(r.ok) << r;
  EXPECT_EQ(r.image.at(2, 2), (Rgb{255, 255, 0}));
  EXPECT_EQ(r.image.at(61, 61), (Rgb{0, 255, 255}));
  EXPECT_EQ(r.summary["background"], "image");
  // The file is named in config but did not reach /in.
  PipelineRun missing("BACKGROUND_CHANGE");
  missing.InputPng("source", DiskOnGreen(64, 16));
  Outcome m = missing.Wasm({{"background_image", "img_nothere"}});
  EXPECT_EQ(m.code, "MISSING_INPUT") << m;
}

TEST(BackgroundChange, MaskDecidesTheForeground) {
  PipelineRun run("BACKGROUND_CHANGE");
  Image src(80, 60);
  Lcg rng(3);
  for (int y = 0; y < 60; ++y)
    for (int x = 0; x < 80; ++x) src.set(x, y, {Clamp8(int(rng.Next() >> 24)), Clamp8(x * 3), Clamp8(y * 4)});
  run.InputPng("source", src);
  // A white rectangle (keep) on black; the mask is half the size: it is stretched onto the source.
  Image mask(40, 30);
  for (int y = 5; y < 20; ++y)
    for (int x = 10; x < 30; ++x) mask.set(x, y, {255, 255, 255});
  run.InputPng("mask_image", mask);
  Outcome r = run.Wasm({{"mask_image", "img_mask"}, {"background_color", "black"}, {"feather", 0}});
  ASSERT_TRUE(r.ok) << r;
  Image expected(80, 60);
  for (int y = 10; y < 40; ++y)
    for (int x = 20; x < 60; ++x) expected.set(x, y, src.at(x, y));
  EXPECT_EQ(MaxDiff(r.image, expected), 0);
  EXPECT_EQ(r.summary["matte"], "mask");
}

TEST(BackgroundChange, BackgroundColouredRegionsInsideTheSubjectStay) {
  // A red ring with green inside: the inner green cannot reach the border, so it is part of the subject.
  PipelineRun run("BACKGROUND_CHANGE");
  Image src = DiskOnGreen(128, 40);
  for (int y = 0; y < 128; ++y)
    for (int x = 0; x < 128; ++x)
      if (InDisk(x, y, 64, 64, 20)) src.set(x, y, kGreen);
  run.InputPng("source", src);
  Outcome r = run.Wasm({{"background_color", "blue"}});
  ASSERT_TRUE(r.ok) << r;
  EXPECT_EQ(r.image.at(64, 64), kGreen);
  EXPECT_EQ(r.image.at(1, 1), kBlue);
}

TEST(BackgroundChange, JpegOutputWithQuality) {
  PipelineRun run("BACKGROUND_CHANGE");
  Image src = DiskOnGreen(96, 30);
  run.InputPng("source", src);
  Outcome r = run.Wasm({{"background_color", "blue"}, {"output_format", "jpeg"}, {"quality", 95}, {"feather", 0}});
  ASSERT_TRUE(r.ok) << r;
  EXPECT_EQ(r.output_name, "result.jpg");
  EXPECT_EQ(r.summary["format"], "jpeg");
  EXPECT_GE(Psnr(r.image, Composite(src, 30, [](int, int) { return kBlue; })), 28.0);
  Outcome low = run.Wasm({{"background_color", "blue"}, {"output_format", "jpg"}, {"quality", 5}});
  ASSERT_TRUE(low.ok) << low;
  Image expected = Composite(src, 30, [](int, int) { return kBlue; });
  EXPECT_LT(Psnr(low.image, expected), Psnr(r.image, expected));  // quality 5 loses more than 95
  EXPECT_EQ(run.Wasm({{"background_color", "blue"}, {"output_format", "webp"}}).code, "INVALID_CONFIG");
  EXPECT_EQ(run.Wasm({{"background_color", "blue"}, {"quality", 0}}).code, "INVALID_CONFIG");
}

TEST(BackgroundChange, ConfigErrorsNameTheKey) {
  PipelineRun run("BACKGROUND_CHANGE");
  run.InputPng("source", DiskOnGreen(32, 8));
  Outcome none = run.Wasm(Json::object());
  EXPECT_EQ(none.code, "INVALID_CONFIG");
  EXPECT_NE(none.message.find("background_color"), std::string::npos) << none.message;
  EXPECT_EQ(run.Wasm({{"background_color", "red"}, {"background_gradient", {{"from", "red"}, {"to", "blue"}}}}).code,
            "INVALID_CONFIG");
  Outcome feather = run.Wasm({{"background_color", "red"}, {"feather", -1}});
  EXPECT_EQ(feather.code, "INVALID_CONFIG");
  EXPECT_NE(feather.message.find("config.feather"), std::string::npos) << feather.message;
  EXPECT_EQ(run.Wasm({{"background_color", 12}}).code, "INVALID_CONFIG");
  EXPECT_EQ(run.Wasm({{"background_gradient", {{"from", "red"}}}}).code, "INVALID_CONFIG");
  EXPECT_EQ(run.Wasm({{"background_gradient", {{"from", "red"}, {"to", "nocolour"}}}}).code, "UNKNOWN_COLOR");
  EXPECT_EQ(run.Wasm({{"background_color", "red"}, {"tolerance", "high"}}).code, "INVALID_CONFIG");
}

// The same C compiled natively gives the same picture (the benchmark compares like with like).
TEST(BackgroundChange, NativeBuildMatchesTheModule) {
  PipelineRun run("BACKGROUND_CHANGE");
  run.InputPng("source", DiskOnGreen(128, 40));
  Json config = {{"background_gradient", {{"from", "navy"}, {"to", "gold"}, {"angle", 45}}}};
  Outcome wasm = run.Wasm(config), native = run.Native(config);
  ASSERT_TRUE(wasm.ok) << wasm;
  ASSERT_TRUE(native.ok) << native;
  EXPECT_GE(Psnr(wasm.image, native.image), 45.0);
  EXPECT_EQ(run.Native({{"background_color", "nope"}}).code, "UNKNOWN_COLOR");
}

}  // namespace
}  // namespace wasmq::pipelines::testing
