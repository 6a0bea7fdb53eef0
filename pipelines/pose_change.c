// pose_change.c — the POSE_CHANGE pipeline, in one of two methods (config "method"):
//
// "geometric" (the default) runs here, in the sandbox: it moves the whole picture with one global
// transform (similarity, affine or perspective) and resamples it bilinearly. It re-frames, rotates,
// mirrors and straightens; it cannot bend an arm or turn a head, because every pixel moves by the same
// formula. The result says "method": "geometric" and, in "transform", which one.
//
// "generative" re-poses the person with an image model: the pipeline sends the source and the target
// pose (an OpenPose skeleton it draws from target_keypoints, or a pose_image) as one side-by-side upload
// to a ComfyUI engine whose workflow is pipelines/workflows/pose_change_openpose*.json (OpenPose
// ControlNet), and writes the image the engine answers. The result says "method": "generative".
//
// config, geometric — one of three ways to give the transform:
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
// config, generative (docs/engines.md "POSE_CHANGE through ComfyUI"):
//   target_keypoints   the target pose in source pixels: the 18 OpenPose body keypoints, either a list in
//        OpenPose order (null for a joint not seen) or an object by joint name (kJoints below); or
//   pose_image         an uploaded image: a ready OpenPose skeleton, or (with the _from_photo workflow) a
//        photo of someone in the target pose
//   prompt, negative_prompt, seed (default: from the task id, so a retry paints the same picture), steps
//   (20), cfg (7), denoise (0.85), sampler ("euler"), scheduler ("normal"), controlnet_strength (1),
//   size (the longer side of the generated image, 768), checkpoint, controlnet (model file names; default:
//   the engine's "defaults")
//   engine        the ComfyUI engine's name (default "comfyui")
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

// ---- the generative method ----------------------------------------------------------------------------

// The 18 body keypoints of OpenPose's COCO model, in its order: what the OpenPose ControlNet was trained on.
static const char* const kJoints[] = {
    "nose",      "neck",       "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "right_hip",      "right_knee",  "right_ankle", "left_hip",
    "left_knee", "left_ankle", "right_eye",      "left_eye",    "right_ear",   "left_ear",   NULL};
enum { kJointCount = 18, kLimbCount = 17 };

// The skeleton as OpenPose draws it: limb i joins kLimbs[i] in colour kPoseColors[i], joint j is a dot in
// kPoseColors[j]. The ControlNet reads limbs by their colour, so these must match OpenPose's rendering.
static const int kLimbs[kLimbCount][2] = {{1, 2},  {1, 5},   {2, 3},  {3, 4},   {5, 6},  {6, 7},
                                          {1, 8},  {8, 9},   {9, 10}, {1, 11},  {11, 12}, {12, 13},
                                          {1, 0},  {0, 14},  {14, 16}, {0, 15}, {15, 17}};
static const uint8_t kPoseColors[kJointCount][3] = {
    {255, 0, 0},   {255, 85, 0},  {255, 170, 0}, {255, 255, 0}, {170, 255, 0}, {85, 255, 0},
    {0, 255, 0},   {0, 255, 85},  {0, 255, 170}, {0, 255, 255}, {0, 170, 255}, {0, 85, 255},
    {0, 0, 255},   {85, 0, 255},  {170, 0, 255}, {255, 0, 255}, {255, 0, 170}, {255, 0, 85}};

typedef struct {
  point at[kJointCount];
  int seen[kJointCount];
} skeleton;

static int joint_index(const char* name) {
  for (int j = 0; j < kJointCount; ++j)
    if (strcmp(kJoints[j], name) == 0) return j;
  return -1;
}

static void read_joint(const wq_json* v, int j, skeleton* s) {
  if (!v || v->kind == WQ_JSON_NULL) return;
  char name[64];
  snprintf(name, sizeof name, "config.target_keypoints.%s", kJoints[j]);
  wq_json_point(v, name, &s->at[j].x, &s->at[j].y);
  if (fabs(s->at[j].x) > 1e6 || fabs(s->at[j].y) > 1e6) wq_failf("INVALID_CONFIG", "%s is out of range", name);
  s->seen[j] = 1;
}

