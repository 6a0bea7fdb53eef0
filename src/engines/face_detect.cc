// File: src/engines/face_detect.cc
//
// The built-in `face-detect` engine: OpenCV's Haar cascade classifier with Debian's frontal-face cascade.
//   request  {"max_faces"?: N, "min_size"?: pixels} + payload = an encoded image (PNG, JPEG, BMP, GIF, ...)
//   response {"faces": [{"x","y","w","h"}...] (largest first), "width", "height"}
// The image is decoded here with stb_image (its size checked before any pixel is decoded); OpenCV itself
// lives in wasmq-face-detect.so (face_module/), opened with dlopen on the first call, so that neither start-up
// nor processes that never detect a face pay for OpenCV's ~140 shared libraries. A classifier is not safe
// to share between threads while detecting, so calls take turns on one; a detection on a 1024-pixel photo
// takes about 50 ms.
#include <dlfcn.h>
#include <stb/stb_image.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "base/mutex.h"
#include "engines/face_module/face_module.h"
#include "engines/face_module/loader.h"
#include "engines/internal.h"
#include "json/json.h"

namespace wasmq::engines {

namespace {

constexpr int64_t kMaxPixels = 50'000'000;  // refuse larger images
constexpr int kDetectSide = 800;            // larger images are scanned at this size

// The OpenCV module and one classifier from it, loaded once.
struct Detector {
  void* library = nullptr;
  void* classifier = nullptr;
  decltype(&wasmq_face_detect) detect = nullptr;
  std::string error;  // why it could not be loaded

  void Load(const std::string& cascade) {
#ifdef WASMQ_FACE_DETECT_BUILD_PATH
    const char* build_path = WASMQ_FACE_DETECT_BUILD_PATH;
#else
    const char* build_path = nullptr;
#endif
    std::string why;
    library = OpenFaceModule("wasmq-face-detect.so", "WASMQ_FACE_DETECT_LIB", build_path, &why);
    if (!library) {
      error = "face-detect is not available: " + why;
      return;
    }
    auto open = reinterpret_cast<decltype(&wasmq_face_open)>(dlsym(library, WASMQ_FACE_OPEN_SYMBOL));
    detect = reinterpret_cast<decltype(&wasmq_face_detect)>(dlsym(library, WASMQ_FACE_DETECT_SYMBOL));
    if (!open || !detect) {
      error = "face-detect is not available: wasmq-face-detect.so lacks its functions";
      return;
    }
    char err[256] = "";
    classifier = open(cascade.c_str(), err, sizeof err);
    if (!classifier) error = "cannot load the face cascade " + cascade + ": " + err;
  }
};

struct FreeStbi {
  void operator()(unsigned char* p) const { stbi_image_free(p); }
};

class FaceDetectEngine final : public Engine {
 public:
  FaceDetectEngine(std::string cascade, int64_t timeout_ms) : cascade_path_(std::move(cascade)) {
    timeout_ms_ = timeout_ms;
  }
  std::string_view kind() const override { return "builtin"; }

  Response Call(const Request& request, const CallContext& ctx) const override {
    Json req = wasmq::json::Parse(request.json);
    if (!req.is_object()) return Failure(Status::BadRequest, "the request must be a JSON object");
    int64_t max_faces = 16, min_size = 24;
    if (auto e = ReadInt(req, "max_faces", 1, 1000, &max_faces)) return *e;
    if (auto e = ReadInt(req, "min_size", 8, 100000, &min_size)) return *e;
    if (request.payload.empty()) return Failure(Status::BadRequest, "the payload must be an encoded image");

    const auto* bytes = reinterpret_cast<const stbi_uc*>(request.payload.data());
    const int len = static_cast<int>(std::min<size_t>(request.payload.size(), INT32_MAX));
    int width = 0, height = 0, channels = 0;
    if (!stbi_info_from_memory(bytes, len, &width, &height, &channels) || width <= 0 || height <= 0)
      return Failure(Status::BadRequest, "the payload is not an image face-detect can decode");
    if (int64_t(width) * height > kMaxPixels) return Failure(Status::TooLarge, "the image is too large");
    std::unique_ptr<unsigned char, FreeStbi> gray(stbi_load_from_memory(bytes, len, &width, &height, &channels, 1));
    if (!gray) return Failure(Status::BadRequest, std::string("the image cannot be decoded: ") + stbi_failure_reason());
    if (ctx.Expired()) return Failure(Status::Timeout, "no time left before detection");

    std::vector<WasmqFaceBox> boxes(static_cast<size_t>(max_faces));
    int32_t found;
    char err[256] = "";
    {
      base::MutexLock lock(mu_);
      if (!loaded_) {
        loaded_ = true;
        detector_.Load(cascade_path_);
      }
      if (!detector_.classifier) return Failure(Status::Failed, detector_.error);
      found = detector_.detect(detector_.classifier, gray.get(), width, height, width, static_cast<int32_t>(min_size),
                               kDetectSide, boxes.data(), static_cast<int32_t>(boxes.size()), err, sizeof err);
    }
    if (found < 0) return Failure(Status::Failed, std::string("face detection failed: ") + err);
    boxes.resize(std::min<size_t>(boxes.size(), static_cast<size_t>(found)));
    Json list = Json::array();
    for (const WasmqFaceBox& f : boxes) list.push_back({{"x", f.x}, {"y", f.y}, {"w", f.w}, {"h", f.h}});
    Response r;
    r.json = Json{{"faces", list}, {"width", width}, {"height", height}}.dump();
    return r;
  }

 private:
  static std::optional<Response> ReadInt(const Json& j, const char* key, int64_t min, int64_t max,
                                         int64_t* out) {
    if (!j.contains(key) || j[key].is_null()) return std::nullopt;
    if (!j[key].is_number_integer() || j[key].get<int64_t>() < min || j[key].get<int64_t>() > max)
      return Failure(Status::BadRequest, std::string(key) + " must be an integer from " +
                                             std::to_string(min) + " to " + std::to_string(max));
    *out = j[key].get<int64_t>();
    return std::nullopt;
  }

  std::string cascade_path_;
  mutable base::Mutex mu_;
  mutable Detector detector_ GUARDED_BY(mu_);  // loaded on the first call, kept for the process
  mutable bool loaded_ GUARDED_BY(mu_) = false;
};

}  // namespace

Result<std::unique_ptr<Engine>> NewFaceDetectEngine(const Fields& f) {
  if (auto r = f.OnlyKeys({"kind", "builtin", "cascade", "timeout_ms"}); !r) return r.error();
  Result<std::string> cascade = f.Path("cascade", std::string(kDefaultFaceCascade));
  if (!cascade) return cascade.error();
  std::error_code ec;
  if (f.Has("cascade") && !std::filesystem::is_regular_file(*cascade, ec))
    return f.Fail("cascade", "no such file: " + *cascade);
  Result<int64_t> timeout_ms = f.Int("timeout_ms", 30'000, 1, 3'600'000);
  if (!timeout_ms) return timeout_ms.error();
  return std::unique_ptr<Engine>(std::make_unique<FaceDetectEngine>(std::move(*cascade), *timeout_ms));
}

}  // namespace wasmq::engines
