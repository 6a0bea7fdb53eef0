// engine.c — see engine.h.
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasmq.h"

static const char* engine_code(int32_t rc) {
  switch (rc) {
    case WASMQ_ENGINE_UNKNOWN: return "ENGINE_UNKNOWN";
    case WASMQ_ENGINE_BAD_REQUEST: return "ENGINE_BAD_REQUEST";
    case WASMQ_ENGINE_TIMEOUT: return "ENGINE_TIMEOUT";
    case WASMQ_ENGINE_UNAVAILABLE: return "ENGINE_UNAVAILABLE";
    case WASMQ_ENGINE_TOO_LARGE: return "ENGINE_TOO_LARGE";
    default: return "ENGINE_FAILED";
  }
}

void wq_engine_call(const char* name, const char* request, const uint8_t* data, size_t size,
                    wq_engine_answer* answer) {
  uint32_t sizes[2] = {0, 0};
  int32_t rc = wasmq_engine_call_raw(name, (uint32_t)strlen(name), request, (uint32_t)strlen(request), data,
                                     (uint32_t)size, sizes);
  // The response must be taken whole (JSON and payload together) even when only one part is wanted.
  char* json = malloc((size_t)sizes[0] + 1);
  uint8_t* payload = malloc((size_t)sizes[1] + 1);
  if (!json || !payload) wq_failf("OUT_OF_MEMORY", "no memory for the %u-byte answer of engine %s", sizes[1], name);
  if (wasmq_engine_response(json, sizes[0], payload, sizes[1]) != 0)
    wq_failf("ENGINE_FAILED", "cannot read the answer of engine %s", name);
  json[sizes[0]] = 0;
  if (rc != WASMQ_ENGINE_OK) {
    // The failure JSON is {"code", "message"}; the code is the call's return value.
    wq_json* failure = wq_json_parse(json, sizes[0], NULL, 0);
    const wq_json* message = wq_json_get(failure, "message");
    char msg[512];
    snprintf(msg, sizeof msg, "engine %s: %s", name,
             message && message->kind == WQ_JSON_STRING ? message->string : "no details");
    const char* code = engine_code(rc);
    int retryable = rc == WASMQ_ENGINE_TIMEOUT || rc == WASMQ_ENGINE_UNAVAILABLE;
    wasmq_fail_raw(code, (uint32_t)strlen(code), msg, (uint32_t)strlen(msg), retryable);
  }
  answer->json = json;
  answer->json_size = sizes[0];
  answer->payload = sizes[1] ? payload : NULL;
  answer->payload_size = sizes[1];
  if (!sizes[1]) free(payload);
}

void wq_engine_answer_free(wq_engine_answer* answer) {
  free(answer->json);
  free(answer->payload);
  memset(answer, 0, sizeof *answer);
}

// ---- routing a whole mode -------------------------------------------------------------------------------

// The file extension for an encoded image, from its first bytes.
static const char* payload_extension(const uint8_t* p, size_t n) {
  if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) return "png";
  if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return "jpg";
  if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0) return "webp";
  if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0)) return "gif";
  return "bin";
}

// The request: the config without "engine" (and without a "mode" of its own), plus the task's mode. A
// shallow object: its members point into the task's tree, so only its arrays are freed.
static char* request_json(const wq_task* t) {
  const wq_json* config = t->config;
  const wq_json* task_mode = wq_json_get(t->root, "mode");
  const char* mode = task_mode && task_mode->kind == WQ_JSON_STRING ? task_mode->string : getenv("WASMQ_MODE");
  wq_json request = {.kind = WQ_JSON_OBJECT};
  request.items = calloc(config->count + 1, sizeof *request.items);
  request.keys = calloc(config->count + 1, sizeof *request.keys);
  if (!request.items || !request.keys) wq_failf("OUT_OF_MEMORY", "no memory for the engine request");
  for (size_t i = 0; i < config->count; ++i) {
    if (strcmp(config->keys[i], "engine") == 0 || (mode && strcmp(config->keys[i], "mode") == 0)) continue;
    request.keys[request.count] = config->keys[i];
    request.items[request.count++] = config->items[i];
  }
  if (mode) {
    request.keys[request.count] = (char*)"mode";
    request.items[request.count++] = (wq_json){.kind = WQ_JSON_STRING, .string = (char*)mode};
  }
  char* text = wq_json_write(&request, NULL);
  free(request.items);
  free(request.keys);
  if (!text) wq_failf("OUT_OF_MEMORY", "no memory for the engine request");
  return text;
}

static void print_json_string(const char* s) {
  wq_json v = {.kind = WQ_JSON_STRING, .string = (char*)s};
  char* text = wq_json_write(&v, NULL);
  fputs(text ? text : "\"\"", stdout);
  free(text);
}

int wq_route_through_engine_if_asked(const wq_task* t) {
  const wq_json* v = wq_cfg(t, "engine");
  if (!v) return 0;
  if (v->kind != WQ_JSON_STRING || !*v->string)
    wq_failf("INVALID_CONFIG", "config.engine must be a non-empty engine name, not %s",
             v->kind == WQ_JSON_STRING ? "an empty string" : wq_json_kind_name(v->kind));
  const char* engine = v->string;

  size_t size = 0;
  uint8_t* source = wq_read_input(t, "source", &size);
  char* request = request_json(t);
  wq_step(10, "sending to engine %s", engine);
  wq_engine_answer answer;
  wq_engine_call(engine, request, source, size, &answer);
  free(request);
  free(source);
  wq_step(90, "engine %s answered", engine);
  if (!answer.payload_size)
    wq_failf("ENGINE_FAILED", "engine %s returned no image (it answered %.200s)", engine,
             answer.json_size ? answer.json : "nothing");

  char name[32];
  snprintf(name, sizeof name, "result.%s", payload_extension(answer.payload, answer.payload_size));
  wq_write_file(name, answer.payload, answer.payload_size);

  printf("{\"engine\":");
  print_json_string(engine);
  printf(",\"output\":\"%s\",\"bytes\":%zu", name, answer.payload_size);
  wq_json* response = wq_json_parse(answer.json, answer.json_size, NULL, 0);
  char* compact = response ? wq_json_write(response, NULL) : NULL;
  if (compact) printf(",\"response\":%s", compact);
  printf("}\n");
  fflush(stdout);
  free(compact);
  wq_json_free(response);
  wq_engine_answer_free(&answer);
  wq_step(100, "done");
  return 1;
}
