// pose_change.c — the POSE_CHANGE pipeline: a geometric re-pose of the source image, resampled bilinearly.
//
// config — one of three ways to give the transform:
//   source_keypoints, target_keypoints   equal-length lists of points ([x, y] or {"x","y"}): the transform
//        that best maps each source point onto its target (least squares); "fit": "similarity" (default:
//        rotation, uniform scale, translation; 2+ pairs) or "affine" (3+ pairs, not all on a line)
//   perspective   {"source": [4 points], "target": [4 points]}: the homography mapping one quad on the other
//   rotate (degrees, clockwise), flip ("horizontal" | "vertical" | "both"), scale (0.01..100),
//        translate ([dx, dy] in output pixels): applied in the order flip, scale, rotate about the image
//        centre, translate
// and, for all of them:
//   width, height   the output size (default: the source's)
//   fill            the colour of output pixels that no source pixel covers (default "black")
//   output_format, quality
//   engine        an engine name: hand the whole job to that engine instead (common/engine.h)
//
// Coordinates are in pixels with the centre of the top-left pixel at (0, 0).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/color.h"
#include "common/engine.h"
#include "common/image.h"
#include "common/task.h"
#include "wasmq.h"

enum { kMaxKeypoints = 1000 };

typedef struct {
  double m[9];  // row-major 3×3, maps source → output (homogeneous)
} transform;

static transform identity(void) { return (transform){{1, 0, 0, 0, 1, 0, 0, 0, 1}}; }

static transform multiply(transform a, transform b) {  // a ∘ b: b first
  transform r;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) r.m[i * 3 + j] = a.m[i * 3] * b.m[j] + a.m[i * 3 + 1] * b.m[3 + j] + a.m[i * 3 + 2] * b.m[6 + j];
  return r;
}

static transform translation(double dx, double dy) { return (transform){{1, 0, dx, 0, 1, dy, 0, 0, 1}}; }

// 0 when singular.
static int invert(transform t, transform* out) {
  const double* m = t.m;
  double c0 = m[4] * m[8] - m[5] * m[7], c1 = m[5] * m[6] - m[3] * m[8], c2 = m[3] * m[7] - m[4] * m[6];
  double det = m[0] * c0 + m[1] * c1 + m[2] * c2;
  double scale = fabs(m[0]) + fabs(m[1]) + fabs(m[3]) + fabs(m[4]);
  if (!isfinite(det) || fabs(det) < 1e-12 * (scale * scale + 1e-300)) return 0;
  double inv[9] = {c0, m[2] * m[7] - m[1] * m[8], m[1] * m[5] - m[2] * m[4],
                   c1, m[0] * m[8] - m[2] * m[6], m[2] * m[3] - m[0] * m[5],
                   c2, m[1] * m[6] - m[0] * m[7], m[0] * m[4] - m[1] * m[3]};
  for (int i = 0; i < 9; ++i) out->m[i] = inv[i] / det;
  return 1;
}

static void apply(const transform* t, double x, double y, double* ox, double* oy, double* ow) {
  const double* m = t->m;
  *ox = m[0] * x + m[1] * y + m[2];
  *oy = m[3] * x + m[4] * y + m[5];
  *ow = m[6] * x + m[7] * y + m[8];
}

// Solves the n×n system a·x = b in place (Gaussian elimination, partial pivoting). 0 when singular.
static int solve(double* a, double* b, int n) {
  for (int col = 0; col < n; ++col) {
    int pivot = col;
    for (int r = col + 1; r < n; ++r)
      if (fabs(a[r * n + col]) > fabs(a[pivot * n + col])) pivot = r;
    if (fabs(a[pivot * n + col]) < 1e-10) return 0;
    if (pivot != col) {
      for (int k = 0; k < n; ++k) {
        double tmp = a[col * n + k];
        a[col * n + k] = a[pivot * n + k];
        a[pivot * n + k] = tmp;
      }
      double tmp = b[col];
      b[col] = b[pivot];
      b[pivot] = tmp;
    }
    for (int r = 0; r < n; ++r) {
      if (r == col) continue;
      double f = a[r * n + col] / a[col * n + col];
      for (int k = col; k < n; ++k) a[r * n + k] -= f * a[col * n + k];
      b[r] -= f * b[col];
    }
  }
  for (int i = 0; i < n; ++i) b[i] /= a[i * n + i];
  return 1;
}

