// background_change.c — the BACKGROUND_CHANGE pipeline: keeps the source image's foreground (the people in
// a photo) and puts a new background behind it.
//
// config (all optional except one background):
//   background_image     uploaded file id (→ /in/background_image.<ext>), scaled to cover the source
//   background_color     "#rrggbb", "#rgb", "rgb(r,g,b)" or a CSS colour name
//   background_gradient  {"from": colour, "to": colour, "angle": degrees (CSS: 0 = to top, 90 = to
//                        right, default 180 = to bottom)}
//   mask_image           uploaded file id: the foreground matte (alpha channel, else grey; white = keep)
//   model                the segmentation model, by the name the host knows it (default "isnet"); its
//                        square input size is the trailing "-NNN" of the name ("isnet-1024"), 640 without
//   matte                "auto" (default: the model, else the estimate), "model" (MODEL_UNAVAILABLE
//                        without it) or "estimate" (never ask for a model)
//   output_mask          true: also write the matte as /out/mask.png (8-bit grey, white = foreground)
//   tolerance            1..20 (default 3): how many standard deviations from a border colour still count
//                        as background when the matte is estimated
//   feather              0..200 px (default 2): softening of the matte's edge
//   output_format, quality
//   engine               an engine name: hand the whole job to that engine instead (common/engine.h)
//
// The matte comes from, in order: mask_image when given; the segmentation model through WASI-NN (ISNet,
// common/nn.h; the matte refined at the model's resolution and applied at full resolution, common/matte.h);
// when the host has no such model, an estimate from the picture alone, reported as "matte": "estimated"
// with the reason in "matte_note":
//
// The estimate assumes the border of the picture is background;
// its colours are clustered (k-means), each cluster gets a per-channel spread, and a pixel's distance to
// the nearest cluster (in standard deviations) gives a foreground score. The score is smoothed, pulled
// into a narrow threshold band, and background-like regions not connected to the border are put back into
// the foreground (a shirt the colour of the wall stays). The matte is then feathered and used to composite.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/color.h"
#include "common/engine.h"
#include "common/filter.h"
#include "common/image.h"
#include "common/matte.h"
#include "common/nn.h"
#include "common/task.h"
#include "wasmq.h"

enum { kMaxClusters = 4, kMaxSamples = 20000, kKMeansRounds = 10 };
// The input size of a model named without a trailing -NNN ("isnet"). 640: the smallest ISNet input that keeps
// every person of the test photos whole (320 and 512 lose the blurred man in basketball1.png; see
// docs/benchmarks.md); the models cache must install `isnet` at this size.
enum { kDefaultModelSize = 640 };

typedef struct {
  float mean[3];
  float sigma[3];
} cluster;

// ---- the new background -----------------------------------------------------------------------------

typedef enum { BG_IMAGE, BG_COLOR, BG_GRADIENT } background_kind;

typedef struct {
  background_kind kind;
  uint8_t color[3];
  uint8_t from[3], to[3];
  double angle;
} background_spec;

static background_spec read_background_spec(const wq_task* t) {
  background_spec spec;
  memset(&spec, 0, sizeof spec);
  int given = wq_cfg_has(t, "background_image") + wq_cfg_has(t, "background_color") +
              wq_cfg_has(t, "background_gradient");
  if (given != 1)
    wq_failf("INVALID_CONFIG", "give exactly one of config.background_image, config.background_color and "
                               "config.background_gradient (%d given)", given);
  if (wq_cfg_has(t, "background_image")) {
    spec.kind = BG_IMAGE;
    wq_cfg_string(t, "background_image", NULL);  // must be a file id string
  } else if (wq_cfg_color(t, "background_color", spec.color)) {
    spec.kind = BG_COLOR;
  } else {
    spec.kind = BG_GRADIENT;
    const wq_json* g = wq_cfg(t, "background_gradient");
    if (g->kind != WQ_JSON_OBJECT || !wq_json_get(g, "from") || !wq_json_get(g, "to"))
      wq_failf("INVALID_CONFIG", "config.background_gradient must be {\"from\": colour, \"to\": colour, \"angle\": deg}");
    wq_json_color(wq_json_get(g, "from"), "config.background_gradient.from", spec.from);
    wq_json_color(wq_json_get(g, "to"), "config.background_gradient.to", spec.to);
    const wq_json* angle = wq_json_get(g, "angle");
    spec.angle = angle && angle->kind != WQ_JSON_NULL ? wq_json_number(angle, "config.background_gradient.angle") : 180;
    if (fabs(spec.angle) > 1e6) wq_failf("INVALID_CONFIG", "config.background_gradient.angle is out of range");
  }
  return spec;
}

