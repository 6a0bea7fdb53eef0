// head_swap.c — the HEAD_SWAP pipeline: puts the head from a reference photo onto the person in the source.
//
// The reference's head box is scaled to the source's head box, its colours are matched to the source
// region (mean and spread of each L*a*b* channel, so skin tone and lighting follow the source), and it is
// blended in through a feathered elliptical mask inscribed in the box.
//
// config:
//   reference_image   uploaded file id (→ /in/reference_image.<ext>); required
//   source_box, reference_box   {"x","y","w","h"} in pixels; each one that is absent comes from the face
//                     engine: the largest face it finds, grown by box_expand around its centre
//   face_engine       engine name (default "face-detect", the built-in OpenCV cascade)
//   max_faces         1..50 (default 10): asked of the engine
//   box_expand        1..3 (default 1.4): face box → head box
//   feather           0..1 (default 0.3): the soft part of the mask, as a fraction of the ellipse radius
//   color_match       true (default) | false
//   output_format, quality
//   engine            an engine name: hand the whole job to that engine instead (common/engine.h)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/color.h"
#include "common/engine.h"
#include "common/filter.h"
#include "common/image.h"
#include "common/task.h"
#include "wasmq.h"

// ---- face detection through the engine ----------------------------------------------------------------

// Calls the engine (common/engine.h: its failures fail the task) and returns its parsed response JSON.
static wq_json* call_engine(const char* engine, const char* request, const uint8_t* data, size_t size) {
  wq_engine_answer answer;
  wq_engine_call(engine, request, data, size, &answer);
  char err[128];
  wq_json* response = wq_json_parse(answer.json, answer.json_size, err, sizeof err);
  wq_engine_answer_free(&answer);
  if (!response || response->kind != WQ_JSON_OBJECT)
    wq_failf("ENGINE_FAILED", "engine %s answered something that is not a JSON object", engine);
  return response;
}

static wq_box grow_box(wq_box face, double factor, int w, int h) {
  double cx = face.x + face.w / 2.0, cy = face.y + face.h / 2.0;
  double bw = face.w * factor, bh = face.h * factor;
  double x0 = fmax(0, cx - bw / 2), y0 = fmax(0, cy - bh / 2);
  double x1 = fmin(w, cx + bw / 2), y1 = fmin(h, cy + bh / 2);
  wq_box b = {(int)lround(x0), (int)lround(y0), (int)lround(x1 - x0), (int)lround(y1 - y0)};
  if (b.w < 1) b.w = 1;
  if (b.h < 1) b.h = 1;
  return b;
}

// The largest face the engine finds in `img` (its encoded bytes are what is sent), grown to a head box.
static wq_box detect_head(const wq_task* t, const char* which, const wq_image* img, const uint8_t* bytes,
                          size_t size, int* faces_found) {
  const char* engine = wq_cfg_string(t, "face_engine", "face-detect");
  int max_faces = wq_cfg_int(t, "max_faces", 10, 1, 50);
  double expand = wq_cfg_number(t, "box_expand", 1.4, 1.0, 3.0);
  char request[64];
  snprintf(request, sizeof request, "{\"max_faces\":%d}", max_faces);
  wq_json* response = call_engine(engine, request, bytes, size);
  const wq_json* faces = wq_json_get(response, "faces");
  if (!faces || faces->kind != WQ_JSON_ARRAY)
    wq_failf("ENGINE_FAILED", "engine %s answered without a \"faces\" list", engine);
  wq_box best = {0, 0, 0, 0};
  double best_area = 0;
  for (size_t i = 0; i < faces->count; ++i) {
    const wq_json* f = &faces->items[i];
    const wq_json *x = wq_json_get(f, "x"), *y = wq_json_get(f, "y"), *w = wq_json_get(f, "w"), *h = wq_json_get(f, "h");
    if (!x || !y || !w || !h || x->kind != WQ_JSON_NUMBER || y->kind != WQ_JSON_NUMBER ||
        w->kind != WQ_JSON_NUMBER || h->kind != WQ_JSON_NUMBER)
      wq_failf("ENGINE_FAILED", "engine %s: faces[%zu] lacks numeric x, y, w, h", engine, i);
    // Clip to the image: a detector may report a face cut by the edge.
    double x0 = fmax(0, x->number), y0 = fmax(0, y->number);
    double x1 = fmin(img->w, x->number + w->number), y1 = fmin(img->h, y->number + h->number);
    double area = (x1 - x0) * (y1 - y0);
    if (x1 - x0 >= 1 && y1 - y0 >= 1 && area > best_area) {
      best_area = area;
      best = (wq_box){(int)lround(x0), (int)lround(y0), (int)lround(x1 - x0), (int)lround(y1 - y0)};
    }
  }
  *faces_found = (int)faces->count;
  wq_json_free(response);
  if (best_area <= 0) wq_failf("NO_FACE_FOUND", "no face found in the %s image", which);
  return grow_box(best, expand, img->w, img->h);
}

