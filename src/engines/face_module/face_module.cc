// File: src/engines/face_module/face_module.cc
//
// wasmq-face-detect.so: OpenCV's Haar cascade classifier behind the C interface of face_module.h.
#include "engines/face_module/face_module.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <vector>

namespace {

void SetError(char* err, size_t cap, const char* what) {
  if (err && cap) std::snprintf(err, cap, "%s", what);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) void* wasmq_face_open(const char* cascade_path, char* err,
                                                                       size_t err_cap) {
  try {
    auto* classifier = new cv::CascadeClassifier();
    if (!classifier->load(cascade_path)) {
      delete classifier;
      SetError(err, err_cap, "OpenCV cannot load the cascade file");
      return nullptr;
    }
    return classifier;
  } catch (const std::exception& e) {
    SetError(err, err_cap, e.what());
    return nullptr;
  }
}

extern "C" __attribute__((visibility("default"))) int32_t wasmq_face_detect(
    void* handle, const uint8_t* gray_pixels, int32_t width, int32_t height, int32_t stride, int32_t min_size,
    int32_t detect_side, WasmqFaceBox* out, int32_t cap, char* err, size_t err_cap) {
  try {
    auto* classifier = static_cast<cv::CascadeClassifier*>(handle);
    cv::Mat gray(height, width, CV_8UC1, const_cast<uint8_t*>(gray_pixels), static_cast<size_t>(stride));
    // Detection time grows with the pixels; a face found at detect_side pixels is as good a box for a
    // pipeline, so larger photos are scanned downscaled and the boxes scaled back.
    const double scale = std::min(1.0, double(detect_side) / std::max(width, height));
    cv::Mat scan;
    if (scale < 1.0)
      cv::resize(gray, scan, cv::Size(), scale, scale, cv::INTER_AREA);
    else
      scan = gray.clone();
    cv::equalizeHist(scan, scan);
    const int m = std::max(8, static_cast<int>(std::lround(min_size * scale)));
    std::vector<cv::Rect> faces;
    classifier->detectMultiScale(scan, faces, 1.1, 4, 0, cv::Size(m, m));
    std::sort(faces.begin(), faces.end(), [](const cv::Rect& a, const cv::Rect& b) { return a.area() > b.area(); });
    auto back = [scale](int v) { return static_cast<int32_t>(std::lround(v / scale)); };
    for (size_t i = 0; i < faces.size() && static_cast<int32_t>(i) < cap; ++i)
      out[i] = {back(faces[i].x), back(faces[i].y), back(faces[i].width), back(faces[i].height)};
    return static_cast<int32_t>(faces.size());
  } catch (const std::exception& e) {
    SetError(err, err_cap, e.what());
    return -1;
  }
}

extern "C" __attribute__((visibility("default"))) void wasmq_face_close(void* handle) {
  delete static_cast<cv::CascadeClassifier*>(handle);
}