static void fill_gradient(wq_image* bg, const background_spec* spec) {
  // CSS linear-gradient geometry: the gradient line runs through the centre in direction (sin a, -cos a)
  // and is long enough for the corners to get exactly `from` and `to`.
  double a = spec->angle * M_PI / 180.0, dx = sin(a), dy = -cos(a);
  double length = fabs(bg->w * dx) + fabs(bg->h * dy);
  double cx = bg->w / 2.0, cy = bg->h / 2.0;
  for (int y = 0; y < bg->h; ++y) {
    for (int x = 0; x < bg->w; ++x) {
      double t = ((x + 0.5 - cx) * dx + (y + 0.5 - cy) * dy) / length + 0.5;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      uint8_t* p = bg->px + ((size_t)y * bg->w + x) * 3;
      for (int k = 0; k < 3; ++k) p[k] = wq_clamp_u8((float)(spec->from[k] + (spec->to[k] - spec->from[k]) * t));
    }
  }
}

static void make_background(const wq_task* t, const background_spec* spec, int w, int h, wq_image* bg) {
  if (spec->kind == BG_IMAGE) {
    wq_image picture;
    wq_load_image(t, "background_image", &picture, NULL, NULL);
    if (!wq_image_cover(&picture, bg, w, h)) wq_failf("OUT_OF_MEMORY", "cannot scale the background image");
    wq_image_free(&picture);
    return;
  }
  if (!wq_image_alloc(bg, w, h)) wq_failf("OUT_OF_MEMORY", "no memory for the background");
  if (spec->kind == BG_GRADIENT) {
    fill_gradient(bg, spec);
    return;
  }
  // One row pixel by pixel, then whole rows: under the interpreter a call per pixel costs ~0.3 s at 1024².
  for (int x = 0; x < w; ++x) memcpy(bg->px + (size_t)x * 3, spec->color, 3);
  for (int y = 1; y < h; ++y) memcpy(bg->px + (size_t)y * w * 3, bg->px, (size_t)w * 3);
}

// ---- the matte ----------------------------------------------------------------------------------------

static float* matte_from_mask(const wq_task* t, int w, int h) {
  int mw, mh;
  uint8_t* mask;
  wq_load_mask(t, "mask_image", &mw, &mh, &mask);
  float* alpha = malloc(sizeof(float) * (size_t)w * h);
  if (!alpha) wq_failf("OUT_OF_MEMORY", "no memory for the matte");
  // A mask of another size is stretched onto the source (nearest sample: masks are usually hard-edged).
  for (int y = 0; y < h; ++y) {
    int my = (int)((y + 0.5) * mh / h);
    for (int x = 0; x < w; ++x) {
      int mx = (int)((x + 0.5) * mw / w);
      alpha[(size_t)y * w + x] = mask[(size_t)my * mw + mx] / 255.0f;
    }
  }
  free(mask);
  return alpha;
}

static int in_border(int x, int y, int w, int h, int band) {
  return x < band || y < band || x >= w - band || y >= h - band;
}

static float dist2(const float* a, const float* b) {
  float d = 0;
  for (int k = 0; k < 3; ++k) d += (a[k] - b[k]) * (a[k] - b[k]);
  return d;
}

