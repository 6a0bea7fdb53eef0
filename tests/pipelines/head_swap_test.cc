// HEAD_SWAP: explicit boxes (outside the box nothing changes; inside, the reference's structure with the
// source's colours), boxes from a face engine without landmarks (a stand-in answering fixed faces), the
// engine's failures mapped to TaskError codes, and the landmark method on real photos with the built-in
// face-landmarks engine (tests/photos/fetch; those tests skip without the photos): the face region
// changes, where the source face is, and nothing farther than the feather from the landmarks' hull does.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>

#include "../require_tool.h"
#include "common/warp.h"
#include "../photos/photos.h"
#include "harness.h"

namespace wasmq::pipelines::testing {
namespace {

using wasmq::testing::Photo;
using wasmq::testing::PhotosDir;

// Source: a warm gradient scene. Reference: a blue/yellow checkerboard "head" on grey.
Image Scene(int w, int h) {
  Image img(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) img.set(x, y, {Clamp8(150 + x / 2), Clamp8(90 + y / 3), 60});
  return img;
}

Image Checker(int w, int h, int cell) {
  Image img(w, h, {128, 128, 128});
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if (x >= w / 4 && x < 3 * w / 4 && y >= h / 4 && y < 3 * h / 4)
        img.set(x, y, ((x / cell + y / cell) % 2) ? Rgb{40, 60, 200} : Rgb{230, 220, 40});
  return img;
}

struct Stats {
  double mean[3] = {0, 0, 0};
};
Stats MeanOf(const Image& img, int x0, int y0, int w, int h) {
  Stats s;
  for (int y = y0; y < y0 + h; ++y)
    for (int x = x0; x < x0 + w; ++x) {
      Rgb c = img.at(x, y);
      s.mean[0] += c.r, s.mean[1] += c.g, s.mean[2] += c.b;
    }
  for (double& m : s.mean) m /= double(w) * h;
  return s;
}

double Luma(Rgb c) { return 0.299 * c.r + 0.587 * c.g + 0.114 * c.b; }

// Pearson correlation of the luma of two equally sized regions.
double Correlation(const Image& a, int ax, int ay, const Image& b, int bx, int by, int w, int h) {
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, n = double(w) * h;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      double u = Luma(a.at(ax + x, ay + y)), v = Luma(b.at(bx + x, by + y));
      sa += u, sb += v, saa += u * u, sbb += v * v, sab += u * v;
    }
  double cov = sab / n - sa / n * sb / n;
  return cov / std::sqrt((saa / n - sa / n * sa / n) * (sbb / n - sb / n * sb / n));
}

TEST(HeadSwap, ExplicitBoxesReplaceAndColourMatchTheRegion) {
  PipelineRun run("HEAD_SWAP");
  Image src = Scene(128, 96), ref = Checker(96, 96, 8);
  run.InputPng("source", src);
  run.InputPng("reference_image", ref);
  // The reference box is the checkerboard (48×48 at 24,24); the source box is 48×48 at 40,20: 1:1 scale.
  Outcome r = run.Wasm({{"reference_image", "img_ref"}, {"source_box", {{"x", 40}, {"y", 20}, {"w", 48}, {"h", 48}}},
                        {"reference_box", {24, 24, 48, 48}}, {"feather", 0.2}});
  ASSERT_TRUE(r.ok) << r;
  EXPECT_EQ(r.summary["boxes_from"], "config");
  EXPECT_EQ(r.summary["source_box"], (Json{{"x", 40}, {"y", 20}, {"w", 48}, {"h", 48}}));
  // Outside the box: untouched.
  Image outside = r.image, src_outside = src;
  for (int y = 20; y < 68; ++y)
    for (int x = 40; x < 88; ++x) outside.set(x, y, {}), src_outside.set(x, y, {});
  EXPECT_EQ(MaxDiff(outside, src_outside), 0);
  // The core of the ellipse: the checkerboard's structure ...
  EXPECT_GT(Correlation(r.image, 52, 32, ref, 36, 36, 24, 24), 0.9);
  // ... in the source's colours: the mean is the source region's, not the blue/yellow of the reference.
  Stats got = MeanOf(r.image, 52, 32, 24, 24), want = MeanOf(src, 52, 32, 24, 24), refm = MeanOf(ref, 36, 36, 24, 24);
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(got.mean[k], want.mean[k], 12) << "channel " << k;
    EXPECT_GT(std::abs(refm.mean[k] - want.mean[k]), 20) << "channel " << k << ": the test would prove nothing";
  }
  // Without colour matching the reference's own colours come through.
  Outcome raw = run.Wasm({{"reference_image", "img_ref"}, {"source_box", {40, 20, 48, 48}},
                          {"reference_box", {24, 24, 48, 48}}, {"color_match", false}});
  ASSERT_TRUE(raw.ok) << raw;
  EXPECT_LE(MaxDiff(Image(1, 1, raw.image.at(68, 48)), Image(1, 1, ref.at(52, 52))), 2);  // a cell's middle
}