// ---- reading points -----------------------------------------------------------------------------------

typedef struct {
  double x, y;
} point;

static point* read_points(const wq_json* list, const char* what, size_t* count) {
  if (!list || list->kind != WQ_JSON_ARRAY)
    wq_failf("INVALID_CONFIG", "%s must be a list of points [[x, y], ...]", what);
  if (list->count > kMaxKeypoints) wq_failf("INVALID_CONFIG", "%s has more than %d points", what, kMaxKeypoints);
  point* pts = malloc(sizeof(point) * (list->count + 1));
  if (!pts) wq_failf("OUT_OF_MEMORY", "no memory for %s", what);
  for (size_t i = 0; i < list->count; ++i) {
    char name[96];
    snprintf(name, sizeof name, "%s[%zu]", what, i);
    wq_json_point(&list->items[i], name, &pts[i].x, &pts[i].y);
    if (fabs(pts[i].x) > 1e6 || fabs(pts[i].y) > 1e6) wq_failf("INVALID_CONFIG", "%s is out of range", name);
  }
  *count = list->count;
  return pts;
}

// ---- fitting ------------------------------------------------------------------------------------------

static transform fit_similarity(const point* s, const point* d, size_t n) {
  double csx = 0, csy = 0, cdx = 0, cdy = 0;
  for (size_t i = 0; i < n; ++i) csx += s[i].x, csy += s[i].y, cdx += d[i].x, cdy += d[i].y;
  csx /= n, csy /= n, cdx /= n, cdy /= n;
  double norm = 0, dot = 0, cross = 0;
  for (size_t i = 0; i < n; ++i) {
    double sx = s[i].x - csx, sy = s[i].y - csy, dx = d[i].x - cdx, dy = d[i].y - cdy;
    norm += sx * sx + sy * sy;
    dot += sx * dx + sy * dy;
    cross += sx * dy - sy * dx;
  }
  if (norm < 1e-9) wq_failf("INVALID_CONFIG", "config.source_keypoints are all the same point");
  double a = dot / norm, b = cross / norm;
  if (a * a + b * b < 1e-12) wq_failf("INVALID_CONFIG", "config.target_keypoints are all the same point");
  return (transform){{a, -b, cdx - (a * csx - b * csy), b, a, cdy - (b * csx + a * csy), 0, 0, 1}};
}

static transform fit_affine(const point* s, const point* d, size_t n) {
  // Normal equations of [x y 1]·p = x' (and = y'), shared matrix.
  double ata[9] = {0}, bx[3] = {0}, by[3] = {0};
  for (size_t i = 0; i < n; ++i) {
    double row[3] = {s[i].x, s[i].y, 1};
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) ata[r * 3 + c] += row[r] * row[c];
      bx[r] += row[r] * d[i].x;
      by[r] += row[r] * d[i].y;
    }
  }
  double copy[9];
  memcpy(copy, ata, sizeof copy);
  if (!solve(ata, bx, 3) || !solve(copy, by, 3))
    wq_failf("INVALID_CONFIG", "config.source_keypoints lie on a line: an affine fit needs 3 points not on a line");
  return (transform){{bx[0], bx[1], bx[2], by[0], by[1], by[2], 0, 0, 1}};
}

static transform fit_homography(const point* s, const point* d) {
  // h33 = 1; two equations per correspondence.
  double a[64] = {0}, b[8];
  for (int i = 0; i < 4; ++i) {
    double x = s[i].x, y = s[i].y, u = d[i].x, v = d[i].y;
    double r1[8] = {x, y, 1, 0, 0, 0, -u * x, -u * y}, r2[8] = {0, 0, 0, x, y, 1, -v * x, -v * y};
    memcpy(&a[(2 * i) * 8], r1, sizeof r1);
    memcpy(&a[(2 * i + 1) * 8], r2, sizeof r2);
    b[2 * i] = u;
    b[2 * i + 1] = v;
  }
  if (!solve(a, b, 8))
    wq_failf("INVALID_CONFIG", "config.perspective: three of the four points lie on a line");
  return (transform){{b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], 1}};
}

