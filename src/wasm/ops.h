// File: src/wasm/ops.h  (internal)
//
// The internal code the compiler (compile.cc) emits and the interpreter (interp.cc) runs.
//
// Why this shape: validation already knows the operand-stack height at every instruction, so every stack
// value has a fixed *slot* in its function's frame. The compiler turns each wasm instruction into a
// three-address instruction naming its slots ("i32.add dst=5 a=5 b=6"), branches into jumps to resolved
// code offsets plus the moves that put the carried values in place. The interpreter keeps no operand
// stack pointer and never re-reads wasm bytecode.
//
// Encoding: a function's code is a std::vector<uint32_t>. Each instruction is one opcode word followed by
// its operand words, as listed for each op below. Conventions for operands:
//   d, a, b, c, n, v, i, s  slot indices relative to the frame pointer fp (fp[k] is a uint64_t)
//   T                        an absolute word offset into the same function's code (jump target)
//   imm                      a 32-bit immediate; lo,hi a 64-bit immediate split in two words
//   off                      a memory access's static offset (u32)
//   x                        an index into the instance's functions/globals/tables/elems/datas/types
//
// Frame layout: fp[0 .. params) the arguments, fp[params .. locals) the other locals (zeroed on entry),
// then the operand-stack slots. Results are returned in fp[0 .. results).
// Slot encoding: i32 and f32 in the low 32 bits (i32 results are written zero-extended), i64/f64 in all
// 64 bits, f32/f64 as IEEE bit patterns, funcref as FuncInst* (0 = null), externref as the host word.
// A v128 takes two consecutive slots (low 64 bits first, i.e. its little-endian bytes in order): every
// slot stays 64 bits wide, so scalar frames, copies and calls cost exactly what they did before SIMD, and
// only code with v128 values pays for the second word. Slot indices, frame sizes and the
// params/results/locals counts of a CompiledFunc are therefore in slots, not values.
#pragma once

#include <cstdint>

