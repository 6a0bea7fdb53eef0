// blend.c — see blend.h. Pyramids use the 5-tap binomial kernel to reduce and bilinear interpolation to
// expand; the reconstruction is exact whatever the expand filter, since each band is defined against it.
#include "blend.h"

#include <stdlib.h>

#define MAX_LEVELS 8

static int half(int n) { return (n + 1) / 2; }
static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

// in (w×h) → out (half(w)×half(h)), smoothed with [1 4 6 4 1]/16 in both directions; tmp holds half(w)×h.
static void reduce(const float* in, int w, int h, float* out, float* tmp) {
  static const float k[5] = {1 / 16.f, 4 / 16.f, 6 / 16.f, 4 / 16.f, 1 / 16.f};
  int w2 = half(w), h2 = half(h);
  for (int y = 0; y < h; ++y) {
    const float* row = in + (size_t)y * w;
    for (int x = 0; x < w2; ++x) {
      float s = 0;
      for (int i = -2; i <= 2; ++i) s += k[i + 2] * row[clampi(2 * x + i, 0, w - 1)];
      tmp[(size_t)y * w2 + x] = s;
    }
  }
  for (int y = 0; y < h2; ++y)
    for (int x = 0; x < w2; ++x) {
      float s = 0;
      for (int i = -2; i <= 2; ++i) s += k[i + 2] * tmp[(size_t)clampi(2 * y + i, 0, h - 1) * w2 + x];
      out[(size_t)y * w2 + x] = s;
    }
}

// in (half(w)×half(h)) → out (w×h): fine pixel x lies at x/2 in the coarse grid.
static void expand(const float* in, int w, int h, float* out) {
  int w2 = half(w), h2 = half(h);
  for (int y = 0; y < h; ++y) {
    int y0 = y / 2, y1 = y0 + (y & 1) < h2 ? y0 + (y & 1) : y0;
    float fy = (y & 1) ? 0.5f : 0.f;
    for (int x = 0; x < w; ++x) {
      int x0 = x / 2, x1 = x0 + (x & 1) < w2 ? x0 + (x & 1) : x0;
      float fx = (x & 1) ? 0.5f : 0.f;
      float a = in[(size_t)y0 * w2 + x0], b = in[(size_t)y0 * w2 + x1];
      float c = in[(size_t)y1 * w2 + x0], d = in[(size_t)y1 * w2 + x1];
      float top = a + (b - a) * fx, bottom = c + (d - c) * fx;
      float v = top + (bottom - top) * fy;
      out[(size_t)y * w + x] = v;
    }
  }
}

int wq_multiband_blend(float* base, const float* top, const float* alpha, int w, int h, int levels) {
  if (levels < 1) levels = 1;
  if (levels > MAX_LEVELS) levels = MAX_LEVELS;
  while (levels > 1 && (w >> (levels - 1)) < 2 && (h >> (levels - 1)) < 2) --levels;
  int lw[MAX_LEVELS], lh[MAX_LEVELS];
  size_t off[MAX_LEVELS + 1];
  off[0] = 0;
  for (int l = 0; l < levels; ++l) {
    lw[l] = l ? half(lw[l - 1]) : w;
    lh[l] = l ? half(lh[l - 1]) : h;
    off[l + 1] = off[l] + (size_t)lw[l] * lh[l];
  }
  const size_t total = off[levels];
  // Bands are linear, so blending the bands of base and top with alpha adds to base the bands of
  // (top - base) weighted by alpha: one pyramid per channel instead of two.
  float* ga = malloc(sizeof(float) * total);   // alpha's Gaussian pyramid
  float* gd = malloc(sizeof(float) * total);   // (top - base)'s, one channel at a time
  float* res = malloc(sizeof(float) * total);  // the blended bands collapsed, level by level
  float* up = malloc(sizeof(float) * (size_t)w * h);
  float* tmp = malloc(sizeof(float) * (size_t)half(w) * h);
  if (!ga || !gd || !res || !up || !tmp) {
    free(ga), free(gd), free(res), free(up), free(tmp);
    return 0;
  }
  for (size_t i = 0; i < (size_t)w * h; ++i) ga[i] = alpha[i];
  for (int l = 1; l < levels; ++l) reduce(ga + off[l - 1], lw[l - 1], lh[l - 1], ga + off[l], tmp);

  for (int ch = 0; ch < 3; ++ch) {
    for (size_t i = 0; i < (size_t)w * h; ++i) gd[i] = top[i * 3 + ch] - base[i * 3 + ch];
    for (int l = 1; l < levels; ++l) reduce(gd + off[l - 1], lw[l - 1], lh[l - 1], gd + off[l], tmp);
    const int L = levels - 1;
    for (size_t i = 0; i < (size_t)lw[L] * lh[L]; ++i) res[off[L] + i] = ga[off[L] + i] * gd[off[L] + i];
    for (int l = L - 1; l >= 0; --l) {
      const size_t n = (size_t)lw[l] * lh[l];
      float* r = res + off[l];
      expand(res + off[l + 1], lw[l], lh[l], r);
      expand(gd + off[l + 1], lw[l], lh[l], up);
      for (size_t i = 0; i < n; ++i) r[i] += ga[off[l] + i] * (gd[off[l] + i] - up[i]);
    }
    for (size_t i = 0; i < (size_t)w * h; ++i) base[i * 3 + ch] += res[i];
  }
  free(ga), free(gd), free(res), free(up), free(tmp);
  return 1;
}
