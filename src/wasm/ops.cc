// File: src/wasm/ops.cc
//
// Tables describing the internal instruction set (see ops.h), generated from its X-macros.
#include "wasm/ops.h"

#include <cstddef>

namespace wasmq::wasm {

const uint8_t kOpOperandWords[] = {
#define WASMQ_OP_WORDS(name, n) n,
    WASMQ_ALL_OPS(WASMQ_OP_WORDS)
#undef WASMQ_OP_WORDS
};

const char* const kOpNames[] = {
#define WASMQ_OP_NAME(name, n) #name,
    WASMQ_ALL_OPS(WASMQ_OP_NAME)
#undef WASMQ_OP_NAME
};

static_assert(sizeof(kOpOperandWords) / sizeof(kOpOperandWords[0]) == static_cast<size_t>(Op::kCount));
static_assert(sizeof(kOpNames) / sizeof(kOpNames[0]) == static_cast<size_t>(Op::kCount));

}  // namespace wasmq::wasm
