// BACKGROUND_CHANGE on synthetic images: the foreground stays, the border region takes the new background
// (colour, gradient, image), a given mask decides alone, and the result is compared with the composite the
// test computes itself (PSNR). Then on real photos with the ISNet model (through WASI-NN: natively over
// pipelines/native/wasi_nn_opencv.cc, and under wasmq once it has the WASI-NN host): the matte against
// reference masks (tests/pipelines/data/*.grid, checked by eye against the photos), the people's pixels
// kept, the background replaced; and the fallback to the estimate when there is no model.
#include <cstdlib>
#include <optional>

#include "../require_tool.h"
#include "../photos/photos.h"
#include "harness.h"
#ifdef WASMQ_TEST_WASI_NN
#include "nn/nn.h"
#endif

namespace wasmq::pipelines::testing {
namespace {

using wasmq::testing::Photo;
using wasmq::testing::PhotosDir;

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
  Outcome r = run.Wasm({{"background_color", "#0000ff"}, {"feather", 0}, {"matte", "estimate"}});
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
  Json config = {{"background_gradient", {{"from", "navy"}, {"to", "gold"}, {"angle", 45}}}, {"matte", "estimate"}};
  Outcome wasm = run.Wasm(config), native = run.Native(config);
  ASSERT_TRUE(wasm.ok) << wasm;
  ASSERT_TRUE(native.ok) << native;
  EXPECT_GE(Psnr(wasm.image, native.image), 45.0);
  EXPECT_EQ(run.Native({{"background_color", "nope"}}).code, "UNKNOWN_COLOR");
}

// ---- real photos and the ISNet model -------------------------------------------------------------------

// The size `isnet` alone stands for (pipelines/background_change.c, kDefaultModelSize).
constexpr int kDefaultModelSize = 640;

// A reference mask: '#' a person, '.' background, '?' not scored (what they hold), one character per cell
// of a grid laid over the photo.
struct Grid {
  int cols = 0, rows = 0;
  std::vector<uint8_t> fg, skip;
  bool at(int c, int r) const { return c >= 0 && r >= 0 && c < cols && r < rows && fg[size_t(r) * cols + c]; }
  int cell_x(int x, int w) const { return int(int64_t(x) * cols / w); }
  int cell_y(int y, int h) const { return int(int64_t(y) * rows / h); }
};

Grid ReadGrid(const std::string& name) {
  std::ifstream f(std::string(WASMQ_PIPELINE_TEST_DATA) + "/" + name + ".grid");
  Grid g;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line.rfind("//", 0) == 0) continue;
    g.cols = int(line.size());
    for (char c : line) g.fg.push_back(c == '#'), g.skip.push_back(c == '?');
    ++g.rows;
  }
  return g;
}

// Cells within k cells (Chebyshev) of a foreground cell (grow) or with only foreground that near (shrink).
Grid Morph(const Grid& g, int k, bool grow) {
  Grid out = g;
  for (int r = 0; r < g.rows; ++r)
    for (int c = 0; c < g.cols; ++c) {
      bool any = false, all = true;
      for (int dr = -k; dr <= k; ++dr)
        for (int dc = -k; dc <= k; ++dc) {
          bool inside = c + dc >= 0 && r + dr >= 0 && c + dc < g.cols && r + dr < g.rows;
          bool v = inside ? g.at(c + dc, r + dr) : g.at(c, r);
          any |= v, all &= v;
        }
      out.fg[size_t(r) * g.cols + c] = grow ? any : all;
    }
  return out;
}

// The matte (grey PNG) averaged over each grid cell and cut at 0.5, against the reference.
double Iou(const Image& mask, const Grid& g) {
  std::vector<double> sum(g.fg.size()), count(g.fg.size());
  for (int y = 0; y < mask.h; ++y)
    for (int x = 0; x < mask.w; ++x) {
      size_t cell = size_t(g.cell_y(y, mask.h)) * g.cols + g.cell_x(x, mask.w);
      sum[cell] += mask.at(x, y).r / 255.0;
      count[cell] += 1;
    }
  int both = 0, either = 0;
  for (size_t i = 0; i < g.fg.size(); ++i) {
    if (g.skip[i]) continue;
    bool m = count[i] > 0 && sum[i] / count[i] >= 0.5;
    both += m && g.fg[i];
    either += m || g.fg[i];
  }
  return either ? double(both) / either : 0;
}

// The fraction of the pixels whose cell is set in `where` for which `ok(x, y)` holds.
double FractionWhere(const Image& img, const Grid& where, const std::function<bool(int, int)>& ok) {
  size_t n = 0, good = 0;
  for (int y = 0; y < img.h; ++y)
    for (int x = 0; x < img.w; ++x)
      if (where.at(where.cell_x(x, img.w), where.cell_y(y, img.h))) ++n, good += ok(x, y);
  return n ? double(good) / double(n) : 0;
}