// ---- colour matching and blending ---------------------------------------------------------------------

// Weight of the elliptical mask inscribed in a w×h box at pixel (x, y) of the box.
static float ellipse_weight(int x, int y, int w, int h, float feather) {
  float dx = (x + 0.5f - w / 2.0f) / (w / 2.0f), dy = (y + 0.5f - h / 2.0f) / (h / 2.0f);
  float r = sqrtf(dx * dx + dy * dy);
  if (feather <= 0) return r <= 1.0f ? 1.0f : 0.0f;
  return 1.0f - wq_smoothstep(1.0f - feather, 1.0f, r);
}

typedef struct {
  double mean[3], sd[3];
} lab_stats;

// Weighted Lab statistics of box `b` of img (or of the whole of `img` when b is NULL), weighted by the core
// of the mask so the background around the head counts little.
static lab_stats region_stats(const wq_image* img, const wq_box* b, float feather) {
  int bx = b ? b->x : 0, by = b ? b->y : 0, bw = b ? b->w : img->w, bh = b ? b->h : img->h;
  double sum[3] = {0}, sq[3] = {0}, total = 0;
  for (int y = 0; y < bh; ++y) {
    for (int x = 0; x < bw; ++x) {
      float wgt = ellipse_weight(x, y, bw, bh, feather);
      if (wgt <= 0) continue;
      float lab[3];
      wq_rgb_to_lab(img->px + ((size_t)(by + y) * img->w + bx + x) * 3, lab);
      for (int k = 0; k < 3; ++k) sum[k] += wgt * lab[k], sq[k] += wgt * lab[k] * lab[k];
      total += wgt;
    }
  }
  lab_stats s;
  for (int k = 0; k < 3; ++k) {
    s.mean[k] = total > 0 ? sum[k] / total : 0;
    s.sd[k] = total > 0 ? sqrt(fmax(0, sq[k] / total - s.mean[k] * s.mean[k])) : 0;
  }
  return s;
}

// Moves patch's Lab statistics onto `target`'s. The spread ratio is bounded: a flat region must not blow
// a textured one up into noise (nor the other way round).
static void match_colors(wq_image* patch, const lab_stats* from, const lab_stats* target) {
  double gain[3];
  for (int k = 0; k < 3; ++k) {
    gain[k] = from->sd[k] > 1e-3 ? target->sd[k] / from->sd[k] : 1.0;
    gain[k] = fmin(5.0, fmax(0.2, gain[k]));
  }
  for (size_t i = 0; i < (size_t)patch->w * patch->h; ++i) {
    float lab[3];
    uint8_t* p = patch->px + i * 3;
    wq_rgb_to_lab(p, lab);
    for (int k = 0; k < 3; ++k) lab[k] = (float)((lab[k] - from->mean[k]) * gain[k] + target->mean[k]);
    wq_lab_to_rgb(lab, p);
  }
}

