// The pipelines' PNG encoder (pipelines/common/png_write.c), read back by libpng, the reference decoder,
// and by stb (what the pipelines decode with): every pixel must come back, for photos, flat colours, noise,
// grey and RGBA, odd sizes and strides.
#include <gtest/gtest.h>
#include <png.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "common/image.h"
#include "common/png_write.h"
}
#include "../require_tool.h"
#include "../photos/photos.h"
#include "harness.h"

namespace {

using wasmq::testing::Photo;

struct Encoded {
  uint8_t* data = nullptr;
  size_t size = 0, cap = 0;
  ~Encoded() { free(data); }
};

// libpng's simplified API: the pixels in the file's own format, or an error text.
std::vector<uint8_t> DecodeWithLibpng(const Encoded& e, int channels, int* w, int* h, std::string* error) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, e.data, e.size)) {
    *error = image.message;
    return {};
  }
  image.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
  std::vector<uint8_t> px(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, px.data(), 0, nullptr)) {
    *error = image.message;
    return {};
  }
  *w = static_cast<int>(image.width);
  *h = static_cast<int>(image.height);
  return px;
}

void ExpectRoundTrip(const std::vector<uint8_t>& px, int w, int h, int channels, size_t stride) {
  SCOPED_TRACE(std::to_string(w) + "x" + std::to_string(h) + "x" + std::to_string(channels));
  Encoded e;
  ASSERT_EQ(wq_png_write(px.data(), w, h, channels, stride, &e.data, &e.size, &e.cap), 1);
  int dw = 0, dh = 0;
  std::string error;
  auto decoded = DecodeWithLibpng(e, channels, &dw, &dh, &error);
  ASSERT_FALSE(decoded.empty()) << "libpng: " << error;
  ASSERT_EQ(dw, w);
  ASSERT_EQ(dh, h);
  const size_t row = static_cast<size_t>(w) * channels;
  for (int y = 0; y < h; ++y)
    ASSERT_EQ(0, memcmp(decoded.data() + y * row, px.data() + y * stride, row)) << "row " << y;
  if (channels == 3) {  // and what the pipelines themselves decode with
    wq_image img{};
    const char* reason = nullptr;
    ASSERT_EQ(wq_image_decode(e.data, e.size, &img, &reason), WQ_IMG_OK) << (reason ? reason : "");
    for (int y = 0; y < h; ++y) ASSERT_EQ(0, memcmp(img.px + y * row, px.data() + y * stride, row));
    wq_image_free(&img);
  }
}

std::vector<uint8_t> Noise(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

TEST(PngWrite, NoiseInEveryLayoutRoundTrips) {
  for (int channels : {1, 3, 4})
    for (auto [w, h] : {std::pair{1, 1}, {2, 3}, {17, 5}, {300, 200}, {1023, 7}}) {
      auto px = Noise(static_cast<size_t>(w) * h * channels, static_cast<uint32_t>(w * 31 + h + channels));
      ExpectRoundTrip(px, w, h, channels, static_cast<size_t>(w) * channels);
    }
}

TEST(PngWrite, FlatColourCompressesToAlmostNothing) {
  const int w = 1024, h = 1024;
  std::vector<uint8_t> px(static_cast<size_t>(w) * h * 3);
  for (size_t i = 0; i < px.size(); i += 3) px[i] = 0, px[i + 1] = 128, px[i + 2] = 128;  // teal
  ExpectRoundTrip(px, w, h, 3, static_cast<size_t>(w) * 3);
  Encoded e;
  ASSERT_EQ(wq_png_write(px.data(), w, h, 3, static_cast<size_t>(w) * 3, &e.data, &e.size, &e.cap), 1);
  EXPECT_LT(e.size, 20000u) << "3 MiB of one colour";
}

TEST(PngWrite, GradientsRunsAndAStrideRoundTrip) {
  const int w = 640, h = 480, channels = 3;
  const size_t stride = static_cast<size_t>(w) * channels + 13;  // rows with padding between them
  std::vector<uint8_t> px(stride * h, 0xEE);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = px.data() + y * stride + x * channels;
      p[0] = static_cast<uint8_t>(x * 255 / w);
      p[1] = static_cast<uint8_t>(y < h / 2 ? 200 : (x / 7) & 1 ? 255 : 0);  // a flat half, stripes below
      p[2] = static_cast<uint8_t>((x + y) & 0xFF);
    }
  ExpectRoundTrip(px, w, h, channels, stride);
}

TEST(PngWrite, RealPhotosRoundTripNoLargerThanRaw) {
  for (const char* name : {"messi5.jpg", "astronaut.png", "basketball1.png"}) {
    const std::string bytes = Photo(name);
    WASMQ_REQUIRE(!bytes.empty(), "no photos (tests/photos/fetch " WASMQ_PHOTOS_DIR ")");
    wq_image img{};
    const char* reason = nullptr;
    ASSERT_EQ(wq_image_decode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &img, &reason), WQ_IMG_OK) << name;
    std::vector<uint8_t> px(img.px, img.px + static_cast<size_t>(img.w) * img.h * 3);
    ExpectRoundTrip(px, img.w, img.h, 3, static_cast<size_t>(img.w) * 3);
    Encoded e;
    ASSERT_EQ(wq_png_write(px.data(), img.w, img.h, 3, static_cast<size_t>(img.w) * 3, &e.data, &e.size, &e.cap), 1);
    EXPECT_LT(e.size, px.size() * 9 / 10) << name << ": a photo must compress";
    wq_image_free(&img);
  }
}

TEST(PngWrite, RefusesBadArguments) {
  uint8_t px[12] = {0};
  Encoded e;
  EXPECT_EQ(wq_png_write(px, 0, 1, 3, 3, &e.data, &e.size, &e.cap), 0);
  EXPECT_EQ(wq_png_write(px, 1, 1, 2, 2, &e.data, &e.size, &e.cap), 0);
  EXPECT_EQ(wq_png_write(px, 2, 1, 3, 5, &e.data, &e.size, &e.cap), 0);  // stride shorter than a row
  EXPECT_EQ(wq_png_write(nullptr, 1, 1, 3, 3, &e.data, &e.size, &e.cap), 0);
}

}  // namespace