static double fit_rms(const transform* t, const point* s, const point* d, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    double x, y, w;
    apply(t, s[i].x, s[i].y, &x, &y, &w);
    sum += (x / w - d[i].x) * (x / w - d[i].x) + (y / w - d[i].y) * (y / w - d[i].y);
  }
  return sqrt(sum / n);
}

// ---- the transform from config ------------------------------------------------------------------------

typedef struct {
  transform forward;
  const char* method;
  double rms;  // keypoint fit error (pixels); 0 otherwise
} pose;

static pose read_pose(const wq_task* t, int src_w, int src_h, int out_w, int out_h) {
  int keypoints = wq_cfg_has(t, "source_keypoints") || wq_cfg_has(t, "target_keypoints");
  int perspective = wq_cfg_has(t, "perspective");
  int explicit_ = wq_cfg_has(t, "rotate") || wq_cfg_has(t, "flip") || wq_cfg_has(t, "scale") || wq_cfg_has(t, "translate");
  if (keypoints + perspective + explicit_ == 0)
    wq_failf("INVALID_CONFIG", "nothing to do: give source_keypoints and target_keypoints, perspective, or "
                               "rotate / flip / scale / translate");
  if (keypoints + perspective + explicit_ > 1)
    wq_failf("INVALID_CONFIG", "give only one of: keypoints, perspective, rotate/flip/scale/translate");
  pose p = {identity(), "explicit", 0};
  if (keypoints) {
    static const char* const kFits[] = {"similarity", "affine", NULL};
    int affine = wq_cfg_choice(t, "fit", kFits, 0) == 1;
    size_t ns, nd;
    point* s = read_points(wq_cfg(t, "source_keypoints"), "config.source_keypoints", &ns);
    point* d = read_points(wq_cfg(t, "target_keypoints"), "config.target_keypoints", &nd);
    if (ns != nd)
      wq_failf("INVALID_CONFIG", "config.source_keypoints has %zu points but config.target_keypoints %zu", ns, nd);
    size_t need = affine ? 3 : 2;
    if (ns < need) wq_failf("INVALID_CONFIG", "a %s fit needs at least %zu keypoint pairs (%zu given)", kFits[affine], need, ns);
    p.forward = affine ? fit_affine(s, d, ns) : fit_similarity(s, d, ns);
    p.method = kFits[affine];
    p.rms = fit_rms(&p.forward, s, d, ns);
    free(s);
    free(d);
  } else if (perspective) {
    const wq_json* q = wq_cfg(t, "perspective");
    size_t ns = 0, nd = 0;
    if (q->kind != WQ_JSON_OBJECT) wq_failf("INVALID_CONFIG", "config.perspective must be {\"source\": [4 points], \"target\": [4 points]}");
    point* s = read_points(wq_json_get(q, "source"), "config.perspective.source", &ns);
    point* d = read_points(wq_json_get(q, "target"), "config.perspective.target", &nd);
    if (ns != 4 || nd != 4) wq_failf("INVALID_CONFIG", "config.perspective needs exactly 4 source and 4 target points");
    p.forward = fit_homography(s, d);
    p.method = "perspective";
    free(s);
    free(d);
  } else {
    double degrees = wq_cfg_number(t, "rotate", 0, -1e6, 1e6);
    double scale = wq_cfg_number(t, "scale", 1, 0.01, 100);
    static const char* const kFlips[] = {"none", "horizontal", "vertical", "both", NULL};
    int flip = wq_cfg_choice(t, "flip", kFlips, 0);
    double tx = 0, ty = 0;
    if (wq_cfg_has(t, "translate")) wq_json_point(wq_cfg(t, "translate"), "config.translate", &tx, &ty);
    if (fabs(tx) > 1e6 || fabs(ty) > 1e6) wq_failf("INVALID_CONFIG", "config.translate is out of range");
    // Exact values for multiples of 90° so quarter turns remap pixels exactly.
    double r = fmod(degrees, 360.0);
    double c = cos(r * M_PI / 180), s = sin(r * M_PI / 180);
    if (fmod(r, 90.0) == 0) {
      int q = ((int)(r / 90) % 4 + 4) % 4;
      c = (double[]){1, 0, -1, 0}[q];
      s = (double[]){0, 1, 0, -1}[q];
    }
    transform flip_m = {{(flip & 1) ? -1 : 1, 0, 0, 0, (flip & 2) ? -1 : 1, 0, 0, 0, 1}};
    transform linear = {{c * scale, -s * scale, 0, s * scale, c * scale, 0, 0, 0, 1}};
    p.forward = multiply(translation((out_w - 1) / 2.0 + tx, (out_h - 1) / 2.0 + ty),
                         multiply(linear, multiply(flip_m, translation(-(src_w - 1) / 2.0, -(src_h - 1) / 2.0))));
  }
  return p;
}

