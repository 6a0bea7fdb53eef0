// json.c — recursive-descent JSON parser (see json.h).
#include "json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kMaxDepth = 64 };

typedef struct {
  const char* p;
  const char* end;
  const char* start;
  char* err;
  size_t errcap;
  int failed;
} parser;

static int fail(parser* ps, const char* what) {
  if (!ps->failed) {
    int line = 1;
    for (const char* q = ps->start; q < ps->p && q < ps->end; ++q) line += *q == '\n';
    if (ps->errcap) snprintf(ps->err, ps->errcap, "line %d: %s", line, what);
    ps->failed = 1;
  }
  return 0;
}

static void skip_ws(parser* ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ++ps->p;
}

static int literal(parser* ps, const char* word) {
  size_t n = strlen(word);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return fail(ps, "invalid literal");
  ps->p += n;
  return 1;
}

static int hex4(parser* ps, unsigned* out) {
  if (ps->end - ps->p < 4) return fail(ps, "truncated \\u escape");
  unsigned v = 0;
  for (int i = 0; i < 4; ++i) {
    char c = *ps->p++;
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return fail(ps, "bad hex digit in \\u escape");
  }
  *out = v;
  return 1;
}

static size_t put_utf8(char* out, unsigned cp) {
  if (cp < 0x80) { out[0] = (char)cp; return 1; }
  if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

// Parses a string starting at the opening quote into a new NUL-terminated buffer.
static char* parse_string(parser* ps) {
  ++ps->p;  // '"'
  // Escapes never grow the text (\uXXXX is 6 bytes for at most 4), so the raw length bounds the result.
  const char* q = ps->p;
  while (q < ps->end && *q != '"') q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
  if (q >= ps->end) { fail(ps, "unterminated string"); return NULL; }
  char* out = malloc((size_t)(q - ps->p) + 1);
  if (!out) { fail(ps, "out of memory"); return NULL; }
  size_t n = 0;
  while (ps->p < ps->end && *ps->p != '"') {
    unsigned char c = (unsigned char)*ps->p++;
    if (c < 0x20) { free(out); fail(ps, "control character in string"); return NULL; }
    if (c != '\\') { out[n++] = (char)c; continue; }
    char e = *ps->p++;
    switch (e) {
      case '"': out[n++] = '"'; break;
      case '\\': out[n++] = '\\'; break;
      case '/': out[n++] = '/'; break;
      case 'b': out[n++] = '\b'; break;
      case 'f': out[n++] = '\f'; break;
      case 'n': out[n++] = '\n'; break;
      case 'r': out[n++] = '\r'; break;
      case 't': out[n++] = '\t'; break;
      case 'u': {
        unsigned cp;
        if (!hex4(ps, &cp)) { free(out); return NULL; }
        if (cp >= 0xD800 && cp < 0xDC00) {  // a high surrogate needs its low half
          unsigned lo;
          if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') { free(out); fail(ps, "lone surrogate"); return NULL; }
          ps->p += 2;
          if (!hex4(ps, &lo)) { free(out); return NULL; }
          if (lo < 0xDC00 || lo > 0xDFFF) { free(out); fail(ps, "lone surrogate"); return NULL; }
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          free(out); fail(ps, "lone surrogate"); return NULL;
        }
        n += put_utf8(out + n, cp);
        break;
      }
      default: free(out); fail(ps, "bad escape in string"); return NULL;
    }
  }
  ++ps->p;  // '"'
  out[n] = 0;
  return out;
}

static int parse_number(parser* ps, wq_json* v) {
  const char* s = ps->p;
  if (ps->p < ps->end && *ps->p == '-') ++ps->p;
  if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return fail(ps, "invalid number");
  if (*ps->p == '0') ++ps->p;
  else while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ++ps->p;
  if (ps->p < ps->end && *ps->p == '.') {
    ++ps->p;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return fail(ps, "invalid number");
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ++ps->p;
  }
  if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
    ++ps->p;
    if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ++ps->p;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return fail(ps, "invalid number");
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ++ps->p;
  }
  char buf[64];
  size_t n = (size_t)(ps->p - s);
  if (n >= sizeof buf) return fail(ps, "number too long");
  memcpy(buf, s, n);
  buf[n] = 0;
  v->kind = WQ_JSON_NUMBER;
  v->number = strtod(buf, NULL);
  if (!isfinite(v->number)) return fail(ps, "number out of range");
  return 1;
}

