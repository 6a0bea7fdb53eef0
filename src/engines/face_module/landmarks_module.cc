// File: src/engines/face_module/landmarks_module.cc
//
// wasmq-face-landmarks.so: dlib's HOG frontal face detector and 68-point shape predictor behind the C
// interface of landmarks_module.h.
#include "engines/face_module/landmarks_module.h"

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <vector>

namespace {

void SetError(char* err, size_t cap, const char* what) {
  if (err && cap) std::snprintf(err, cap, "%s", what);
}

struct Landmarker {
  dlib::frontal_face_detector detector = dlib::get_frontal_face_detector();
  dlib::shape_predictor predictor;
};

// The detector's windows are 80×80: a face of min_size pixels is found once the image is enlarged by
// 80 / min_size. The enlargement is bounded by the pixel budget, so a large photo is scanned at most at
// max_scan_pixels (and downscaled when even its own size exceeds it).
double ScanScale(int width, int height, int min_size, int64_t max_scan_pixels) {
  const double want = std::max(1.0, 80.0 / std::max(1, min_size));
  const double budget = std::sqrt(double(max_scan_pixels) / (double(width) * height));
  return std::min(want, budget);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) void* wasmq_landmarks_open(const char* model_path, char* err,
                                                                            size_t err_cap) {
  try {
    auto* l = new Landmarker();
    dlib::deserialize(model_path) >> l->predictor;
    if (l->predictor.num_parts() != WASMQ_FACE_LANDMARKS) {
      delete l;
      SetError(err, err_cap, "the shape predictor does not place 68 landmarks");
      return nullptr;
    }
    return l;
  } catch (const std::exception& e) {
    SetError(err, err_cap, e.what());
    return nullptr;
  }
}

extern "C" __attribute__((visibility("default"))) int32_t wasmq_landmarks_detect(
    void* handle, const uint8_t* gray, int32_t width, int32_t height, int32_t stride, int32_t min_size,
    int64_t max_scan_pixels, WasmqFaceLandmarks* out, int32_t cap, char* err, size_t err_cap) {
  try {
    auto* l = static_cast<Landmarker*>(handle);
    dlib::array2d<unsigned char> img(height, width);
    for (int y = 0; y < height; ++y) std::copy_n(gray + size_t(y) * stride, width, &img[y][0]);

    const double scale = ScanScale(width, height, min_size, max_scan_pixels);
    std::vector<dlib::rect_detection> found;
    if (std::abs(scale - 1.0) < 1e-3) {
      l->detector(img, found, 0.0);
    } else {
      dlib::array2d<unsigned char> scan(std::max(1L, std::lround(height * scale)), std::max(1L, std::lround(width * scale)));
      dlib::resize_image(img, scan, dlib::interpolate_bilinear());
      l->detector(scan, found, 0.0);
      for (auto& d : found)
        d.rect = dlib::rectangle(std::lround(d.rect.left() / scale), std::lround(d.rect.top() / scale),
                                 std::lround((d.rect.right() + 1) / scale) - 1,
                                 std::lround((d.rect.bottom() + 1) / scale) - 1);
    }
    std::sort(found.begin(), found.end(),
              [](const dlib::rect_detection& a, const dlib::rect_detection& b) { return a.rect.area() > b.rect.area(); });
    for (size_t i = 0; i < found.size() && static_cast<int32_t>(i) < cap; ++i) {
      const dlib::rectangle& r = found[i].rect;
      // The predictor is trained on the detector's boxes, at any scale: it runs on the full image.
      dlib::full_object_detection shape = l->predictor(img, r);
      WasmqFaceLandmarks& f = out[i];
      f.x = static_cast<int32_t>(r.left());
      f.y = static_cast<int32_t>(r.top());
      f.w = static_cast<int32_t>(r.width());
      f.h = static_cast<int32_t>(r.height());
      f.score = static_cast<float>(found[i].detection_confidence);
      for (int k = 0; k < WASMQ_FACE_LANDMARKS; ++k) {
        f.points[k][0] = static_cast<float>(shape.part(k).x());
        f.points[k][1] = static_cast<float>(shape.part(k).y());
      }
    }
    return static_cast<int32_t>(found.size());
  } catch (const std::exception& e) {
    SetError(err, err_cap, e.what());
    return -1;
  }
}

extern "C" __attribute__((visibility("default"))) void wasmq_landmarks_close(void* handle) {
  delete static_cast<Landmarker*>(handle);
}
