// The OPA Wasm ABI (https://www.openpolicyagent.org/docs/latest/wasm/) as a tiny C runtime for the policy
// test modules in this folder. Written for wasmq's tests: it is not OPA's runtime and not a compiled Rego
// policy. It gives a module what a host needs to load and evaluate it the way `opa build -t wasm` output is
// loaded and evaluated: the allocator and heap pointer, the JSON/value (de)serialisers, the evaluation
// context and `eval`, `opa_eval` (ABI 1.2+, when OPA_ABI_MINOR >= 2), `builtins` and `entrypoints`.
//
// A "value" is the address of a NUL-terminated JSON text in the module's memory, so parsing is
// validating and copying, dumping is the identity, and a rule builds its result as text. The module
// including this header defines POLICY_BUILTINS and POLICY_ENTRYPOINTS (JSON objects mapping names to
// ids) and `policy_eval(entrypoint, input)`, which returns the result set's text ("[]" when undefined).
#pragma once

#ifndef OPA_ABI_MINOR
#error "OPA_ABI_MINOR must be defined (tests/policy/CMakeLists.txt passes it)"
#endif

typedef unsigned long size_t;
typedef unsigned int u32;

#define EXPORT(name) __attribute__((export_name(#name)))
#define IMPORT(name) __attribute__((import_module("env"), import_name(#name)))

// The host's side. A builtin takes and returns values; 0 as a result is "undefined".
IMPORT(opa_abort) void opa_abort(const char* message);
IMPORT(opa_builtin0) const char* opa_builtin0(u32 id, void* ctx);
IMPORT(opa_builtin1) const char* opa_builtin1(u32 id, void* ctx, const char* a);
IMPORT(opa_builtin2) const char* opa_builtin2(u32 id, void* ctx, const char* a, const char* b);
IMPORT(opa_builtin3) const char* opa_builtin3(u32 id, void* ctx, const char* a, const char* b, const char* c);
IMPORT(opa_builtin4)
const char* opa_builtin4(u32 id, void* ctx, const char* a, const char* b, const char* c, const char* d);

// The ABI version globals. clang 14 lowers address space 1 to Wasm globals but drops their initial
// values (and makes them mutable), so the build sets them to 1 and OPA_ABI_MINOR after linking
// (set_abi_version.cmake): hosts read them before calling anything, there is no code to set them.
__attribute__((address_space(1))) int opa_wasm_abi_version;
__attribute__((address_space(1))) int opa_wasm_abi_minor_version;

// --- Heap: a bump allocator above the linker's __heap_base. The host resets the pointer between
// decisions (opa_heap_ptr_set, or opa_eval's heap_ptr), which frees everything a decision allocated.
extern unsigned char __heap_base;
static u32 heap_ptr = (u32)&__heap_base;

EXPORT(opa_malloc) void* opa_malloc(size_t size) {
  u32 addr = (heap_ptr + 7) & ~7u;
  u32 end = addr + (u32)size;
  if (end < addr) opa_abort("opa_malloc: out of address space");
  u32 have = (u32)__builtin_wasm_memory_size(0) * 65536u;
  if (end > have && __builtin_wasm_memory_grow(0, (end - have + 65535u) / 65536u) < 0)
    opa_abort("opa_malloc: out of memory");
  heap_ptr = end;
  return (void*)addr;
}

EXPORT(opa_free) void opa_free(void* p) { (void)p; }  // bump allocator: freed by the next heap reset
EXPORT(opa_heap_ptr_get) u32 opa_heap_ptr_get(void) { return heap_ptr; }
EXPORT(opa_heap_ptr_set) void opa_heap_ptr_set(u32 p) { heap_ptr = p; }

static size_t text_len(const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}

static int text_eq(const char* a, const char* a_end, const char* b) {
  for (; a < a_end; ++a, ++b)
    if (*b == 0 || *a != *b) return 0;
  return *b == 0;
}

// Copies [begin, end) into the heap as a NUL-terminated text: a value.
static const char* copy_text(const char* begin, const char* end) {
  char* out = opa_malloc((size_t)(end - begin) + 1);
  for (size_t i = 0; begin + i < end; ++i) out[i] = begin[i];
  out[end - begin] = 0;
  return out;
}

// Concatenates a NULL-terminated list of texts into a fresh heap text.
static const char* concat(const char* const* parts) {
  size_t n = 0;
  for (const char* const* p = parts; *p; ++p) n += text_len(*p);
  char* out = opa_malloc(n + 1);
  char* w = out;
  for (const char* const* p = parts; *p; ++p)
    for (const char* s = *p; *s; ++s) *w++ = *s;
  *w = 0;
  return out;
}

// --- A JSON scanner: enough to validate a document and find a member of an object.
static const char* skip_ws(const char* p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
  return p;
}

