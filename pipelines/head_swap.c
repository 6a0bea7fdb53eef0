// head_swap.c — the HEAD_SWAP pipeline: puts the face from a reference photo onto the person in the source.
//
// With landmarks (the default: the built-in face-landmarks engine, dlib's 68 points, on both photos):
//   1. the face: the largest in each photo, or config face_index / reference_face_index;
//   2. alignment: the reference face is warped onto the source face's landmarks, piecewise affine over a
//      Delaunay triangulation of the 68 landmarks plus 8 points on a frame around them (those mapped by
//      the least-squares similarity between the two faces, so the surroundings move rigidly);
//   3. colour: the warped face's L*a*b* mean and spread are matched to the source face's, inside the
//      landmarks' convex hull (skin tone and lighting follow the source);
//   4. blending: multi-band (Laplacian pyramids) inside the hull with a feathered mask, so fine detail
//      switches over a few pixels and shading over a wide band; the change fades out over `band` pixels
//      past the hull, and nothing farther from the hull changes at all.
// Work is confined to the face's region of interest: a 1024-px photo costs what its face's box does.
//
// With boxes (config source_box / reference_box, or a face engine whose faces carry no landmarks, like
// face-detect): the reference box is scaled to the source box, colour-matched and blended through a
// feathered ellipse inscribed in the box.
//
// config:
//   reference_image   uploaded file id (→ /in/reference_image.<ext>); required
//   face_index, reference_face_index   0..49 (default 0, the largest face): which face, largest first
//   source_box, reference_box   {"x","y","w","h"} in pixels: use the box method with these boxes; a box
//                     that is absent comes from the face engine (the chosen face, grown by box_expand)
//   face_engine       engine name (default "face-landmarks", the built-in dlib engine)
//   max_faces         1..50 (default 10): asked of the engine
//   box_expand        1..3 (default 1.4): face box → head box (box method)
//   feather           0..1 (default 0.3): the soft edge, as a fraction of a quarter of the face's width
//                     (landmarks) or of the ellipse radius (boxes)
//   color_match       true (default) | false
//   output_format, quality
//   engine            an engine name: hand the whole job to that engine instead (common/engine.h)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/blend.h"
#include "common/color.h"
#include "common/engine.h"
#include "common/filter.h"
#include "common/image.h"
#include "common/task.h"
#include "common/warp.h"
#include "wasmq.h"

#define LANDMARKS 68
#define FRAME_POINTS 8

typedef struct {
  wq_box box;  // the detector's box, clipped to the image
  double score;
  int has_landmarks;
  wq_point pts[LANDMARKS];
} face;

typedef struct {
  face* faces;  // largest first
  int count;
} face_list;

// ---- faces through the engine ---------------------------------------------------------------------------

static double number_of(const wq_json* v, const char* engine, size_t i, const char* what) {
  if (!v || v->kind != WQ_JSON_NUMBER || !isfinite(v->number) || fabs(v->number) > 1e6)
    wq_failf("ENGINE_FAILED", "engine %s: faces[%zu] lacks a numeric %s", engine, i, what);
  return v->number;
}

static int larger_first(const void* l, const void* r) {
  const face *a = l, *b = r;
  long long aa = (long long)a->box.w * a->box.h, bb = (long long)b->box.w * b->box.h;
  return aa > bb ? -1 : aa < bb ? 1 : 0;
}

