// engine.h — calling engines from a pipeline (docs/engines.md): one call with the TaskError convention, and
// routing a whole mode through the engine a task's config names.
#ifndef WQ_ENGINE_H_
#define WQ_ENGINE_H_

#include <stddef.h>
#include <stdint.h>

#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  char* json;        // the response JSON, NUL-terminated (json_size bytes)
  size_t json_size;
  uint8_t* payload;  // the response payload (payload_size bytes; NULL when empty)
  size_t payload_size;
} wq_engine_answer;

// Calls engine `name` with `request` (JSON text) and an optional payload. On an engine failure it fails
// the task with the engine's code (ENGINE_UNKNOWN, ENGINE_FAILED, ...) and the message "engine NAME:
// <the engine's message>"; retryable only for ENGINE_TIMEOUT and ENGINE_UNAVAILABLE, where a later
// attempt can succeed. So it returns only with an answer, which the caller frees with wq_engine_answer_free.
void wq_engine_call(const char* name, const char* request, const uint8_t* data, size_t size,
                    wq_engine_answer* answer);
void wq_engine_answer_free(wq_engine_answer* answer);

// Every built-in pipeline calls this first, right after wq_task_begin. Without config.engine (absent or
// null) it returns 0 and the pipeline runs its own algorithm. With config.engine, a non-empty string
// (INVALID_CONFIG otherwise), the engine does the whole job: the source image's bytes as the payload, the
// config minus "engine" plus the task's "mode" as the request; its payload becomes /out/result.<png|jpg|
// webp|gif|bin> (by the payload's first bytes) and stdout gets {"engine", "output", "bytes", "response"}.
// An answer without a payload fails with ENGINE_FAILED. Returns 1 when it did the job.
int wq_route_through_engine_if_asked(const wq_task* t);

#ifdef __cplusplus
}
#endif

#endif  // WQ_ENGINE_H_