bool Near(Rgb a, Rgb b, int tolerance) {
  return std::abs(a.r - b.r) <= tolerance && std::abs(a.g - b.g) <= tolerance && std::abs(a.b - b.b) <= tolerance;
}

// The ONNX file of isnet-<size>: WASMQ_NN_MODEL_DIR, the build's WASMQ_ISNET_DIR, else the models cache
// (`wasmq models fetch`: <cache>/models/NAME.json names the file; `isnet` is the default size); "" when
// none has it.
std::string IsnetModel(int size) {
  const char* env = std::getenv("WASMQ_NN_MODEL_DIR");
  for (const char* dir : {env, static_cast<const char*>(WASMQ_ISNET_DIR)}) {
    if (!dir || !*dir) continue;
    for (const char* sep : {"-", "_"}) {
      std::string path = std::string(dir) + "/isnet" + sep + std::to_string(size) + ".onnx";
      if (std::filesystem::exists(path)) return path;
    }
  }
  std::string cache;
  if (const char* c = std::getenv("WASMQ_CACHE_DIR"); c && *c) cache = c;
  else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) cache = std::string(x) + "/wasmq";
  else if (const char* home = std::getenv("HOME"); home && *home) cache = std::string(home) + "/.cache/wasmq";
  std::vector<std::string> names = {"isnet-" + std::to_string(size)};
  if (size == kDefaultModelSize) names.push_back("isnet");
  for (const std::string& name : names) {
    Json index = Json::parse(Slurp(cache + "/models/" + name + ".json"), nullptr, /*allow_exceptions=*/false);
    if (index.is_object() && index.contains("path") && index["path"].is_string() &&
        std::filesystem::exists(index["path"].get<std::string>()))
      return index["path"];
  }
  return "";
}

// While alive, the native pipelines find `isnet` (the default size) and isnet-<size> through WASMQ_NN_MODEL;
// the synthetic tests around run without a model.
class ModelEnv {
 public:
  explicit ModelEnv(const std::string& path, int size) {
    if (const char* old = std::getenv("WASMQ_NN_MODEL")) old_ = old;
    std::string list = "isnet-" + std::to_string(size) + "=" + path;
    if (size == kDefaultModelSize) list += ",isnet=" + path;
    setenv("WASMQ_NN_MODEL", list.c_str(), 1);
  }
  ~ModelEnv() {
    if (old_) setenv("WASMQ_NN_MODEL", old_->c_str(), 1);
    else unsetenv("WASMQ_NN_MODEL");
  }

 private:
  std::optional<std::string> old_;
};

#ifdef WASMQ_TEST_WASI_NN
// Once per process: adding a name again would replace it, and the host would parse the model anew.
void RegisterWasmModel(const std::string& name, const std::string& path) {
  static const bool added = [&] {
    auto r = nn::DefaultHost().models().Add(name + "=" + path);
    if (!r) ADD_FAILURE() << r.error().message;
    return true;
  }();
  (void)added;
}
#endif

struct PhotoCase {
  std::string photo, grid;
  double min_fraction, max_fraction;
};

