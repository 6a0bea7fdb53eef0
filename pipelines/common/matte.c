// matte.c — see matte.h.
#include "matte.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "color.h"
#include "filter.h"
#include "png_write.h"
#include "task.h"


static float* alloc_plane(size_t n) {
  float* p = malloc(sizeof(float) * (n ? n : 1));
  if (!p) wq_failf("OUT_OF_MEMORY", "no memory for the matte");
  return p;
}

// Mean over the (2r+1)² window around each sample, the window cut at the edges (divided by the samples
// it holds): a running sum per direction, O(w·h) whatever r.
static void box_mean(const float* in, float* out, int w, int h, int r, float* tmp) {
  for (int y = 0; y < h; ++y) {
    const float* row = in + (size_t)y * w;
    float* dst = tmp + (size_t)y * w;
    float sum = 0;
    for (int x = 0; x <= r && x < w; ++x) sum += row[x];
    for (int x = 0; x < w; ++x) {
      int lo = x - r < 0 ? 0 : x - r, hi = x + r >= w ? w - 1 : x + r;
      dst[x] = sum / (float)(hi - lo + 1);
      if (x + r + 1 < w) sum += row[x + r + 1];
      if (x - r >= 0) sum -= row[x - r];
    }
  }
  float* sums = alloc_plane((size_t)w);
  memset(sums, 0, sizeof(float) * (size_t)w);
  for (int y = 0; y <= r && y < h; ++y)
    for (int x = 0; x < w; ++x) sums[x] += tmp[(size_t)y * w + x];
  for (int y = 0; y < h; ++y) {
    int lo = y - r < 0 ? 0 : y - r, hi = y + r >= h ? h - 1 : y + r;
    float inv = 1.0f / (float)(hi - lo + 1);
    float* dst = out + (size_t)y * w;
    const float* add = y + r + 1 < h ? tmp + (size_t)(y + r + 1) * w : NULL;
    const float* sub = y - r >= 0 ? tmp + (size_t)(y - r) * w : NULL;
    for (int x = 0; x < w; ++x) {
      dst[x] = sums[x] * inv;
      if (add) sums[x] += add[x];
      if (sub) sums[x] -= sub[x];
    }
  }
  free(sums);
}

// Bilinear sample of a w×h plane at (fx, fy) in sample coordinates, clamped to the plane.
static float sample(const float* plane, int w, int h, float fx, float fy) {
  if (fx < 0) fx = 0;
  if (fy < 0) fy = 0;
  int x0 = (int)fx, y0 = (int)fy;
  if (x0 > w - 1) x0 = w - 1, fx = (float)x0;
  if (y0 > h - 1) y0 = h - 1, fy = (float)y0;
  int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
  float wx = fx - x0, wy = fy - y0;
  const float* r0 = plane + (size_t)y0 * w;
  const float* r1 = plane + (size_t)y1 * w;
  float top = r0[x0] + (r0[x1] - r0[x0]) * wx, bottom = r1[x0] + (r1[x1] - r1[x0]) * wx;
  return top + (bottom - top) * wy;
}

static float grey(const uint8_t* p) { return (0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]) * (1.0f / 255.0f); }

// Which work cell each full-resolution column (or row) falls in.
static int* cell_map(int full, int work) {
  int* map = malloc(sizeof(int) * (size_t)full);
  if (!map) wq_failf("OUT_OF_MEMORY", "no memory for the matte");
  for (int i = 0; i < full; ++i) map[i] = (int)((long long)i * work / full);
  return map;
}

// Floods background samples (p < 0.5) from the queued seeds, 4-connected; returns the new queue tail.
static size_t flood(const float* p, int w, int h, uint8_t* seen, int* queue, size_t head, size_t tail) {
  while (head < tail) {
    int i = queue[head++], x = i % w, y = i / w;
    int next[4] = {x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1, y > 0 ? i - w : -1, y < h - 1 ? i + w : -1};
    for (int j = 0; j < 4; ++j)
      if (next[j] >= 0 && !seen[next[j]] && p[next[j]] < 0.5f) {
        seen[next[j]] = 1;
        queue[tail++] = next[j];
      }
  }
  return tail;
}

