// File: src/engines/face_module/face_module.h
//
// The C interface of wasmq-face-detect.so, the module that holds the built-in face-detect engine's OpenCV
// code. OpenCV's object detection pulls in ~140 shared libraries (dnn, protobuf, X11, LAPACK, ...); linked
// into `wasmq` they cost every process start ~0.1 s of dynamic linking, even `wasmq --version`. So OpenCV
// lives in this module, which face_detect.cc opens with dlopen on the first face-detect call only.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct WasmqFaceBox {
  int32_t x, y, w, h;  // in the coordinates of the image given to wasmq_face_detect
} WasmqFaceBox;

// Loads a cascade classifier file. NULL on failure, with a reason in err (err_cap bytes, NUL-terminated).
void* wasmq_face_open(const char* cascade_path, char* err, size_t err_cap);

// Detects faces in an 8-bit grayscale image (rows `stride` bytes apart). Images larger than `detect_side`
// pixels on their longer side are scanned downscaled, and the boxes scaled back. Writes at most `cap`
// boxes, largest first, and returns how many faces were found (which may exceed cap), or -1 with a
// reason in err. Not safe to call concurrently on one handle.
int32_t wasmq_face_detect(void* handle, const uint8_t* gray, int32_t width, int32_t height, int32_t stride,
                          int32_t min_size, int32_t detect_side, WasmqFaceBox* out, int32_t cap, char* err,
                          size_t err_cap);

void wasmq_face_close(void* handle);

// The symbol names face_detect.cc looks up (kept next to the declarations they name).
#define WASMQ_FACE_OPEN_SYMBOL "wasmq_face_open"
#define WASMQ_FACE_DETECT_SYMBOL "wasmq_face_detect"
#define WASMQ_FACE_CLOSE_SYMBOL "wasmq_face_close"

#ifdef __cplusplus
}
#endif
