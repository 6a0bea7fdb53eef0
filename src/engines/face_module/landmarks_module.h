// File: src/engines/face_module/landmarks_module.h
//
// The C interface of wasmq-face-landmarks.so, the module that holds the built-in face-landmarks engine's
// dlib code (HOG frontal face detector + the 68-point shape predictor). Like wasmq-face-detect.so it is
// opened with dlopen on the first call only, so wasmq's start-up never links dlib (nor its BLAS, LAPACK,
// libpng, libjpeg, sqlite3).
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WASMQ_FACE_LANDMARKS 68

typedef struct WasmqFaceLandmarks {
  int32_t x, y, w, h;                     // the detector's box, in the given image's pixels
  float score;                            // the detector's confidence (> 0; larger is surer)
  float points[WASMQ_FACE_LANDMARKS][2];  // iBUG 300-W order: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67
} WasmqFaceLandmarks;

// Loads dlib's frontal face detector and the shape predictor file (shape_predictor_68_face_landmarks.dat).
// NULL on failure, with a reason in err (err_cap bytes, NUL-terminated).
void* wasmq_landmarks_open(const char* model_path, char* err, size_t err_cap);

// Finds faces in an 8-bit grayscale image (rows `stride` bytes apart) and their 68 landmarks. The detector
// finds faces of about 80 px and more, so the image is scanned enlarged by up to 80 / min_size; the scanned
// image never exceeds `max_scan_pixels` pixels (larger images are scanned downscaled), which bounds the
// time. Landmarks are placed on the full-resolution image. Writes at most `cap` faces, largest first, and
// returns how many were found (which may exceed cap), or -1 with a reason in err. Not safe to call
// concurrently on one handle.
int32_t wasmq_landmarks_detect(void* handle, const uint8_t* gray, int32_t width, int32_t height, int32_t stride,
                               int32_t min_size, int64_t max_scan_pixels, WasmqFaceLandmarks* out, int32_t cap,
                               char* err, size_t err_cap);

void wasmq_landmarks_close(void* handle);

#define WASMQ_LANDMARKS_OPEN_SYMBOL "wasmq_landmarks_open"
#define WASMQ_LANDMARKS_DETECT_SYMBOL "wasmq_landmarks_detect"
#define WASMQ_LANDMARKS_CLOSE_SYMBOL "wasmq_landmarks_close"

#ifdef __cplusplus
}
#endif
