// task.h — what every built-in pipeline does around its image work: read the task JSON from stdin,
// validate config values (failing with a TaskError that names the key), find and decode the inputs in /in,
// report progress, write /out/result.<png|jpg> and print a JSON summary on stdout.
//
// Every wq_cfg_* getter treats an absent key and a JSON null alike ("use the default") and fails the task
// with INVALID_CONFIG when the value has the wrong type or range. Nothing here returns an error to check:
// a problem ends the module through wasmq_fail with the matching code.
#ifndef WQ_TASK_H_
#define WQ_TASK_H_

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "json.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  wq_json* root;           // the TaskInfo JSON
  const wq_json* config;   // its "config" object (an empty object when absent)
  char format[8];          // output format: "png" or "jpeg"
  int quality;             // JPEG quality 1..100
} wq_task;

typedef struct {
  int x, y, w, h;
} wq_box;

// Reads and parses stdin; validates "output_format" (png | jpeg | jpg) and "quality" (1..100).
void wq_task_begin(wq_task* t);
void wq_task_end(wq_task* t);

__attribute__((noreturn, format(printf, 2, 3))) void wq_failf(const char* code, const char* fmt, ...);
__attribute__((format(printf, 2, 3))) void wq_step(int percent, const char* fmt, ...);

// ---- config values -----------------------------------------------------------------------------------
const wq_json* wq_cfg(const wq_task* t, const char* key);  // NULL when absent or null
int wq_cfg_has(const wq_task* t, const char* key);
double wq_cfg_number(const wq_task* t, const char* key, double fallback, double min, double max);
int wq_cfg_int(const wq_task* t, const char* key, int fallback, int min, int max);
int wq_cfg_bool(const wq_task* t, const char* key, int fallback);
const char* wq_cfg_string(const wq_task* t, const char* key, const char* fallback);
// The index of the value in `choices` (NULL-terminated), or fallback when absent.
int wq_cfg_choice(const wq_task* t, const char* key, const char* const* choices, int fallback);
// A colour value (see wq_parse_color); 0 when absent; UNKNOWN_COLOR when not a colour.
int wq_cfg_color(const wq_task* t, const char* key, uint8_t rgb[3]);
int wq_json_color(const wq_json* v, const char* what, uint8_t rgb[3]);
// {"x","y","w","h"} or [x, y, w, h]; 0 when absent. INVALID_CONFIG for a bad shape or an empty box,
// BOX_OUTSIDE_IMAGE when it does not lie inside img_w × img_h.
int wq_cfg_box(const wq_task* t, const char* key, int img_w, int img_h, wq_box* box);
// A point as [x, y] or {"x","y"}; `what` names it in the error.
void wq_json_point(const wq_json* v, const char* what, double* x, double* y);
// A number (INVALID_CONFIG naming `what` otherwise).
double wq_json_number(const wq_json* v, const char* what);

// ---- inputs -------------------------------------------------------------------------------------------
// The file for input `key` ("source", "background_image", ...): /in/<key>.<ext>, else the file named by
// the uploaded id (the task's source_image, or the config value of key). 0 when there is none.
int wq_find_input(const wq_task* t, const char* key, char* path, size_t cap);
// Finds and reads input `key` as it is (not decoded; the caller frees it): MISSING_INPUT when absent,
// IMAGE_TOO_LARGE over 256 MiB.
uint8_t* wq_read_input(const wq_task* t, const char* key, size_t* size);
// Finds, reads and decodes input `key`: MISSING_INPUT when absent, INVALID_IMAGE when not an image,
// IMAGE_TOO_LARGE over WQ_MAX_PIXELS. The encoded bytes are kept in *bytes when bytes != NULL.
void wq_load_image(const wq_task* t, const char* key, wq_image* img, uint8_t** bytes, size_t* size);
// Like wq_load_image for a mask (one channel, see wq_mask_decode).
void wq_load_mask(const wq_task* t, const char* key, int* w, int* h, uint8_t** mask);

// ---- output -------------------------------------------------------------------------------------------
// Encodes img to /out/result.<png|jpg> and returns that file name (OUTPUT_FAILED when it cannot).
const char* wq_write_output(const wq_task* t, const wq_image* img);
// Writes `size` bytes to /out/<name> (OUTPUT_FAILED when it cannot).
void wq_write_file(const char* name, const uint8_t* data, size_t size);
// The summary on stdout: {"output":NAME,"format":..,"width":..,"height":.., <fields>}.
void wq_summary_begin(const wq_task* t, const char* output, const wq_image* img);
void wq_summary_int(const char* key, long long v);
void wq_summary_number(const char* key, double v);
void wq_summary_string(const char* key, const char* v);
void wq_summary_raw(const char* key, const char* json);  // an already formatted JSON value
void wq_summary_end(void);

#ifdef __cplusplus
}
#endif

#endif  // WQ_TASK_H_