TEST(HeadSwap, ReferenceHeadIsScaledToTheSourceBox) {
  PipelineRun run("HEAD_SWAP");
  Image src = Scene(160, 120), ref = Checker(64, 64, 4);  // 32×32 checker at 16,16 → a 64×64 box: 2×
  run.InputPng("source", src);
  run.InputPng("reference_image", ref);
  Outcome r = run.Wasm({{"reference_image", "img_ref"}, {"source_box", {50, 30, 64, 64}},
                        {"reference_box", {16, 16, 32, 32}}, {"color_match", false}, {"feather", 0}});
  ASSERT_TRUE(r.ok) << r;
  // Cell (1,1) of the reference (blue... one of the two colours) becomes an 8×8 cell of the output.
  for (int cy = 2; cy < 6; ++cy)
    for (int cx = 2; cx < 6; ++cx) {
      Rgb want = ref.at(16 + cx * 4 + 2, 16 + cy * 4 + 2), got = r.image.at(50 + cx * 8 + 4, 30 + cy * 8 + 4);
      EXPECT_LE(MaxDiff(Image(1, 1, got), Image(1, 1, want)), 30) << cx << "," << cy;
    }
}

// A registry with the built-in engines and `face-landmarks` (HEAD_SWAP's default face engine) replaced by
// `fake`.
std::unique_ptr<engines::EngineRegistry> WithLandmarks(std::unique_ptr<FakeFaceEngine> fake) {
  auto loaded = engines::EngineRegistry::Load("");
  if (!loaded) ADD_FAILURE() << loaded.error().message;
  (*loaded)->Add("face-landmarks", std::move(fake));
  return loaded.ok() ? std::move(*loaded) : nullptr;
}

TEST(HeadSwap, BoxesFromAFaceEngineWithoutLandmarks) {
  PipelineRun run("HEAD_SWAP");
  run.InputPng("source", Scene(200, 160));
  run.InputPng("reference_image", Checker(120, 120, 6));
  auto fake = std::make_unique<FakeFaceEngine>(
      R"({"faces":[{"x":10,"y":10,"w":20,"h":20,"score":0.9},{"x":60,"y":40,"w":50,"h":50,"score":0.7}]})");
  FakeFaceEngine* engine = fake.get();
  auto engines = WithFaces(std::move(fake));
  Outcome r = run.Wasm({{"reference_image", "img_ref"}, {"box_expand", 1.2}, {"face_engine", "face-detect"}},
                       engines.get());
  ASSERT_TRUE(r.ok) << r;
  EXPECT_EQ(r.summary["boxes_from"], "face-detect");
  EXPECT_EQ(r.summary["method"], "boxes");
  // The largest face (50×50 at 60,40) grown 1.2× about its centre (85,65) → 60×60 at 55,35.
  EXPECT_EQ(r.summary["source_box"], (Json{{"x", 55}, {"y", 35}, {"w", 60}, {"h", 60}}));
  EXPECT_EQ(r.summary["source_faces"], 2);
  auto calls = engine->requests();
  ASSERT_EQ(calls.size(), 2u);  // source and reference
  EXPECT_EQ(Json::parse(calls[0].json)["max_faces"], 10);
  EXPECT_EQ(calls[0].payload, EncodePng(Scene(200, 160)));  // the uploaded bytes, as they are
  // One box given: only the other image is sent to the engine.
  Outcome half = run.Wasm({{"reference_image", "img_ref"}, {"source_box", {0, 0, 40, 40}}, {"max_faces", 3},
                           {"face_engine", "face-detect"}},
                          engines.get());
  ASSERT_TRUE(half.ok) << half;
  EXPECT_EQ(half.summary["boxes_from"], "config+face-detect");
  ASSERT_EQ(engine->requests().size(), 3u);
  EXPECT_EQ(Json::parse(engine->requests()[2].json)["max_faces"], 3);
}

