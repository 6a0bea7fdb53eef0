// nn.h — running a segmentation model through WASI-NN (include/wasi_nn.h) from a pipeline: the model is
// one the host knows by name (`wasmq --nn-model NAME=PATH`, the models cache; natively, the shim in
// native/wasi_nn_opencv.cc). Nothing here fails the task: a model that cannot be had is reported back,
// so the pipeline can fall back to what it did without one.
#ifndef WQ_NN_H_
#define WQ_NN_H_

#include <stddef.h>

#include "image.h"

#ifdef __cplusplus
extern "C" {
#endif

// The square input size of a model from a trailing "-NNN" in its name ("isnet-320" → 320), `fallback`
// when the name has none ("isnet"). 0 for a size outside 32..4096.
int wq_nn_model_size(const char* model, int fallback);

// Runs model `model` on src resized to size×size (bilinear): input 0 is 1×3×size×size f32, RGB planes
// (NCHW) with value (x - 128) / 256; output 0 is read as size×size f32. Returns that map (malloc'd,
// the caller frees it), or NULL with a one-line reason in `why` (no such model, a WASI-NN error, an
// output of another size).
float* wq_nn_segment(const char* model, const wq_image* src, int size, char* why, size_t why_cap);

#ifdef __cplusplus
}
#endif

#endif  // WQ_NN_H_
