// json.h — a small JSON reader for the task JSON a pipeline gets on stdin (RFC 8259: objects, arrays,
// strings with escapes incl. \uXXXX surrogate pairs, numbers, true/false/null). The whole document is
// parsed into a tree; lookups go by key or by a dotted path ("config.source_box.x", "faces.0.w"); a tree
// (or one built by hand) is written back as compact JSON text by wq_json_write.
#ifndef WQ_JSON_H_
#define WQ_JSON_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { WQ_JSON_NULL, WQ_JSON_BOOL, WQ_JSON_NUMBER, WQ_JSON_STRING, WQ_JSON_ARRAY, WQ_JSON_OBJECT } wq_json_kind;

typedef struct wq_json {
  wq_json_kind kind;
  int boolean;
  double number;
  char* string;             // WQ_JSON_STRING: UTF-8, NUL-terminated (an embedded \u0000 ends it early)
  size_t count;             // array items or object members
  struct wq_json* items;    // array items / object values
  char** keys;              // object keys (parallel to items)
} wq_json;

// Parses `len` bytes. NULL on error, with a message ("line 3: expected ':'") in err (errcap bytes).
// Nesting deeper than 64 levels is an error, so a hostile document cannot exhaust the stack.
wq_json* wq_json_parse(const char* text, size_t len, char* err, size_t errcap);
void wq_json_free(wq_json* v);

// The member `key` of an object (the last one if repeated); NULL if v is not an object or lacks it.
const wq_json* wq_json_get(const wq_json* v, const char* key);
// A dotted path: object keys and, on arrays, decimal indices. NULL when any step is missing.
const wq_json* wq_json_path(const wq_json* v, const char* path);
// The i-th array item, or NULL.
const wq_json* wq_json_at(const wq_json* v, size_t i);

const char* wq_json_kind_name(wq_json_kind kind);

// Writes v as compact JSON text into a new NUL-terminated buffer (the caller frees it); *len gets its
// length when len != NULL. Integral numbers up to 2^53 print without a fraction, others with 17 digits.
// NULL when out of memory.
char* wq_json_write(const wq_json* v, size_t* len);

#ifdef __cplusplus
}
#endif

#endif  // WQ_JSON_H_