// k-means on the border colours; farthest-first seeding keeps it deterministic.
static int fit_border_clusters(const wq_image* src, int band, cluster* out) {
  int w = src->w, h = src->h;
  size_t border = (size_t)w * h - (size_t)(w > 2 * band ? w - 2 * band : 0) * (h > 2 * band ? h - 2 * band : 0);
  size_t stride = border / kMaxSamples + 1, n = 0, seen = 0;
  float(*samples)[3] = malloc(sizeof(float[3]) * (border / stride + 1));
  int* label = malloc(sizeof(int) * (border / stride + 1));
  if (!samples || !label) wq_failf("OUT_OF_MEMORY", "no memory for the colour model");
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      if (!in_border(x, y, w, h, band)) {
        x = w - band - 1;  // jump over the interior of the row
        continue;
      }
      if (seen++ % stride) continue;
      const uint8_t* p = src->px + ((size_t)y * w + x) * 3;
      for (int k = 0; k < 3; ++k) samples[n][k] = p[k];
      ++n;
    }
  }
  float centers[kMaxClusters][3];
  int k = 0;
  memcpy(centers[k++], samples[0], sizeof centers[0]);
  while (k < kMaxClusters) {
    size_t far = 0;
    float best = -1;
    for (size_t i = 0; i < n; ++i) {
      float d = 1e30f;
      for (int c = 0; c < k; ++c) d = fminf(d, dist2(samples[i], centers[c]));
      if (d > best) best = d, far = i;
    }
    if (best < 100.f) break;  // every sample is within 10 levels of a centre: enough clusters
    memcpy(centers[k++], samples[far], sizeof centers[0]);
  }
  for (int round = 0; round < kKMeansRounds; ++round) {
    double sum[kMaxClusters][3] = {{0}};
    size_t count[kMaxClusters] = {0};
    for (size_t i = 0; i < n; ++i) {
      int bestc = 0;
      for (int c = 1; c < k; ++c)
        if (dist2(samples[i], centers[c]) < dist2(samples[i], centers[bestc])) bestc = c;
      label[i] = bestc;
      ++count[bestc];
      for (int j = 0; j < 3; ++j) sum[bestc][j] += samples[i][j];
    }
    for (int c = 0; c < k; ++c)
      if (count[c])
        for (int j = 0; j < 3; ++j) centers[c][j] = (float)(sum[c][j] / count[c]);
  }
  int used = 0;
  for (int c = 0; c < k; ++c) {
    double var[3] = {0, 0, 0};
    size_t count = 0;
    for (size_t i = 0; i < n; ++i) {
      if (label[i] != c) continue;
      ++count;
      for (int j = 0; j < 3; ++j) var[j] += (samples[i][j] - centers[c][j]) * (samples[i][j] - centers[c][j]);
    }
    if (!count) continue;
    for (int j = 0; j < 3; ++j) {
      out[used].mean[j] = centers[c][j];
      // A floor on the spread: a flat synthetic border would otherwise make every compression artefact
      // foreground.
      out[used].sigma[j] = fmaxf(6.0f, (float)sqrt(var[j] / count));
    }
    ++used;
  }
  free(samples);
  free(label);
  return used;
}

// Background-like pixels (alpha < 0.5) that cannot reach the border through other background-like pixels
// are foreground after all.
static void fill_enclosed(float* alpha, int w, int h) {
  size_t n = (size_t)w * h;
  uint8_t* reached = calloc(n, 1);
  int* queue = malloc(sizeof(int) * n);
  if (!reached || !queue) wq_failf("OUT_OF_MEMORY", "no memory for the matte");
  size_t head = 0, tail = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if ((x == 0 || y == 0 || x == w - 1 || y == h - 1) && alpha[(size_t)y * w + x] < 0.5f) {
        reached[(size_t)y * w + x] = 1;
        queue[tail++] = y * w + x;
      }
  while (head < tail) {
    int i = queue[head++], x = i % w, y = i / w;
    int next[4] = {x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1, y > 0 ? i - w : -1, y < h - 1 ? i + w : -1};
    for (int j = 0; j < 4; ++j)
      if (next[j] >= 0 && !reached[next[j]] && alpha[next[j]] < 0.5f) {
        reached[next[j]] = 1;
        queue[tail++] = next[j];
      }
  }
  for (size_t i = 0; i < n; ++i)
    if (!reached[i] && alpha[i] < 0.5f) alpha[i] = 1.0f;
  free(reached);
  free(queue);
}

static float* estimate_matte(const wq_image* src, float tolerance, int* clusters_used) {
  int w = src->w, h = src->h, shorter = w < h ? w : h;
  int band = shorter / 32 > 1 ? shorter / 32 : 1;
  cluster model[kMaxClusters];
  int k = fit_border_clusters(src, band, model);
  *clusters_used = k;
  wq_step(35, "estimating the foreground (%d background colours)", k);
  float* alpha = malloc(sizeof(float) * (size_t)w * h);
  if (!alpha) wq_failf("OUT_OF_MEMORY", "no memory for the matte");
  for (size_t i = 0; i < (size_t)w * h; ++i) {
    const uint8_t* p = src->px + i * 3;
    float best = 1e30f;
    for (int c = 0; c < k; ++c) {
      float d = 0;
      for (int j = 0; j < 3; ++j) {
        float z = (p[j] - model[c].mean[j]) / model[c].sigma[j];
        d += z * z;
      }
      best = fminf(best, d);
    }
    // Distance in standard deviations (RMS over the channels) → a score from 0 (background) to 1.
    alpha[i] = wq_smoothstep(tolerance, 2.0f * tolerance, sqrtf(best / 3.0f));
  }
  wq_step(50, "smoothing the matte");
  int smooth = shorter / 256 > 1 ? shorter / 256 : 1;
  if (!wq_blur(alpha, w, h, smooth)) wq_failf("OUT_OF_MEMORY", "no memory for the matte");
  for (size_t i = 0; i < (size_t)w * h; ++i) alpha[i] = wq_smoothstep(0.3f, 0.7f, alpha[i]);
  fill_enclosed(alpha, w, h);
  return alpha;
}

