// File: tests/wasm/gen/wasm_gen.h
//
// A generator of random *valid* WebAssembly 2.0 modules (SIMD included), for differential testing of the
// engine's tiers (tests/wasm/differential_test.cc, fuzz/fuzz_diff.cc). Every choice is read from a byte
// string, so a libFuzzer input and a numeric seed (SeedBytes) drive it alike, and the same bytes always
// give the same module. Past the end of the bytes every choice is the smallest one, which always ends
// generation, so any input yields a module.
//
// What a module holds: 1-6 functions of random numeric types (multi-value results too), all exported as
// f0..fN; numeric globals, mutable or not, exported as g0..gN; one memory "mem" with active and passive
// data segments; a funcref table (elements active and passive) and sometimes an externref one. Bodies are
// built as typed expression trees over every non-SIMD instruction, including the trapping ones, with
// addresses, indices and call_indirect entries that are sometimes out of bounds or of the wrong type;
// scalar values are sometimes computed from v128 trees (extract_lane, any/all_true, bitmask) over the
// SIMD instructions (loads, stores and lane accesses included), through a v128 local too.
//
// Termination: every loop runs at most a few times (a hidden counter local checked at the loop header,
// which every back-edge passes), and a mutable global `budget` allows a bounded number of calls per
// instance (each function's entry traps "unreachable" once it is spent). So generated modules finish
// without fuel and never exhaust the call stack.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "wasm/types.h"

namespace wasmq::wasm::gen {

// Where every random choice comes from: the input bytes, then zeros.
class Entropy {
 public:
  explicit Entropy(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  uint8_t Byte() { return pos_ < bytes_.size() ? bytes_[pos_++] : 0; }
  uint32_t U32();
  uint64_t U64();
  // Uniform-ish in [0, n) (n > 0); 0 when the bytes are used up.
  uint32_t Below(uint32_t n);
  // Inclusive range.
  uint32_t Range(uint32_t lo, uint32_t hi) { return lo + Below(hi - lo + 1); }
  // True with probability about percent/100 (never once the bytes are used up).
  bool Chance(uint32_t percent) { return Below(100) >= 100 - percent; }
  bool exhausted() const { return pos_ >= bytes_.size(); }
  size_t position() const { return pos_; }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

// `n` pseudo-random bytes from `seed` (splitmix64): the input of one test case of the seed-driven tests.
std::vector<uint8_t> SeedBytes(uint64_t seed, size_t n = 8192);

struct GenOptions {
  // After every float instruction that may produce a NaN (arithmetic, sqrt, rounding, min/max,
  // promote/demote), replace a NaN by the canonical positive one. The spec leaves a NaN result's sign
  // and payload to the implementation, so without this two correct tiers may disagree once such a NaN
  // is stored, reinterpreted or copysign'ed; with it, results must agree bit for bit.
  bool canonicalize_nans = true;
  uint32_t max_funcs = 6;
  uint32_t max_instrs_per_func = 400;
  uint32_t call_budget = 300;  // calls per instance before function entries trap
};

// A value of type `t` (numeric types) as its 64-bit slot bits: often one of the edge cases of its type
// (0, -1, INT_MIN, infinities, NaNs with payloads, denormals, float values at the int conversion limits),
// else random bits. For constants in generated code and for arguments.
uint64_t InterestingBits(Entropy& in, ValType type);

// A module's binary. Always valid WebAssembly 2.0, whatever `in` holds.
std::vector<uint8_t> GenerateModule(Entropy& in, const GenOptions& options = {});

}  // namespace wasmq::wasm::gen
