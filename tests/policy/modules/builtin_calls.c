// builtin_calls: a policy module written for wasmq's tests, in C against the OPA Wasm ABI (opa_abi.h); not
// a compiled Rego policy. It exercises the host's builtin dispatch: its rules call the custom builtins
// custom.func and custom.func0..4 (tests/policy/custom_builtins.h, differential.mjs) through
// opa_builtin0..4, one per arity, and put the answers in the result. Built twice: for ABI 1.3 (with
// opa_eval) and for ABI 1.1 (the opa_eval_ctx_* path only). What its rules compute, as Rego would say it:
//
//   builtins/simple (entrypoint 0):  result := custom.func("Jane");  default someep := false
//   builtins/all (entrypoint 1):     result0 := custom.func0()
//                                    result1 := custom.func1("s1")
//                                    result2 := custom.func2(1, 2)
//                                    result3 := custom.func3("s1", "s2", false)
//                                    result4 := custom.func4(["s1-1", "s1-2"], "s2", "s3", "s4")
//
// A builtin that answers "undefined" (0) leaves its rule, and so its key, out of the result.
#define POLICY_BUILTINS                                                                             \
  "{\"custom.func\":0,\"custom.func0\":1,\"custom.func1\":2,\"custom.func2\":3,\"custom.func3\":4," \
  "\"custom.func4\":5}"
#define POLICY_ENTRYPOINTS "{\"builtins/simple\":0,\"builtins/all\":1}"
#include "opa_abi.h"

enum { kFunc, kFunc0, kFunc1, kFunc2, kFunc3, kFunc4 };

// Appends `"key":value` to parts (with a comma after the first member) when the value is defined.
static int member(const char** parts, int n, const char* key, const char* value) {
  if (value == 0) return n;
  if (n > 1) parts[n++] = ",";
  parts[n++] = key;
  parts[n++] = value;
  return n;
}

static const char* policy_eval(u32 entrypoint, const char* input) {
  (void)input;  // the rules do not read the input
  const char* parts[20];
  int n = 0;
  parts[n++] = "[{\"result\":{";
  if (entrypoint == 0) {
    n = member(parts, n, "\"result\":", opa_builtin1(kFunc, 0, "\"Jane\""));
    n = member(parts, n, "\"someep\":", "false");
  } else if (entrypoint == 1) {
    n = member(parts, n, "\"result0\":", opa_builtin0(kFunc0, 0));
    n = member(parts, n, "\"result1\":", opa_builtin1(kFunc1, 0, "\"s1\""));
    n = member(parts, n, "\"result2\":", opa_builtin2(kFunc2, 0, "1", "2"));
    n = member(parts, n, "\"result3\":", opa_builtin3(kFunc3, 0, "\"s1\"", "\"s2\"", "false"));
    n = member(parts, n,
               "\"result4\":", opa_builtin4(kFunc4, 0, "[\"s1-1\",\"s1-2\"]", "\"s2\"", "\"s3\"", "\"s4\""));
  } else {
    opa_abort("builtin_calls: no such entrypoint");
  }
  parts[n++] = "}}]";
  parts[n] = 0;
  return concat(parts);
}