// ---- compositing --------------------------------------------------------------------------------------

// Composites src over bg in place with the matte `hard` (0..1; freed here), feathered by `feather` px, and returns the
// mean of the feathered alpha. A feathered edge must not drag the old background along: where the matte is
// not solid foreground, the foreground colour is estimated as the matte-weighted average of the pixels
// around it (normalised convolution, blur(I·a) / blur(a)), so an edge fades from the subject's colour into
// the new background. Solid foreground keeps its own pixels exactly.
static double composite(wq_image* src, const wq_image* bg, float* hard, int feather) {
  int w = src->w, h = src->h;
  size_t n = (size_t)w * h;
  int radius = feather > 2 ? feather : 2;  // at least a small neighbourhood for the colour estimate
  uint8_t* solid = malloc(n);
  float* soft = malloc(sizeof(float) * n);
  float* weight = radius == feather ? soft : malloc(sizeof(float) * n);
  if (!solid || !soft || !weight) wq_failf("OUT_OF_MEMORY", "no memory for compositing");
  for (size_t i = 0; i < n; ++i) {
    solid[i] = hard[i] >= 0.999f;
    soft[i] = hard[i];
    if (weight != soft) weight[i] = hard[i];
  }
  if (!wq_blur(soft, w, h, feather) || (weight != soft && !wq_blur(weight, w, h, radius)))
    wq_failf("OUT_OF_MEMORY", "no memory for feathering");
  float* channel = malloc(sizeof(float) * n);  // blur(I·a), one channel at a time
  if (!channel) wq_failf("OUT_OF_MEMORY", "no memory for compositing");
  for (int k = 0; k < 3; ++k) {
    for (size_t i = 0; i < n; ++i) channel[i] = hard[i] * src->px[i * 3 + k];
    if (!wq_blur(channel, w, h, radius)) wq_failf("OUT_OF_MEMORY", "no memory for compositing");
    for (size_t i = 0; i < n; ++i) {
      float a = soft[i];
      float fg = solid[i] ? src->px[i * 3 + k] : weight[i] > 1e-4f ? channel[i] / weight[i] : bg->px[i * 3 + k];
      src->px[i * 3 + k] = wq_clamp_u8(a * fg + (1.0f - a) * bg->px[i * 3 + k]);
    }
  }
  double coverage = 0;
  for (size_t i = 0; i < n; ++i) coverage += soft[i];
  free(channel);
  free(hard);
  free(solid);
  if (weight != soft) free(weight);
  free(soft);
  return coverage;
}

// ---- the pipeline -------------------------------------------------------------------------------------

// The model's matte in *m (1), or 0 with the reason in `why` (the caller falls back to the estimate).
static int model_matte(const wq_image* src, const char* model, int feather, wq_matte* m, char* why, size_t why_cap) {
  int size = wq_nn_model_size(model, kDefaultModelSize);
  if (!size) wq_failf("INVALID_CONFIG", "config.model \"%s\" names an input size outside 32..4096", model);
  wq_step(25, "segmenting with %s (%dx%d)", model, size, size);
  float* prob = wq_nn_segment(model, src, size, why, why_cap);
  if (!prob) return 0;
  wq_step(55, "refining the matte");
  wq_matte_build(m, src, prob, size, feather);
  free(prob);
  return 1;
}

// The estimate's or the mask's matte as 8-bit grey, for /out/mask.png.
static void write_float_mask(const float* alpha, int w, int h) {
  size_t n = (size_t)w * h;
  uint8_t* alpha8 = malloc(n ? n : 1);
  if (!alpha8) wq_failf("OUT_OF_MEMORY", "no memory for the mask");
  for (size_t i = 0; i < n; ++i) alpha8[i] = wq_clamp_u8(alpha[i] * 255.0f);
  wq_matte_write_png("mask.png", alpha8, w, h);
  free(alpha8);
}