static int parse_value(parser* ps, wq_json* v, int depth);

static int grow(parser* ps, wq_json* v, size_t* cap, int with_keys) {
  if (v->count < *cap) return 1;
  size_t ncap = *cap ? *cap * 2 : 4;
  wq_json* items = realloc(v->items, ncap * sizeof *items);
  if (!items) return fail(ps, "out of memory");
  v->items = items;
  if (with_keys) {
    char** keys = realloc(v->keys, ncap * sizeof *keys);
    if (!keys) return fail(ps, "out of memory");
    v->keys = keys;
  }
  *cap = ncap;
  return 1;
}

static int parse_array(parser* ps, wq_json* v, int depth) {
  v->kind = WQ_JSON_ARRAY;
  ++ps->p;
  size_t cap = 0;
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == ']') { ++ps->p; return 1; }
  for (;;) {
    if (!grow(ps, v, &cap, 0)) return 0;
    memset(&v->items[v->count], 0, sizeof(wq_json));
    ++v->count;
    if (!parse_value(ps, &v->items[v->count - 1], depth + 1)) return 0;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') { ++ps->p; continue; }
    if (ps->p < ps->end && *ps->p == ']') { ++ps->p; return 1; }
    return fail(ps, "expected ',' or ']'");
  }
}

static int parse_object(parser* ps, wq_json* v, int depth) {
  v->kind = WQ_JSON_OBJECT;
  ++ps->p;
  size_t cap = 0;
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == '}') { ++ps->p; return 1; }
  for (;;) {
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"') return fail(ps, "expected a string key");
    if (!grow(ps, v, &cap, 1)) return 0;
    char* key = parse_string(ps);
    if (!key) return 0;
    memset(&v->items[v->count], 0, sizeof(wq_json));
    v->keys[v->count] = key;
    ++v->count;
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != ':') return fail(ps, "expected ':'");
    ++ps->p;
    if (!parse_value(ps, &v->items[v->count - 1], depth + 1)) return 0;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') { ++ps->p; continue; }
    if (ps->p < ps->end && *ps->p == '}') { ++ps->p; return 1; }
    return fail(ps, "expected ',' or '}'");
  }
}

static int parse_value(parser* ps, wq_json* v, int depth) {
  if (depth > kMaxDepth) return fail(ps, "nested too deeply");
  skip_ws(ps);
  if (ps->p >= ps->end) return fail(ps, "unexpected end of input");
  switch (*ps->p) {
    case '{': return parse_object(ps, v, depth);
    case '[': return parse_array(ps, v, depth);
    case '"':
      v->kind = WQ_JSON_STRING;
      v->string = parse_string(ps);
      return v->string != NULL;
    case 't': v->kind = WQ_JSON_BOOL; v->boolean = 1; return literal(ps, "true");
    case 'f': v->kind = WQ_JSON_BOOL; v->boolean = 0; return literal(ps, "false");
    case 'n': v->kind = WQ_JSON_NULL; return literal(ps, "null");
    default: return parse_number(ps, v);
  }
}

static void free_children(wq_json* v) {
  for (size_t i = 0; i < v->count; ++i) {
    free_children(&v->items[i]);
    if (v->kind == WQ_JSON_OBJECT) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->string);
}

wq_json* wq_json_parse(const char* text, size_t len, char* err, size_t errcap) {
  parser ps = {text, text + len, text, err, errcap, 0};
  wq_json* root = calloc(1, sizeof *root);
  if (!root) return NULL;
  if (parse_value(&ps, root, 0)) {
    skip_ws(&ps);
    if (ps.p == ps.end) return root;
    fail(&ps, "trailing characters after the value");
  }
  free_children(root);
  free(root);
  return NULL;
}

void wq_json_free(wq_json* v) {
  if (!v) return;
  free_children(v);
  free(v);
}

