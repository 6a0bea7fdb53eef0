// filter.c — see filter.h.
#include "filter.h"

#include <stdlib.h>

// One box pass over `n` samples of src spaced `stride` apart, into the contiguous dst, clamping at the ends.
static void box_line(const float* src, int stride, float* dst, int n, int r) {
  float sum = 0.f;
  float inv = 1.0f / (float)(2 * r + 1);
  for (int i = -r; i <= r; ++i) sum += src[(i < 0 ? 0 : i >= n ? n - 1 : i) * stride];
  for (int i = 0; i < n; ++i) {
    dst[i] = sum * inv;
    int add = i + r + 1, sub = i - r;
    sum += src[(add >= n ? n - 1 : add) * stride] - src[(sub < 0 ? 0 : sub) * stride];
  }
}

int wq_blur(float* plane, int w, int h, int radius) {
  if (radius <= 0) return 1;
  int longest = w > h ? w : h;
  float* line = malloc(sizeof(float) * (size_t)longest);
  if (!line) return 0;
  for (int pass = 0; pass < 3; ++pass) {
    for (int y = 0; y < h; ++y) {
      float* row = plane + (size_t)y * w;
      box_line(row, 1, line, w, radius);
      for (int x = 0; x < w; ++x) row[x] = line[x];
    }
    for (int x = 0; x < w; ++x) {
      box_line(plane + x, w, line, h, radius);
      for (int y = 0; y < h; ++y) plane[(size_t)y * w + x] = line[y];
    }
  }
  free(line);
  return 1;
}
