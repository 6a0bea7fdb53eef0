// The pipeline ABI seen from C: the `wasmq` import module (docs/queue.md) and small helpers.
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((import_module("wasmq"), import_name("progress"))) void wasmq_progress_raw(int percent, const char* msg,
                                                                                          int len);

static inline void wasmq_progress(int percent, const char* msg) { wasmq_progress_raw(percent, msg, (int)strlen(msg)); }

// Reads all of stdin (the task JSON) into a NUL-terminated buffer.
static inline char* read_stdin(void) {
  size_t cap = 4096, len = 0;
  char* buf = malloc(cap);
  size_t n;
  while ((n = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
    len += n;
    if (cap - len < 2) buf = realloc(buf, cap *= 2);
  }
  buf[len] = 0;
  return buf;
}

// The integer after `"key":` in `json`, or `fallback`. Enough for the tests' flat configs.
static inline long json_int(const char* json, const char* key, long fallback) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char* p = strstr(json, pat);
  return p ? strtol(p + strlen(pat), NULL, 10) : fallback;
}
