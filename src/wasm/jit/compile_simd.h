// File: src/wasm/jit/compile_simd.h  (internal to the compiling tier)
//
// The compiling tier's translation of the internal Simd op (ops.h), kept apart from compile.cc's
// scalar translator: compile.cc hands over what it needs (the builder, the frame's slot allocas, the
// thread and instance arguments) and calls TranslateSimd for every Simd op.
#pragma once

#include <cstdint>
#include <vector>

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

namespace wasmq::wasm {

struct SimdTranslateContext {
  llvm::IRBuilder<>& b;
  llvm::Module& mod;
  const std::vector<llvm::AllocaInst*>& slots;  // one i64 alloca per frame slot; a v128 takes two
  llvm::Value* th;                              // Thread*
  llvm::Value* inst;                            // InstanceImpl*
  llvm::BasicBlock* entry;                      // the function's entry block (scratch allocas go there)
  llvm::AllocaInst* scratch = nullptr;          // [8 x i64], made on first use in a function
};

// Emits the IR of the Simd op whose operand words are o (d sub a b c i0 i1 i2 i3).
void TranslateSimd(SimdTranslateContext& ctx, const uint32_t* o);

// Declares the helper TranslateSimd calls (entry.cc's wasmq_jit_simd) in `mod`.
inline constexpr const char kSimdHelperName[] = "wasmq_jit_simd";

}  // namespace wasmq::wasm