// The end of the JSON value starting at p (after leading whitespace), or 0 when it is not one.
static const char* skip_value(const char* p, const char* end, int depth) {
  p = skip_ws(p, end);
  if (p == end || depth > 64) return 0;
  if (*p == '"') {
    for (++p; p < end && *p != '"'; ++p) {
      if ((unsigned char)*p < 0x20) return 0;
      if (*p == '\\' && ++p == end) return 0;
    }
    return p < end ? p + 1 : 0;
  }
  if (*p == '{' || *p == '[') {
    char close = *p == '{' ? '}' : ']';
    p = skip_ws(p + 1, end);
    if (p < end && *p == close) return p + 1;
    for (;;) {
      if (close == '}') {
        if (p == end || *p != '"' || !(p = skip_value(p, end, depth + 1))) return 0;
        p = skip_ws(p, end);
        if (p == end || *p++ != ':') return 0;
      }
      if (!(p = skip_value(p, end, depth + 1))) return 0;
      p = skip_ws(p, end);
      if (p == end) return 0;
      if (*p == close) return p + 1;
      if (*p++ != ',') return 0;
    }
  }
  const char* start = p;
  while (p < end && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || *p == '-' || *p == '+' ||
                     *p == '.' || *p == 'E'))
    ++p;
  if (text_eq(start, p, "true") || text_eq(start, p, "false") || text_eq(start, p, "null")) return p;
  return p > start && (*start == '-' || (*start >= '0' && *start <= '9')) ? p : 0;
}

// (inline: not every module uses the helpers below, and -Wunused-function would fail the build.)
// The member `key` (a key without escapes) of the object `obj`: its value's text in [*begin, *end).
static inline int object_get(const char* obj, const char* key, const char** begin, const char** end) {
  const char* stop = obj + text_len(obj);
  const char* p = skip_ws(obj, stop);
  if (p == stop || *p++ != '{') return 0;
  for (;;) {
    p = skip_ws(p, stop);
    const char* k = p;
    if (p == stop || *p != '"' || !(p = skip_value(p, stop, 0))) return 0;
    int match = text_eq(k + 1, p - 1, key);
    p = skip_ws(p, stop);
    if (p == stop || *p++ != ':') return 0;
    const char* v = skip_ws(p, stop);
    if (!(p = skip_value(v, stop, 0))) return 0;
    if (match) {
      *begin = v;
      *end = p;
      return 1;
    }
    p = skip_ws(p, stop);
    if (p == stop || *p++ != ',') return 0;
  }
}

static inline int is_number(const char* begin) { return *begin == '-' || (*begin >= '0' && *begin <= '9'); }

// --- Parse and dump: one JSON document, whitespace around it allowed; 0 when it is not JSON.
EXPORT(opa_json_parse) const char* opa_json_parse(const char* text, size_t len) {
  const char* end = text + len;
  const char* v = skip_ws(text, end);
  const char* after = skip_value(v, end, 0);
  if (after == 0 || skip_ws(after, end) != end) return 0;
  return copy_text(v, after);
}

EXPORT(opa_value_parse) const char* opa_value_parse(const char* text, size_t len) {
  return opa_json_parse(text, len);
}
EXPORT(opa_json_dump) const char* opa_json_dump(const char* value) { return value; }
EXPORT(opa_value_dump) const char* opa_value_dump(const char* value) { return value; }

EXPORT(builtins) const char* builtins(void) { return POLICY_BUILTINS; }
EXPORT(entrypoints) const char* entrypoints(void) { return POLICY_ENTRYPOINTS; }

static const char* policy_eval(u32 entrypoint, const char* input);

// --- The evaluation context (the opa_eval_ctx_* path, every ABI 1.x).
struct eval_ctx {
  const char* input;
  const char* data;
  u32 entrypoint;
  const char* result;
};

EXPORT(opa_eval_ctx_new) struct eval_ctx* opa_eval_ctx_new(void) {
  struct eval_ctx* ctx = opa_malloc(sizeof *ctx);
  ctx->input = ctx->data = ctx->result = 0;
  ctx->entrypoint = 0;
  return ctx;
}
EXPORT(opa_eval_ctx_set_input) void opa_eval_ctx_set_input(struct eval_ctx* c, const char* v) {
  c->input = v;
}
EXPORT(opa_eval_ctx_set_data) void opa_eval_ctx_set_data(struct eval_ctx* c, const char* v) { c->data = v; }
EXPORT(opa_eval_ctx_set_entrypoint) void opa_eval_ctx_set_entrypoint(struct eval_ctx* c, u32 e) {
  c->entrypoint = e;
}
EXPORT(opa_eval_ctx_get_result) const char* opa_eval_ctx_get_result(struct eval_ctx* c) { return c->result; }

EXPORT(eval) u32 eval(struct eval_ctx* ctx) {
  ctx->result = policy_eval(ctx->entrypoint, ctx->input);
  return 0;
}

#if OPA_ABI_MINOR >= 2
// ABI 1.2's one-call path: the input's JSON text at [input, input + input_len), the heap reset to
// heap_ptr; returns the result set as JSON text.
EXPORT(opa_eval)
const char* opa_eval(u32 reserved, u32 entrypoint, const char* data, const char* input, u32 input_len,
                     u32 heap, u32 format) {
  (void)reserved;
  (void)data;
  (void)format;
  heap_ptr = heap;
  const char* in = 0;
  if (input_len != 0 && !(in = opa_json_parse(input, input_len))) opa_abort("opa_eval: input is not JSON");
  return policy_eval(entrypoint, in);
}
#endif
