// nn.c — see nn.h.
#include "nn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef WQ_NO_WASI_NN
#include "wasi_nn.h"
#endif

int wq_nn_model_size(const char* model, int fallback) {
  const char* dash = strrchr(model, '-');
  if (!dash || !dash[1]) return fallback;
  int size = 0;
  for (const char* p = dash + 1; *p; ++p) {
    if (*p < '0' || *p > '9' || size > 100000) return fallback;  // "-large": not a size
    size = size * 10 + (*p - '0');
  }
  return size >= 32 && size <= 4096 ? size : 0;
}

#ifdef WQ_NO_WASI_NN

// A module built before its host had WASI-NN must not import it: an unknown import would stop the module
// from being instantiated at all.
float* wq_nn_segment(const char* model, const wq_image* src, int size, char* why, size_t why_cap) {
  (void)model, (void)src, (void)size;
  snprintf(why, why_cap, "this build of the module has no WASI-NN");
  return NULL;
}

#else

static const char* errno_name(wasi_nn_errno e) {
  static const char* const kNames[] = {"success", "invalid_argument", "invalid_encoding", "missing_memory",
                                       "busy", "runtime_error", "unsupported_operation", "too_large",
                                       "not_found"};
  return e < sizeof kNames / sizeof kNames[0] ? kNames[e] : "unknown error";
}

// RGB → the model's normalised NCHW planes, sampled bilinearly at pixel centres. O(size²): the full-size
// image is only read at the sample points.
static void fill_input(const wq_image* src, int size, float* planes) {
  size_t plane = (size_t)size * size;
  for (int y = 0; y < size; ++y) {
    float fy = (y + 0.5f) * src->h / size - 0.5f;
    if (fy < 0) fy = 0;
    int y0 = (int)fy, y1 = y0 + 1 < src->h ? y0 + 1 : y0;
    float wy = fy - y0;
    for (int x = 0; x < size; ++x) {
      float fx = (x + 0.5f) * src->w / size - 0.5f;
      if (fx < 0) fx = 0;
      int x0 = (int)fx, x1 = x0 + 1 < src->w ? x0 + 1 : x0;
      float wx = fx - x0;
      const uint8_t* a = src->px + ((size_t)y0 * src->w + x0) * 3;
      const uint8_t* b = src->px + ((size_t)y0 * src->w + x1) * 3;
      const uint8_t* c = src->px + ((size_t)y1 * src->w + x0) * 3;
      const uint8_t* d = src->px + ((size_t)y1 * src->w + x1) * 3;
      for (int k = 0; k < 3; ++k) {
        float top = a[k] + (b[k] - a[k]) * wx, bottom = c[k] + (d[k] - c[k]) * wx;
        planes[k * plane + (size_t)y * size + x] = (top + (bottom - top) * wy - 128.0f) / 256.0f;
      }
    }
  }
}

float* wq_nn_segment(const char* model, const wq_image* src, int size, char* why, size_t why_cap) {
  wasi_nn_graph graph;
  wasi_nn_errno e = wasi_nn_load_by_name(model, (uint32_t)strlen(model), &graph);
  if (e != WASI_NN_ERRNO_SUCCESS) {
    snprintf(why, why_cap, "model \"%s\" %s (wasi-nn %s)", model,
             e == WASI_NN_ERRNO_NOT_FOUND ? "is not installed" : "cannot be loaded", errno_name(e));
    return NULL;
  }
  size_t count = (size_t)size * size;
  float* input = malloc(sizeof(float) * count * 3);
  float* output = malloc(sizeof(float) * count);
  if (!input || !output) {
    free(input), free(output);
    snprintf(why, why_cap, "no memory for the model's %dx%d tensors", size, size);
    return NULL;
  }
  fill_input(src, size, input);
  uint32_t dims[4] = {1, 3, (uint32_t)size, (uint32_t)size};
  wasi_nn_tensor tensor = {dims, 4, WASI_NN_TYPE_F32, (const uint8_t*)input, (uint32_t)(sizeof(float) * count * 3)};
  wasi_nn_graph_execution_context ctx;
  uint32_t written = 0;
  const char* step = "init_execution_context";
  e = wasi_nn_init_execution_context(graph, &ctx);
  if (e == WASI_NN_ERRNO_SUCCESS) step = "set_input", e = wasi_nn_set_input(ctx, 0, &tensor);
  if (e == WASI_NN_ERRNO_SUCCESS) step = "compute", e = wasi_nn_compute(ctx);
  if (e == WASI_NN_ERRNO_SUCCESS)
    step = "get_output", e = wasi_nn_get_output(ctx, 0, (uint8_t*)output, (uint32_t)(sizeof(float) * count), &written);
  free(input);
  if (e != WASI_NN_ERRNO_SUCCESS || written != sizeof(float) * count) {
    if (e == WASI_NN_ERRNO_SUCCESS)
      snprintf(why, why_cap, "model \"%s\" gave %u output bytes, not a %dx%d f32 map", model, written, size, size);
    else
      snprintf(why, why_cap, "model \"%s\": %s failed (wasi-nn %s)", model, step, errno_name(e));
    free(output);
    return NULL;
  }
  return output;
}

#endif  // WQ_NO_WASI_NN