// A drawn face (skin ellipse, eyes, brows, nose, mouth on a dark background, then blurred) that the real
// face-detect engine finds: OpenCV's frontal-face cascade from Debian's opencv-data.
Image DrawnFace(int cx, int cy) {
  Image img(400, 300, {50, 70, 60});
  auto ellipse = [&img](int ex, int ey, int rx, int ry, Rgb c) {
    for (int y = ey - ry; y <= ey + ry; ++y)
      for (int x = ex - rx; x <= ex + rx; ++x) {
        double dx = double(x - ex) / rx, dy = double(y - ey) / ry;
        if (x >= 0 && y >= 0 && x < img.w && y < img.h && dx * dx + dy * dy <= 1) img.set(x, y, c);
      }
  };
  ellipse(cx, cy, 80, 105, {210, 180, 150});
  for (int dx : {-30, 30}) {
    ellipse(cx + dx, cy - 20, 16, 8, {40, 40, 40});  // eye
    ellipse(cx + dx, cy - 40, 22, 5, {80, 70, 60});  // brow
  }
  ellipse(cx, cy + 20, 8, 18, {170, 145, 120});  // nose
  ellipse(cx, cy + 60, 28, 7, {120, 70, 70});    // mouth
  // A separable Gaussian blur (sigma 3, radius 4), as a camera's softness: the cascade wants edges, not steps.
  double k[9], sum = 0;
  for (int i = -4; i <= 4; ++i) sum += k[i + 4] = std::exp(-i * i / 18.0);
  for (double& v : k) v /= sum;
  for (int pass = 0; pass < 2; ++pass) {
    Image out = img;
    for (int y = 0; y < img.h; ++y)
      for (int x = 0; x < img.w; ++x) {
        double acc[3] = {0, 0, 0};
        for (int i = -4; i <= 4; ++i) {
          int sx = pass ? x : std::clamp(x + i, 0, img.w - 1), sy = pass ? std::clamp(y + i, 0, img.h - 1) : y;
          Rgb c = img.at(sx, sy);
          acc[0] += k[i + 4] * c.r, acc[1] += k[i + 4] * c.g, acc[2] += k[i + 4] * c.b;
        }
        out.set(x, y, {Clamp8(int(std::lround(acc[0]))), Clamp8(int(std::lround(acc[1]))), Clamp8(int(std::lround(acc[2])))});
      }
    img = out;
  }
  return img;
}

TEST(HeadSwap, TwoPhotosAndNothingElseWithTheRealFaceDetector) {
  // The box method with the built-in face-detect engine (OpenCV, loaded from wasmq-face-detect.so), which
  // finds both drawn faces (dlib's HOG detector does not take them for faces).
  PipelineRun run("HEAD_SWAP");
  run.InputPng("source", DrawnFace(200, 150));
  run.InputPng("reference_image", DrawnFace(160, 140));
  auto engines = engines::EngineRegistry::Load("");
  ASSERT_TRUE(engines.ok()) << engines.error().message;
  Outcome r = run.Wasm({{"reference_image", "img_ref"}, {"face_engine", "face-detect"}}, engines->get());
  ASSERT_TRUE(r.ok) << r;
  EXPECT_EQ(r.summary["boxes_from"], "face-detect") << r.summary.dump();
  EXPECT_EQ(r.summary["source_faces"], 1) << r.summary.dump();
  // The head box lies around the drawn face's centre (200,150).
  const Json& box = r.summary["source_box"];
  int x = box["x"], y = box["y"], w = box["w"], h = box["h"];
  EXPECT_TRUE(x < 200 && 200 < x + w && y < 150 && 150 < y + h) << box.dump();
  EXPECT_EQ(r.image.w, 400);
  EXPECT_EQ(r.image.h, 300);
}