static skeleton read_skeleton(const wq_task* t) {
  const wq_json* v = wq_cfg(t, "target_keypoints");
  skeleton s;
  memset(&s, 0, sizeof s);
  if (v->kind == WQ_JSON_ARRAY) {
    if (v->count != kJointCount)
      wq_failf("INVALID_CONFIG", "config.target_keypoints must list the %d OpenPose body keypoints (null for one "
                                 "not seen), not %zu; or name them in an object", kJointCount, v->count);
    for (int j = 0; j < kJointCount; ++j) read_joint(&v->items[j], j, &s);
  } else if (v->kind == WQ_JSON_OBJECT) {
    for (size_t i = 0; i < v->count; ++i) {
      int j = joint_index(v->keys[i]);
      if (j < 0)
        wq_failf("INVALID_CONFIG", "config.target_keypoints.%s is not an OpenPose body keypoint (nose, neck, "
                                   "right_shoulder, ..., left_ear)", v->keys[i]);
      read_joint(&v->items[i], j, &s);
    }
  } else {
    wq_failf("INVALID_CONFIG", "config.target_keypoints must be a list of the %d OpenPose body keypoints or an "
                               "object by joint name", kJointCount);
  }
  int limbs = 0;
  for (int i = 0; i < kLimbCount; ++i) limbs += s.seen[kLimbs[i][0]] && s.seen[kLimbs[i][1]];
  if (!limbs) wq_failf("INVALID_CONFIG", "config.target_keypoints joins no two keypoints into a limb");
  return s;
}

static void paint(wq_image* img, int x, int y, const uint8_t rgb[3], double gain) {
  uint8_t* p = img->px + ((size_t)y * img->w + x) * 3;
  for (int k = 0; k < 3; ++k) p[k] = (uint8_t)(rgb[k] * gain);
}

// Draws the skeleton (scaled by `scale` from source pixels) on black, the way OpenPose renders one: each
// limb an ellipse at 60 % of its colour, each joint a dot on top. Line widths grow with the image, from
// OpenPose's 4 px at 512 px.
static void draw_skeleton(wq_image* img, const skeleton* s, double scale) {
  memset(img->px, 0, (size_t)img->w * img->h * 3);
  double unit = fmax(img->w, img->h) / 512.0;
  double half_width = fmax(2, 4 * unit), radius = fmax(2, 4 * unit);
  for (int i = 0; i < kLimbCount; ++i) {
    int a = kLimbs[i][0], b = kLimbs[i][1];
    if (!s->seen[a] || !s->seen[b]) continue;
    double ax = s->at[a].x * scale, ay = s->at[a].y * scale, bx = s->at[b].x * scale, by = s->at[b].y * scale;
    double mx = (ax + bx) / 2, my = (ay + by) / 2, len = hypot(bx - ax, by - ay);
    double half_len = fmax(len / 2, half_width), ux = len > 0 ? (bx - ax) / len : 1, uy = len > 0 ? (by - ay) / len : 0;
    int x0 = (int)floor(fmax(0, mx - half_len - 1)), x1 = (int)ceil(fmin(img->w - 1, mx + half_len + 1));
    int y0 = (int)floor(fmax(0, my - half_len - 1)), y1 = (int)ceil(fmin(img->h - 1, my + half_len + 1));
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        double along = ((x - mx) * ux + (y - my) * uy) / half_len;
        double across = ((y - my) * ux - (x - mx) * uy) / half_width;
        if (along * along + across * across <= 1) paint(img, x, y, kPoseColors[i], 0.6);
      }
  }
  for (int j = 0; j < kJointCount; ++j) {
    if (!s->seen[j]) continue;
    double cx = s->at[j].x * scale, cy = s->at[j].y * scale;
    for (int y = (int)fmax(0, floor(cy - radius)); y <= (int)fmin(img->h - 1, ceil(cy + radius)); ++y)
      for (int x = (int)fmax(0, floor(cx - radius)); x <= (int)fmin(img->w - 1, ceil(cx + radius)); ++x)
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= radius * radius) paint(img, x, y, kPoseColors[j], 1);
  }
}

// The keys only the geometric method reads: given with "generative" they are a mistake, not ignored. (The
// geometric method ignores the generative keys, as it always ignored keys it does not know.)
static const char* const kGeometricKeys[] = {"source_keypoints", "fit", "perspective", "rotate", "flip", "scale",
                                             "translate", "width", "height", "fill", NULL};

static void refuse_keys(const wq_task* t, const char* const* keys, const char* method) {
  for (int i = 0; keys[i]; ++i)
    if (wq_cfg_has(t, keys[i]))
      wq_failf("INVALID_CONFIG", "config.%s is for method %s", keys[i], method);
}