// The faces the engine finds in `img` (its encoded bytes are what is sent). Each face is {"box": {x,y,w,h},
// "landmarks": [[x,y] × 68], "score"} (face-landmarks) or {"x","y","w","h"} (face-detect and the like).
static face_list detect_faces(const wq_task* t, const char* engine, const wq_image* img, const uint8_t* bytes,
                              size_t size) {
  int max_faces = wq_cfg_int(t, "max_faces", 10, 1, 50);
  char request[64];
  snprintf(request, sizeof request, "{\"max_faces\":%d}", max_faces);
  wq_engine_answer answer;
  wq_engine_call(engine, request, bytes, size, &answer);
  char err[128];
  wq_json* response = wq_json_parse(answer.json, answer.json_size, err, sizeof err);
  wq_engine_answer_free(&answer);
  if (!response || response->kind != WQ_JSON_OBJECT)
    wq_failf("ENGINE_FAILED", "engine %s answered something that is not a JSON object", engine);
  const wq_json* faces = wq_json_get(response, "faces");
  if (!faces || faces->kind != WQ_JSON_ARRAY)
    wq_failf("ENGINE_FAILED", "engine %s answered without a \"faces\" list", engine);
  face_list list = {calloc(faces->count + 1, sizeof(face)), 0};
  if (!list.faces) wq_failf("OUT_OF_MEMORY", "cannot hold the faces");
  for (size_t i = 0; i < faces->count; ++i) {
    const wq_json* f = &faces->items[i];
    const wq_json* b = wq_json_get(f, "box");
    if (!b || b->kind != WQ_JSON_OBJECT) b = f;
    double x = number_of(wq_json_get(b, "x"), engine, i, "x"), y = number_of(wq_json_get(b, "y"), engine, i, "y");
    double w = number_of(wq_json_get(b, "w"), engine, i, "w"), h = number_of(wq_json_get(b, "h"), engine, i, "h");
    // Clip to the image: a detector may report a face cut by the edge.
    double x0 = fmax(0, x), y0 = fmax(0, y), x1 = fmin(img->w, x + w), y1 = fmin(img->h, y + h);
    if (x1 - x0 < 1 || y1 - y0 < 1) continue;
    face* out = &list.faces[list.count];
    out->box = (wq_box){(int)lround(x0), (int)lround(y0), (int)lround(x1 - x0), (int)lround(y1 - y0)};
    const wq_json* score = wq_json_get(f, "score");
    out->score = score && score->kind == WQ_JSON_NUMBER ? score->number : 0;
    const wq_json* lm = wq_json_get(f, "landmarks");
    if (lm) {
      if (lm->kind != WQ_JSON_ARRAY || lm->count != LANDMARKS)
        wq_failf("ENGINE_FAILED", "engine %s: faces[%zu].landmarks must be %d [x, y] points", engine, i, LANDMARKS);
      for (int k = 0; k < LANDMARKS; ++k) {
        const wq_json* p = &lm->items[k];
        if (p->kind != WQ_JSON_ARRAY || p->count != 2)
          wq_failf("ENGINE_FAILED", "engine %s: faces[%zu].landmarks[%d] is not [x, y]", engine, i, k);
        out->pts[k].x = number_of(&p->items[0], engine, i, "landmark x");
        out->pts[k].y = number_of(&p->items[1], engine, i, "landmark y");
      }
      out->has_landmarks = 1;
    }
    ++list.count;
  }
  wq_json_free(response);
  qsort(list.faces, (size_t)list.count, sizeof(face), larger_first);
  return list;
}