TEST(HeadSwap, EngineOutcomesBecomeTaskErrors) {
  PipelineRun run("HEAD_SWAP");
  run.InputPng("source", Scene(64, 64));
  run.InputPng("reference_image", Checker(64, 64, 4));
  Json config = {{"reference_image", "img_ref"}};
  auto no_face = WithLandmarks(std::make_unique<FakeFaceEngine>(R"({"faces":[]})"));
  Outcome r = run.Wasm(config, no_face.get());
  EXPECT_EQ(r.code, "NO_FACE_FOUND") << r;
  EXPECT_NE(r.message.find("source"), std::string::npos) << r.message;
  EXPECT_FALSE(r.retryable);
  struct Case {
    engines::Status status;
    const char* code;
    bool retryable;
  };
  for (Case c : {Case{engines::Status::Timeout, "ENGINE_TIMEOUT", true},
                 Case{engines::Status::Unavailable, "ENGINE_UNAVAILABLE", true},
                 Case{engines::Status::BadRequest, "ENGINE_BAD_REQUEST", false},
                 Case{engines::Status::Failed, "ENGINE_FAILED", false}}) {
    auto failing = WithLandmarks(std::make_unique<FakeFaceEngine>("the detector said no", c.status));
    Outcome f = run.Wasm(config, failing.get());
    EXPECT_EQ(f.code, c.code) << f;
    EXPECT_EQ(f.retryable, c.retryable) << c.code;
    EXPECT_NE(f.message.find("the detector said no"), std::string::npos) << f.message;
  }
  // No engines at all (a worker without a registry), or an engine name nobody registered.
  EXPECT_EQ(run.Wasm(config).code, "ENGINE_UNKNOWN");
  auto builtin = WithLandmarks(std::make_unique<FakeFaceEngine>(R"({"faces":[]})"));
  EXPECT_EQ(run.Wasm({{"reference_image", "img_ref"}, {"face_engine", "nope"}}, builtin.get()).code, "ENGINE_UNKNOWN");
  auto garbage = WithLandmarks(std::make_unique<FakeFaceEngine>(R"({"faces":[{"x":1}]})"));
  EXPECT_EQ(run.Wasm(config, garbage.get()).code, "ENGINE_FAILED");
  auto short_list = WithLandmarks(std::make_unique<FakeFaceEngine>(
      R"({"faces":[{"box":{"x":1,"y":1,"w":20,"h":20},"landmarks":[[1,2],[3,4]]}]})"));
  EXPECT_EQ(run.Wasm(config, short_list.get()).code, "ENGINE_FAILED");
  // A face that is not there: face_index past the faces found.
  auto one = WithLandmarks(std::make_unique<FakeFaceEngine>(R"({"faces":[{"box":{"x":1,"y":1,"w":20,"h":20}}]})"));
  Outcome past = run.Wasm({{"reference_image", "img_ref"}, {"face_index", 1}}, one.get());
  EXPECT_EQ(past.code, "INVALID_CONFIG") << past;
  EXPECT_NE(past.message.find("face_index"), std::string::npos) << past.message;
}