int main(void) {
  wq_task t;
  wq_task_begin(&t);
  if (wq_route_through_engine_if_asked(&t)) {  // config.engine: the engine does the whole job
    wq_task_end(&t);
    return 0;
  }
  wq_step(0, "checking the configuration");
  uint8_t fill[3] = {0, 0, 0};
  wq_cfg_color(&t, "fill", fill);
  int out_w = wq_cfg_int(&t, "width", 0, 1, 16384), out_h = wq_cfg_int(&t, "height", 0, 1, 16384);

  wq_step(5, "decoding the source image");
  wq_image src;
  wq_load_image(&t, "source", &src, NULL, NULL);
  if (!out_w) out_w = src.w;
  if (!out_h) out_h = src.h;
  if ((long long)out_w * out_h > WQ_MAX_PIXELS)
    wq_failf("IMAGE_TOO_LARGE", "the output %dx%d has more than " WQ_MAX_PIXELS_TEXT, out_w, out_h);

  wq_step(20, "fitting the transform");
  pose p = read_pose(&t, src.w, src.h, out_w, out_h);
  transform inverse;
  if (!invert(p.forward, &inverse)) wq_failf("INVALID_CONFIG", "the transform is degenerate (it collapses the image)");

  wq_step(30, "resampling");
  wq_image out;
  if (!wq_image_alloc(&out, out_w, out_h)) wq_failf("OUT_OF_MEMORY", "no memory for the output");
  long long covered = 0;
  for (int y = 0; y < out_h; ++y) {
    if (y % 256 == 255) wq_step(30 + (int)(55LL * y / out_h), "resampling (row %d of %d)", y + 1, out_h);
    for (int x = 0; x < out_w; ++x) {
      double sx, sy, sw;
      apply(&inverse, x, y, &sx, &sy, &sw);
      float rgb[3];
      uint8_t* o = out.px + ((size_t)y * out_w + x) * 3;
      if (sw > 1e-12 && wq_image_sample(&src, sx / sw, sy / sw, rgb)) {
        for (int k = 0; k < 3; ++k) o[k] = wq_clamp_u8(rgb[k]);
        ++covered;
      } else {
        memcpy(o, fill, 3);
      }
    }
  }

  wq_step(85, "encoding the result");
  const char* name = wq_write_output(&t, &out);
  wq_summary_begin(&t, name, &out);
  wq_summary_string("method", p.method);
  char matrix[256];
  const double* m = p.forward.m;
  snprintf(matrix, sizeof matrix, "[[%.6g,%.6g,%.6g],[%.6g,%.6g,%.6g],[%.6g,%.6g,%.6g]]", m[0], m[1], m[2], m[3], m[4],
           m[5], m[6], m[7], m[8]);
  wq_summary_raw("matrix", matrix);
  if (strcmp(p.method, "similarity") == 0 || strcmp(p.method, "affine") == 0) wq_summary_number("fit_rms", p.rms);
  wq_summary_number("coverage", (double)covered / ((double)out_w * out_h));
  wq_summary_end();
  wq_step(100, "done");
  wq_image_free(&src);
  wq_image_free(&out);
  wq_task_end(&t);
  return 0;
}