// Face number `index` (largest first) of the list, failing NO_FACE_FOUND when there is none at all.
static const face* pick_face(const face_list* list, int index, const char* which, const char* key) {
  if (list->count == 0) wq_failf("NO_FACE_FOUND", "no face found in the %s image", which);
  if (index >= list->count)
    wq_failf("INVALID_CONFIG", "config.%s is %d but the %s image has %d face%s (0 is the largest)", key, index, which,
             list->count, list->count == 1 ? "" : "s");
  return &list->faces[index];
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

// ---- colour statistics ----------------------------------------------------------------------------------

typedef struct {
  double sum[3], sq[3], total;
} lab_acc;

static void lab_add(lab_acc* a, const uint8_t rgb[3], double weight) {
  float lab[3];
  wq_rgb_to_lab(rgb, lab);
  for (int k = 0; k < 3; ++k) a->sum[k] += weight * lab[k], a->sq[k] += weight * lab[k] * lab[k];
  a->total += weight;
}

typedef struct {
  double mean[3], sd[3];
} lab_stats;

static lab_stats lab_finish(const lab_acc* a) {
  lab_stats s;
  for (int k = 0; k < 3; ++k) {
    s.mean[k] = a->total > 0 ? a->sum[k] / a->total : 0;
    s.sd[k] = a->total > 0 ? sqrt(fmax(0, a->sq[k] / a->total - s.mean[k] * s.mean[k])) : 0;
  }
  return s;
}

// The per-channel gain that moves `from`'s spread onto `target`'s, bounded: a flat region must not blow a
// textured one up into noise (nor the other way round).
static void lab_gains(const lab_stats* from, const lab_stats* target, double gain[3]) {
  for (int k = 0; k < 3; ++k) {
    gain[k] = from->sd[k] > 1e-3 ? target->sd[k] / from->sd[k] : 1.0;
    gain[k] = fmin(3.0, fmax(0.33, gain[k]));
  }
}

static void lab_transfer(uint8_t rgb[3], const lab_stats* from, const lab_stats* target, const double gain[3]) {
  float lab[3];
  wq_rgb_to_lab(rgb, lab);
  for (int k = 0; k < 3; ++k) lab[k] = (float)((lab[k] - from->mean[k]) * gain[k] + target->mean[k]);
  wq_lab_to_rgb(lab, rgb);
}

// ---- the landmark method --------------------------------------------------------------------------------

typedef struct {
  int triangles, levels;
  double band;
  wq_box roi;
} swap_info;

static double dist(wq_point a, wq_point b) { return hypot(a.x - b.x, a.y - b.y); }

// Warps, colour-matches and blends `rf` of `ref` onto `sf` of `src`, in place.
static swap_info swap_by_landmarks(wq_image* src, const wq_image* ref, const face* sf, const face* rf,
                                   float feather, int color_match) {
  swap_info info;
  // Sizes follow the face: its width from jaw end to jaw end.
  const double fw = fmax(8, dist(sf->pts[0], sf->pts[16]));
  info.band = fmax(1.5, 0.25 * feather * fw);
  info.levels = (int)floor(log2(fw / 8));
  if (info.levels < 1) info.levels = 1;
  if (info.levels > 5) info.levels = 5;

  // The points: 68 landmarks, then a frame of 8 around them, far enough for the blend's widest band.
  wq_point sp[LANDMARKS + FRAME_POINTS], rp[LANDMARKS + FRAME_POINTS];
  double minx = 1e300, miny = 1e300, maxx = -1e300, maxy = -1e300;
  for (int k = 0; k < LANDMARKS; ++k) {
    sp[k] = sf->pts[k], rp[k] = rf->pts[k];
    minx = fmin(minx, sp[k].x), maxx = fmax(maxx, sp[k].x), miny = fmin(miny, sp[k].y), maxy = fmax(maxy, sp[k].y);
  }
  const double margin = fmax(0.15 * fmax(maxx - minx, maxy - miny), info.band + (1 << info.levels) + 4);
  minx -= margin, miny -= margin, maxx += margin, maxy += margin;
  double sim[4];
  wq_similarity_fit(sp, rp, LANDMARKS, sim);
  const double fx[3] = {minx, (minx + maxx) / 2, maxx}, fy[3] = {miny, (miny + maxy) / 2, maxy};
  int n = LANDMARKS;
  for (int j = 0; j < 3; ++j)
    for (int i = 0; i < 3; ++i)
      if (i != 1 || j != 1) {
        sp[n] = (wq_point){fx[i], fy[j]};
        rp[n] = wq_similarity_apply(sim, sp[n]);
        ++n;
      }
  wq_triangle tris[2 * (LANDMARKS + FRAME_POINTS)];
  info.triangles = wq_delaunay(sp, n, tris, (int)(sizeof tris / sizeof tris[0]));
  if (info.triangles < 0) wq_failf("OUT_OF_MEMORY", "cannot triangulate the landmarks");

  // The region of interest: the frame, inside the image.
  int x0 = (int)floor(fmax(0, minx)), y0 = (int)floor(fmax(0, miny));
  int x1 = (int)ceil(fmin(src->w - 1, maxx)), y1 = (int)ceil(fmin(src->h - 1, maxy));
  const int ow = x1 - x0 + 1, oh = y1 - y0 + 1;
  info.roi = (wq_box){x0, y0, ow, oh};
  const size_t npx = (size_t)ow * oh;
  float* top = malloc(sizeof(float) * npx * 3);
  float* base = malloc(sizeof(float) * npx * 3);
  float* alpha = malloc(sizeof(float) * npx);
  float* outer = malloc(sizeof(float) * npx);
  float* d = malloc(sizeof(float) * npx);
  uint8_t* covered = malloc(npx);
  if (!top || !base || !alpha || !outer || !d || !covered) wq_failf("OUT_OF_MEMORY", "cannot hold the face region");

  wq_warp_triangles(ref, rp, sp, tris, info.triangles, x0, y0, ow, oh, top, covered);

  int hull_idx[LANDMARKS];
  wq_point hull[LANDMARKS];
  wq_edge edges[LANDMARKS];
  int h = wq_convex_hull(sf->pts, LANDMARKS, hull_idx);
  for (int i = 0; i < h; ++i) hull[i] = sf->pts[hull_idx[i]];
  const int nedges = wq_hull_edges(hull, h, edges);

  // Masks from the signed distance to the hull: alpha (the blend's weight) is 1 deeper than `band` inside
  // and 0 outside; outer (how much of the blend is kept) is 1 inside and 0 from `band` outside on.
  lab_acc from = {{0}, {0}, 0}, target = {{0}, {0}, 0};
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x) {
      size_t i = (size_t)y * ow + x;
      float dd = (float)wq_hull_distance(edges, nedges, x0 + x, y0 + y);
      d[i] = dd;
      const uint8_t* s = src->px + ((size_t)(y0 + y) * src->w + x0 + x) * 3;
      for (int k = 0; k < 3; ++k) base[i * 3 + k] = s[k];
      alpha[i] = covered[i] ? 1.f - wq_smoothstep((float)-info.band, 0.f, dd) : 0.f;
      outer[i] = 1.f - wq_smoothstep(0.f, (float)info.band, dd);
      if (!covered[i])
        for (int k = 0; k < 3; ++k) top[i * 3 + k] = s[k];
      // Colour statistics inside the hull, on every other pixel (plenty for a mean and a spread).
      if (color_match && covered[i] && dd <= -info.band / 2 && !((x | y) & 1)) {
        uint8_t w8[3] = {wq_clamp_u8(top[i * 3]), wq_clamp_u8(top[i * 3 + 1]), wq_clamp_u8(top[i * 3 + 2])};
        lab_add(&from, w8, 1), lab_add(&target, s, 1);
      }
    }
  if (color_match && from.total > 0) {
    lab_stats fs = lab_finish(&from), ts = lab_finish(&target);
    double gain[3];
    lab_gains(&fs, &ts, gain);
    // Every warped pixel the blend can reach: alpha's coarsest level spreads about 2^levels pixels.
    const float reach = (float)(info.band + (1 << info.levels) + 2);
    for (size_t i = 0; i < npx; ++i) {
      if (!covered[i] || d[i] > reach) continue;
      uint8_t w8[3] = {wq_clamp_u8(top[i * 3]), wq_clamp_u8(top[i * 3 + 1]), wq_clamp_u8(top[i * 3 + 2])};
      lab_transfer(w8, &fs, &ts, gain);
      for (int k = 0; k < 3; ++k) top[i * 3 + k] = w8[k];
    }
  }

  if (!wq_multiband_blend(base, top, alpha, ow, oh, info.levels))
    wq_failf("OUT_OF_MEMORY", "cannot blend the face region");
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x) {
      size_t i = (size_t)y * ow + x;
      if (outer[i] <= 0) continue;
      uint8_t* s = src->px + ((size_t)(y0 + y) * src->w + x0 + x) * 3;
      for (int k = 0; k < 3; ++k) s[k] = wq_clamp_u8(s[k] + outer[i] * (base[i * 3 + k] - s[k]));
    }
  free(top), free(base), free(alpha), free(outer), free(d), free(covered);
  return info;
}

