// File: src/engines/face_landmarks.cc
//
// The built-in `face-landmarks` engine: dlib's HOG frontal face detector and its 68-point shape predictor
// (Debian's libdlib-dev, the model from libdlib-data).
//   request  {"max_faces"?: N (16), "min_size"?: pixels (40), "scan_pixels"?: N (1 250 000)} + payload = an
//            encoded image (PNG, JPEG, BMP, GIF, ...)
//   response {"faces": [{"box": {"x","y","w","h"}, "landmarks": [[x,y] × 68], "score"}...] (largest first),
//             "width", "height"}
// As face-detect does, the image is decoded here with stb_image and dlib lives in a module,
// wasmq-face-landmarks.so (face_module/landmarks_module.cc), opened on the first call: dlib and its BLAS,
// LAPACK, libpng, libjpeg never slow wasmq's start. The model (a 100 MB file) is read on the first call
// too and kept; a detector is not safe to share between threads while detecting, so calls take turns.
// dlib's detector window is 80 px: to find faces of min_size px the image is scanned enlarged by
// 80 / min_size, but never at more than scan_pixels pixels, which bounds the time (the scan costs about
// 0.2 s per megapixel here). So a photo up to 640×480 is scanned at 2× and its 40 px faces are found; a
// 1024×1024 one is scanned at about its own size and its faces from about 75 px on are, and when that scan
// finds none it is scanned again enlarged for min_size (at most kRescanPixels: 8 MP, about 1.6 s).
#include <dlfcn.h>
#include <stb/stb_image.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "base/mutex.h"
#include "engines/face_module/landmarks_module.h"
#include "engines/face_module/loader.h"
#include "engines/internal.h"
#include "json/json.h"

namespace wasmq::engines {

namespace {

constexpr int64_t kMaxPixels = 50'000'000;  // refuse larger images
constexpr int64_t kRescanPixels = 8'000'000;  // the second scan's budget when the first found no face

// The module and the detector + predictor from it, loaded once.
struct Landmarker {
  void* library = nullptr;
  void* handle = nullptr;
  decltype(&wasmq_landmarks_detect) detect = nullptr;
  std::string error;  // why it could not be loaded

  void Load(const std::string& model) {
#ifdef WASMQ_FACE_LANDMARKS_BUILD_PATH
    const char* build_path = WASMQ_FACE_LANDMARKS_BUILD_PATH;
#else
    const char* build_path = nullptr;
#endif
    std::string why;
    library = OpenFaceModule("wasmq-face-landmarks.so", "WASMQ_FACE_LANDMARKS_LIB", build_path, &why);
    if (!library) {
      error = "face-landmarks is not available: " + why;
      return;
    }
    auto open = reinterpret_cast<decltype(&wasmq_landmarks_open)>(dlsym(library, WASMQ_LANDMARKS_OPEN_SYMBOL));
    detect = reinterpret_cast<decltype(&wasmq_landmarks_detect)>(dlsym(library, WASMQ_LANDMARKS_DETECT_SYMBOL));
    if (!open || !detect) {
      error = "face-landmarks is not available: wasmq-face-landmarks.so lacks its functions";
      return;
    }
    char err[256] = "";
    handle = open(model.c_str(), err, sizeof err);
    if (!handle) error = "cannot load the landmark model " + model + ": " + err;
  }
};

struct FreeStbi {
  void operator()(unsigned char* p) const { stbi_image_free(p); }
};

std::optional<Response> ReadInt(const Json& j, const char* key, int64_t min, int64_t max, int64_t* out) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  if (!j[key].is_number_integer() || j[key].get<int64_t>() < min || j[key].get<int64_t>() > max)
    return Failure(Status::BadRequest,
                   std::string(key) + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  *out = j[key].get<int64_t>();
  return std::nullopt;
}

class FaceLandmarksEngine final : public Engine {
 public:
  FaceLandmarksEngine(std::string model, int64_t timeout_ms) : model_path_(std::move(model)) {
    timeout_ms_ = timeout_ms;
  }
  std::string_view kind() const override { return "builtin"; }

