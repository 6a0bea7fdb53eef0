// File: src/wasm/simd.h  (internal)
//
// The 0xFD (fixed-width SIMD) instructions: what each sub-opcode takes and gives, for the validator
// (compile.cc), and the out-of-line executor the interpreter (and, through a helper, the compiling
// tier) runs them with (interp_simd.cc). Sub-opcodes are the binary format's, so the internal Simd op
// carries them unchanged (ops.h).
#pragma once

#include <cstdint>

namespace wasmq::wasm {

struct InstanceImpl;

enum class SimdShape : uint8_t {
  kNone,       // not an instruction (reserved sub-opcode)
  kLoad,       // memarg; i32 -> v128
  kStore,      // memarg; i32 v128 -> ()
  kLoadLane,   // memarg lane; i32 v128 -> v128
  kStoreLane,  // memarg lane; i32 v128 -> ()
  kConst,      // 16 bytes; () -> v128
  kShuffle,    // 16 lane indices < 32; v128 v128 -> v128
  kSplat,      // scalar -> v128
  kExtract,    // lane; v128 -> scalar
  kReplace,    // lane; v128 scalar -> v128
  kUnary,      // v128 -> v128
  kBinary,     // v128 v128 -> v128
  kTernary,    // v128 v128 v128 -> v128 (bitselect)
  kTest,       // v128 -> i32 (any_true, all_true, bitmask)
  kShift,      // v128 i32 -> v128
};

struct SimdInfo {
  SimdShape shape = SimdShape::kNone;
  uint8_t scalar = 0;     // splat/extract/replace: the scalar's value type byte
  uint8_t lanes = 0;      // lane-indexed forms: number of lanes
  uint8_t log2_size = 0;  // memory forms: log2 of the access size (the natural alignment)
};

// Internal sub-opcodes past the binary format's (which end at 0xFF) for the v128 forms of generic
// instructions: global.get/set x (x in i0; d resp. a) and select (d a b c, c the i32 condition).
constexpr uint32_t kSimdGlobalGet = 0x100;
constexpr uint32_t kSimdGlobalSet = 0x101;
constexpr uint32_t kSimdSelect = 0x102;

// The shape of sub-opcode `sub` (kNone for anything past the last one).
const SimdInfo& SimdOpInfo(uint32_t sub);

// Runs one Simd op (operand words o = d sub a b c i0 i1 i2 i3, ops.h) on frame fp. Returns null, or the
// trap message of an out-of-bounds memory access.
const char* ExecSimd(const uint32_t* o, uint64_t* fp, uint8_t* mem_base, uint64_t mem_size,
                     InstanceImpl* inst);

}  // namespace wasmq::wasm