static void print_box(const char* key, const wq_box* b) {
  char json[96];
  snprintf(json, sizeof json, "{\"x\":%d,\"y\":%d,\"w\":%d,\"h\":%d}", b->x, b->y, b->w, b->h);
  wq_summary_raw(key, json);
}

int main(void) {
  wq_task t;
  wq_task_begin(&t);
  if (wq_route_through_engine_if_asked(&t)) {  // config.engine: the engine does the whole job
    wq_task_end(&t);
    return 0;
  }
  wq_step(0, "checking the configuration");
  if (!wq_cfg_has(&t, "reference_image"))
    wq_failf("INVALID_CONFIG", "config.reference_image is required: the uploaded photo to take the head from");
  wq_cfg_string(&t, "reference_image", NULL);
  float feather = (float)wq_cfg_number(&t, "feather", 0.3, 0.0, 1.0);
  int color_match = wq_cfg_bool(&t, "color_match", 1);

  wq_step(5, "decoding the source image");
  wq_image src, ref;
  uint8_t *src_bytes, *ref_bytes;
  size_t src_size, ref_size;
  wq_load_image(&t, "source", &src, &src_bytes, &src_size);
  wq_step(10, "decoding the reference image");
  wq_load_image(&t, "reference_image", &ref, &ref_bytes, &ref_size);

  wq_box sbox, rbox;
  int src_faces = -1, ref_faces = -1;
  if (!wq_cfg_box(&t, "source_box", src.w, src.h, &sbox)) {
    wq_step(20, "detecting the face in the source image");
    sbox = detect_head(&t, "source", &src, src_bytes, src_size, &src_faces);
  }
  if (!wq_cfg_box(&t, "reference_box", ref.w, ref.h, &rbox)) {
    wq_step(35, "detecting the face in the reference image");
    rbox = detect_head(&t, "reference", &ref, ref_bytes, ref_size, &ref_faces);
  }
  free(src_bytes);
  free(ref_bytes);

  wq_step(50, "scaling the reference head to %dx%d", sbox.w, sbox.h);
  wq_image patch;
  if (!wq_image_resize(&ref, rbox.x, rbox.y, rbox.w, rbox.h, &patch, sbox.w, sbox.h))
    wq_failf("OUT_OF_MEMORY", "cannot scale the reference head");
  wq_image_free(&ref);

  if (color_match) {
    wq_step(60, "matching colours (L*a*b* mean and spread)");
    lab_stats from = region_stats(&patch, NULL, feather), target = region_stats(&src, &sbox, feather);
    match_colors(&patch, &from, &target);
  }

  wq_step(75, "blending with a feathered elliptical mask");
  for (int y = 0; y < sbox.h; ++y) {
    for (int x = 0; x < sbox.w; ++x) {
      float a = ellipse_weight(x, y, sbox.w, sbox.h, feather);
      if (a <= 0) continue;
      uint8_t* d = src.px + ((size_t)(sbox.y + y) * src.w + sbox.x + x) * 3;
      const uint8_t* s = patch.px + ((size_t)y * sbox.w + x) * 3;
      for (int k = 0; k < 3; ++k) d[k] = wq_clamp_u8(a * s[k] + (1 - a) * d[k]);
    }
  }
  wq_image_free(&patch);

  wq_step(85, "encoding the result");
  const char* name = wq_write_output(&t, &src);
  wq_summary_begin(&t, name, &src);
  print_box("source_box", &sbox);
  print_box("reference_box", &rbox);
  wq_summary_string("boxes_from", src_faces < 0 && ref_faces < 0 ? "config" : src_faces >= 0 && ref_faces >= 0 ? "face-detect" : "config+face-detect");
  if (src_faces >= 0) wq_summary_int("source_faces", src_faces);
  if (ref_faces >= 0) wq_summary_int("reference_faces", ref_faces);
  wq_summary_raw("color_match", color_match ? "true" : "false");
  wq_summary_end();
  wq_step(100, "done");
  wq_image_free(&src);
  wq_task_end(&t);
  return 0;
}