  Response Call(const Request& request, const CallContext& ctx) const override {
    Json req = wasmq::json::Parse(request.json);
    if (!req.is_object()) return Failure(Status::BadRequest, "the request must be a JSON object");
    int64_t max_faces = 16, min_size = 40, scan_pixels = 1'250'000;
    if (auto e = ReadInt(req, "max_faces", 1, 1000, &max_faces)) return *e;
    if (auto e = ReadInt(req, "min_size", 20, 100000, &min_size)) return *e;
    if (auto e = ReadInt(req, "scan_pixels", 100'000, 16'000'000, &scan_pixels)) return *e;
    if (request.payload.empty()) return Failure(Status::BadRequest, "the payload must be an encoded image");

    const auto* bytes = reinterpret_cast<const stbi_uc*>(request.payload.data());
    const int len = static_cast<int>(std::min<size_t>(request.payload.size(), INT32_MAX));
    int width = 0, height = 0, channels = 0;
    if (!stbi_info_from_memory(bytes, len, &width, &height, &channels) || width <= 0 || height <= 0)
      return Failure(Status::BadRequest, "the payload is not an image face-landmarks can decode");
    if (int64_t(width) * height > kMaxPixels) return Failure(Status::TooLarge, "the image is too large");
    std::unique_ptr<unsigned char, FreeStbi> gray(stbi_load_from_memory(bytes, len, &width, &height, &channels, 1));
    if (!gray) return Failure(Status::BadRequest, std::string("the image cannot be decoded: ") + stbi_failure_reason());
    if (ctx.Expired()) return Failure(Status::Timeout, "no time left before detection");

    std::vector<WasmqFaceLandmarks> faces(static_cast<size_t>(max_faces));
    int32_t found;
    char err[256] = "";
    {
      base::MutexLock lock(mu_);
      if (!loaded_) {
        loaded_ = true;
        landmarker_.Load(model_path_);
      }
      if (!landmarker_.handle) return Failure(Status::Failed, landmarker_.error);
      found = landmarker_.detect(landmarker_.handle, gray.get(), width, height, width, static_cast<int32_t>(min_size),
                                 scan_pixels, faces.data(), static_cast<int32_t>(faces.size()), err, sizeof err);
      // Nothing found where the budget kept the scan from enlarging as far as min_size asks: once more at
      // the full enlargement (up to kRescanPixels), so small faces in a large photo are found and
      // NO_FACE_FOUND means none; the usual photo, whose face the first scan sees, pays once.
      const double enlarge = 80.0 / double(min_size);
      const auto wanted = static_cast<int64_t>(double(width) * height * std::max(1.0, enlarge * enlarge));
      if (found == 0 && wanted > scan_pixels && !ctx.Expired())
        found = landmarker_.detect(landmarker_.handle, gray.get(), width, height, width,
                                   static_cast<int32_t>(min_size), std::min(wanted, kRescanPixels), faces.data(),
                                   static_cast<int32_t>(faces.size()), err, sizeof err);
    }
    if (found < 0) return Failure(Status::Failed, std::string("face landmark detection failed: ") + err);
    faces.resize(std::min<size_t>(faces.size(), static_cast<size_t>(found)));
    Json list = Json::array();
    for (const WasmqFaceLandmarks& f : faces) {
      Json points = Json::array();
      for (const auto& p : f.points) points.push_back({p[0], p[1]});
      list.push_back({{"box", {{"x", f.x}, {"y", f.y}, {"w", f.w}, {"h", f.h}}},
                      {"landmarks", std::move(points)},
                      {"score", std::round(f.score * 1000) / 1000}});
    }
    Response r;
    r.json = Json{{"faces", list}, {"width", width}, {"height", height}}.dump();
    return r;
  }

 private:
  std::string model_path_;
  mutable base::Mutex mu_;
  mutable Landmarker landmarker_ GUARDED_BY(mu_);  // loaded on the first call, kept for the process
  mutable bool loaded_ GUARDED_BY(mu_) = false;
};

}  // namespace

Result<std::unique_ptr<Engine>> NewFaceLandmarksEngine(const Fields& f) {
  if (auto r = f.OnlyKeys({"kind", "builtin", "model", "timeout_ms"}); !r) return r.error();
  Result<std::string> model = f.Path("model", std::string(kDefaultLandmarkModel));
  if (!model) return model.error();
  std::error_code ec;
  if (f.Has("model") && !std::filesystem::is_regular_file(*model, ec)) return f.Fail("model", "no such file: " + *model);
  Result<int64_t> timeout_ms = f.Int("timeout_ms", 30'000, 1, 3'600'000);
  if (!timeout_ms) return timeout_ms.error();
  return std::unique_ptr<Engine>(std::make_unique<FaceLandmarksEngine>(std::move(*model), *timeout_ms));
}

}  // namespace wasmq::engines
