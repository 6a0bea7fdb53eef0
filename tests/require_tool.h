// WASMQ_REQUIRE(COND, WHY): a test that needs a tool (skopeo, the wasm32-wasi toolchain, ...) skips when
// COND is false, except under CI (scripts/test sets WASMQ_REQUIRE_TOOLS=1 when CI=true), where a missing
// tool must fail loudly: a skip counts as passed and would hide the machine's gap.
#ifndef WASMQ_TESTS_REQUIRE_TOOL_H_
#define WASMQ_TESTS_REQUIRE_TOOL_H_

#include <gtest/gtest.h>

#include <cstdlib>

#define WASMQ_REQUIRE(cond, why)                                                 \
  if (!(cond)) {                                                                 \
    if (std::getenv("WASMQ_REQUIRE_TOOLS") != nullptr) {                         \
      FAIL() << why << " (WASMQ_REQUIRE_TOOLS is set: a missing tool fails)";    \
    } else {                                                                     \
      GTEST_SKIP() << why;                                                       \
    }                                                                            \
  }

#endif  // WASMQ_TESTS_REQUIRE_TOOL_H_
