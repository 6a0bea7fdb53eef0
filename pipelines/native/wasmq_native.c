// wasmq_native.c — the `wasmq` imports for a pipeline compiled natively (benchmarks, tests, debugging),
// so the same C runs outside the sandbox:
//   progress, log      one line on stderr ("progress 40 analysing", "log info ...")
//   fail               a line `wasmq_fail {"code":..,"message":..,"retryable":..}` on stderr, then exit(3)
//   engine_call        only `face-detect` and `face-landmarks`, answered from the JSON file named by
//                      WASMQ_FACES (the response JSON as the engine would send it, e.g.
//                      {"faces":[{"x":1,"y":2,"w":3,"h":4}]});
//                      without it, or for another engine, WASMQ_ENGINE_UNAVAILABLE.
// The directories come from WASMQ_IN_DIR and WASMQ_OUT_DIR (common/task.c).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasmq.h"

enum { kFailExit = 3 };

static char* g_json;  // the last engine_call's response JSON
static size_t g_json_len;

static void put_escaped(FILE* f, const char* s, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
}

void wasmq_progress_raw(int32_t percent, const char* msg, uint32_t msg_len) {
  if (getenv("WASMQ_QUIET")) return;
  fprintf(stderr, "progress %d %.*s\n", percent < 0 ? 0 : percent > 100 ? 100 : percent, (int)msg_len, msg);
}

void wasmq_log_raw(int32_t level, const char* msg, uint32_t msg_len) {
  static const char* const kLevels[] = {"debug", "info", "warn", "error"};
  fprintf(stderr, "log %s %.*s\n", kLevels[level < 0 ? 0 : level > 3 ? 3 : level], (int)msg_len, msg);
}

void wasmq_fail_raw(const char* code, uint32_t code_len, const char* msg, uint32_t msg_len, int32_t retryable) {
  fflush(stdout);
  fputs("wasmq_fail {\"code\":\"", stderr);
  put_escaped(stderr, code, code_len);
  fputs("\",\"message\":\"", stderr);
  put_escaped(stderr, msg, msg_len);
  fprintf(stderr, "\",\"retryable\":%s}\n", retryable ? "true" : "false");
  exit(kFailExit);
}

static int32_t respond(const char* json, size_t len, int32_t rc, uint32_t* sizes) {
  free(g_json);
  g_json = malloc(len + 1);
  if (!g_json) abort();
  memcpy(g_json, json, len);
  g_json_len = len;
  sizes[0] = (uint32_t)len;
  sizes[1] = 0;
  return rc;
}

static int32_t unavailable(const char* why, uint32_t* sizes) {
  char json[256];
  int n = snprintf(json, sizeof json, "{\"code\":\"ENGINE_UNAVAILABLE\",\"message\":\"%s\"}", why);
  return respond(json, (size_t)n, WASMQ_ENGINE_UNAVAILABLE, sizes);
}

int32_t wasmq_engine_call_raw(const char* name, uint32_t name_len, const char* request_json,
                              uint32_t request_json_len, const uint8_t* data, uint32_t data_len,
                              uint32_t* sizes) {
  (void)request_json, (void)request_json_len, (void)data, (void)data_len;
  const int is_face_engine = (name_len == strlen("face-detect") && memcmp(name, "face-detect", name_len) == 0) ||
                             (name_len == strlen("face-landmarks") && memcmp(name, "face-landmarks", name_len) == 0);
  if (!is_face_engine) return unavailable("the native shim answers only face-detect and face-landmarks", sizes);
  const char* path = getenv("WASMQ_FACES");
  if (!path || !*path) return unavailable("no WASMQ_FACES file for the native face-detect stub", sizes);
  FILE* f = fopen(path, "rb");
  if (!f) return unavailable("cannot read the WASMQ_FACES file", sizes);
  char buf[65536];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  return respond(buf, n, WASMQ_ENGINE_OK, sizes);
}

int32_t wasmq_engine_response(char* json_buf, uint32_t json_cap, uint8_t* data_buf, uint32_t data_cap) {
  (void)data_buf, (void)data_cap;
  if (json_cap < g_json_len) return -1;
  if (g_json_len) memcpy(json_buf, g_json, g_json_len);
  return 0;
}