TEST(HeadSwap, ConfigAndInputErrors) {
  PipelineRun run("HEAD_SWAP");
  run.InputPng("source", Scene(64, 64));
  Outcome none = run.Wasm({{"source_box", {0, 0, 8, 8}}});
  EXPECT_EQ(none.code, "INVALID_CONFIG");
  EXPECT_NE(none.message.find("reference_image"), std::string::npos);
  Outcome missing = run.Wasm({{"reference_image", "img_ref"}, {"source_box", {0, 0, 8, 8}}});
  EXPECT_EQ(missing.code, "MISSING_INPUT") << missing;
  run.InputPng("reference_image", Checker(32, 32, 4));
  Json base = {{"reference_image", "img_ref"}, {"reference_box", {0, 0, 32, 32}}};
  auto with = [&](const char* key, Json v) {
    Json c = base;
    c[key] = std::move(v);
    return run.Wasm(c);
  };
  Outcome outside = with("source_box", {{"x", 40}, {"y", 40}, {"w", 30}, {"h", 10}});
  EXPECT_EQ(outside.code, "BOX_OUTSIDE_IMAGE");
  EXPECT_NE(outside.message.find("source_box"), std::string::npos) << outside.message;
  EXPECT_EQ(with("source_box", {-1, 0, 10, 10}).code, "BOX_OUTSIDE_IMAGE");
  EXPECT_EQ(with("source_box", {0, 0, 0, 10}).code, "INVALID_CONFIG");
  EXPECT_EQ(with("source_box", {0, 0, 10}).code, "INVALID_CONFIG");
  EXPECT_EQ(with("source_box", "face").code, "INVALID_CONFIG");
  Json ref_outside = {{"reference_image", "img_ref"}, {"source_box", {0, 0, 8, 8}}, {"reference_box", {0, 0, 33, 8}}};
  EXPECT_EQ(run.Wasm(ref_outside).code, "BOX_OUTSIDE_IMAGE");
  Json c = base;
  c["source_box"] = {0, 0, 8, 8};
  c["feather"] = 2;
  EXPECT_EQ(run.Wasm(c).code, "INVALID_CONFIG");
  c["feather"] = 0.5;
  c["color_match"] = "yes";
  EXPECT_EQ(run.Wasm(c).code, "INVALID_CONFIG");
}

TEST(HeadSwap, NativeBuildWithTheFacesStub) {
  PipelineRun run("HEAD_SWAP");
  run.InputPng("source", Scene(96, 96));
  run.InputPng("reference_image", Checker(96, 96, 6));
  Json config = {{"reference_image", "img_ref"}};
  Outcome native = run.Native(config, R"({"faces":[{"x":30,"y":30,"w":30,"h":30}]})");
  ASSERT_TRUE(native.ok) << native;
  auto engines = WithLandmarks(std::make_unique<FakeFaceEngine>(R"({"faces":[{"x":30,"y":30,"w":30,"h":30}]})"));
  Outcome wasm = run.Wasm(config, engines.get());
  ASSERT_TRUE(wasm.ok) << wasm;
  EXPECT_EQ(native.summary["source_box"], wasm.summary["source_box"]);
  EXPECT_GE(Psnr(native.image, wasm.image), 45.0);
  Outcome unavailable = run.Native(config);
  EXPECT_EQ(unavailable.code, "ENGINE_UNAVAILABLE");
  EXPECT_TRUE(unavailable.retryable);
}

// ---- real photos, the landmark method ------------------------------------------------------------------

// The built-in engines, for the whole binary: face-landmarks reads its 100 MB model once.
const engines::EngineRegistry* RealEngines() {
  static engines::EngineRegistry* reg = [] {
    auto r = engines::EngineRegistry::Load("");
    return r.ok() ? r->release() : nullptr;
  }();
  return reg;
}

struct Pt {
  double x, y;
};

// The convex hull of the points (monotone chain), and the signed distance to it: < 0 inside.
std::vector<Pt> Hull(std::vector<Pt> p) {
  std::sort(p.begin(), p.end(), [](Pt a, Pt b) { return a.x < b.x || (a.x == b.x && a.y < b.y); });
  auto cross = [](Pt o, Pt a, Pt b) { return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x); };
  std::vector<Pt> h(2 * p.size());
  size_t k = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    while (k >= 2 && cross(h[k - 2], h[k - 1], p[i]) <= 0) --k;
    h[k++] = p[i];
  }
  for (size_t i = p.size() - 1, lower = k + 1; i-- > 0;) {
    while (k >= lower && cross(h[k - 2], h[k - 1], p[i]) <= 0) --k;
    h[k++] = p[i];
  }
  h.resize(k - 1);
  return h;  // counter-clockwise with y up
}
double HullDistance(const std::vector<Pt>& h, double x, double y) {
  double d = -1e300;
  for (size_t i = 0; i < h.size(); ++i) {
    Pt a = h[i], b = h[(i + 1) % h.size()];
    double ex = b.x - a.x, ey = b.y - a.y, len = std::hypot(ex, ey);
    if (len > 0) d = std::max(d, ((x - a.x) * ey - (y - a.y) * ex) / len);
  }
  return d;
}