const wq_json* wq_json_get(const wq_json* v, const char* key) {
  if (!v || v->kind != WQ_JSON_OBJECT) return NULL;
  for (size_t i = v->count; i-- > 0;)
    if (strcmp(v->keys[i], key) == 0) return &v->items[i];
  return NULL;
}

const wq_json* wq_json_at(const wq_json* v, size_t i) {
  if (!v || v->kind != WQ_JSON_ARRAY || i >= v->count) return NULL;
  return &v->items[i];
}

const wq_json* wq_json_path(const wq_json* v, const char* path) {
  char step[128];
  while (v && *path) {
    size_t n = strcspn(path, ".");
    if (n >= sizeof step) return NULL;
    memcpy(step, path, n);
    step[n] = 0;
    path += n + (path[n] == '.');
    if (v->kind == WQ_JSON_ARRAY) {
      char* end;
      unsigned long i = strtoul(step, &end, 10);
      v = (*step && !*end) ? wq_json_at(v, i) : NULL;
    } else {
      v = wq_json_get(v, step);
    }
  }
  return v;
}

const char* wq_json_kind_name(wq_json_kind kind) {
  static const char* const kNames[] = {"null", "a boolean", "a number", "a string", "an array", "an object"};
  return kNames[kind];
}

// ---- writing ------------------------------------------------------------------------------------------

typedef struct {
  char* data;
  size_t size, cap;
  int failed;
} writer;

static void put(writer* w, const char* s, size_t n) {
  if (w->failed) return;
  if (w->size + n + 1 > w->cap) {
    size_t ncap = w->cap ? w->cap : 256;
    while (w->size + n + 1 > ncap) ncap *= 2;
    char* grown = realloc(w->data, ncap);
    if (!grown) {
      w->failed = 1;
      return;
    }
    w->data = grown;
    w->cap = ncap;
  }
  memcpy(w->data + w->size, s, n);
  w->size += n;
  w->data[w->size] = 0;
}

static void put_str(writer* w, const char* s) { put(w, s, strlen(s)); }

static void put_string(writer* w, const char* s) {
  put(w, "\"", 1);
  const char* run = s;  // unescaped bytes are copied in runs
  for (; *s; ++s) {
    unsigned char c = (unsigned char)*s;
    if (c != '"' && c != '\\' && c >= 0x20) continue;
    put(w, run, (size_t)(s - run));
    char esc[8];
    if (c == '"' || c == '\\') snprintf(esc, sizeof esc, "\\%c", c);
    else snprintf(esc, sizeof esc, "\\u%04x", c);
    put_str(w, esc);
    run = s + 1;
  }
  put(w, run, (size_t)(s - run));
  put(w, "\"", 1);
}

static void put_value(writer* w, const wq_json* v) {
  char num[32];
  switch (v->kind) {
    case WQ_JSON_NULL: put_str(w, "null"); break;
    case WQ_JSON_BOOL: put_str(w, v->boolean ? "true" : "false"); break;
    case WQ_JSON_NUMBER:
      // 2^53: beyond it not every integer is a double, so the exact form is no longer meaningful.
      if (v->number == floor(v->number) && fabs(v->number) <= 9007199254740992.0)
        snprintf(num, sizeof num, "%.0f", v->number);
      else
        snprintf(num, sizeof num, "%.17g", v->number);
      put_str(w, num);
      break;
    case WQ_JSON_STRING: put_string(w, v->string ? v->string : ""); break;
    case WQ_JSON_ARRAY:
    case WQ_JSON_OBJECT:
      put_str(w, v->kind == WQ_JSON_ARRAY ? "[" : "{");
      for (size_t i = 0; i < v->count; ++i) {
        if (i) put(w, ",", 1);
        if (v->kind == WQ_JSON_OBJECT) {
          put_string(w, v->keys[i]);
          put(w, ":", 1);
        }
        put_value(w, &v->items[i]);
      }
      put_str(w, v->kind == WQ_JSON_ARRAY ? "]" : "}");
      break;
  }
}

char* wq_json_write(const wq_json* v, size_t* len) {
  writer w = {NULL, 0, 0, 0};
  put_value(&w, v);
  if (w.failed) {
    free(w.data);
    return NULL;
  }
  if (len) *len = w.size;
  return w.data;
}