// ---- the box method -------------------------------------------------------------------------------------

// Weight of the elliptical mask inscribed in a w×h box at pixel (x, y) of the box.
static float ellipse_weight(int x, int y, int w, int h, float feather) {
  float dx = (x + 0.5f - w / 2.0f) / (w / 2.0f), dy = (y + 0.5f - h / 2.0f) / (h / 2.0f);
  float r = sqrtf(dx * dx + dy * dy);
  if (feather <= 0) return r <= 1.0f ? 1.0f : 0.0f;
  return 1.0f - wq_smoothstep(1.0f - feather, 1.0f, r);
}

// Weighted Lab statistics of box `b` of img (or of the whole of `img` when b is NULL), weighted by the core
// of the mask so the background around the head counts little.
static lab_stats region_stats(const wq_image* img, const wq_box* b, float feather) {
  int bx = b ? b->x : 0, by = b ? b->y : 0, bw = b ? b->w : img->w, bh = b ? b->h : img->h;
  lab_acc acc = {{0}, {0}, 0};
  for (int y = 0; y < bh; ++y)
    for (int x = 0; x < bw; ++x) {
      float wgt = ellipse_weight(x, y, bw, bh, feather);
      if (wgt > 0) lab_add(&acc, img->px + ((size_t)(by + y) * img->w + bx + x) * 3, wgt);
    }
  return lab_finish(&acc);
}