// Background islands (p < 0.5) that do not reach the image border and hold at most max_area samples are
// holes in the foreground (a gap the model left in a shirt): they become foreground. Larger enclosed
// regions (the space between an arm and the body) stay background.
static int fill_small_holes(float* p, int w, int h, int max_area) {
  size_t n = (size_t)w * h;
  uint8_t* seen = calloc(n, 1);
  int* queue = malloc(sizeof(int) * n);
  if (!seen || !queue) wq_failf("OUT_OF_MEMORY", "no memory for the matte");
  size_t tail = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if ((x == 0 || y == 0 || x == w - 1 || y == h - 1) && p[(size_t)y * w + x] < 0.5f) {
        seen[(size_t)y * w + x] = 1;
        queue[tail++] = y * w + x;
      }
  tail = flood(p, w, h, seen, queue, 0, tail);
  int filled = 0;
  for (size_t s = 0; s < n; ++s) {  // what is left unseen below 0.5 is enclosed: one island at a time
    if (seen[s] || p[s] >= 0.5f) continue;
    size_t start = tail;
    seen[s] = 1;
    queue[tail++] = (int)s;
    tail = flood(p, w, h, seen, queue, start, tail);
    if (tail - start <= (size_t)max_area) {
      for (size_t k = start; k < tail; ++k) p[queue[k]] = 1.0f;
      ++filled;
    }
  }
  free(seen);
  free(queue);
  return filled;
}

// Normalised convolution of the cell colours `mean` (3 planes) over the cells where `take` holds: the
// colour of that kind of region nearby; cells with none nearby keep their own mean colour.
static void nearby_colour(const float* mean, const float* p, int take_fg, int w, int h, int radius, float* out,
                          float* weight, float* blurred, float* tmp) {
  size_t n = (size_t)w * h;
  for (size_t i = 0; i < n; ++i) weight[i] = take_fg ? p[i] >= 0.98f : p[i] <= 0.02f;
  for (int k = 0; k < 3; ++k) {
    for (size_t i = 0; i < n; ++i) out[k * n + i] = weight[i] * mean[k * n + i];
    box_mean(out + k * n, blurred, w, h, radius, tmp);
    memcpy(out + k * n, blurred, sizeof(float) * n);
  }
  box_mean(weight, blurred, w, h, radius, tmp);
  for (int k = 0; k < 3; ++k)
    for (size_t i = 0; i < n; ++i)
      out[k * n + i] = blurred[i] > 1e-4f ? out[k * n + i] / blurred[i] : mean[k * n + i];
}

