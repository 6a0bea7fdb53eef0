// admission: a task admission policy written for wasmq's tests, in C against the OPA Wasm ABI (opa_abi.h);
// not a compiled Rego policy. Built twice with different -D values (tests/policy/CMakeLists.txt), so that a
// test can replace one policy file by the other and see decisions change. ABI 1.3. As Rego would say it:
//
//   wasmq/admission/decision (entrypoint 0):
//     decision := {"allow": false, "message": "mode DENIED_MODE is not admitted by POLICY_NAME"}
//       if { input.request.mode == DENIED_MODE }
//     else := {"allow": true}
#define STR2(x) #x
#define STR(x) STR2(x)
#define POLICY_BUILTINS "{}"
#define POLICY_ENTRYPOINTS "{\"wasmq/admission/decision\":0}"
#include "opa_abi.h"

static const char* policy_eval(u32 entrypoint, const char* input) {
  if (entrypoint != 0) opa_abort("admission: no such entrypoint");
  const char *r, *r_end, *m, *m_end;
  if (input != 0 && object_get(input, "request", &r, &r_end)) {
    const char* request = copy_text(r, r_end);
    if (object_get(request, "mode", &m, &m_end) && text_eq(m, m_end, "\"" STR(DENIED_MODE) "\"")) {
      const char* parts[] = {"[{\"result\":{\"allow\":false,\"message\":\"mode " STR(DENIED_MODE)
                             " is not admitted by " STR(POLICY_NAME) "\"}}]",
                             0};
      return concat(parts);
    }
  }
  const char* allow[] = {"[{\"result\":{\"allow\":true}}]", 0};
  return concat(allow);
}