// One photo through the pipeline with the model, natively; the result, the matte and the summary checked
// against the reference.
// Natively the model is `isnet` (the default config); under wasmq (wasm = true) it is registered with the
// WASI-NN host under a name of its own, so the synthetic tests in the same process still run without one.
void CheckPhoto(const PhotoCase& pc, const Json& background, const std::function<Rgb(int, int, int, int)>& bg_at,
                bool wasm = false) {
  std::string photos = PhotosDir(), model = IsnetModel(kDefaultModelSize);
  WASMQ_REQUIRE(!photos.empty(), "no photos: tests/photos/fetch could not fill " WASMQ_PHOTOS_DIR);
  WASMQ_REQUIRE(!model.empty(), "no isnet-" << kDefaultModelSize << " model: set WASMQ_NN_MODEL_DIR or WASMQ_ISNET_DIR");
  ModelEnv env(model, kDefaultModelSize);
  PipelineRun run("BACKGROUND_CHANGE");
  std::string bytes = Slurp(photos + "/" + pc.photo);
  run.Input("source" + pc.photo.substr(pc.photo.rfind('.')), bytes);
  Image src = DecodeImage(bytes);
  Json config = background;
  config["output_mask"] = true;
  std::string name = "isnet";
#ifdef WASMQ_TEST_WASI_NN
  if (wasm) {
    name = "isnet-wasmtest-" + std::to_string(kDefaultModelSize);
    RegisterWasmModel(name, model);
    config["model"] = name;
  }
#endif
  Outcome r = wasm ? run.Wasm(config) : run.Native(config);
  ASSERT_TRUE(r.ok) << r;
  EXPECT_EQ(r.summary["matte"], "model") << r.summary.dump();
  EXPECT_EQ(r.summary["model"], name);
  EXPECT_EQ(r.summary["model_size"], kDefaultModelSize);
  EXPECT_EQ(r.summary["mask"], "mask.png");
  double fraction = r.summary["foreground_fraction"].get<double>();
  EXPECT_GE(fraction, pc.min_fraction);
  EXPECT_LE(fraction, pc.max_fraction);
  ASSERT_EQ(r.image.w, src.w);
  ASSERT_EQ(r.image.h, src.h);

  std::string mask_png = Slurp(run.OutFile("mask.png"));
  int mw = 0, mh = 0, channels = 0;
  unsigned char* grey = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(mask_png.data()),
                                              int(mask_png.size()), &mw, &mh, &channels, 0);
  ASSERT_NE(grey, nullptr) << "mask.png does not decode";
  stbi_image_free(grey);
  EXPECT_EQ(channels, 1) << "mask.png is 8-bit grey";
  Image mask = DecodeImage(mask_png);
  ASSERT_EQ(mask.w, src.w);
  ASSERT_EQ(mask.h, src.h);

  Grid ref = ReadGrid(pc.grid);
  ASSERT_GT(ref.rows, 0) << pc.grid;
  double iou = Iou(mask, ref);
  EXPECT_GE(iou, 0.9) << pc.photo;
  // Well inside the people (the reference shrunk by two cells) the pixels are the photo's own ...
  double kept = FractionWhere(src, Morph(ref, 2, false), [&](int x, int y) { return Near(r.image.at(x, y), src.at(x, y), 2); });
  EXPECT_GE(kept, 0.97) << pc.photo;
  // ... and well outside them and what they hold (grown by two cells) the new background.
  Grid outside = ref;
  for (size_t i = 0; i < outside.fg.size(); ++i) outside.fg[i] = ref.fg[i] || ref.skip[i];
  outside = Morph(outside, 2, true);
  for (uint8_t& v : outside.fg) v = !v;
  double replaced = FractionWhere(src, outside, [&](int x, int y) {
    return Near(r.image.at(x, y), bg_at(x, y, src.w, src.h), 2);
  });
  EXPECT_GE(replaced, 0.97) << pc.photo;
  std::printf("[ %s ] %s: IoU %.3f, foreground %.3f, kept %.3f, replaced %.3f\n", wasm ? "wasm" : "native",
              pc.photo.c_str(), iou, fraction, kept, replaced);
}

constexpr Rgb kTeal{0, 128, 128};

TEST(BackgroundChangePhotos, MessiOnTealKeepsThePlayerWhole) {
  CheckPhoto({"messi5.jpg", "messi5", 0.10, 0.25}, {{"background_color", "teal"}},
             [](int, int, int, int) { return kTeal; });
}

TEST(BackgroundChangePhotos, BasketballKeepsBothPeople) {
  CheckPhoto({"basketball1.png", "basketball1", 0.20, 0.45}, {{"background_color", "teal"}},
             [](int, int, int, int) { return kTeal; });
}

TEST(BackgroundChangePhotos, AstronautOnAGradient) {
  // 90deg: black at the left edge to white at the right (CSS geometry; see GradientFollowsTheCssAngle).
  CheckPhoto({"astronaut.png", "astronaut", 0.40, 0.75},
             {{"background_gradient", {{"from", "black"}, {"to", "white"}, {"angle", 90}}}},
             [](int x, int, int w, int) {
               uint8_t v = Clamp8(int(std::lround(255.0 * (x + 0.5) / w)));
               return Rgb{v, v, v};
             });
}

#ifdef WASMQ_TEST_WASI_NN
// The same three under wasmq, the model through its WASI-NN host.
TEST(BackgroundChangePhotos, WasmMessi) {
  CheckPhoto({"messi5.jpg", "messi5", 0.10, 0.25}, {{"background_color", "teal"}},
             [](int, int, int, int) { return kTeal; }, /*wasm=*/true);
}

TEST(BackgroundChangePhotos, WasmBasketball) {
  CheckPhoto({"basketball1.png", "basketball1", 0.20, 0.45}, {{"background_color", "teal"}},
             [](int, int, int, int) { return kTeal; }, /*wasm=*/true);
}

TEST(BackgroundChangePhotos, WasmAstronaut) {
  CheckPhoto({"astronaut.png", "astronaut", 0.40, 0.75},
             {{"background_gradient", {{"from", "black"}, {"to", "white"}, {"angle", 90}}}},
             [](int x, int, int w, int) {
               uint8_t v = Clamp8(int(std::lround(255.0 * (x + 0.5) / w)));
               return Rgb{v, v, v};
             }, /*wasm=*/true);
}

