// The built-in face-detect engine. No Debian package in the build's dependencies ships a face photograph
// (OpenCV's samples with lena.jpg are in opencv-doc, 96 MB), so the test draws a synthetic face — skin
// oval, dark eyes and brows, nose, mouth, blurred — that Debian's frontal-face Haar cascade detects, and
// checks the box lies on it; a blank image and a landscape of stripes have no face.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "engines/engines.h"

namespace wasmq::engines {
namespace {

using Json = nlohmann::json;

// A 400×300 PNG (or JPEG) with a face centred at (cx, cy), about 210 px tall, or without one.
std::string Picture(bool face, int cx = 200, int cy = 150, const char* ext = ".png") {
  cv::Mat img(300, 400, CV_8UC3, cv::Scalar(60, 70, 50));
  if (face) {
    cv::ellipse(img, {cx, cy}, {80, 105}, 0, 0, 360, cv::Scalar(150, 180, 210), -1);
    for (int dx : {-30, 30}) {
      cv::ellipse(img, {cx + dx, cy - 20}, {16, 8}, 0, 0, 360, cv::Scalar(40, 40, 40), -1);  // eye
      cv::ellipse(img, {cx + dx, cy - 40}, {22, 5}, 0, 0, 360, cv::Scalar(60, 70, 80), -1);  // brow
    }
    cv::ellipse(img, {cx, cy + 20}, {8, 18}, 0, 0, 360, cv::Scalar(120, 145, 170), -1);  // nose
    cv::ellipse(img, {cx, cy + 60}, {28, 7}, 0, 0, 360, cv::Scalar(70, 70, 120), -1);    // mouth
  } else {
    for (int x = 0; x < 400; x += 40)
      cv::rectangle(img, {x, 0}, {x + 20, 300}, cv::Scalar(200, 200, 200), -1);
  }
  cv::GaussianBlur(img, img, {9, 9}, 3);
  std::vector<uchar> bytes;
  cv::imencode(ext, img, bytes);
  return std::string(bytes.begin(), bytes.end());
}

std::unique_ptr<EngineRegistry> Builtins() {
  auto r = EngineRegistry::Load("");
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(*r) : nullptr;
}

TEST(FaceDetect, FindsTheFaceAndItsBox) {
  auto reg = Builtins();
  for (const char* ext : {".png", ".jpg"}) {
    Response r = reg->Call("face-detect", {"{}", Picture(true, 200, 150, ext)});
    ASSERT_EQ(r.status, Status::Ok) << r.message;
    Json j = Json::parse(r.json);
    EXPECT_EQ(j["width"], 400);
    EXPECT_EQ(j["height"], 300);
    ASSERT_EQ(j["faces"].size(), 1u) << j.dump();
    const Json& f = j["faces"][0];
    int x = f["x"], y = f["y"], w = f["w"], h = f["h"];
    EXPECT_TRUE(x < 200 && 200 < x + w && y < 150 && 150 < y + h) << j.dump();  // on the face
    EXPECT_GT(w, 100);
    EXPECT_LT(w, 300);
  }
}

TEST(FaceDetect, ALargePhotoIsScannedSmallerAndTheBoxScaledBack) {
  std::string small = Picture(true);
  cv::Mat img = cv::imdecode(std::vector<uchar>(small.begin(), small.end()), cv::IMREAD_COLOR), big;
  cv::resize(img, big, cv::Size(), 3, 3, cv::INTER_LINEAR);  // 1200×900, scanned at 800×600
  std::vector<uchar> bytes;
  cv::imencode(".png", big, bytes);
  Response r = Builtins()->Call("face-detect", {"{}", std::string(bytes.begin(), bytes.end())});
  ASSERT_EQ(r.status, Status::Ok) << r.message;
  Json j = Json::parse(r.json);
  EXPECT_EQ(j["width"], 1200);
  ASSERT_EQ(j["faces"].size(), 1u) << j.dump();
  int x = j["faces"][0]["x"], y = j["faces"][0]["y"], w = j["faces"][0]["w"], h = j["faces"][0]["h"];
  EXPECT_TRUE(x < 600 && 600 < x + w && y < 450 && 450 < y + h) << j.dump();  // in the big image's pixels
  EXPECT_GT(w, 300);
}

TEST(FaceDetect, NoFaceGivesAnEmptyList) {
  auto reg = Builtins();
  Response r = reg->Call("face-detect", {R"({"max_faces":3,"min_size":30})", Picture(false)});
  ASSERT_EQ(r.status, Status::Ok) << r.message;
  EXPECT_EQ(Json::parse(r.json)["faces"], Json::array());
}

TEST(FaceDetect, MinSizeAboveTheFaceFindsNothing) {
  Response r = Builtins()->Call("face-detect", {R"({"min_size":290})", Picture(true)});
  ASSERT_EQ(r.status, Status::Ok) << r.message;
  EXPECT_EQ(Json::parse(r.json)["faces"].size(), 0u);
}

TEST(FaceDetect, BadRequestsAreRefused) {
  auto reg = Builtins();
  EXPECT_EQ(reg->Call("face-detect", {"{}", "not an image"}).status, Status::BadRequest);
  EXPECT_EQ(reg->Call("face-detect", {"{}", ""}).status, Status::BadRequest);
  EXPECT_EQ(reg->Call("face-detect", {R"({"max_faces":0})", Picture(true)}).status, Status::BadRequest);
  EXPECT_EQ(reg->Call("face-detect", {R"([1,2])", Picture(true)}).status, Status::BadRequest);
}

TEST(FaceDetect, AConfiguredCascadeThatDoesNotExistStopsTheStart) {
  auto reg =
      EngineRegistry::Parse(R"({"engines":{"faces":{"kind":"builtin","cascade":"/no/such.xml"}}})", "e.json");
  EXPECT_FALSE(reg.ok());
  EXPECT_EQ(reg.error().message, "engine config e.json: engines.faces.cascade: no such file: /no/such.xml");
}

}  // namespace
}  // namespace wasmq::engines