namespace wasmq::wasm {

// X(name, operand-word-count)
#define WASMQ_CONTROL_OPS(X)                                                                            \
  X(Unreachable, 0)        /* trap "unreachable" */                                                     \
  X(Jmp, 1)                /* T */                                                                      \
  X(BrIf, 2)               /* c T : if (i32 fp[c] != 0) goto T */                                       \
  X(BrUnless, 2)           /* c T : if (i32 fp[c] == 0) goto T */                                       \
  X(BrTable, 2)            /* i n, then n+1 words T0..Tn : goto T[min(u32 fp[i], n)] */                 \
  X(Copy, 2)               /* d a : fp[d] = fp[a] */                                                    \
  X(Return, 0)             /* results are already in fp[0..results) */                                 \
  X(Call, 2)               /* x a : call function x with its frame starting at fp+a */                  \
  X(CallIndirect, 4)       /* x tbl a i : type index x, table tbl, frame at fp+a, element u32 fp[i] */  \
  X(Select, 4)             /* d a b c : fp[d] = i32 fp[c] ? fp[a] : fp[b] */                            \
  X(Check, 0)              /* loop header: costs 1 fuel, checks for interruption */                     \
  X(Const32, 2)            /* d imm : fp[d] = u32 imm (zero-extended) */                                \
  X(Const64, 3)            /* d lo hi */                                                                \
  X(RefFunc, 2)            /* d x : fp[d] = instance function x */                                      \
  X(RefIsNull, 2)          /* d a : fp[d] = fp[a] == 0 */                                               \
  X(GlobalGet, 2)          /* d x */                                                                    \
  X(GlobalSet, 2)          /* x a */                                                                    \
  X(MemorySize, 1)         /* d : pages of memory 0 */                                                  \
  X(MemoryGrow, 2)         /* d a : grow memory 0 by u32 fp[a] pages; old size or -1 */                 \
  X(MemoryFill, 3)         /* d v n : fill [u32 fp[d], +u32 fp[n]) with u8 fp[v]; trap if OOB */        \
  X(MemoryCopy, 3)         /* d s n */                                                                  \
  X(MemoryInit, 4)         /* x d s n : from data segment x */                                          \
  X(DataDrop, 1)           /* x */                                                                      \
  X(TableGet, 3)           /* d tbl i */                                                                \
  X(TableSet, 3)           /* tbl i v */                                                                \
  X(TableSize, 2)          /* d tbl */                                                                  \
  X(TableGrow, 4)          /* d tbl v n : grow by u32 fp[n] filled with fp[v]; old size or -1 */        \
  X(TableFill, 4)          /* tbl i v n */                                                              \
  X(TableCopy, 5)          /* dtbl stbl d s n */                                                        \
  X(TableInit, 5)          /* x tbl d s n : from element segment x */                                   \
  X(ElemDrop, 1)           /* x */

// Loads: d a off : fp[d] = load(u32 fp[a] + off). Stores: a v off : store(u32 fp[a] + off, fp[v]).
#define WASMQ_MEMORY_OPS(X) \
  X(I32Load, 3)             \
  X(I64Load, 3)             \
  X(F32Load, 3)             \
  X(F64Load, 3)             \
  X(I32Load8S, 3)           \
  X(I32Load8U, 3)           \
  X(I32Load16S, 3)          \
  X(I32Load16U, 3)          \
  X(I64Load8S, 3)           \
  X(I64Load8U, 3)           \
  X(I64Load16S, 3)          \
  X(I64Load16U, 3)          \
  X(I64Load32S, 3)          \
  X(I64Load32U, 3)          \
  X(I32Store, 3)            \
  X(I64Store, 3)            \
  X(F32Store, 3)            \
  X(F64Store, 3)            \
  X(I32Store8, 3)           \
  X(I32Store16, 3)          \
  X(I64Store8, 3)           \
  X(I64Store16, 3)          \
  X(I64Store32, 3)

// Unary numeric ops: d a. Named after the wasm instruction.
#define WASMQ_UNARY_OPS(X)                                                                          \
  X(I32Eqz, 2) X(I64Eqz, 2)                                                                         \
  X(I32Clz, 2) X(I32Ctz, 2) X(I32Popcnt, 2) X(I64Clz, 2) X(I64Ctz, 2) X(I64Popcnt, 2)               \
  X(F32Abs, 2) X(F32Neg, 2) X(F32Ceil, 2) X(F32Floor, 2) X(F32Trunc, 2) X(F32Nearest, 2)            \
  X(F32Sqrt, 2)                                                                                     \
  X(F64Abs, 2) X(F64Neg, 2) X(F64Ceil, 2) X(F64Floor, 2) X(F64Trunc, 2) X(F64Nearest, 2)            \
  X(F64Sqrt, 2)                                                                                     \
  X(I32WrapI64, 2)                                                                                  \
  X(I32TruncF32S, 2) X(I32TruncF32U, 2) X(I32TruncF64S, 2) X(I32TruncF64U, 2)                       \
  X(I64ExtendI32S, 2) X(I64ExtendI32U, 2)                                                           \
  X(I64TruncF32S, 2) X(I64TruncF32U, 2) X(I64TruncF64S, 2) X(I64TruncF64U, 2)                       \
  X(F32ConvertI32S, 2) X(F32ConvertI32U, 2) X(F32ConvertI64S, 2) X(F32ConvertI64U, 2)               \
  X(F32DemoteF64, 2)                                                                                \
  X(F64ConvertI32S, 2) X(F64ConvertI32U, 2) X(F64ConvertI64S, 2) X(F64ConvertI64U, 2)               \
  X(F64PromoteF32, 2)                                                                               \
  X(I32Extend8S, 2) X(I32Extend16S, 2) X(I64Extend8S, 2) X(I64Extend16S, 2) X(I64Extend32S, 2)      \
  X(I32TruncSatF32S, 2) X(I32TruncSatF32U, 2) X(I32TruncSatF64S, 2) X(I32TruncSatF64U, 2)           \
  X(I64TruncSatF32S, 2) X(I64TruncSatF32U, 2) X(I64TruncSatF64S, 2) X(I64TruncSatF64U, 2)

// Binary numeric ops: d a b : fp[d] = fp[a] OP fp[b]. Comparisons write an i32 0/1.
#define WASMQ_BINARY_OPS(X)                                                                         \
  X(I32Eq, 3) X(I32Ne, 3) X(I32LtS, 3) X(I32LtU, 3) X(I32GtS, 3) X(I32GtU, 3)                       \
  X(I32LeS, 3) X(I32LeU, 3) X(I32GeS, 3) X(I32GeU, 3)                                               \
  X(I64Eq, 3) X(I64Ne, 3) X(I64LtS, 3) X(I64LtU, 3) X(I64GtS, 3) X(I64GtU, 3)                       \
  X(I64LeS, 3) X(I64LeU, 3) X(I64GeS, 3) X(I64GeU, 3)                                               \
  X(F32Eq, 3) X(F32Ne, 3) X(F32Lt, 3) X(F32Gt, 3) X(F32Le, 3) X(F32Ge, 3)                           \
  X(F64Eq, 3) X(F64Ne, 3) X(F64Lt, 3) X(F64Gt, 3) X(F64Le, 3) X(F64Ge, 3)                           \
  X(I32Add, 3) X(I32Sub, 3) X(I32Mul, 3) X(I32DivS, 3) X(I32DivU, 3) X(I32RemS, 3) X(I32RemU, 3)    \
  X(I32And, 3) X(I32Or, 3) X(I32Xor, 3) X(I32Shl, 3) X(I32ShrS, 3) X(I32ShrU, 3)                    \
  X(I32Rotl, 3) X(I32Rotr, 3)                                                                       \
  X(I64Add, 3) X(I64Sub, 3) X(I64Mul, 3) X(I64DivS, 3) X(I64DivU, 3) X(I64RemS, 3) X(I64RemU, 3)    \
  X(I64And, 3) X(I64Or, 3) X(I64Xor, 3) X(I64Shl, 3) X(I64ShrS, 3) X(I64ShrU, 3)                    \
  X(I64Rotl, 3) X(I64Rotr, 3)                                                                       \
  X(F32Add, 3) X(F32Sub, 3) X(F32Mul, 3) X(F32Div, 3) X(F32Min, 3) X(F32Max, 3) X(F32Copysign, 3)   \
  X(F64Add, 3) X(F64Sub, 3) X(F64Mul, 3) X(F64Div, 3) X(F64Min, 3) X(F64Max, 3) X(F64Copysign, 3)

// Fused compare-and-branch: an i32 comparison whose only use is a br_if / if condition. BrIfX a b T:
// if (fp[a] X fp[b]) goto T; BrUnlessX a b T: if !(fp[a] X fp[b]) goto T. Eqz forms: a T.
// The order matches the comparisons I32Eq..I32GeU so the compiler can map by offset.
#define WASMQ_FUSED_OPS(X)                                                                        \
  X(BrIfI32Eq, 3) X(BrIfI32Ne, 3) X(BrIfI32LtS, 3) X(BrIfI32LtU, 3) X(BrIfI32GtS, 3)              \
  X(BrIfI32GtU, 3) X(BrIfI32LeS, 3) X(BrIfI32LeU, 3) X(BrIfI32GeS, 3) X(BrIfI32GeU, 3)            \
  X(BrUnlessI32Eq, 3) X(BrUnlessI32Ne, 3) X(BrUnlessI32LtS, 3) X(BrUnlessI32LtU, 3)               \
  X(BrUnlessI32GtS, 3) X(BrUnlessI32GtU, 3) X(BrUnlessI32LeS, 3) X(BrUnlessI32LeU, 3)             \
  X(BrUnlessI32GeS, 3) X(BrUnlessI32GeU, 3) X(BrIfI32Eqz, 2) X(BrUnlessI32Eqz, 2)

// Immediate forms: d a imm : fp[d] = fp[a] OP imm, where the second operand was a constant. i64 forms
// take a 32-bit immediate sign-extended to 64 bits (larger constants use the slot forms).
#define WASMQ_IMM_OPS(X) \
  X(I32EqImm, 3) X(I32NeImm, 3) X(I32LtSImm, 3) X(I32LtUImm, 3) X(I32GtSImm, 3) X(I32GtUImm, 3) \
  X(I32LeSImm, 3) X(I32LeUImm, 3) X(I32GeSImm, 3) X(I32GeUImm, 3) X(I32AddImm, 3) X(I32SubImm, 3) \
  X(I32MulImm, 3) X(I32AndImm, 3) X(I32OrImm, 3) X(I32XorImm, 3) X(I32ShlImm, 3) X(I32ShrSImm, 3) \
  X(I32ShrUImm, 3) X(I64EqImm, 3) X(I64NeImm, 3) X(I64LtSImm, 3) X(I64LtUImm, 3) X(I64GtSImm, 3) \
  X(I64GtUImm, 3) X(I64LeSImm, 3) X(I64LeUImm, 3) X(I64GeSImm, 3) X(I64GeUImm, 3) X(I64AddImm, 3) \
  X(I64SubImm, 3) X(I64MulImm, 3) X(I64AndImm, 3) X(I64OrImm, 3) X(I64XorImm, 3) X(I64ShlImm, 3) \
  X(I64ShrSImm, 3) X(I64ShrUImm, 3)

// Fused compare-with-immediate and branch: BrIfXImm a imm T / BrUnlessXImm a imm T.
#define WASMQ_FUSED_IMM_OPS(X) \
  X(BrIfI32EqImm, 3) X(BrIfI32NeImm, 3) X(BrIfI32LtSImm, 3) X(BrIfI32LtUImm, 3) X(BrIfI32GtSImm, 3) \
  X(BrIfI32GtUImm, 3) X(BrIfI32LeSImm, 3) X(BrIfI32LeUImm, 3) X(BrIfI32GeSImm, 3) \
  X(BrIfI32GeUImm, 3) X(BrUnlessI32EqImm, 3) X(BrUnlessI32NeImm, 3) X(BrUnlessI32LtSImm, 3) \
  X(BrUnlessI32LtUImm, 3) X(BrUnlessI32GtSImm, 3) X(BrUnlessI32GtUImm, 3) X(BrUnlessI32LeSImm, 3) \
  X(BrUnlessI32LeUImm, 3) X(BrUnlessI32GeSImm, 3) X(BrUnlessI32GeUImm, 3)

// Every 0xFD (SIMD) instruction is one internal op, Simd, whose second word is the wasm sub-opcode
// (simd.h): d sub a b c i0 i1 i2 i3. d/a/b/c are slots (a v128 occupies d, d+1; scalars one slot);
// i0..i3 carry the immediates: v128.const / i8x16.shuffle's 16 bytes, or a memory access's offset (i0)
// and lane (i1), or an extract/replace lane index (i0). One op, run out of line (interp_simd.cc), keeps
// the scalar dispatch loop exactly as small as it was; the destination comes first so that a following
// local.set can retarget it like any other producer.
#define WASMQ_SIMD_OPS(X) X(Simd, 9)

#define WASMQ_ALL_OPS(X)                                                                          \
  WASMQ_CONTROL_OPS(X) WASMQ_MEMORY_OPS(X) WASMQ_UNARY_OPS(X) WASMQ_BINARY_OPS(X) WASMQ_FUSED_OPS(X) \
  WASMQ_IMM_OPS(X) WASMQ_FUSED_IMM_OPS(X) WASMQ_SIMD_OPS(X)

enum class Op : uint32_t {
#define WASMQ_OP_ENUM(name, n) name,
  WASMQ_ALL_OPS(WASMQ_OP_ENUM)
#undef WASMQ_OP_ENUM
      kCount
};

// Number of operand words that follow the opcode (BrTable: plus n+1 target words).
extern const uint8_t kOpOperandWords[];
extern const char* const kOpNames[];

}  // namespace wasmq::wasm