// A default seed that stays the same across a task's attempts: FNV-1a of the task id, cut to 53 bits so
// JSON carries it exactly.
static double seed_from_task(const wq_task* t) {
  const wq_json* id = wq_json_get(t->root, "task_id");
  const char* s = id && id->kind == WQ_JSON_STRING ? id->string : getenv("WASMQ_TASK_ID");
  uint64_t h = 14695981039346656037ull;
  for (; s && *s; ++s) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return (double)(h >> 11);
}

static const char* image_extension(const uint8_t* p, size_t n) {
  if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) return "png";
  if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return "jpg";
  if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0)) return "gif";
  return NULL;
}

// A string config value that must not be empty when given.
static const char* cfg_name(const wq_task* t, const char* key, const char* fallback) {
  const char* v = wq_cfg_string(t, key, fallback);
  if (v && !*v) wq_failf("INVALID_CONFIG", "config.%s must not be empty", key);
  return v;
}

// The engine request: a flat object whose strings point into the task's tree (16 members at most).
static void add_string(wq_json* request, const char* key, const char* value) {
  request->keys[request->count] = (char*)key;
  request->items[request->count++] = (wq_json){.kind = WQ_JSON_STRING, .string = (char*)value};
}
static void add_number(wq_json* request, const char* key, double value) {
  request->keys[request->count] = (char*)key;
  request->items[request->count++] = (wq_json){.kind = WQ_JSON_NUMBER, .number = value};
}

