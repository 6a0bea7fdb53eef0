// File: src/wasm/simd_info.cc
//
// The shape table of the 0xFD sub-opcodes (simd.h), in the binary format's numbering.
#include <array>

#include "wasm/simd.h"

namespace wasmq::wasm {
namespace {

constexpr uint8_t I32 = 0x7F, I64 = 0x7E, F32 = 0x7D, F64 = 0x7C;

constexpr std::array<SimdInfo, 0x103> BuildTable() {
  std::array<SimdInfo, 0x103> t{};
  using S = SimdShape;
  auto set = [&](uint32_t lo, uint32_t hi, SimdInfo info) {
    for (uint32_t k = lo; k <= hi; ++k) t[k] = info;
  };
  // Loads: v128.load (16 bytes), the extending loads (8 bytes), the splatting loads, the zero loads.
  t[0x00] = {S::kLoad, 0, 0, 4};
  set(0x01, 0x06, {S::kLoad, 0, 0, 3});
  t[0x07] = {S::kLoad, 0, 0, 0};
  t[0x08] = {S::kLoad, 0, 0, 1};
  t[0x09] = {S::kLoad, 0, 0, 2};
  t[0x0A] = {S::kLoad, 0, 0, 3};
  t[0x0B] = {S::kStore, 0, 0, 4};
  t[0x0C] = {S::kConst};
  t[0x0D] = {S::kShuffle};
  t[0x0E] = {S::kBinary};  // swizzle
  t[0x0F] = {S::kSplat, I32};
  t[0x10] = {S::kSplat, I32};
  t[0x11] = {S::kSplat, I32};
  t[0x12] = {S::kSplat, I64};
  t[0x13] = {S::kSplat, F32};
  t[0x14] = {S::kSplat, F64};
  t[0x15] = t[0x16] = {S::kExtract, I32, 16};
  t[0x17] = {S::kReplace, I32, 16};
  t[0x18] = t[0x19] = {S::kExtract, I32, 8};
  t[0x1A] = {S::kReplace, I32, 8};
  t[0x1B] = {S::kExtract, I32, 4};
  t[0x1C] = {S::kReplace, I32, 4};
  t[0x1D] = {S::kExtract, I64, 2};
  t[0x1E] = {S::kReplace, I64, 2};
  t[0x1F] = {S::kExtract, F32, 4};
  t[0x20] = {S::kReplace, F32, 4};
  t[0x21] = {S::kExtract, F64, 2};
  t[0x22] = {S::kReplace, F64, 2};
  set(0x23, 0x4C, {S::kBinary});  // comparisons
  t[0x4D] = {S::kUnary};          // not
  set(0x4E, 0x51, {S::kBinary});  // and andnot or xor
  t[0x52] = {S::kTernary};        // bitselect
  t[0x53] = {S::kTest};           // any_true
  t[0x54] = {S::kLoadLane, 0, 16, 0};
  t[0x55] = {S::kLoadLane, 0, 8, 1};
  t[0x56] = {S::kLoadLane, 0, 4, 2};
  t[0x57] = {S::kLoadLane, 0, 2, 3};
  t[0x58] = {S::kStoreLane, 0, 16, 0};
  t[0x59] = {S::kStoreLane, 0, 8, 1};
  t[0x5A] = {S::kStoreLane, 0, 4, 2};
  t[0x5B] = {S::kStoreLane, 0, 2, 3};
  t[0x5C] = {S::kLoad, 0, 0, 2};
  t[0x5D] = {S::kLoad, 0, 0, 3};
  t[0x5E] = t[0x5F] = {S::kUnary};  // demote, promote
  // i8x16
  t[0x60] = t[0x61] = t[0x62] = {S::kUnary};
  t[0x63] = t[0x64] = {S::kTest};
  t[0x65] = t[0x66] = {S::kBinary};  // narrow
  set(0x67, 0x6A, {S::kUnary});       // f32x4 rounding
  set(0x6B, 0x6D, {S::kShift});
  set(0x6E, 0x73, {S::kBinary});
  t[0x74] = t[0x75] = {S::kUnary};  // f64x2 ceil floor
  set(0x76, 0x79, {S::kBinary});
  t[0x7A] = {S::kUnary};  // f64x2 trunc
  t[0x7B] = {S::kBinary};
  set(0x7C, 0x7F, {S::kUnary});  // extadd_pairwise
  // i16x8
  t[0x80] = t[0x81] = {S::kUnary};
  t[0x82] = {S::kBinary};  // q15mulr_sat_s
  t[0x83] = t[0x84] = {S::kTest};
  t[0x85] = t[0x86] = {S::kBinary};
  set(0x87, 0x8A, {S::kUnary});
  set(0x8B, 0x8D, {S::kShift});
  set(0x8E, 0x93, {S::kBinary});
  t[0x94] = {S::kUnary};  // f64x2 nearest
  set(0x95, 0x99, {S::kBinary});
  set(0x9B, 0x9F, {S::kBinary});
  // i32x4
  t[0xA0] = t[0xA1] = {S::kUnary};
  t[0xA3] = t[0xA4] = {S::kTest};
  set(0xA7, 0xAA, {S::kUnary});
  set(0xAB, 0xAD, {S::kShift});
  t[0xAE] = t[0xB1] = {S::kBinary};
  set(0xB5, 0xBA, {S::kBinary});
  set(0xBC, 0xBF, {S::kBinary});
  // i64x2
  t[0xC0] = t[0xC1] = {S::kUnary};
  t[0xC3] = t[0xC4] = {S::kTest};
  set(0xC7, 0xCA, {S::kUnary});
  set(0xCB, 0xCD, {S::kShift});
  t[0xCE] = t[0xD1] = {S::kBinary};
  set(0xD5, 0xDF, {S::kBinary});
  // f32x4, f64x2
  t[0xE0] = t[0xE1] = t[0xE3] = {S::kUnary};
  set(0xE4, 0xEB, {S::kBinary});
  t[0xEC] = t[0xED] = t[0xEF] = {S::kUnary};
  set(0xF0, 0xF7, {S::kBinary});
  set(0xF8, 0xFF, {S::kUnary});  // conversions
  return t;
}

constexpr std::array<SimdInfo, 0x103> kTable = BuildTable();
constexpr SimdInfo kNoInfo{};

}  // namespace

const SimdInfo& SimdOpInfo(uint32_t sub) { return sub <= 0xFF ? kTable[sub] : kNoInfo; }

}  // namespace wasmq::wasm