int main(void) {
  wq_task t;
  wq_task_begin(&t);
  if (wq_route_through_engine_if_asked(&t)) {  // config.engine: the engine does the whole job
    wq_task_end(&t);
    return 0;
  }
  wq_step(0, "checking the configuration");
  background_spec spec = read_background_spec(&t);
  int feather = wq_cfg_int(&t, "feather", 2, 0, 200);
  float tolerance = (float)wq_cfg_number(&t, "tolerance", 3.0, 1.0, 20.0);
  static const char* const kMatteChoices[] = {"auto", "model", "estimate", NULL};
  enum { MATTE_AUTO, MATTE_MODEL, MATTE_ESTIMATE };
  int matte_choice = wq_cfg_choice(&t, "matte", kMatteChoices, MATTE_AUTO);
  const char* model = wq_cfg_string(&t, "model", "isnet");
  if (!*model || strlen(model) > 128) wq_failf("INVALID_CONFIG", "config.model must be a model name (1..128 bytes)");
  int output_mask = wq_cfg_bool(&t, "output_mask", 0);
  int use_mask = wq_cfg_has(&t, "mask_image");
  if (use_mask) wq_cfg_string(&t, "mask_image", NULL);

  wq_step(5, "decoding the source image");
  wq_image src;
  wq_load_image(&t, "source", &src, NULL, NULL);
  int w = src.w, h = src.h;

  wq_step(15, "preparing the background");
  wq_image bg;
  make_background(&t, &spec, w, h, &bg);

  int clusters = 0;
  char note[256] = "";
  wq_matte matte;
  int from_model = 0;
  float* alpha = NULL;
  const char* source = "mask";
  if (use_mask) {
    wq_step(25, "reading the mask");
    alpha = matte_from_mask(&t, w, h);
  } else if (matte_choice != MATTE_ESTIMATE) {
    from_model = model_matte(&src, model, feather, &matte, note, sizeof note);
    if (!from_model && matte_choice == MATTE_MODEL) wq_failf("MODEL_UNAVAILABLE", "%s", note);
  } else {
    snprintf(note, sizeof note, "config.matte is \"estimate\"");
  }
  if (!use_mask && !from_model) {
    wq_step(25, "modelling the border colours");
    alpha = estimate_matte(&src, tolerance, &clusters);
  }
  if (from_model) source = "model";
  else if (!use_mask) source = "estimated";

  double coverage;
  int holes_filled = from_model ? matte.holes_filled : 0;
  if (from_model) {
    wq_step(65, "compositing");
    uint8_t* alpha8 = output_mask ? malloc((size_t)w * h) : NULL;
    if (output_mask && !alpha8) wq_failf("OUT_OF_MEMORY", "no memory for the mask");
    coverage = wq_matte_apply(&matte, &src, &bg, alpha8);
    wq_matte_free(&matte);
    if (alpha8) wq_matte_write_png("mask.png", alpha8, w, h);
    free(alpha8);
  } else {
    if (output_mask) write_float_mask(alpha, w, h);
    wq_step(65, "feathering the edges");
    coverage = composite(&src, &bg, alpha, feather);  // frees alpha
  }
  wq_image_free(&bg);

  wq_step(85, "encoding the result");
  const char* name = wq_write_output(&t, &src);
  static const char* const kKinds[] = {"image", "color", "gradient"};
  wq_summary_begin(&t, name, &src);
  wq_summary_string("background", kKinds[spec.kind]);
  wq_summary_string("matte", source);
  if (strcmp(source, "model") == 0) {
    wq_summary_string("model", model);
    wq_summary_int("model_size", wq_nn_model_size(model, kDefaultModelSize));
    wq_summary_int("holes_filled", holes_filled);
  }
  if (strcmp(source, "estimated") == 0) {
    wq_summary_int("border_colors", clusters);
    wq_summary_string("matte_note", note);
  }
  if (output_mask) wq_summary_string("mask", "mask.png");
  wq_summary_number("foreground_fraction", coverage / ((double)w * h));
  wq_summary_end();
  wq_step(100, "done");
  wq_image_free(&src);
  wq_task_end(&t);
  return 0;
}