void wq_matte_build(wq_matte* m, const wq_image* src, const float* prob, int size, int feather) {
  // The work grid: half the model's resolution (the fast guided filter's subsampling; the detail comes
  // back with the full-resolution grey levels), never finer than the image.
  int w = src->w, h = src->h, grid = size / 2 > 16 ? size / 2 : 16;
  int ww = w < grid ? w : grid, wh = h < grid ? h : grid;
  size_t n = (size_t)ww * wh;
  memset(m, 0, sizeof *m);
  m->w = ww, m->h = wh;

  // The map on the work grid (the model saw the image stretched to size×size, so is the map).
  float* p = alloc_plane(n);
  for (int y = 0; y < wh; ++y)
    for (int x = 0; x < ww; ++x)
      p[(size_t)y * ww + x] = sample(prob, size, size, (x + 0.5f) * size / ww - 0.5f, (y + 0.5f) * size / wh - 0.5f);

  // The one full-resolution pass here: each cell's mean colour; the guide is its grey level.
  float* mean = alloc_plane(n * 3);
  float* count = alloc_plane(n);
  memset(mean, 0, sizeof(float) * n * 3);
  memset(count, 0, sizeof(float) * n);
  int* xs = cell_map(w, ww);
  for (int y = 0; y < h; ++y) {
    size_t row = (size_t)((long long)y * wh / h) * ww;
    const uint8_t* px = src->px + (size_t)y * w * 3;
    for (int x = 0; x < w; ++x, px += 3) {
      size_t c = row + xs[x];
      mean[c] += px[0];
      mean[n + c] += px[1];
      mean[2 * n + c] += px[2];
      count[c] += 1.0f;
    }
  }
  free(xs);
  float* guide = alloc_plane(n);
  for (size_t i = 0; i < n; ++i) {
    for (int k = 0; k < 3; ++k) mean[k * n + i] /= count[i];
    uint8_t rgb[3] = {wq_clamp_u8(mean[i]), wq_clamp_u8(mean[n + i]), wq_clamp_u8(mean[2 * n + i])};
    guide[i] = grey(rgb);
  }

  int longer = ww > wh ? ww : wh;
  m->holes_filled = fill_small_holes(p, ww, wh, (int)(n / 500));

  // Decided: more than r samples away from the 0.5 contour the map is made solid (1 inside, 0 outside), so
  // a person the model is only fairly sure of (p ≈ 0.8 over a whole shirt) is not composited half
  // transparent, and a faint glow on the wall does not tint the new background. Softness stays near the
  // edge, where hair is.
  int r = longer / 100 > 2 ? longer / 100 : 2;
  float *mean_i = alloc_plane(n), *mean_p = alloc_plane(n), *corr = alloc_plane(n), *tmp = alloc_plane(n);
  float* corr_ip = alloc_plane(n);
  for (size_t i = 0; i < n; ++i) count[i] = p[i] >= 0.5f ? 1.0f : 0.0f;
  box_mean(count, mean_i, ww, wh, r, tmp);
  for (size_t i = 0; i < n; ++i) {
    if (mean_i[i] > 0.999f) p[i] = 1.0f;  // not exactly 1 or 0: running sums leave rounding residue
    else if (mean_i[i] < 0.001f) p[i] = 0.0f;
  }

  // Guided filter: per window, alpha ≈ a·I + b by least squares (eps keeps flat regions at a ≈ 0).
  const float eps = 1e-3f;
  box_mean(guide, mean_i, ww, wh, r, tmp);
  box_mean(p, mean_p, ww, wh, r, tmp);
  for (size_t i = 0; i < n; ++i) count[i] = guide[i] * guide[i];
  box_mean(count, corr, ww, wh, r, tmp);  // mean(I²)
  for (size_t i = 0; i < n; ++i) count[i] = guide[i] * p[i];
  box_mean(count, corr_ip, ww, wh, r, tmp);  // mean(I·p)
  for (size_t i = 0; i < n; ++i) {
    float var = corr[i] - mean_i[i] * mean_i[i];
    float cov = corr_ip[i] - mean_i[i] * mean_p[i];
    float a = cov / (var + eps);
    corr[i] = a;                             // corr now holds a,
    corr_ip[i] = mean_p[i] - a * mean_i[i];  // corr_ip b
  }
  m->a = alloc_plane(n);
  m->b = alloc_plane(n);
  box_mean(corr, m->a, ww, wh, r, tmp);
  box_mean(corr_ip, m->b, ww, wh, r, tmp);
  // Only the uncertain band (and one sample around it) takes the filter: where the map is sure, it stands,
  // so a dark stripe on a shirt cannot pull the matte down.
  for (size_t i = 0; i < n; ++i) count[i] = (p[i] > 0.05f && p[i] < 0.95f) ? 1.0f : 0.0f;
  box_mean(count, corr, ww, wh, 1, tmp);
  for (size_t i = 0; i < n; ++i)
    if (corr[i] < 0.05f) m->a[i] = 0.0f, m->b[i] = p[i];  // not 0: running sums leave rounding residue
  int work_feather = (int)lroundf((float)feather * ww / w);
  if (work_feather > 0 && (!wq_blur(m->a, ww, wh, work_feather) || !wq_blur(m->b, ww, wh, work_feather)))
    wq_failf("OUT_OF_MEMORY", "no memory for feathering");

  // The colours a soft edge is solved with: the solid foreground's and the old background's nearby, over
  // a neighbourhood wide enough to reach across the band.
  int radius = longer / 32 > 3 ? longer / 32 : 3;
  m->fg = alloc_plane(n * 3);
  m->bg = alloc_plane(n * 3);
  nearby_colour(mean, p, 1, ww, wh, radius, m->fg, count, mean_i, tmp);
  nearby_colour(mean, p, 0, ww, wh, radius, m->bg, count, mean_i, tmp);
  free(p), free(mean), free(count), free(guide), free(mean_i), free(mean_p), free(corr), free(tmp), free(corr_ip);
}

static const float kGlow = 0.15f;