static void swap_by_boxes(wq_image* src, wq_image* ref, wq_box sbox, wq_box rbox, float feather, int color_match) {
  wq_image patch;
  if (!wq_image_resize(ref, rbox.x, rbox.y, rbox.w, rbox.h, &patch, sbox.w, sbox.h))
    wq_failf("OUT_OF_MEMORY", "cannot scale the reference head");
  if (color_match) {
    wq_step(60, "matching colours (L*a*b* mean and spread)");
    lab_stats from = region_stats(&patch, NULL, feather), target = region_stats(src, &sbox, feather);
    double gain[3];
    lab_gains(&from, &target, gain);
    for (size_t i = 0; i < (size_t)patch.w * patch.h; ++i) lab_transfer(patch.px + i * 3, &from, &target, gain);
  }
  wq_step(75, "blending with a feathered elliptical mask");
  for (int y = 0; y < sbox.h; ++y)
    for (int x = 0; x < sbox.w; ++x) {
      float a = ellipse_weight(x, y, sbox.w, sbox.h, feather);
      if (a <= 0) continue;
      uint8_t* d = src->px + ((size_t)(sbox.y + y) * src->w + sbox.x + x) * 3;
      const uint8_t* s = patch.px + ((size_t)y * sbox.w + x) * 3;
      for (int k = 0; k < 3; ++k) d[k] = wq_clamp_u8(a * s[k] + (1 - a) * d[k]);
    }
  wq_image_free(&patch);
}

// ---- the summary ----------------------------------------------------------------------------------------

static void print_box(const char* key, const wq_box* b) {
  char json[96];
  snprintf(json, sizeof json, "{\"x\":%d,\"y\":%d,\"w\":%d,\"h\":%d}", b->x, b->y, b->w, b->h);
  wq_summary_raw(key, json);
}

