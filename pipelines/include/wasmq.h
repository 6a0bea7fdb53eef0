// wasmq.h — the pipeline contract (DESIGN.md "Pipelines are Wasm modules"), seen from C.
//
// A pipeline is a WASI command module (wasm32-wasi). For each attempt of a task the worker gives it:
//   stdin    the task as TaskInfo JSON (task_id, mode, config, source_image, ...)
//   argv     [MODE];  environment: WASMQ_TASK_ID, WASMQ_MODE, WASMQ_ATTEMPT
//   /in      read-only: the source image as /in/source.<ext>, and every top-level config string whose key
//            ends in "_image" and names an uploaded file id (e.g. "background_image", "reference_image",
//            "mask_image") as /in/<key>.<ext>
//   /out     empty; what the module leaves here on success becomes the task's output files
//   stdout   the result's `output` (kept as JSON when it parses);  stderr: kept (tail) with a failure
//   exit 0   success; any other exit status fails the attempt with code EXIT
// and the `wasmq` import module below. Nothing else crosses the sandbox.
//
// Any language that targets wasm32-wasi can implement this: the imports are plain i32 functions
// (pointers and lengths into the module's own linear memory). A pointer/length that does not lie inside
// the module's memory traps the module.
#ifndef WASMQ_PIPELINE_H_
#define WASMQ_PIPELINE_H_

#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__wasm__)
#define WASMQ_IMPORT(name) __attribute__((import_module("wasmq"), import_name(name)))
#else
// Native builds (benchmarks, debugging) link a host shim that provides the same functions.
#define WASMQ_IMPORT(name)
#endif

// ---- progress and logs -------------------------------------------------------------------------------

// Reports progress: percent 0..100 (clamped) and the current step's text (UTF-8). Watchers see it live.
// Cheap to call often: the worker writes it to the store at most every 50 ms unless the text changes.
// If the task is no longer this worker's (cancelled, lease lost) the call stops the module.
WASMQ_IMPORT("progress") void wasmq_progress_raw(int32_t percent, const char* msg, uint32_t msg_len);

enum { WASMQ_LOG_DEBUG = 0, WASMQ_LOG_INFO = 1, WASMQ_LOG_WARN = 2, WASMQ_LOG_ERROR = 3 };
// One line in the worker's log, tagged with the task id.
WASMQ_IMPORT("log") void wasmq_log_raw(int32_t level, const char* msg, uint32_t msg_len);

// ---- failing with a TaskError ------------------------------------------------------------------------

// Ends the module at once (like proc_exit) and fails the attempt with TaskError {code, message}.
// `code` is UPPER_SNAKE_CASE (e.g. "INVALID_CONFIG", "INVALID_IMAGE", "BOX_OUTSIDE_IMAGE",
// "UNKNOWN_COLOR"); retryable != 0 lets the worker retry with backoff (use it only where a retry can help:
// an engine that timed out or was unreachable). Does not return.
WASMQ_IMPORT("fail")
__attribute__((noreturn)) void wasmq_fail_raw(const char* code, uint32_t code_len, const char* msg,
                                              uint32_t msg_len, int32_t retryable);

// ---- engine calls --------------------------------------------------------------------------------------

// Engines are what pipelines call for heavy work (DESIGN.md "engines"): the built-in `face-detect`, other
// Wasm modules, external HTTP image APIs, ComfyUI. They are named in the engine config file
// (ENGINE_CONFIG_PATH) and chosen by name. A call sends a JSON request plus an optional binary payload
// (e.g. an encoded image) and gets back a JSON response plus an optional binary payload.
//
// engine_call returns WASMQ_ENGINE_OK and writes the response sizes to sizes[0] (JSON bytes) and sizes[1]
// (payload bytes); the module then fetches the response with engine_response. On failure it returns one
// of the negative codes below, and the response JSON (sizes as above) is {"code": "...", "message": "..."}
// with code one of ENGINE_UNKNOWN, ENGINE_BAD_REQUEST, ENGINE_FAILED, ENGINE_TIMEOUT, ENGINE_UNAVAILABLE,
// ENGINE_TOO_LARGE. The worker bounds every call by the engine's timeout and the task's deadline; a call
// blocks the module (its fuel does not run) until the engine answers.
enum {
  WASMQ_ENGINE_OK = 0,
  WASMQ_ENGINE_UNKNOWN = -1,      // no engine of that name in the registry
  WASMQ_ENGINE_BAD_REQUEST = -2,  // the engine refused the request (bad JSON, missing field, not an image)
  WASMQ_ENGINE_FAILED = -3,       // the engine ran and failed (HTTP 5xx, ComfyUI execution error, trap)
  WASMQ_ENGINE_TIMEOUT = -4,      // no answer within the engine's timeout (after its retries)
  WASMQ_ENGINE_UNAVAILABLE = -5,  // could not reach it (connection refused, DNS, TLS)
  WASMQ_ENGINE_TOO_LARGE = -6,    // request or response over the worker's limit
};
WASMQ_IMPORT("engine_call")
int32_t wasmq_engine_call_raw(const char* name, uint32_t name_len, const char* request_json,
                              uint32_t request_json_len, const uint8_t* data, uint32_t data_len,
                              uint32_t* sizes /* [2] */);

// Copies the last engine_call's response: JSON into json_buf (json_cap bytes), payload into data_buf
// (data_cap bytes). Returns 0, or -1 if either buffer is smaller than the size engine_call reported
// (nothing is copied then). The response is kept until the next engine_call.
WASMQ_IMPORT("engine_response")
int32_t wasmq_engine_response(char* json_buf, uint32_t json_cap, uint8_t* data_buf, uint32_t data_cap);

// ---- conveniences -------------------------------------------------------------------------------------

static inline void wasmq_progress(int percent, const char* msg) {
  wasmq_progress_raw(percent, msg, (uint32_t)strlen(msg));
}
static inline void wasmq_log(int level, const char* msg) { wasmq_log_raw(level, msg, (uint32_t)strlen(msg)); }
__attribute__((noreturn)) static inline void wasmq_fail(const char* code, const char* msg) {
  wasmq_fail_raw(code, (uint32_t)strlen(code), msg, (uint32_t)strlen(msg), 0);
}
__attribute__((noreturn)) static inline void wasmq_fail_retryable(const char* code, const char* msg) {
  wasmq_fail_raw(code, (uint32_t)strlen(code), msg, (uint32_t)strlen(msg), 1);
}

#ifdef __cplusplus
}
#endif

#endif  // WASMQ_PIPELINE_H_