struct RealSwap {
  const char* source;
  const char* reference;
  int box[4];      // the source face's box (face_landmarks_test.cc checks it on the photo)
  int ref_box[4];  // the reference face's
};

TEST(HeadSwap, RealPhotosTheFaceIsReplacedWhereTheSourceFaceIs) {
  const RealSwap cases[] = {{"astronaut.png", "messi5.jpg", {177, 77, 90, 90}, {227, 95, 36, 36}},
                            {"messi5.jpg", "astronaut.png", {227, 95, 36, 36}, {177, 77, 90, 90}}};
  ASSERT_NE(RealEngines(), nullptr);
  for (const RealSwap& c : cases) {
    SCOPED_TRACE(std::string(c.source) + " <- " + c.reference);
    std::string src_bytes = Photo(c.source), ref_bytes = Photo(c.reference);
    WASMQ_REQUIRE(!src_bytes.empty() && !ref_bytes.empty(), "no photos (tests/photos/fetch " WASMQ_PHOTOS_DIR ")");
    auto ext = [](const std::string& n) { return n.substr(n.rfind('.')); };
    PipelineRun run("HEAD_SWAP");
    run.Input(std::string("source") + ext(c.source), src_bytes);
    run.Input(std::string("reference_image") + ext(c.reference), ref_bytes);
    const auto start = std::chrono::steady_clock::now();
    Outcome r = run.Wasm({{"reference_image", "img_ref"}, {"output_format", "png"}}, RealEngines());
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(r.ok) << r;
    std::printf("HEAD_SWAP %s <- %s: %.0f ms under wasmq (model already loaded); %s\n", c.source, c.reference, ms,
                r.summary.dump().c_str());
    if (const char* keep = std::getenv("WASMQ_TEST_KEEP_OUTPUTS"))
      std::ofstream(std::string(keep) + "/head_swap_" + c.source + ".png", std::ios::binary) << EncodePng(r.image);
    EXPECT_EQ(r.summary["method"], "landmarks");
    EXPECT_EQ(r.summary["boxes_from"], "face-landmarks");
    const Json& sb = r.summary["source_face"]["box"];
    const Json& rb = r.summary["reference_face"]["box"];
    for (int k = 0; k < 4; ++k) {
      const char* key[] = {"x", "y", "w", "h"};
      EXPECT_NEAR(sb[key[k]].get<int>(), c.box[k], 8) << sb.dump();
      EXPECT_NEAR(rb[key[k]].get<int>(), c.ref_box[k], 8) << rb.dump();
    }

    // The source's landmarks, as the pipeline got them, give the hull and the feather.
    engines::Response lm = RealEngines()->Call("face-landmarks", {"{}", src_bytes});
    ASSERT_EQ(lm.status, engines::Status::Ok) << lm.message;
    Json pts = Json::parse(lm.json)["faces"][0]["landmarks"];
    std::vector<Pt> p;
    for (const Json& q : pts) p.push_back({q[0].get<double>(), q[1].get<double>()});
    const std::vector<Pt> hull = Hull(p);
    const double face_width = std::hypot(p[16].x - p[0].x, p[16].y - p[0].y);
    const double band = std::max(1.5, 0.25 * 0.3 * face_width);  // feather 0.3 (the default)

    Image src = DecodeImage(src_bytes);
    ASSERT_EQ(r.image.w, src.w);
    ASSERT_EQ(r.image.h, src.h);
    int changed_outside = 0;
    double inside_diff = 0, inside_n = 0, cx = 0, cy = 0, changed = 0;
    for (int y = 0; y < src.h; ++y)
      for (int x = 0; x < src.w; ++x) {
        Rgb a = src.at(x, y), b = r.image.at(x, y);
        int diff = std::abs(a.r - b.r) + std::abs(a.g - b.g) + std::abs(a.b - b.b);
        double d = HullDistance(hull, x, y);
        if (d > band + 1.5 && diff) ++changed_outside;
        if (d < -band) inside_diff += diff, ++inside_n;
        if (diff > 30) cx += x, cy += y, ++changed;
      }
    // Nothing beyond the hull dilated by the feather changes ...
    EXPECT_EQ(changed_outside, 0);
    // ... inside it the face does (the mean over R+G+B) ...
    ASSERT_GT(inside_n, 0);
    EXPECT_GT(inside_diff / inside_n, 15) << "the face region hardly changed";
    // ... and what changed is centred on the source face, not on a shoulder.
    ASSERT_GT(changed, 0);
    cx /= changed, cy /= changed;
    EXPECT_TRUE(cx > c.box[0] && cx < c.box[0] + c.box[2] && cy > c.box[1] && cy < c.box[1] + c.box[3])
        << "the changes are centred at " << cx << "," << cy;
  }
}

