// math_builtin: a policy module written for wasmq's tests, in C against the OPA Wasm ABI (opa_abi.h); not
// a compiled Rego policy. It reads the input and hands numbers to a host builtin: custom.func2, which the
// tests define as a + b for this module (tests/policy/custom_builtins.h, differential.mjs), so that a
// number crosses the host boundary both ways. ABI 1.3. As Rego would say it:
//
//   math/result (entrypoint 0):
//     result = x if { is_number(input.firstNumber); is_number(input.secondNumber)
//                     x := custom.func2(input.firstNumber, input.secondNumber) } else = -1
#define POLICY_BUILTINS "{\"custom.func2\":0}"
#define POLICY_ENTRYPOINTS "{\"math/result\":0}"
#include "opa_abi.h"

static const char* policy_eval(u32 entrypoint, const char* input) {
  if (entrypoint != 0) opa_abort("math_builtin: no such entrypoint");
  const char *a, *a_end, *b, *b_end;
  const char* x = 0;
  if (input != 0 && object_get(input, "firstNumber", &a, &a_end) && is_number(a) &&
      object_get(input, "secondNumber", &b, &b_end) && is_number(b))
    x = opa_builtin2(0, 0, copy_text(a, a_end), copy_text(b, b_end));
  const char* parts[] = {"[{\"result\":", x != 0 ? x : "-1", "}]", 0};
  return concat(parts);
}