static void run_generative(const wq_task* t) {
  wq_step(0, "checking the configuration");
  refuse_keys(t, kGeometricKeys, "geometric");
  const wq_json* engine_v = wq_cfg(t, "engine");
  if (engine_v && (engine_v->kind != WQ_JSON_STRING || !*engine_v->string))
    wq_failf("INVALID_CONFIG", "config.engine must be the name of a ComfyUI engine");
  const char* engine = engine_v ? engine_v->string : "comfyui";
  int keypoints = wq_cfg_has(t, "target_keypoints"), pose_image = wq_cfg_has(t, "pose_image");
  if (keypoints == pose_image)
    wq_failf("INVALID_CONFIG", "method generative needs the target pose: target_keypoints (the 18 OpenPose body "
                               "keypoints) or pose_image, one of them");
  skeleton target;
  memset(&target, 0, sizeof target);
  if (keypoints) target = read_skeleton(t);
  int size = wq_cfg_int(t, "size", 768, 64, 2048);
  double seed = wq_cfg_has(t, "seed") ? wq_cfg_number(t, "seed", 0, 0, 9007199254740991.0) : seed_from_task(t);
  if (seed != floor(seed)) wq_failf("INVALID_CONFIG", "config.seed must be a whole number");
  wq_json fields[16];
  char* keys[16];
  wq_json request = {.kind = WQ_JSON_OBJECT, .items = fields, .keys = keys};
  add_string(&request, "prompt", wq_cfg_string(t, "prompt", "a photo of a person, best quality"));
  add_string(&request, "negative_prompt",
             wq_cfg_string(t, "negative_prompt", "lowres, bad anatomy, bad hands, deformed, blurry"));
  add_number(&request, "seed", seed);
  add_number(&request, "steps", wq_cfg_int(t, "steps", 20, 1, 150));
  add_number(&request, "cfg", wq_cfg_number(t, "cfg", 7, 0, 30));
  add_number(&request, "denoise", wq_cfg_number(t, "denoise", 0.85, 0, 1));
  add_string(&request, "sampler", cfg_name(t, "sampler", "euler"));
  add_string(&request, "scheduler", cfg_name(t, "scheduler", "normal"));
  add_number(&request, "controlnet_strength", wq_cfg_number(t, "controlnet_strength", 1, 0, 10));
  // Model file names only when the task names them: otherwise the engine's "defaults" (what is installed).
  if (wq_cfg_has(t, "checkpoint")) add_string(&request, "checkpoint", cfg_name(t, "checkpoint", NULL));
  if (wq_cfg_has(t, "controlnet")) add_string(&request, "controlnet", cfg_name(t, "controlnet", NULL));

  wq_step(5, "decoding the source image");
  wq_image src;
  wq_load_image(t, "source", &src, NULL, NULL);
  // The generated size: the source's proportions, the longer side `size`, both sides multiples of 8
  // (Stable Diffusion's latent is an eighth of the picture).
  double scale = (double)size / (src.w > src.h ? src.w : src.h);
  int w = 8 * (int)fmax(1, round(src.w * scale / 8)), h = 8 * (int)fmax(1, round(src.h * scale / 8));
  add_number(&request, "width", w);
  add_number(&request, "height", h);

  wq_step(10, keypoints ? "drawing the target pose" : "decoding the pose image");
  // One upload holds both pictures, side by side (source | pose): the engine sends one image per call and
  // the workflow cuts it in two with ImageCrop, a core node.
  wq_image both, left, right;
  if (!wq_image_alloc(&both, 2 * w, h) || !wq_image_alloc(&right, w, h))
    wq_failf("OUT_OF_MEMORY", "no memory for the %dx%d upload", 2 * w, h);
  if (!wq_image_resize(&src, 0, 0, src.w, src.h, &left, w, h))
    wq_failf("OUT_OF_MEMORY", "no memory to resize the source");
  if (keypoints) {
    draw_skeleton(&right, &target, (double)w / src.w);
  } else {
    wq_image pose;
    wq_load_image(t, "pose_image", &pose, NULL, NULL);
    wq_image_free(&right);
    if (!wq_image_cover(&pose, &right, w, h)) wq_failf("OUT_OF_MEMORY", "no memory to resize the pose image");
    wq_image_free(&pose);
  }
  for (int y = 0; y < h; ++y) {
    memcpy(both.px + (size_t)y * 2 * w * 3, left.px + (size_t)y * w * 3, (size_t)w * 3);
    memcpy(both.px + ((size_t)y * 2 * w + w) * 3, right.px + (size_t)y * w * 3, (size_t)w * 3);
  }
  wq_step(15, "encoding the upload");
  wq_buffer upload = {0};
  if (!wq_image_encode(&both, "png", 0, &upload)) wq_failf("OUT_OF_MEMORY", "no memory to encode the upload");
  wq_image_free(&left);
  wq_image_free(&right);
  wq_image_free(&both);
  char* request_text = wq_json_write(&request, NULL);
  if (!request_text) wq_failf("OUT_OF_MEMORY", "no memory for the engine request");

  wq_step(20, "sending to engine %s", engine);
  wq_engine_answer answer;
  wq_engine_call(engine, request_text, upload.data, upload.size, &answer);
  wq_buffer_free(&upload);
  free(request_text);
  wq_step(90, "engine %s answered", engine);
  const char* ext = answer.payload ? image_extension(answer.payload, answer.payload_size) : NULL;
  wq_image result;
  const char* reason = NULL;
  if (!ext || wq_image_decode(answer.payload, answer.payload_size, &result, &reason) != WQ_IMG_OK)
    wq_failf("ENGINE_FAILED", "engine %s returned no PNG, JPEG or GIF image (it answered %.200s)", engine,
             answer.json_size ? answer.json : "nothing");
  char name[32];
  snprintf(name, sizeof name, "result.%s", ext);
  wq_write_file(name, answer.payload, answer.payload_size);  // as generated: not re-encoded

  printf("{\"output\":\"%s\",\"format\":\"%s\",\"width\":%d,\"height\":%d", name, strcmp(ext, "jpg") ? ext : "jpeg",
         result.w, result.h);
  wq_summary_string("method", "generative");
  wq_summary_string("engine", engine);
  wq_summary_string("pose", keypoints ? "target_keypoints" : "pose_image");
  wq_summary_int("seed", (long long)seed);
  wq_summary_int("bytes", (long long)answer.payload_size);
  wq_json* response = wq_json_parse(answer.json, answer.json_size, NULL, 0);
  char* compact = response ? wq_json_write(response, NULL) : NULL;
  if (compact) wq_summary_raw("response", compact);
  wq_summary_end();
  free(compact);
  wq_json_free(response);
  wq_image_free(&result);
  wq_image_free(&src);
  wq_engine_answer_free(&answer);
  wq_step(100, "done");
}

int main(void) {
  wq_task t;
  wq_task_begin(&t);
  static const char* const kMethods[] = {"geometric", "generative", NULL};
  if (wq_cfg_choice(&t, "method", kMethods, 0) == 1) {  // config.engine names the ComfyUI engine here
    run_generative(&t);
    wq_task_end(&t);
    return 0;
  }
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
  wq_summary_string("method", "geometric");
  wq_summary_string("transform", p.method);
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