TEST(HeadSwap, RealPhotoWithoutAFace) {
  std::string fruits = Photo("fruits.jpg"), night = Photo("starry_night.jpg"), face = Photo("astronaut.png");
  WASMQ_REQUIRE(!fruits.empty() && !night.empty() && !face.empty(), "no photos (tests/photos/fetch " WASMQ_PHOTOS_DIR ")");
  ASSERT_NE(RealEngines(), nullptr);
  PipelineRun run("HEAD_SWAP");
  run.Input("source.jpg", fruits);
  run.Input("reference_image.png", face);
  Outcome r = run.Wasm({{"reference_image", "img_ref"}}, RealEngines());
  EXPECT_EQ(r.code, "NO_FACE_FOUND") << r;
  EXPECT_NE(r.message.find("source"), std::string::npos) << r.message;
  PipelineRun other("HEAD_SWAP");
  other.Input("source.png", face);
  other.Input("reference_image.jpg", night);
  Outcome n = other.Wasm({{"reference_image", "img_ref"}}, RealEngines());
  EXPECT_EQ(n.code, "NO_FACE_FOUND") << n;
  EXPECT_NE(n.message.find("reference"), std::string::npos) << n.message;
}

// ---- the geometry under the landmark method (pipelines/common/warp.c, natively) -------------------------

double TriangleArea(const wq_point* p, wq_triangle t) {
  return std::abs((p[t.b].x - p[t.a].x) * (p[t.c].y - p[t.a].y) - (p[t.c].x - p[t.a].x) * (p[t.b].y - p[t.a].y)) / 2;
}

double PolygonArea(const std::vector<wq_point>& poly) {
  double a = 0;
  for (size_t i = 0; i < poly.size(); ++i)
    a += poly[i].x * poly[(i + 1) % poly.size()].y - poly[(i + 1) % poly.size()].x * poly[i].y;
  return std::abs(a) / 2;
}

TEST(HeadSwapGeometry, DelaunayTilesTheHullExactly) {
  // Scattered points (with two that coincide, as rounded landmarks can), and a regular grid (many
  // co-circular quadruples): the triangles must cover the convex hull once, 2n - 2 - h of them.
  Lcg rng(7);
  std::vector<wq_point> scattered;
  for (int i = 0; i < 76; ++i) scattered.push_back({double(rng.Next() % 500), double(rng.Next() % 400)});
  scattered.push_back(scattered[3]);
  std::vector<wq_point> grid;
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 7; ++x) grid.push_back({x * 10.0, y * 10.0});
  for (const auto& pts : {scattered, grid}) {
    std::vector<wq_triangle> tris(2 * pts.size());
    int n = wq_delaunay(pts.data(), int(pts.size()), tris.data(), int(tris.size()));
    ASSERT_GT(n, 0);
    std::vector<int> hull_idx(pts.size());
    int h = wq_convex_hull(pts.data(), int(pts.size()), hull_idx.data());
    std::vector<wq_point> hull;
    for (int i = 0; i < h; ++i) hull.push_back(pts[hull_idx[i]]);
    double area = 0;
    for (int i = 0; i < n; ++i) area += TriangleArea(pts.data(), tris[i]);
    EXPECT_NEAR(area, PolygonArea(hull), 1e-3 * PolygonArea(hull));
    // Inside the hull every point is in exactly one triangle (away from the edges; the coincident points
    // leave a triangle of no area, which the warp skips).
    for (int k = 0; k < 200; ++k) {
      double x = rng.Next() % 5000 / 10.0, y = rng.Next() % 4000 / 10.0;
      std::vector<wq_edge> edges(hull.size());
      int ne = wq_hull_edges(hull.data(), h, edges.data());
      if (wq_hull_distance(edges.data(), ne, x, y) > -0.5) continue;
      int inside = 0;
      for (int i = 0; i < n; ++i) {
        if (TriangleArea(pts.data(), tris[i]) < 1e-6) continue;
        wq_point a = pts[tris[i].a], b = pts[tris[i].b], c = pts[tris[i].c];
        double d1 = (b.x - a.x) * (y - a.y) - (b.y - a.y) * (x - a.x);
        double d2 = (c.x - b.x) * (y - b.y) - (c.y - b.y) * (x - b.x);
        double d3 = (a.x - c.x) * (y - c.y) - (a.y - c.y) * (x - c.x);
        if ((d1 >= 0 && d2 >= 0 && d3 >= 0) || (d1 <= 0 && d2 <= 0 && d3 <= 0)) ++inside;
      }
      EXPECT_EQ(inside, 1) << x << "," << y;
    }
  }
}

