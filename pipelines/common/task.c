// task.c — see task.h.
#include "task.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "color.h"
#include "wasmq.h"

// Inside the sandbox the worker preopens /in and /out. Native builds (benchmarks, tests) take the two
// directories from WASMQ_IN_DIR / WASMQ_OUT_DIR instead.
static const char* dir_of(const char* fixed, const char* env) {
#if defined(__wasm__)
  (void)env;
  return fixed;
#else
  const char* d = getenv(env);
  return d && *d ? d : fixed;
#endif
}
static const char* in_dir(void) { return dir_of("/in", "WASMQ_IN_DIR"); }
static const char* out_dir(void) { return dir_of("/out", "WASMQ_OUT_DIR"); }

void wq_failf(const char* code, const char* fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  wasmq_fail(code, msg);
}

void wq_step(int percent, const char* fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  wasmq_progress(percent, msg);
}

static char* read_all(FILE* f, size_t* size, size_t limit) {
  size_t cap = 65536, n = 0;
  char* buf = malloc(cap + 1);
  if (!buf) return NULL;
  for (;;) {
    if (n == cap) {
      if (cap >= limit) {
        free(buf);
        return NULL;
      }
      cap *= 2;
      char* grown = realloc(buf, cap + 1);
      if (!grown) {
        free(buf);
        return NULL;
      }
      buf = grown;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    if (got == 0) break;
    n += got;
  }
  buf[n] = 0;
  *size = n;
  return buf;
}

void wq_task_begin(wq_task* t) {
  memset(t, 0, sizeof *t);
  size_t size = 0;
  char* text = read_all(stdin, &size, (size_t)64 << 20);
  if (!text) wq_failf("INVALID_TASK", "cannot read the task JSON on stdin");
  char err[128];
  t->root = wq_json_parse(text, size, err, sizeof err);
  free(text);
  if (!t->root || t->root->kind != WQ_JSON_OBJECT)
    wq_failf("INVALID_TASK", "the task on stdin is not a JSON object (%s)", t->root ? "wrong type" : err);
  static wq_json empty = {.kind = WQ_JSON_OBJECT};
  const wq_json* config = wq_json_get(t->root, "config");
  if (config && config->kind != WQ_JSON_NULL && config->kind != WQ_JSON_OBJECT)
    wq_failf("INVALID_CONFIG", "config must be an object, not %s", wq_json_kind_name(config->kind));
  t->config = config && config->kind == WQ_JSON_OBJECT ? config : &empty;

  static const char* const kFormats[] = {"png", "jpeg", "jpg", NULL};
  int format = wq_cfg_choice(t, "output_format", kFormats, 0);
  strcpy(t->format, format == 0 ? "png" : "jpeg");
  t->quality = wq_cfg_int(t, "quality", 90, 1, 100);
}

void wq_task_end(wq_task* t) {
  wq_json_free(t->root);
  t->root = NULL;
}

// ---- config values -----------------------------------------------------------------------------------

const wq_json* wq_cfg(const wq_task* t, const char* key) {
  const wq_json* v = wq_json_get(t->config, key);
  return v && v->kind != WQ_JSON_NULL ? v : NULL;
}

int wq_cfg_has(const wq_task* t, const char* key) { return wq_cfg(t, key) != NULL; }

double wq_json_number(const wq_json* v, const char* what) {
  if (!v || v->kind != WQ_JSON_NUMBER)
    wq_failf("INVALID_CONFIG", "%s must be a number, not %s", what, v ? wq_json_kind_name(v->kind) : "missing");
  return v->number;
}

double wq_cfg_number(const wq_task* t, const char* key, double fallback, double min, double max) {
  const wq_json* v = wq_cfg(t, key);
  if (!v) return fallback;
  if (v->kind != WQ_JSON_NUMBER || v->number < min || v->number > max)
    wq_failf("INVALID_CONFIG", "config.%s must be a number from %g to %g", key, min, max);
  return v->number;
}

int wq_cfg_int(const wq_task* t, const char* key, int fallback, int min, int max) {
  const wq_json* v = wq_cfg(t, key);
  if (!v) return fallback;
  if (v->kind != WQ_JSON_NUMBER || v->number != floor(v->number) || v->number < min || v->number > max)
    wq_failf("INVALID_CONFIG", "config.%s must be an integer from %d to %d", key, min, max);
  return (int)v->number;
}

int wq_cfg_bool(const wq_task* t, const char* key, int fallback) {
  const wq_json* v = wq_cfg(t, key);
  if (!v) return fallback;
  if (v->kind != WQ_JSON_BOOL) wq_failf("INVALID_CONFIG", "config.%s must be true or false", key);
  return v->boolean;
}

const char* wq_cfg_string(const wq_task* t, const char* key, const char* fallback) {
  const wq_json* v = wq_cfg(t, key);
  if (!v) return fallback;
  if (v->kind != WQ_JSON_STRING)
    wq_failf("INVALID_CONFIG", "config.%s must be a string, not %s", key, wq_json_kind_name(v->kind));
  return v->string;
}

int wq_cfg_choice(const wq_task* t, const char* key, const char* const* choices, int fallback) {
  const char* s = wq_cfg_string(t, key, NULL);
  if (!s) return fallback;
  char list[256] = "";
  for (int i = 0; choices[i]; ++i) {
    if (strcmp(s, choices[i]) == 0) return i;
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", choices[i]);
  }
  wq_failf("INVALID_CONFIG", "config.%s must be one of %s (not \"%.64s\")", key, list, s);
}

int wq_json_color(const wq_json* v, const char* what, uint8_t rgb[3]) {
  if (v->kind != WQ_JSON_STRING) wq_failf("INVALID_CONFIG", "%s must be a colour string", what);
  if (!wq_parse_color(v->string, rgb))
    wq_failf("UNKNOWN_COLOR", "%s: \"%.64s\" is not a colour (#rrggbb, rgb(r,g,b) or a CSS name)", what, v->string);
  return 1;
}

int wq_cfg_color(const wq_task* t, const char* key, uint8_t rgb[3]) {
  const wq_json* v = wq_cfg(t, key);
  if (!v) return 0;
  char what[96];
  snprintf(what, sizeof what, "config.%s", key);
  return wq_json_color(v, what, rgb);
}

int wq_cfg_box(const wq_task* t, const char* key, int img_w, int img_h, wq_box* box) {
  const wq_json* v = wq_cfg(t, key);
  if (!v) return 0;
  const wq_json* f[4] = {NULL, NULL, NULL, NULL};
  if (v->kind == WQ_JSON_OBJECT) {
    f[0] = wq_json_get(v, "x");
    f[1] = wq_json_get(v, "y");
    f[2] = wq_json_get(v, "w");
    f[3] = wq_json_get(v, "h");
  } else if (v->kind == WQ_JSON_ARRAY && v->count == 4) {
    for (int i = 0; i < 4; ++i) f[i] = &v->items[i];
  }
  double n[4];
  for (int i = 0; i < 4; ++i) {
    if (!f[i] || f[i]->kind != WQ_JSON_NUMBER || fabs(f[i]->number) > 1e6)
      wq_failf("INVALID_CONFIG", "config.%s must be {\"x\":..,\"y\":..,\"w\":..,\"h\":..} with numbers", key);
    n[i] = f[i]->number;
  }
  box->x = (int)lround(n[0]);
  box->y = (int)lround(n[1]);
  box->w = (int)lround(n[2]);
  box->h = (int)lround(n[3]);
  if (box->w < 1 || box->h < 1) wq_failf("INVALID_CONFIG", "config.%s is empty (w and h must be at least 1)", key);
  if (box->x < 0 || box->y < 0 || box->x + box->w > img_w || box->y + box->h > img_h)
    wq_failf("BOX_OUTSIDE_IMAGE", "config.%s (x=%d y=%d w=%d h=%d) is not inside the %dx%d image", key, box->x,
             box->y, box->w, box->h, img_w, img_h);
  return 1;
}

void wq_json_point(const wq_json* v, const char* what, double* x, double* y) {
  const wq_json *px = NULL, *py = NULL;
  if (v && v->kind == WQ_JSON_ARRAY && v->count == 2) {
    px = &v->items[0];
    py = &v->items[1];
  } else if (v && v->kind == WQ_JSON_OBJECT) {
    px = wq_json_get(v, "x");
    py = wq_json_get(v, "y");
  }
  if (!px || !py || px->kind != WQ_JSON_NUMBER || py->kind != WQ_JSON_NUMBER)
    wq_failf("INVALID_CONFIG", "%s must be a point [x, y] or {\"x\":..,\"y\":..}", what);
  *x = px->number;
  *y = py->number;
}

// ---- inputs -------------------------------------------------------------------------------------------

// A file in `dir` whose name is `stem` or `stem.<ext>`.
static int find_by_stem(const char* dir, const char* stem, char* path, size_t cap) {
  if (!stem || !*stem || strchr(stem, '/')) return 0;
  DIR* d = opendir(dir);
  if (!d) return 0;
  size_t n = strlen(stem);
  int found = 0;
  struct dirent* e;
  while (!found && (e = readdir(d))) {
    if (strncmp(e->d_name, stem, n) == 0 && (e->d_name[n] == 0 || (e->d_name[n] == '.' && !strchr(e->d_name + n + 1, '.')))) {
      snprintf(path, cap, "%s/%s", dir, e->d_name);
      found = 1;
    }
  }
  closedir(d);
  return found;
}

int wq_find_input(const wq_task* t, const char* key, char* path, size_t cap) {
  if (find_by_stem(in_dir(), key, path, cap)) return 1;
  const wq_json* id = strcmp(key, "source") == 0 ? wq_json_get(t->root, "source_image") : wq_cfg(t, key);
  return id && id->kind == WQ_JSON_STRING && find_by_stem(in_dir(), id->string, path, cap);
}

uint8_t* wq_read_input(const wq_task* t, const char* key, size_t* size) {
  char path[512];
  if (!wq_find_input(t, key, path, sizeof path)) {
    if (strcmp(key, "source") == 0) wq_failf("MISSING_INPUT", "no source image: the task names no source_image");
    wq_failf("MISSING_INPUT", "config.%s names no uploaded file that reached the pipeline", key);
  }
  FILE* f = fopen(path, "rb");
  if (!f) wq_failf("MISSING_INPUT", "cannot open the %s file", key);
  size_t n = 0;
  uint8_t* bytes = (uint8_t*)read_all(f, &n, (size_t)256 << 20);
  fclose(f);
  if (!bytes) wq_failf("IMAGE_TOO_LARGE", "the %s file is too large to read", key);
  *size = n;
  return bytes;
}

static const char* image_code(wq_image_status s) {
  switch (s) {
    case WQ_IMG_TOO_LARGE: return "IMAGE_TOO_LARGE";
    case WQ_IMG_NO_MEMORY: return "OUT_OF_MEMORY";
    default: return "INVALID_IMAGE";
  }
}

void wq_load_image(const wq_task* t, const char* key, wq_image* img, uint8_t** bytes, size_t* size) {
  size_t n = 0;
  uint8_t* data = wq_read_input(t, key, &n);
  const char* reason = "";
  wq_image_status s = wq_image_decode(data, n, img, &reason);
  if (s != WQ_IMG_OK) wq_failf(image_code(s), "%s: %s", strcmp(key, "source") == 0 ? "source_image" : key, reason);
  if (bytes) {
    *bytes = data;
    *size = n;
  } else {
    free(data);
  }
}

void wq_load_mask(const wq_task* t, const char* key, int* w, int* h, uint8_t** mask) {
  size_t n = 0;
  uint8_t* data = wq_read_input(t, key, &n);
  const char* reason = "";
  wq_image_status s = wq_mask_decode(data, n, w, h, mask, &reason);
  free(data);
  if (s != WQ_IMG_OK) wq_failf(image_code(s), "%s: %s", key, reason);
}

// ---- output -------------------------------------------------------------------------------------------

const char* wq_write_output(const wq_task* t, const wq_image* img) {
  const char* name = strcmp(t->format, "jpeg") == 0 ? "result.jpg" : "result.png";
  wq_buffer buf = {0};
  if (!wq_image_encode(img, t->format, t->quality, &buf)) wq_failf("OUTPUT_FAILED", "cannot encode the result");
  wq_write_file(name, buf.data, buf.size);
  wq_buffer_free(&buf);
  return name;
}

void wq_write_file(const char* name, const uint8_t* data, size_t size) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", out_dir(), name);
  FILE* f = fopen(path, "wb");
  int ok = f && fwrite(data, 1, size, f) == size;
  if (f) ok = fclose(f) == 0 && ok;
  if (!ok) wq_failf("OUTPUT_FAILED", "cannot write %s to the output directory", name);
}

static void print_json_string(const char* s) {
  putchar('"');
  for (; *s; ++s) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

void wq_summary_begin(const wq_task* t, const char* output, const wq_image* img) {
  printf("{\"output\":");
  print_json_string(output);
  printf(",\"format\":\"%s\",\"width\":%d,\"height\":%d", t->format, img->w, img->h);
}

void wq_summary_int(const char* key, long long v) { printf(",\"%s\":%lld", key, v); }
void wq_summary_number(const char* key, double v) { printf(",\"%s\":%.6g", key, isfinite(v) ? v : 0.0); }
void wq_summary_string(const char* key, const char* v) {
  printf(",\"%s\":", key);
  print_json_string(v);
}
void wq_summary_raw(const char* key, const char* json) { printf(",\"%s\":%s", key, json); }
void wq_summary_end(void) {
  printf("}\n");
  fflush(stdout);
}
