// module_limits: a module admission policy written for wasmq's tests, in C against the OPA Wasm ABI
// (opa_abi.h); not a compiled Rego policy. ABI 1.3. As Rego would say it (DENIED_IMPORT and MAX_SIZE come
// from -D at build time):
//
//   wasmq/modules/decision (entrypoint 0):
//     decision := {"allow": false, "message": "it imports DENIED_IMPORT"} if { DENIED_IMPORT in input.imports }
//     else := {"allow": false, "message": sprintf("%d bytes is over MAX_SIZE", [input.size])}
//       if { input.size > MAX_SIZE }
//     else := {"allow": true}
#define STR2(x) #x
#define STR(x) STR2(x)
#define POLICY_BUILTINS "{}"
#define POLICY_ENTRYPOINTS "{\"wasmq/modules/decision\":0}"
#include "opa_abi.h"

// Whether [b, e) contains `needle` (the imports array's text holds each name quoted).
static int contains(const char* b, const char* e, const char* needle) {
  size_t n = text_len(needle);
  for (; b + n <= e; ++b) {
    size_t i = 0;
    while (i < n && b[i] == needle[i]) ++i;
    if (i == n) return 1;
  }
  return 0;
}

static unsigned long long parse_uint(const char* b, const char* e) {
  unsigned long long v = 0;
  for (; b < e && *b >= '0' && *b <= '9'; ++b) v = v * 10 + (unsigned)(*b - '0');
  return v;
}

static const char* policy_eval(u32 entrypoint, const char* input) {
  if (entrypoint != 0) opa_abort("module_limits: no such entrypoint");
  const char *i, *i_end, *s, *s_end;
  if (input != 0 && object_get(input, "imports", &i, &i_end) && contains(i, i_end, "\"" STR(DENIED_IMPORT) "\"")) {
    const char* parts[] = {"[{\"result\":{\"allow\":false,\"message\":\"it imports " STR(DENIED_IMPORT) "\"}}]", 0};
    return concat(parts);
  }
  if (input != 0 && object_get(input, "size", &s, &s_end) && is_number(s) && parse_uint(s, s_end) > MAX_SIZE) {
    const char* parts[] = {"[{\"result\":{\"allow\":false,\"message\":\"", copy_text(s, s_end),
                           " bytes is over " STR(MAX_SIZE) "\"}}]", 0};
    return concat(parts);
  }
  const char* allow[] = {"[{\"result\":{\"allow\":true}}]", 0};
  return concat(allow);
}