TEST(HeadSwapGeometry, HullDistanceAndSimilarity) {
  std::vector<wq_point> square = {{0, 0}, {10, 0}, {10, 10}, {0, 10}};
  for (bool reversed : {false, true}) {
    if (reversed) std::reverse(square.begin(), square.end());
    wq_edge edges[4];
    int n = wq_hull_edges(square.data(), 4, edges);
    EXPECT_NEAR(wq_hull_distance(edges, n, 5, 5), -5, 1e-9);
    EXPECT_NEAR(wq_hull_distance(edges, n, 5, 2), -2, 1e-9);
    EXPECT_NEAR(wq_hull_distance(edges, n, 13, 5), 3, 1e-9);
    EXPECT_NEAR(wq_hull_distance(edges, n, 5, -1), 1, 1e-9);
  }
  // A similarity (scale 2, 90 degrees, shift (3, 4)) is recovered from the points it maps.
  std::vector<wq_point> from = {{0, 0}, {1, 0}, {0, 1}, {2, 3}}, to;
  for (auto p : from) to.push_back({-2 * p.y + 3, 2 * p.x + 4});
  double m[4];
  wq_similarity_fit(from.data(), to.data(), 4, m);
  wq_point q = wq_similarity_apply(m, {5, -1});
  EXPECT_NEAR(q.x, 2 + 3, 1e-9);
  EXPECT_NEAR(q.y, 10 + 4, 1e-9);
}

TEST(HeadSwapGeometry, PiecewiseAffineWarpOfAShiftIsTheShiftedImage) {
  // Points moved by (+7, -3): every covered pixel of the warp is the source pixel 7 left, 3 down.
  wq_image src = {64, 48, nullptr};
  std::vector<uint8_t> px(64 * 48 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t((i * 37) % 251);
  src.px = px.data();
  std::vector<wq_point> s = {{10, 10}, {50, 12}, {30, 40}, {12, 38}, {48, 36}, {30, 20}}, d;
  for (auto p : s) d.push_back({p.x + 7, p.y - 3});
  wq_triangle tris[16];
  int n = wq_delaunay(d.data(), int(d.size()), tris, 16);
  ASSERT_GT(n, 0);
  std::vector<float> out(64 * 48 * 3);
  std::vector<uint8_t> covered(64 * 48);
  wq_warp_triangles(&src, s.data(), d.data(), tris, n, 0, 0, 64, 48, out.data(), covered.data());
  int count = 0;
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 64; ++x) {
      if (!covered[y * 64 + x]) continue;
      ++count;
      for (int k = 0; k < 3; ++k)
        ASSERT_NEAR(out[(y * 64 + x) * 3 + k], px[((y + 3) * 64 + x - 7) * 3 + k], 1e-2) << x << "," << y;
    }
  EXPECT_GT(count, 800);  // the hull of the points is about 1100 px
}

}  // namespace
}  // namespace wasmq::pipelines::testing
