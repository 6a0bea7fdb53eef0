// Exercises the wasmq imports beyond progress (pipelines/include/wasmq.h): config "action" picks what.
//   fail        wasmq_fail("BOX_OUTSIDE_IMAGE", ...)        fail_retry  the same, retryable
//   bad_code    wasmq_fail with a lower-case code (traps)    log         three lines at each level
//   log_flood   5000 lines (rate-limited by the host)         inputs      lists /in into /out/inputs.txt
//   engine      calls config "engine" with config "request" and a payload "PAYLOAD"; on success writes the
//               response JSON to /out/response.json and the payload to /out/response.bin, else fails with
//               the response's code (retryable for ENGINE_TIMEOUT / ENGINE_UNAVAILABLE)
//   engine_oob  engine_call with a name pointer outside memory (traps)
//   small_buf   engine_response with a too small buffer returns -1; no call yet returns -1
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasmq.h>

static char* read_all(FILE* f) {
  size_t cap = 4096, len = 0, n;
  char* buf = malloc(cap);
  while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len < 2) buf = realloc(buf, cap *= 2);
  }
  buf[len] = 0;
  return buf;
}

// The string value of "key" in flat JSON (no escapes), copied into out.
static int json_str(const char* json, const char* key, char* out, size_t cap) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  const char* p = strstr(json, pat);
  if (!p) return 0;
  p += strlen(pat);
  const char* e = strchr(p, '"');
  size_t n = (size_t)(e - p) < cap - 1 ? (size_t)(e - p) : cap - 1;
  memcpy(out, p, n);
  out[n] = 0;
  return 1;
}

// The JSON object after "request": in the task (balanced braces, no strings with braces).
static int json_obj(const char* json, const char* key, char* out, size_t cap) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":{", key);
  const char* p = strstr(json, pat);
  if (!p) return 0;
  p += strlen(pat) - 1;
  int depth = 0;
  size_t n = 0;
  do {
    if (*p == '{') depth++;
    if (*p == '}') depth--;
    if (n + 1 < cap) out[n++] = *p;
    p++;
  } while (depth > 0 && *p);
  out[n] = 0;
  return 1;
}

static void engine(const char* task) {
  char name[64] = "", request[1024] = "{}";
  json_str(task, "engine", name, sizeof name);
  json_obj(task, "request", request, sizeof request);
  uint32_t sizes[2] = {0, 0};
  int32_t rc = wasmq_engine_call_raw(name, strlen(name), request, strlen(request), (const uint8_t*)"PAYLOAD",
                                     7, sizes);
  char* json = malloc(sizes[0] + 1);
  uint8_t* data = malloc(sizes[1] + 1);
  if (wasmq_engine_response(json, sizes[0], data, sizes[1]) != 0) exit(20);
  json[sizes[0]] = 0;
  if (rc != WASMQ_ENGINE_OK) {
    char code[64] = "ENGINE_FAILED";
    json_str(json, "code", code, sizeof code);
    wasmq_log(WASMQ_LOG_WARN, json);
    if (rc == WASMQ_ENGINE_TIMEOUT || rc == WASMQ_ENGINE_UNAVAILABLE) wasmq_fail_retryable(code, json);
    wasmq_fail(code, json);
  }
  FILE* f = fopen("/out/response.json", "w");
  fwrite(json, 1, sizes[0], f);
  fclose(f);
  f = fopen("/out/response.bin", "wb");
  fwrite(data, 1, sizes[1], f);
  fclose(f);
  printf("{\"rc\":%d,\"json_bytes\":%u,\"payload_bytes\":%u}\n", rc, sizes[0], sizes[1]);
}

int main(void) {
  char* task = read_all(stdin);
  char action[64] = "";
  json_str(task, "action", action, sizeof action);
  wasmq_progress(5, action);
  if (!strcmp(action, "fail"))
    wasmq_fail("BOX_OUTSIDE_IMAGE", "box 10,10,500,500 is outside the 100x100 image");
  if (!strcmp(action, "fail_retry")) wasmq_fail_retryable("ENGINE_TIMEOUT", "try again");
  if (!strcmp(action, "bad_code")) wasmq_fail("not_upper", "x");
  if (!strcmp(action, "log")) {
    for (int level = 0; level < 4; ++level) wasmq_log(level, "hello from the pipeline");
    return 0;
  }
  if (!strcmp(action, "log_flood")) {
    for (int i = 0; i < 5000; ++i) wasmq_log(WASMQ_LOG_INFO, "flood");
    return 0;
  }
  if (!strcmp(action, "inputs")) {
    FILE* out = fopen("/out/inputs.txt", "w");
    DIR* d = opendir("/in");
    struct dirent* e;
    while (d && (e = readdir(d)))
      if (e->d_name[0] != '.') fprintf(out, "%s\n", e->d_name);
    fclose(out);
    return 0;
  }
  if (!strcmp(action, "engine")) {
    engine(task);
    return 0;
  }
  if (!strcmp(action, "engine_oob")) {
    uint32_t sizes[2];
    wasmq_engine_call_raw((const char*)0xfffffff0u, 64, "{}", 2, 0, 0, sizes);
    return 0;
  }
  if (!strcmp(action, "small_buf")) {
    char buf[4];
    uint32_t sizes[2];
    if (wasmq_engine_response(buf, sizeof buf, 0, 0) != -1) return 30;
    wasmq_engine_call_raw("echo", 4, "{\"a\":\"long enough\"}", 19, 0, 0, sizes);
    if (wasmq_engine_response(buf, sizeof buf, 0, 0) != -1) return 31;
    printf("{\"json_bytes\":%u}\n", sizes[0]);
    return 0;
  }
  return 2;
}
