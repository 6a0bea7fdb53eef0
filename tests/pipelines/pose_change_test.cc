// POSE_CHANGE: quarter turns and flips against exact remaps, keypoint fits (similarity, affine) and
// perspective against transforms the test applies itself, output size and fill, and config errors.
#include "harness.h"

namespace wasmq::pipelines::testing {
namespace {

Image Noise(int w, int h, uint32_t seed) {
  Image img(w, h);
  Lcg rng(seed);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      img.set(x, y, {uint8_t(rng.Next() >> 24), uint8_t(rng.Next() >> 24), uint8_t(rng.Next() >> 24)});
  return img;
}

// A smooth image: bilinear resampling of it is close to the true continuous picture.
Image Smooth(int w, int h) {
  Image img(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      img.set(x, y, {Clamp8(int(128 + 100 * std::sin(x * 0.11) * std::cos(y * 0.07))), Clamp8(2 * x + y),
                     Clamp8(200 - y * 2)});
  return img;
}

// The source pixel each output pixel comes from, or the fill.
Image Remap(const Image& src, int w, int h, const std::function<std::pair<double, double>(int, int)>& inverse,
            Rgb fill = {0, 0, 0}) {
  Image out(w, h, fill);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      auto [sx, sy] = inverse(x, y);
      if (sx < -0.5 || sy < -0.5 || sx > src.w - 0.5 || sy > src.h - 0.5) continue;
      // Bilinear, edges clamped (the pipeline's sampling, computed independently here).
      double cx = std::clamp(sx, 0.0, src.w - 1.0), cy = std::clamp(sy, 0.0, src.h - 1.0);
      int x0 = int(cx), y0 = int(cy), x1 = std::min(x0 + 1, src.w - 1), y1 = std::min(y0 + 1, src.h - 1);
      double fx = cx - x0, fy = cy - y0;
      auto ch = [&](int k) {
        auto v = [&](int px, int py) { return double(src.px[(size_t(py) * src.w + px) * 3 + k]); };
        double top = v(x0, y0) + (v(x1, y0) - v(x0, y0)) * fx, bottom = v(x0, y1) + (v(x1, y1) - v(x0, y1)) * fx;
        return Clamp8(int(std::lround(top + (bottom - top) * fy)));
      };
      out.set(x, y, {ch(0), ch(1), ch(2)});
    }
  return out;
}

TEST(PoseChange, QuarterTurnIsAnExactRemap) {
  PipelineRun run("POSE_CHANGE");
  Image src = Noise(48, 48, 1);
  run.InputPng("source", src);
  Outcome r = run.Wasm({{"rotate", 90}});
  ASSERT_TRUE(r.ok) << r;
  // Clockwise: the left column becomes the top row.
  Image expected = Remap(src, 48, 48, [](int x, int y) { return std::pair<double, double>(y, 47 - x); });
  EXPECT_EQ(MaxDiff(r.image, expected), 0);
  EXPECT_EQ(r.summary["method"], "geometric");
  EXPECT_EQ(r.summary["transform"], "explicit");
  EXPECT_DOUBLE_EQ(r.summary["coverage"].get<double>(), 1.0);
  Outcome back = run.Wasm({{"rotate", -270}});
  ASSERT_TRUE(back.ok) << back;
  EXPECT_EQ(MaxDiff(back.image, expected), 0);
}

TEST(PoseChange, FlipsMirrorExactly) {
  PipelineRun run("POSE_CHANGE");
  Image src = Noise(40, 30, 2);
  run.InputPng("source", src);
  Outcome h = run.Wasm({{"flip", "horizontal"}});
  ASSERT_TRUE(h.ok) << h;
  EXPECT_EQ(MaxDiff(h.image, Remap(src, 40, 30, [](int x, int y) { return std::pair<double, double>(39 - x, y); })), 0);
  Outcome v = run.Wasm({{"flip", "vertical"}});
  ASSERT_TRUE(v.ok) << v;
  EXPECT_EQ(MaxDiff(v.image, Remap(src, 40, 30, [](int x, int y) { return std::pair<double, double>(x, 29 - y); })), 0);
  Outcome both = run.Wasm({{"flip", "both"}});
  ASSERT_TRUE(both.ok) << both;
  Outcome half = run.Wasm({{"rotate", 180}});
  ASSERT_TRUE(half.ok) << half;
  EXPECT_EQ(MaxDiff(both.image, half.image), 0);
}

TEST(PoseChange, SimilarityFromKeypointsMatchesTheTransform) {
  PipelineRun run("POSE_CHANGE");
  Image src = Smooth(96, 80);
  run.InputPng("source", src);
  // Scale 1.5, rotate 30° clockwise, move: the fit must recover it from 3 exact pairs.
  const double s = 1.5, a = 30 * M_PI / 180, tx = 20, ty = -10;
  auto forward = [&](double x, double y) {
    return std::pair<double, double>(s * (std::cos(a) * x - std::sin(a) * y) + tx,
                                     s * (std::sin(a) * x + std::cos(a) * y) + ty);
  };
  Json from = Json::array(), to = Json::array();
  for (auto [x, y] : std::vector<std::pair<double, double>>{{10, 10}, {60, 20}, {30, 70}}) {
    auto [u, v] = forward(x, y);
    from.push_back({x, y});
    to.push_back({{"x", u}, {"y", v}});
  }
  Outcome r = run.Wasm({{"source_keypoints", from}, {"target_keypoints", to}, {"fill", "white"}});
  ASSERT_TRUE(r.ok) << r;
  EXPECT_EQ(r.summary["transform"], "similarity");
  EXPECT_LT(r.summary["fit_rms"].get<double>(), 1e-6);
  Image expected = Remap(src, 96, 80, [&](int x, int y) {
    double u = (x - tx) / s, v = (y - ty) / s;
    return std::pair<double, double>(std::cos(a) * u + std::sin(a) * v, -std::sin(a) * u + std::cos(a) * v);
  }, {255, 255, 255});
  EXPECT_GE(Psnr(r.image, expected), 40.0);
  EXPECT_EQ(r.image.at(95, 0), (Rgb{255, 255, 255}));  // uncovered: the fill colour
}

TEST(PoseChange, AffineLeastSquaresAndNoisyPairs) {
  PipelineRun run("POSE_CHANGE");
  Image src = Smooth(64, 64);
  run.InputPng("source", src);
  // A shear: x' = x + 0.3 y, y' = y, from four pairs.
  Json from = {{0, 0}, {60, 0}, {0, 60}, {60, 60}}, to = {{0, 0}, {60, 0}, {18, 60}, {78, 60}};
  Outcome r = run.Wasm({{"source_keypoints", from}, {"target_keypoints", to}, {"fit", "affine"}});
  ASSERT_TRUE(r.ok) << r;
  EXPECT_EQ(r.summary["transform"], "affine");
  EXPECT_NEAR(r.summary["matrix"][0][1].get<double>(), 0.3, 1e-9);
  Image expected = Remap(src, 64, 64, [](int x, int y) { return std::pair<double, double>(x - 0.3 * y, y); });
  EXPECT_GE(Psnr(r.image, expected), 40.0);
  // Inconsistent pairs: the least-squares fit leaves a residual it reports.
  Json noisy = {{0, 0}, {61, 1}, {-1, 59}, {60, 62}};
  Outcome n = run.Wasm({{"source_keypoints", from}, {"target_keypoints", noisy}});
  ASSERT_TRUE(n.ok) << n;
  EXPECT_GT(n.summary["fit_rms"].get<double>(), 0.1);
  EXPECT_LT(n.summary["fit_rms"].get<double>(), 3.0);
}

TEST(PoseChange, PerspectiveHomography) {
  PipelineRun run("POSE_CHANGE");
  Image src = Smooth(64, 48);
  run.InputPng("source", src);
  // A quad mapped onto itself moved by (5, 3): the homography is that translation.
  Json quad = {{0, 0}, {63, 0}, {63, 47}, {0, 47}}, moved = {{5, 3}, {68, 3}, {68, 50}, {5, 50}};
  Outcome r = run.Wasm({{"perspective", {{"source", quad}, {"target", moved}}}});
  ASSERT_TRUE(r.ok) << r;
  EXPECT_EQ(MaxDiff(r.image, Remap(src, 64, 48, [](int x, int y) { return std::pair<double, double>(x - 5, y - 3); })), 0);
  // A real keystone: the top edge shrinks; the middle of the top row comes from the top middle.
  Json keystone = {{16, 0}, {47, 0}, {63, 47}, {0, 47}};
  Outcome k = run.Wasm({{"perspective", {{"source", quad}, {"target", keystone}}}, {"fill", "#ff00ff"}});
  ASSERT_TRUE(k.ok) << k;
  EXPECT_EQ(k.summary["transform"], "perspective");
  EXPECT_EQ(k.image.at(2, 0), (Rgb{255, 0, 255}));
  EXPECT_LE(MaxDiff(Image(1, 1, k.image.at(63, 47)), Image(1, 1, src.at(63, 47))), 1);
}

TEST(PoseChange, OutputSizeScaleAndTranslate) {
  PipelineRun run("POSE_CHANGE");
  Image src = Noise(32, 32, 5);
  run.InputPng("source", src);
  Outcome r = run.Wasm({{"width", 64}, {"height", 40}, {"translate", {3, -2}}, {"fill", "rgb(1,2,3)"}});
  ASSERT_TRUE(r.ok) << r;
  ASSERT_EQ(r.image.w, 64);
  ASSERT_EQ(r.image.h, 40);
  // The centre of the source lands at the centre of the output, moved by (3, -2).
  Image expected = Remap(src, 64, 40, [](int x, int y) {
    return std::pair<double, double>(x - 31.5 - 3 + 15.5, y - 19.5 + 2 + 15.5);
  }, {1, 2, 3});
  EXPECT_EQ(MaxDiff(r.image, expected), 0);
  Outcome twice = run.Wasm({{"scale", 2}, {"width", 64}, {"height", 64}});
  ASSERT_TRUE(twice.ok) << twice;
  Image up = Remap(src, 64, 64, [](int x, int y) {
    return std::pair<double, double>((x - 31.5) / 2 + 15.5, (y - 31.5) / 2 + 15.5);
  });
  EXPECT_GE(Psnr(twice.image, up), 45.0);
}

TEST(PoseChange, ConfigErrors) {
  PipelineRun run("POSE_CHANGE");
  run.InputPng("source", Noise(16, 16, 9));
  auto code = [&](const Json& config) { return run.Wasm(config).code; };
  EXPECT_EQ(code(Json::object()), "INVALID_CONFIG");
  EXPECT_EQ(code({{"rotate", 10}, {"source_keypoints", {{0, 0}, {1, 1}}}, {"target_keypoints", {{0, 0}, {1, 1}}}}),
            "INVALID_CONFIG");
  EXPECT_EQ(code({{"source_keypoints", {{0, 0}, {1, 1}}}, {"target_keypoints", {{0, 0}}}}), "INVALID_CONFIG");
  EXPECT_EQ(code({{"source_keypoints", {{0, 0}}}, {"target_keypoints", {{0, 0}}}}), "INVALID_CONFIG");
  EXPECT_EQ(code({{"source_keypoints", {{0, 0}, {0, 0}}}, {"target_keypoints", {{0, 0}, {5, 5}}}}), "INVALID_CONFIG");
  Outcome line = run.Wasm({{"source_keypoints", {{0, 0}, {1, 1}, {2, 2}}},
                           {"target_keypoints", {{0, 0}, {1, 2}, {2, 5}}},
                           {"fit", "affine"}});
  EXPECT_EQ(line.code, "INVALID_CONFIG");
  EXPECT_NE(line.message.find("line"), std::string::npos) << line.message;
  EXPECT_EQ(code({{"source_keypoints", {{0, 0}, {"a", 1}}}, {"target_keypoints", {{0, 0}, {1, 1}}}}), "INVALID_CONFIG");
  EXPECT_EQ(code({{"flip", "diagonal"}}), "INVALID_CONFIG");
  EXPECT_EQ(code({{"scale", 0}}), "INVALID_CONFIG");
  EXPECT_EQ(code({{"rotate", 5}, {"fill", "notacolour"}}), "UNKNOWN_COLOR");
  EXPECT_EQ(code({{"rotate", 5}, {"width", 0}}), "INVALID_CONFIG");
  EXPECT_EQ(code({{"rotate", 5}, {"width", 16384}, {"height", 16384}}), "IMAGE_TOO_LARGE");
  EXPECT_EQ(code({{"perspective", {{"source", {{0, 0}, {1, 0}, {2, 0}, {0, 1}}}, {"target", {{0, 0}, {1, 0}, {2, 0}, {0, 1}}}}}}),
            "INVALID_CONFIG");
  EXPECT_EQ(code({{"perspective", {{"source", {{0, 0}}}, {"target", {{0, 0}}}}}}), "INVALID_CONFIG");
}

TEST(PoseChange, NativeBuildMatchesTheModule) {
  PipelineRun run("POSE_CHANGE");
  run.InputPng("source", Smooth(64, 64));
  Json config = {{"rotate", 17}, {"scale", 0.9}, {"flip", "horizontal"}};
  Outcome wasm = run.Wasm(config), native = run.Native(config);
  ASSERT_TRUE(wasm.ok) << wasm;
  ASSERT_TRUE(native.ok) << native;
  EXPECT_GE(Psnr(wasm.image, native.image), 50.0);
}

}  // namespace
}  // namespace wasmq::pipelines::testing
