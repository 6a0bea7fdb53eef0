// File: src/wasm/interp_simd.cc
//
// The interpreter's SIMD instructions (the internal Simd op, ops.h): one out-of-line function with a
// switch on the binary format's sub-opcode, so that the scalar dispatch loop (interp.cc) gains one label
// and nothing else. The compiling tier calls the same function for SIMD ops through a helper.
//
// Lanes are written as plain loops over a union (GCC vectorises most of them on its own); SSE2 intrinsics
// (the x86-64 baseline, so no CPU check) are used where the loop would not map onto one instruction
// (saturating arithmetic, narrowing, averaging, bitmask, pmaddwd) and where their lane semantics equal the
// spec's exactly. SSE4.1-only forms (min/max of most widths, packusdw) stay loops: the build targets
// baseline x86-64. Float min/max, rounding and conversions keep a scalar reference: their NaN and signed-zero
// rules differ from the SSE instructions'.
#include <emmintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "wasm/runtime.h"
#include "wasm/simd.h"

namespace wasmq::wasm {
namespace {

union V128 {
  uint8_t u8[16];
  int8_t i8[16];
  uint16_t u16[8];
  int16_t i16[8];
  uint32_t u32[4];
  int32_t i32[4];
  uint64_t u64[2];
  int64_t i64[2];
  float f32[4];
  double f64[2];
  __m128i m;
};
static_assert(sizeof(V128) == 16);

inline V128 Load(const uint64_t* fp, uint32_t slot) {
  V128 v;
  std::memcpy(&v, fp + slot, 16);
  return v;
}
inline V128 FromM(__m128i m) {
  V128 v;
  v.m = m;
  return v;
}

template <typename F>
F MinF(F a, F b) {
  if (std::isnan(a) || std::isnan(b)) return a + b;
  if (a == b) return std::signbit(a) ? a : b;
  return a < b ? a : b;
}
template <typename F>
F MaxF(F a, F b) {
  if (std::isnan(a) || std::isnan(b)) return a + b;
  if (a == b) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}
template <typename F>
F Round(F v, int mode) {
  if (std::isnan(v)) return v + v;  // quiet it
  switch (mode) {
    case 0: return std::ceil(v);
    case 1: return std::floor(v);
    case 2: return std::trunc(v);
    default: return std::nearbyint(v);
  }
}
template <typename F>
int32_t SatS32(F v) {
  if (std::isnan(v)) return 0;
  if (v <= static_cast<F>(-2147483648.0)) return std::numeric_limits<int32_t>::min();
  if (v >= static_cast<F>(2147483648.0)) return std::numeric_limits<int32_t>::max();
  return static_cast<int32_t>(v);
}
template <typename F>
uint32_t SatU32(F v) {
  if (std::isnan(v) || v <= static_cast<F>(-1.0)) return 0;
  if (v >= static_cast<F>(4294967296.0)) return 0xFFFFFFFFu;
  return static_cast<uint32_t>(v);
}
template <typename T, typename W>
T Sat(W v) {
  if (v < static_cast<W>(std::numeric_limits<T>::min())) return std::numeric_limits<T>::min();
  if (v > static_cast<W>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

#define LANES(n) for (int i = 0; i < (n); ++i)

}  // namespace

const char* ExecSimd(const uint32_t* o, uint64_t* fp, uint8_t* mem_base, uint64_t mem_size,
                     InstanceImpl* inst) {
  const uint32_t d = o[0], sub = o[1];
  const SimdInfo& info = SimdOpInfo(sub);
  V128 a{}, b{}, c{}, r{};

  // ---- memory ----
  if (info.shape == SimdShape::kLoad || info.shape == SimdShape::kStore || info.shape == SimdShape::kLoadLane ||
      info.shape == SimdShape::kStoreLane) {
    const uint64_t ea = static_cast<uint64_t>(static_cast<uint32_t>(fp[o[2]])) + o[5];
    const uint64_t size = uint64_t{1} << info.log2_size;
    if (ea + size > mem_size) return "out of bounds memory access";
    uint8_t* p = mem_base + ea;
    switch (info.shape) {
      case SimdShape::kStore: std::memcpy(p, fp + o[3], 16); return nullptr;
      case SimdShape::kStoreLane: std::memcpy(p, reinterpret_cast<uint8_t*>(fp + o[3]) + o[6] * size, size); return nullptr;
      case SimdShape::kLoadLane:
        r = Load(fp, o[3]);
        std::memcpy(r.u8 + o[6] * size, p, size);
        break;
      default: {
        uint8_t in[16] = {};
        std::memcpy(in, p, size);
        V128 x;
        std::memcpy(&x, in, 16);  // only the first `size` bytes are meaningful
        switch (sub) {
          case 0x00: r = x; break;
          case 0x01: LANES(8) r.i16[i] = x.i8[i]; break;
          case 0x02: LANES(8) r.u16[i] = x.u8[i]; break;
          case 0x03: LANES(4) r.i32[i] = x.i16[i]; break;
          case 0x04: LANES(4) r.u32[i] = x.u16[i]; break;
          case 0x05: LANES(2) r.i64[i] = x.i32[i]; break;
          case 0x06: LANES(2) r.u64[i] = x.u32[i]; break;
          case 0x07: LANES(16) r.u8[i] = x.u8[0]; break;
          case 0x08: LANES(8) r.u16[i] = x.u16[0]; break;
          case 0x09: LANES(4) r.u32[i] = x.u32[0]; break;
          case 0x0A: LANES(2) r.u64[i] = x.u64[0]; break;
          case 0x5C: r.u32[0] = x.u32[0]; break;
          case 0x5D: r.u64[0] = x.u64[0]; break;
        }
      }
    }
    std::memcpy(fp + d, &r, 16);
    return nullptr;
  }

  switch (sub) {
    case kSimdGlobalGet: {
      const GlobalInst* g = inst->globals[o[5]];
      fp[d] = g->value, fp[d + 1] = g->hi;
      return nullptr;
    }
    case kSimdGlobalSet: {
      GlobalInst* g = inst->globals[o[5]];
      g->value = fp[o[2]], g->hi = fp[o[2] + 1];
      return nullptr;
    }
    case kSimdSelect:
      std::memcpy(fp + d, fp + (static_cast<uint32_t>(fp[o[4]]) != 0 ? o[2] : o[3]), 16);
      return nullptr;
    case 0x0C: std::memcpy(r.u32, o + 5, 16); break;
    default: break;
  }

  // Operands by shape.
  switch (info.shape) {
    case SimdShape::kUnary:
    case SimdShape::kTest:
    case SimdShape::kExtract: a = Load(fp, o[2]); break;
    case SimdShape::kBinary:
    case SimdShape::kShuffle: a = Load(fp, o[2]), b = Load(fp, o[3]); break;
    case SimdShape::kTernary: a = Load(fp, o[2]), b = Load(fp, o[3]), c = Load(fp, o[4]); break;
    case SimdShape::kReplace:
    case SimdShape::kShift: a = Load(fp, o[2]); break;
    default: break;
  }
  const uint64_t s = fp[o[3]];  // shift count / replacement scalar (read only by the shapes that have one)
  const uint64_t x = fp[o[2]];  // splat scalar
  const uint32_t lane = o[5];

  switch (sub) {
    case 0x0C: break;  // const, above
    case 0x0D: {       // shuffle
      uint8_t idx[16];
      std::memcpy(idx, o + 5, 16);
      LANES(16) r.u8[i] = idx[i] < 16 ? a.u8[idx[i]] : b.u8[idx[i] - 16];
      break;
    }
    case 0x0E: LANES(16) r.u8[i] = b.u8[i] < 16 ? a.u8[b.u8[i]] : 0; break;  // swizzle
    case 0x0F: LANES(16) r.u8[i] = static_cast<uint8_t>(x); break;
    case 0x10: LANES(8) r.u16[i] = static_cast<uint16_t>(x); break;
    case 0x11: LANES(4) r.u32[i] = static_cast<uint32_t>(x); break;
    case 0x12: LANES(2) r.u64[i] = x; break;
    case 0x13: LANES(4) r.u32[i] = static_cast<uint32_t>(x); break;
    case 0x14: LANES(2) r.u64[i] = x; break;
    // extract_lane: scalar results, i32/f32 zero-extended in their slot
    case 0x15: fp[d] = static_cast<uint32_t>(static_cast<int32_t>(a.i8[lane])); return nullptr;
    case 0x16: fp[d] = a.u8[lane]; return nullptr;
    case 0x18: fp[d] = static_cast<uint32_t>(static_cast<int32_t>(a.i16[lane])); return nullptr;
    case 0x19: fp[d] = a.u16[lane]; return nullptr;
    case 0x1B:
    case 0x1F: fp[d] = a.u32[lane]; return nullptr;
    case 0x1D:
    case 0x21: fp[d] = a.u64[lane]; return nullptr;
    case 0x17: r = a, r.u8[lane] = static_cast<uint8_t>(s); break;
    case 0x1A: r = a, r.u16[lane] = static_cast<uint16_t>(s); break;
    case 0x1C:
    case 0x20: r = a, r.u32[lane] = static_cast<uint32_t>(s); break;
    case 0x1E:
    case 0x22: r = a, r.u64[lane] = s; break;
    // comparisons: all-ones / all-zeros lanes
#define CMP(n, f, op) LANES(n) r.f[i] = a.f[i] op b.f[i] ? static_cast<std::remove_reference_t<decltype(r.f[i])>>(~0ull) : 0
#define FCMP(n, f, u, op) LANES(n) r.u[i] = a.f[i] op b.f[i] ? static_cast<std::remove_reference_t<decltype(r.u[i])>>(~0ull) : 0
    case 0x23: CMP(16, u8, ==); break;
    case 0x24: CMP(16, u8, !=); break;
    case 0x25: CMP(16, i8, <); break;
    case 0x26: CMP(16, u8, <); break;
    case 0x27: CMP(16, i8, >); break;
    case 0x28: CMP(16, u8, >); break;
    case 0x29: CMP(16, i8, <=); break;
    case 0x2A: CMP(16, u8, <=); break;
    case 0x2B: CMP(16, i8, >=); break;
    case 0x2C: CMP(16, u8, >=); break;
    case 0x2D: CMP(8, u16, ==); break;
    case 0x2E: CMP(8, u16, !=); break;
    case 0x2F: CMP(8, i16, <); break;
    case 0x30: CMP(8, u16, <); break;
    case 0x31: CMP(8, i16, >); break;
    case 0x32: CMP(8, u16, >); break;
    case 0x33: CMP(8, i16, <=); break;
    case 0x34: CMP(8, u16, <=); break;
    case 0x35: CMP(8, i16, >=); break;
    case 0x36: CMP(8, u16, >=); break;
    case 0x37: CMP(4, u32, ==); break;
    case 0x38: CMP(4, u32, !=); break;
    case 0x39: CMP(4, i32, <); break;
    case 0x3A: CMP(4, u32, <); break;
    case 0x3B: CMP(4, i32, >); break;
    case 0x3C: CMP(4, u32, >); break;
    case 0x3D: CMP(4, i32, <=); break;
    case 0x3E: CMP(4, u32, <=); break;
    case 0x3F: CMP(4, i32, >=); break;
    case 0x40: CMP(4, u32, >=); break;
    case 0x41: FCMP(4, f32, u32, ==); break;
    case 0x42: FCMP(4, f32, u32, !=); break;
    case 0x43: FCMP(4, f32, u32, <); break;
    case 0x44: FCMP(4, f32, u32, >); break;
    case 0x45: FCMP(4, f32, u32, <=); break;
    case 0x46: FCMP(4, f32, u32, >=); break;
    case 0x47: FCMP(2, f64, u64, ==); break;
    case 0x48: FCMP(2, f64, u64, !=); break;
    case 0x49: FCMP(2, f64, u64, <); break;
    case 0x4A: FCMP(2, f64, u64, >); break;
    case 0x4B: FCMP(2, f64, u64, <=); break;
    case 0x4C: FCMP(2, f64, u64, >=); break;
    case 0xD6: CMP(2, u64, ==); break;
    case 0xD7: CMP(2, u64, !=); break;
    case 0xD8: CMP(2, i64, <); break;
    case 0xD9: CMP(2, i64, >); break;
    case 0xDA: CMP(2, i64, <=); break;
    case 0xDB: CMP(2, i64, >=); break;
#undef CMP
#undef FCMP
    // bitwise
    case 0x4D: LANES(2) r.u64[i] = ~a.u64[i]; break;
    case 0x4E: LANES(2) r.u64[i] = a.u64[i] & b.u64[i]; break;
    case 0x4F: LANES(2) r.u64[i] = a.u64[i] & ~b.u64[i]; break;
    case 0x50: LANES(2) r.u64[i] = a.u64[i] | b.u64[i]; break;
    case 0x51: LANES(2) r.u64[i] = a.u64[i] ^ b.u64[i]; break;
    case 0x52: LANES(2) r.u64[i] = (a.u64[i] & c.u64[i]) | (b.u64[i] & ~c.u64[i]); break;
    case 0x53: fp[d] = (a.u64[0] | a.u64[1]) != 0 ? 1 : 0; return nullptr;
    // float conversions between widths
    case 0x5E: r.f32[0] = static_cast<float>(a.f64[0]), r.f32[1] = static_cast<float>(a.f64[1]); break;
    case 0x5F: r.f64[0] = a.f32[0], r.f64[1] = a.f32[1]; break;
    // i8x16
    case 0x60: LANES(16) r.u8[i] = a.i8[i] < 0 ? static_cast<uint8_t>(-a.u8[i]) : a.u8[i]; break;
    case 0x61: LANES(16) r.u8[i] = static_cast<uint8_t>(-a.u8[i]); break;
    case 0x62: LANES(16) r.u8[i] = static_cast<uint8_t>(std::popcount(a.u8[i])); break;
    case 0x63: {
      bool all = true;
      LANES(16) all = all && a.u8[i] != 0;
      fp[d] = all ? 1 : 0;
      return nullptr;
    }
    case 0x64: fp[d] = static_cast<uint32_t>(_mm_movemask_epi8(a.m)) & 0xFFFFu; return nullptr;
    case 0x65: r = FromM(_mm_packs_epi16(a.m, b.m)); break;
    case 0x66: r = FromM(_mm_packus_epi16(a.m, b.m)); break;
    case 0x67: LANES(4) r.f32[i] = Round(a.f32[i], 0); break;
    case 0x68: LANES(4) r.f32[i] = Round(a.f32[i], 1); break;
    case 0x69: LANES(4) r.f32[i] = Round(a.f32[i], 2); break;
    case 0x6A: LANES(4) r.f32[i] = Round(a.f32[i], 3); break;
    case 0x6B: LANES(16) r.u8[i] = static_cast<uint8_t>(a.u8[i] << (s & 7)); break;
    case 0x6C: LANES(16) r.i8[i] = static_cast<int8_t>(a.i8[i] >> (s & 7)); break;
    case 0x6D: LANES(16) r.u8[i] = static_cast<uint8_t>(a.u8[i] >> (s & 7)); break;
    case 0x6E: LANES(16) r.u8[i] = static_cast<uint8_t>(a.u8[i] + b.u8[i]); break;
    case 0x6F: r = FromM(_mm_adds_epi8(a.m, b.m)); break;
    case 0x70: r = FromM(_mm_adds_epu8(a.m, b.m)); break;
    case 0x71: LANES(16) r.u8[i] = static_cast<uint8_t>(a.u8[i] - b.u8[i]); break;
    case 0x72: r = FromM(_mm_subs_epi8(a.m, b.m)); break;
    case 0x73: r = FromM(_mm_subs_epu8(a.m, b.m)); break;
    case 0x74: LANES(2) r.f64[i] = Round(a.f64[i], 0); break;
    case 0x75: LANES(2) r.f64[i] = Round(a.f64[i], 1); break;
    case 0x76: LANES(16) r.i8[i] = std::min(a.i8[i], b.i8[i]); break;
    case 0x77: LANES(16) r.u8[i] = std::min(a.u8[i], b.u8[i]); break;
    case 0x78: LANES(16) r.i8[i] = std::max(a.i8[i], b.i8[i]); break;
    case 0x79: LANES(16) r.u8[i] = std::max(a.u8[i], b.u8[i]); break;
    case 0x7A: LANES(2) r.f64[i] = Round(a.f64[i], 2); break;
    case 0x7B: r = FromM(_mm_avg_epu8(a.m, b.m)); break;
    case 0x7C: LANES(8) r.i16[i] = static_cast<int16_t>(a.i8[2 * i] + a.i8[2 * i + 1]); break;
    case 0x7D: LANES(8) r.u16[i] = static_cast<uint16_t>(a.u8[2 * i] + a.u8[2 * i + 1]); break;
    case 0x7E: LANES(4) r.i32[i] = a.i16[2 * i] + a.i16[2 * i + 1]; break;
    case 0x7F: LANES(4) r.u32[i] = static_cast<uint32_t>(a.u16[2 * i]) + a.u16[2 * i + 1]; break;
    // i16x8
    case 0x80: LANES(8) r.u16[i] = a.i16[i] < 0 ? static_cast<uint16_t>(-a.u16[i]) : a.u16[i]; break;
    case 0x81: LANES(8) r.u16[i] = static_cast<uint16_t>(-a.u16[i]); break;
    case 0x82:
      LANES(8) r.i16[i] = Sat<int16_t>((static_cast<int32_t>(a.i16[i]) * b.i16[i] + 0x4000) >> 15);
      break;
    case 0x83: {
      bool all = true;
      LANES(8) all = all && a.u16[i] != 0;
      fp[d] = all ? 1 : 0;
      return nullptr;
    }
    case 0x84: {
      uint32_t m = 0;
      LANES(8) m |= static_cast<uint32_t>(a.u16[i] >> 15) << i;
      fp[d] = m;
      return nullptr;
    }
    case 0x85: r = FromM(_mm_packs_epi32(a.m, b.m)); break;
    case 0x86: LANES(4) r.u16[i] = Sat<uint16_t>(int64_t{a.i32[i]}), r.u16[i + 4] = Sat<uint16_t>(int64_t{b.i32[i]}); break;
    case 0x87: LANES(8) r.i16[i] = a.i8[i]; break;
    case 0x88: LANES(8) r.i16[i] = a.i8[i + 8]; break;
    case 0x89: LANES(8) r.u16[i] = a.u8[i]; break;
    case 0x8A: LANES(8) r.u16[i] = a.u8[i + 8]; break;
    case 0x8B: LANES(8) r.u16[i] = static_cast<uint16_t>(a.u16[i] << (s & 15)); break;
    case 0x8C: LANES(8) r.i16[i] = static_cast<int16_t>(a.i16[i] >> (s & 15)); break;
    case 0x8D: LANES(8) r.u16[i] = static_cast<uint16_t>(a.u16[i] >> (s & 15)); break;
    case 0x8E: LANES(8) r.u16[i] = static_cast<uint16_t>(a.u16[i] + b.u16[i]); break;
    case 0x8F: r = FromM(_mm_adds_epi16(a.m, b.m)); break;
    case 0x90: r = FromM(_mm_adds_epu16(a.m, b.m)); break;
    case 0x91: LANES(8) r.u16[i] = static_cast<uint16_t>(a.u16[i] - b.u16[i]); break;
    case 0x92: r = FromM(_mm_subs_epi16(a.m, b.m)); break;
    case 0x93: r = FromM(_mm_subs_epu16(a.m, b.m)); break;
    case 0x94: LANES(2) r.f64[i] = Round(a.f64[i], 3); break;
    case 0x95: r = FromM(_mm_mullo_epi16(a.m, b.m)); break;
    case 0x96: r = FromM(_mm_min_epi16(a.m, b.m)); break;
    case 0x97: LANES(8) r.u16[i] = std::min(a.u16[i], b.u16[i]); break;
    case 0x98: r = FromM(_mm_max_epi16(a.m, b.m)); break;
    case 0x99: LANES(8) r.u16[i] = std::max(a.u16[i], b.u16[i]); break;
    case 0x9B: r = FromM(_mm_avg_epu16(a.m, b.m)); break;
    case 0x9C: LANES(8) r.i16[i] = static_cast<int16_t>(a.i8[i] * b.i8[i]); break;
    case 0x9D: LANES(8) r.i16[i] = static_cast<int16_t>(a.i8[i + 8] * b.i8[i + 8]); break;
    case 0x9E: LANES(8) r.u16[i] = static_cast<uint16_t>(a.u8[i] * b.u8[i]); break;
    case 0x9F: LANES(8) r.u16[i] = static_cast<uint16_t>(a.u8[i + 8] * b.u8[i + 8]); break;
    // i32x4
    case 0xA0: LANES(4) r.u32[i] = a.i32[i] < 0 ? 0u - a.u32[i] : a.u32[i]; break;
    case 0xA1: LANES(4) r.u32[i] = 0u - a.u32[i]; break;
    case 0xA3: {
      bool all = true;
      LANES(4) all = all && a.u32[i] != 0;
      fp[d] = all ? 1 : 0;
      return nullptr;
    }
    case 0xA4: fp[d] = static_cast<uint32_t>(_mm_movemask_ps(_mm_castsi128_ps(a.m))); return nullptr;
    case 0xA7: LANES(4) r.i32[i] = a.i16[i]; break;
    case 0xA8: LANES(4) r.i32[i] = a.i16[i + 4]; break;
    case 0xA9: LANES(4) r.u32[i] = a.u16[i]; break;
    case 0xAA: LANES(4) r.u32[i] = a.u16[i + 4]; break;
    case 0xAB: LANES(4) r.u32[i] = a.u32[i] << (s & 31); break;
    case 0xAC: LANES(4) r.i32[i] = a.i32[i] >> (s & 31); break;
    case 0xAD: LANES(4) r.u32[i] = a.u32[i] >> (s & 31); break;
    case 0xAE: LANES(4) r.u32[i] = a.u32[i] + b.u32[i]; break;
    case 0xB1: LANES(4) r.u32[i] = a.u32[i] - b.u32[i]; break;
    case 0xB5: LANES(4) r.u32[i] = a.u32[i] * b.u32[i]; break;
    case 0xB6: LANES(4) r.i32[i] = std::min(a.i32[i], b.i32[i]); break;
    case 0xB7: LANES(4) r.u32[i] = std::min(a.u32[i], b.u32[i]); break;
    case 0xB8: LANES(4) r.i32[i] = std::max(a.i32[i], b.i32[i]); break;
    case 0xB9: LANES(4) r.u32[i] = std::max(a.u32[i], b.u32[i]); break;
    case 0xBA: r = FromM(_mm_madd_epi16(a.m, b.m)); break;  // dot: exactly pmaddwd, wrap included
    case 0xBC: LANES(4) r.i32[i] = static_cast<int32_t>(a.i16[i]) * b.i16[i]; break;
    case 0xBD: LANES(4) r.i32[i] = static_cast<int32_t>(a.i16[i + 4]) * b.i16[i + 4]; break;
    case 0xBE: LANES(4) r.u32[i] = static_cast<uint32_t>(a.u16[i]) * b.u16[i]; break;
    case 0xBF: LANES(4) r.u32[i] = static_cast<uint32_t>(a.u16[i + 4]) * b.u16[i + 4]; break;
    // i64x2
    case 0xC0: LANES(2) r.u64[i] = a.i64[i] < 0 ? 0ull - a.u64[i] : a.u64[i]; break;
    case 0xC1: LANES(2) r.u64[i] = 0ull - a.u64[i]; break;
    case 0xC3: fp[d] = a.u64[0] != 0 && a.u64[1] != 0 ? 1 : 0; return nullptr;
    case 0xC4: fp[d] = static_cast<uint32_t>((a.u64[0] >> 63) | ((a.u64[1] >> 63) << 1)); return nullptr;
    case 0xC7: LANES(2) r.i64[i] = a.i32[i]; break;
    case 0xC8: LANES(2) r.i64[i] = a.i32[i + 2]; break;
    case 0xC9: LANES(2) r.u64[i] = a.u32[i]; break;
    case 0xCA: LANES(2) r.u64[i] = a.u32[i + 2]; break;
    case 0xCB: LANES(2) r.u64[i] = a.u64[i] << (s & 63); break;
    case 0xCC: LANES(2) r.i64[i] = a.i64[i] >> (s & 63); break;
    case 0xCD: LANES(2) r.u64[i] = a.u64[i] >> (s & 63); break;
    case 0xCE: LANES(2) r.u64[i] = a.u64[i] + b.u64[i]; break;
    case 0xD1: LANES(2) r.u64[i] = a.u64[i] - b.u64[i]; break;
    case 0xD5: LANES(2) r.u64[i] = a.u64[i] * b.u64[i]; break;
    case 0xDC: LANES(2) r.i64[i] = static_cast<int64_t>(a.i32[i]) * b.i32[i]; break;
    case 0xDD: LANES(2) r.i64[i] = static_cast<int64_t>(a.i32[i + 2]) * b.i32[i + 2]; break;
    case 0xDE: LANES(2) r.u64[i] = static_cast<uint64_t>(a.u32[i]) * b.u32[i]; break;
    case 0xDF: LANES(2) r.u64[i] = static_cast<uint64_t>(a.u32[i + 2]) * b.u32[i + 2]; break;
    // f32x4
    case 0xE0: LANES(4) r.u32[i] = a.u32[i] & 0x7FFFFFFFu; break;
    case 0xE1: LANES(4) r.u32[i] = a.u32[i] ^ 0x80000000u; break;
    case 0xE3: LANES(4) r.f32[i] = std::sqrt(a.f32[i]); break;
    case 0xE4: LANES(4) r.f32[i] = a.f32[i] + b.f32[i]; break;
    case 0xE5: LANES(4) r.f32[i] = a.f32[i] - b.f32[i]; break;
    case 0xE6: LANES(4) r.f32[i] = a.f32[i] * b.f32[i]; break;
    case 0xE7: LANES(4) r.f32[i] = a.f32[i] / b.f32[i]; break;
    case 0xE8: LANES(4) r.f32[i] = MinF(a.f32[i], b.f32[i]); break;
    case 0xE9: LANES(4) r.f32[i] = MaxF(a.f32[i], b.f32[i]); break;
    case 0xEA: LANES(4) r.f32[i] = b.f32[i] < a.f32[i] ? b.f32[i] : a.f32[i]; break;
    case 0xEB: LANES(4) r.f32[i] = a.f32[i] < b.f32[i] ? b.f32[i] : a.f32[i]; break;
    // f64x2
    case 0xEC: LANES(2) r.u64[i] = a.u64[i] & 0x7FFFFFFFFFFFFFFFull; break;
    case 0xED: LANES(2) r.u64[i] = a.u64[i] ^ 0x8000000000000000ull; break;
    case 0xEF: LANES(2) r.f64[i] = std::sqrt(a.f64[i]); break;
    case 0xF0: LANES(2) r.f64[i] = a.f64[i] + b.f64[i]; break;
    case 0xF1: LANES(2) r.f64[i] = a.f64[i] - b.f64[i]; break;
    case 0xF2: LANES(2) r.f64[i] = a.f64[i] * b.f64[i]; break;
    case 0xF3: LANES(2) r.f64[i] = a.f64[i] / b.f64[i]; break;
    case 0xF4: LANES(2) r.f64[i] = MinF(a.f64[i], b.f64[i]); break;
    case 0xF5: LANES(2) r.f64[i] = MaxF(a.f64[i], b.f64[i]); break;
    case 0xF6: LANES(2) r.f64[i] = b.f64[i] < a.f64[i] ? b.f64[i] : a.f64[i]; break;
    case 0xF7: LANES(2) r.f64[i] = a.f64[i] < b.f64[i] ? b.f64[i] : a.f64[i]; break;
    // conversions
    case 0xF8: LANES(4) r.i32[i] = SatS32(a.f32[i]); break;
    case 0xF9: LANES(4) r.u32[i] = SatU32(a.f32[i]); break;
    case 0xFA: LANES(4) r.f32[i] = static_cast<float>(a.i32[i]); break;
    case 0xFB: LANES(4) r.f32[i] = static_cast<float>(a.u32[i]); break;
    case 0xFC: r.i32[0] = SatS32(a.f64[0]), r.i32[1] = SatS32(a.f64[1]); break;
    case 0xFD: r.u32[0] = SatU32(a.f64[0]), r.u32[1] = SatU32(a.f64[1]); break;
    case 0xFE: r.f64[0] = a.i32[0], r.f64[1] = a.i32[1]; break;
    case 0xFF: r.f64[0] = a.u32[0], r.f64[1] = a.u32[1]; break;
    default: return "unreachable";  // the validator admits no other sub-opcode
  }
  std::memcpy(fp + d, &r, 16);
  return nullptr;
}

}  // namespace wasmq::wasm