static void print_face(const char* key, const face* f, int index) {
  char json[160];
  snprintf(json, sizeof json, "{\"index\":%d,\"box\":{\"x\":%d,\"y\":%d,\"w\":%d,\"h\":%d},\"score\":%.3f}", index,
           f->box.x, f->box.y, f->box.w, f->box.h, f->score);
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
    wq_failf("INVALID_CONFIG", "config.reference_image is required: the uploaded photo to take the face from");
  wq_cfg_string(&t, "reference_image", NULL);
  float feather = (float)wq_cfg_number(&t, "feather", 0.3, 0.0, 1.0);
  int color_match = wq_cfg_bool(&t, "color_match", 1);
  int src_index = wq_cfg_int(&t, "face_index", 0, 0, 49), ref_index = wq_cfg_int(&t, "reference_face_index", 0, 0, 49);
  double expand = wq_cfg_number(&t, "box_expand", 1.4, 1.0, 3.0);
  const char* engine = wq_cfg_string(&t, "face_engine", "face-landmarks");

  wq_step(5, "decoding the source image");
  wq_image src, ref;
  uint8_t *src_bytes, *ref_bytes;
  size_t src_size, ref_size;
  wq_load_image(&t, "source", &src, &src_bytes, &src_size);
  wq_step(10, "decoding the reference image");
  wq_load_image(&t, "reference_image", &ref, &ref_bytes, &ref_size);

  wq_box sbox, rbox;
  int have_sbox = wq_cfg_box(&t, "source_box", src.w, src.h, &sbox);
  int have_rbox = wq_cfg_box(&t, "reference_box", ref.w, ref.h, &rbox);
  face_list sfaces = {NULL, -1}, rfaces = {NULL, -1};
  const face *sf = NULL, *rf = NULL;
  if (!have_sbox) {
    wq_step(20, "finding the faces in the source image (%s)", engine);
    sfaces = detect_faces(&t, engine, &src, src_bytes, src_size);
    sf = pick_face(&sfaces, src_index, "source", "face_index");
  }
  if (!have_rbox) {
    wq_step(35, "finding the faces in the reference image (%s)", engine);
    rfaces = detect_faces(&t, engine, &ref, ref_bytes, ref_size);
    rf = pick_face(&rfaces, ref_index, "reference", "reference_face_index");
  }
  free(src_bytes);
  free(ref_bytes);

  const int by_landmarks = sf && rf && sf->has_landmarks && rf->has_landmarks;
  swap_info info = {0, 0, 0, {0, 0, 0, 0}};
  if (by_landmarks) {
    sbox = sf->box, rbox = rf->box;
    wq_step(50, "warping the reference face onto the source face's landmarks, matching colours, blending");
    info = swap_by_landmarks(&src, &ref, sf, rf, feather, color_match);
  } else {
    if (!have_sbox) sbox = grow_box(sf->box, expand, src.w, src.h);
    if (!have_rbox) rbox = grow_box(rf->box, expand, ref.w, ref.h);
    wq_step(50, "scaling the reference head to %dx%d", sbox.w, sbox.h);
    swap_by_boxes(&src, &ref, sbox, rbox, feather, color_match);
  }
  wq_image_free(&ref);

  wq_step(85, "encoding the result");
  const char* name = wq_write_output(&t, &src);
  wq_summary_begin(&t, name, &src);
  wq_summary_string("method", by_landmarks ? "landmarks" : "boxes");
  print_box("source_box", &sbox);
  print_box("reference_box", &rbox);
  char from[96];
  snprintf(from, sizeof from, "%s%s", have_sbox && have_rbox ? "config" : have_sbox || have_rbox ? "config+" : "",
           have_sbox && have_rbox ? "" : engine);
  wq_summary_string("boxes_from", from);
  if (sf) print_face("source_face", sf, src_index);
  if (rf) print_face("reference_face", rf, ref_index);
  if (sfaces.count >= 0) wq_summary_int("source_faces", sfaces.count);
  if (rfaces.count >= 0) wq_summary_int("reference_faces", rfaces.count);
  if (by_landmarks) {
    char how[256];
    snprintf(how, sizeof how,
             "{\"landmarks\":%d,\"warp\":\"piecewise-affine\",\"triangles\":%d,\"blend\":\"multi-band\",\"levels\":%d,"
             "\"feather_px\":%.1f,\"region\":{\"x\":%d,\"y\":%d,\"w\":%d,\"h\":%d}}",
             LANDMARKS, info.triangles, info.levels, info.band, info.roi.x, info.roi.y, info.roi.w, info.roi.h);
    wq_summary_raw("swap", how);
  }
  wq_summary_raw("color_match", color_match ? "true" : "false");
  wq_summary_end();
  wq_step(100, "done");
  free(sfaces.faces);
  free(rfaces.faces);
  wq_image_free(&src);
  wq_task_end(&t);
  return 0;
}