static inline float bilerp(const float* plane, size_t i00, size_t i01, size_t i10, size_t i11, float fx, float wy) {
  float top = plane[i00] + (plane[i01] - plane[i00]) * fx, bottom = plane[i10] + (plane[i11] - plane[i10]) * fx;
  return top + (bottom - top) * wy;
}

double wq_matte_apply(const wq_matte* m, wq_image* src, const wq_image* bg, uint8_t* alpha8) {
  int w = src->w, h = src->h, ww = m->w, wh = m->h;
  size_t n = (size_t)ww * wh;
  // Bilinear weights from the work grid, per column (and per row below), computed once.
  int* x0 = malloc(sizeof(int) * (size_t)w);
  int* x1 = malloc(sizeof(int) * (size_t)w);
  float* wx = alloc_plane((size_t)w);
  if (!x0 || !x1) wq_failf("OUT_OF_MEMORY", "no memory for the matte");
  for (int x = 0; x < w; ++x) {
    float fx = (x + 0.5f) * ww / w - 0.5f;
    if (fx < 0) fx = 0;
    x0[x] = (int)fx < ww - 1 ? (int)fx : ww - 1;
    x1[x] = x0[x] < ww - 1 ? x0[x] + 1 : x0[x];
    wx[x] = x0[x] < ww - 1 ? fx - x0[x] : 0.0f;
  }
  double coverage = 0;
  for (int y = 0; y < h; ++y) {
    float fy = (y + 0.5f) * wh / h - 0.5f;
    if (fy < 0) fy = 0;
    int y0 = (int)fy < wh - 1 ? (int)fy : wh - 1;
    float wy = y0 < wh - 1 ? fy - y0 : 0.0f;
    size_t r0 = (size_t)y0 * ww, r1 = y0 < wh - 1 ? r0 + ww : r0;
    uint8_t* px = src->px + (size_t)y * w * 3;
    const uint8_t* b = bg->px + (size_t)y * w * 3;
    uint8_t* out8 = alpha8 ? alpha8 + (size_t)y * w : NULL;
    double row_sum = 0;
    for (int x = 0; x < w; ++x, px += 3, b += 3) {
      size_t i00 = r0 + x0[x], i01 = r0 + x1[x], i10 = r1 + x0[x], i11 = r1 + x1[x];
      float fx = wx[x];
      float al = bilerp(m->a, i00, i01, i10, i11, fx, wy) * grey(px) + bilerp(m->b, i00, i01, i10, i11, fx, wy);
      // The model's edge fades over a few pixels into the background: its faint outer part (under 0.15)
      // is dropped and the rest stretched, which keeps hair soft without a light glow around the person.
      al = (al - kGlow) * (1.0f / (1.0f - kGlow));
      al = al < 0.0f ? 0.0f : al > 1.0f ? 1.0f : al;
      if (out8) out8[x] = wq_clamp_u8(al * 255.0f);
      row_sum += al;
      if (al >= 0.996f) continue;  // solid foreground keeps its own pixels exactly
      if (al <= 0.004f) {
        memcpy(px, b, 3);
        continue;
      }
      float lean = wq_smoothstep(0.15f, 0.6f, al);
      for (int k = 0; k < 3; ++k) {
        float old_bg = bilerp(m->bg + k * n, i00, i01, i10, i11, fx, wy), near_fg = bilerp(m->fg + k * n, i00, i01, i10, i11, fx, wy);
        float solved = (px[k] - (1.0f - al) * old_bg) / al;
        solved = solved < 0.0f ? 0.0f : solved > 255.0f ? 255.0f : solved;
        float f = lean * solved + (1.0f - lean) * near_fg;
        px[k] = wq_clamp_u8(al * f + (1.0f - al) * b[k]);
      }
    }
    coverage += row_sum;
  }
  free(x0), free(x1), free(wx);
  return coverage;
}

void wq_matte_free(wq_matte* m) {
  free(m->a), free(m->b), free(m->fg), free(m->bg);
  memset(m, 0, sizeof *m);
}

void wq_matte_write_png(const char* name, const uint8_t* alpha8, int w, int h) {
  wq_buffer buf = {0};
  if (!wq_png_write(alpha8, w, h, 1, (size_t)w, &buf.data, &buf.size, &buf.cap))
    wq_failf("OUTPUT_FAILED", "cannot encode the mask");
  wq_write_file(name, buf.data, buf.size);
  wq_buffer_free(&buf);
}