// Under wasmq: the module asks the WASI-NN host for the same model and must give the native picture.
TEST(BackgroundChangePhotos, WasmMatchesNative) {
  std::string photos = PhotosDir(), model = IsnetModel(kDefaultModelSize);
  WASMQ_REQUIRE(!photos.empty(), "no photos");
  WASMQ_REQUIRE(!model.empty(), "no isnet-" << kDefaultModelSize << " model");
  // Registered under a name of its own, so the synthetic tests in this process still run without a model.
  std::string name = "isnet-wasmtest-" + std::to_string(kDefaultModelSize);
  RegisterWasmModel(name, model);
  ModelEnv env(model, kDefaultModelSize);
  setenv("WASMQ_NN_MODEL", (std::string(std::getenv("WASMQ_NN_MODEL")) + "," + name + "=" + model).c_str(), 1);
  PipelineRun run("BACKGROUND_CHANGE");
  run.Input("source.jpg", Slurp(photos + "/messi5.jpg"));
  Json config = {{"background_color", "teal"}, {"model", name}, {"output_mask", true}};
  Outcome wasm = run.Wasm(config);
  ASSERT_TRUE(wasm.ok) << wasm;
  Image wasm_mask = DecodeImage(Slurp(run.OutFile("mask.png")));
  Outcome native = run.Native(config);
  ASSERT_TRUE(native.ok) << native;
  EXPECT_EQ(wasm.summary["matte"], "model") << wasm.summary.dump();
  EXPECT_GE(Psnr(wasm.image, native.image), 40.0);
  EXPECT_GE(Iou(wasm_mask, ReadGrid("messi5")), 0.9);
}
#endif

TEST(BackgroundChange, FallsBackToTheEstimateWithoutTheModel) {
  PipelineRun run("BACKGROUND_CHANGE");
  Image src = DiskOnGreen(128, 40);
  run.InputPng("source", src);
  // No such model natively (the shim finds none) or under wasmq: the estimate, and why.
  for (bool wasm : {false, true}) {
    Json config = {{"background_color", "blue"}, {"model", "no-such-model"}, {"feather", 0}};
    Outcome r = wasm ? run.Wasm(config) : run.Native(config);
    ASSERT_TRUE(r.ok) << r;
    EXPECT_EQ(r.summary["matte"], "estimated");
    ASSERT_TRUE(r.summary.contains("matte_note")) << r.summary.dump();
    EXPECT_FALSE(r.summary["matte_note"].get<std::string>().empty());
    if (!wasm) {
      EXPECT_NE(r.summary["matte_note"].get<std::string>().find("not installed"), std::string::npos);
    }
    EXPECT_NEAR(r.summary["foreground_fraction"].get<double>(), M_PI * 40 * 40 / (128.0 * 128), 0.02);
    EXPECT_EQ(r.image.at(0, 0), kBlue);
  }
  // "matte": "model" insists; "estimate" never asks.
  Outcome insist = run.Native({{"background_color", "blue"}, {"model", "no-such-model"}, {"matte", "model"}});
  EXPECT_EQ(insist.code, "MODEL_UNAVAILABLE") << insist;
  EXPECT_NE(insist.message.find("no-such-model"), std::string::npos) << insist.message;
  Outcome estimate = run.Native({{"background_color", "blue"}, {"matte", "estimate"}});
  ASSERT_TRUE(estimate.ok) << estimate;
  EXPECT_EQ(estimate.summary["matte"], "estimated");
  // The estimate's matte can be written too.
  Outcome masked = run.Wasm({{"background_color", "blue"}, {"matte", "estimate"}, {"output_mask", true}, {"feather", 0}});
  ASSERT_TRUE(masked.ok) << masked;
  Image mask = DecodeImage(Slurp(run.OutFile("mask.png")));
  ASSERT_EQ(mask.w, 128);
  EXPECT_EQ(mask.at(64, 64), (Rgb{255, 255, 255}));
  EXPECT_EQ(mask.at(2, 2), (Rgb{0, 0, 0}));
}

TEST(BackgroundChange, ModelConfigErrors) {
  PipelineRun run("BACKGROUND_CHANGE");
  run.InputPng("source", DiskOnGreen(32, 8));
  EXPECT_EQ(run.Wasm({{"background_color", "red"}, {"model", 3}}).code, "INVALID_CONFIG");
  EXPECT_EQ(run.Wasm({{"background_color", "red"}, {"model", ""}}).code, "INVALID_CONFIG");
  EXPECT_EQ(run.Wasm({{"background_color", "red"}, {"model", "isnet-9999"}}).code, "INVALID_CONFIG");
  EXPECT_EQ(run.Wasm({{"background_color", "red"}, {"matte", "magic"}}).code, "INVALID_CONFIG");
  EXPECT_EQ(run.Wasm({{"background_color", "red"}, {"output_mask", "yes"}}).code, "INVALID_CONFIG");
}

}  // namespace
}  // namespace wasmq::pipelines::testing
