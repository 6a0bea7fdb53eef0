// The built-in face-landmarks engine (dlib, from wasmq-face-landmarks.so) on real photos: the face boxes and
// six landmarks of each (the outer eye corners 36 and 45, the nose tip 30, the mouth corners 48 and 54, the
// chin 8) are compared with positions read off the photos by eye, with the 68 points drawn on a copy:
// astronaut.png (one face, ~90 px), messi5.jpg and basketball1.png (one ~36 px face each: the engine
// enlarges the image to find faces smaller than dlib's 80 px window). Photos without a person have none.
// The photos come from tests/photos/fetch into the build's photos folder; without them the tests skip.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engines/engines.h"
#include "../photos/photos.h"
#include "../require_tool.h"

namespace wasmq::engines {
namespace {

using Json = nlohmann::json;

using wasmq::testing::Photo;

// One registry for the whole binary: the model is read once (about 2 s).
EngineRegistry& Builtins() {
  static EngineRegistry* reg = [] {
    auto r = EngineRegistry::Load("");
    if (!r) std::abort();
    return r->release();
  }();
  return *reg;
}

struct Expected {
  const char* photo;
  int x, y, w, h;            // the face box
  int points[6][3];          // landmark index, x, y
};

// Read off the photos (the landmarks drawn on a 4-6× enlarged copy of each face).
const Expected kFaces[] = {
    {"astronaut.png", 177, 77, 90, 90, {{36, 195, 101}, {45, 255, 104}, {30, 225, 127}, {48, 200, 139}, {54, 246, 141}, {8, 221, 178}}},
    {"messi5.jpg", 227, 95, 36, 36, {{36, 237, 109}, {45, 253, 107}, {30, 248, 118}, {48, 240, 124}, {54, 250, 122}, {8, 245, 133}}},
    {"basketball1.png", 75, 95, 36, 36, {{36, 82, 108}, {45, 101, 107}, {30, 97, 113}, {48, 87, 122}, {54, 100, 121}, {8, 96, 135}}},
};

TEST(FaceLandmarks, FacesAndLandmarksOnRealPhotos) {
  for (const Expected& e : kFaces) {
    SCOPED_TRACE(e.photo);
    std::string bytes = Photo(e.photo);
    WASMQ_REQUIRE(!bytes.empty(), std::string("no ") + e.photo + " (tests/photos/fetch " WASMQ_PHOTOS_DIR ")");
    Response r = Builtins().Call("face-landmarks", {"{}", bytes});
    ASSERT_EQ(r.status, Status::Ok) << r.message;
    Json j = Json::parse(r.json);
    ASSERT_GE(j["faces"].size(), 1u) << j.dump();
    const Json& f = j["faces"][0];
    // The box within 6 px (dlib's boxes are on a scale grid), every landmark within 4 px.
    EXPECT_NEAR(f["box"]["x"].get<int>(), e.x, 6) << f["box"].dump();
    EXPECT_NEAR(f["box"]["y"].get<int>(), e.y, 6) << f["box"].dump();
    EXPECT_NEAR(f["box"]["w"].get<int>(), e.w, 8) << f["box"].dump();
    EXPECT_NEAR(f["box"]["h"].get<int>(), e.h, 8) << f["box"].dump();
    ASSERT_EQ(f["landmarks"].size(), 68u);
    for (const auto& p : e.points) {
      EXPECT_NEAR(f["landmarks"][p[0]][0].get<double>(), p[1], 4) << "landmark " << p[0];
      EXPECT_NEAR(f["landmarks"][p[0]][1].get<double>(), p[2], 4) << "landmark " << p[0];
    }
    EXPECT_GT(f["score"].get<double>(), 0);
  }
}

TEST(FaceLandmarks, LargestFirstAndTheImageSize) {
  std::string bytes = Photo("astronaut.png");
  WASMQ_REQUIRE(!bytes.empty(), "no astronaut.png (tests/photos/fetch " WASMQ_PHOTOS_DIR ")");
  Response r = Builtins().Call("face-landmarks", {R"({"max_faces": 5})", bytes});
  ASSERT_EQ(r.status, Status::Ok) << r.message;
  Json j = Json::parse(r.json);
  EXPECT_EQ(j["width"], 512);
  EXPECT_EQ(j["height"], 512);
  for (size_t i = 1; i < j["faces"].size(); ++i)
    EXPECT_GE(j["faces"][i - 1]["box"]["w"].get<int>() * j["faces"][i - 1]["box"]["h"].get<int>(),
              j["faces"][i]["box"]["w"].get<int>() * j["faces"][i]["box"]["h"].get<int>());
}

TEST(FaceLandmarks, SmallFacesNeedTheEnlargement) {
  // messi5's face is 36 px: with min_size 80 (no enlargement) dlib's 80 px window misses it.
  std::string bytes = Photo("messi5.jpg");
  WASMQ_REQUIRE(!bytes.empty(), "no messi5.jpg (tests/photos/fetch " WASMQ_PHOTOS_DIR ")");
  Response small = Builtins().Call("face-landmarks", {R"({"min_size": 80})", bytes});
  ASSERT_EQ(small.status, Status::Ok) << small.message;
  EXPECT_EQ(Json::parse(small.json)["faces"].size(), 0u) << small.json;
}

TEST(FaceLandmarks, ASmallFaceBeyondTheScanBudgetIsFoundByASecondScan) {
  // messi5's 36 px face with a budget of its own size: the first scan (1x, 80 px windows) misses it; the
  // second, enlarged 2x as min_size 40 asks, finds it where it is.
  std::string bytes = Photo("messi5.jpg");
  WASMQ_REQUIRE(!bytes.empty(), "no messi5.jpg (tests/photos/fetch " WASMQ_PHOTOS_DIR ")");
  Response r = Builtins().Call("face-landmarks", {R"({"scan_pixels": 187416})", bytes});
  ASSERT_EQ(r.status, Status::Ok) << r.message;
  Json j = Json::parse(r.json);
  ASSERT_EQ(j["faces"].size(), 1u) << r.json;
  EXPECT_NEAR(j["faces"][0]["box"]["x"].get<int>(), 227, 6) << r.json;
  EXPECT_NEAR(j["faces"][0]["box"]["y"].get<int>(), 95, 6) << r.json;
}

TEST(FaceLandmarks, PhotosWithoutPeopleHaveNoFaces) {
  for (const char* name : {"starry_night.jpg", "fruits.jpg"}) {
    std::string bytes = Photo(name);
    WASMQ_REQUIRE(!bytes.empty(), std::string("no ") + name);
    Response r = Builtins().Call("face-landmarks", {"{}", bytes});
    ASSERT_EQ(r.status, Status::Ok) << r.message;
    EXPECT_EQ(Json::parse(r.json)["faces"], Json::array()) << name;
  }
}

TEST(FaceLandmarks, BadRequestsAreRefused) {
  EXPECT_EQ(Builtins().Call("face-landmarks", {"{}", ""}).status, Status::BadRequest);
  EXPECT_EQ(Builtins().Call("face-landmarks", {"{}", "not an image"}).status, Status::BadRequest);
  EXPECT_EQ(Builtins().Call("face-landmarks", {R"({"min_size": 5})", "x"}).status, Status::BadRequest);
  EXPECT_EQ(Builtins().Call("face-landmarks", {R"({"max_faces": "all"})", "x"}).status, Status::BadRequest);
  EXPECT_EQ(Builtins().Call("face-landmarks", {R"({"scan_pixels": 1})", "x"}).status, Status::BadRequest);
}

TEST(FaceLandmarks, AConfiguredModelThatDoesNotExistStopsTheStart) {
  auto r = EngineRegistry::Parse(
      R"({"engines": {"lm": {"kind": "builtin", "builtin": "face-landmarks", "model": "/nonexistent.dat"}}})", "x.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("engines.lm.model: no such file"), std::string::npos) << r.error().message;
  auto ok = EngineRegistry::Parse(R"({"engines": {"lm": {"kind": "builtin", "builtin": "face-landmarks"}}})", "x.json");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_NE((*ok)->Find("lm"), nullptr);
}

}  // namespace
}  // namespace wasmq::engines
