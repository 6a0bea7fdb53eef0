// File: tests/wasm/gen/wasm_gen.cc
//
// How validity is kept by construction: code is generated as typed trees. Value(t) emits instructions
// that push exactly one value of type t; Stmt() emits instructions with no net stack effect; Values(ts)
// pushes a sequence. Every structured instruction is generated with its label on `labels_`, so a branch
// picks a target and pushes exactly that label's types. After an unconditional branch the rest of the
// block is dead but still well typed (each tree pushes what it consumes), which the validator accepts.
#include "wasm_gen.h"

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

namespace wasmq::wasm::gen {

uint32_t Entropy::U32() {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | Byte();
  return v;
}

uint64_t Entropy::U64() { return (static_cast<uint64_t>(U32()) << 32) | U32(); }

uint32_t Entropy::Below(uint32_t n) {
  if (n <= 1) return 0;
  if (n <= 256) return Byte() % n;
  if (n <= 65536) return ((static_cast<uint32_t>(Byte()) << 8) | Byte()) % n;
  return U32() % n;
}

std::vector<uint8_t> SeedBytes(uint64_t seed, size_t n) {
  std::vector<uint8_t> out(n);
  uint64_t x = seed;
  for (size_t i = 0; i < n; i += 8) {
    x += 0x9e3779b97f4a7c15ull;  // splitmix64
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    for (size_t k = 0; k < 8 && i + k < n; ++k) out[i + k] = static_cast<uint8_t>(z >> (8 * k));
  }
  return out;
}

uint64_t InterestingBits(Entropy& in, ValType type) {
  static constexpr uint32_t kI32[] = {0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 2, 31, 32, 0xff, 0xffff,
                                      65535, 65536, 0x80, 0x8000, 7};
  static constexpr uint64_t kI64[] = {0, 1, ~0ull, 0x7fffffffffffffff, 0x8000000000000000, 0x80000000,
                                      0xffffffff, 63, 64, 0x100000000, 0xff, 0x8000};
  static constexpr uint32_t kF32[] = {
      0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000,
      0x7fa00000 /* signalling */, 0x7fc00001 /* payload */, 0x00000001 /* denormal */, 0x7f7fffff,
      0x4f000000 /* 2^31 */, 0xcf000000, 0x4f800000 /* 2^32 */, 0x5f000000 /* 2^63 */, 0xdf000000,
      0x5f800000 /* 2^64 */, 0x3f000000 /* 0.5 */, 0x3fc00000 /* 1.5 */, 0x40200000 /* 2.5 */, 0xbf000000,
      0x4effffff /* below 2^31 */, 0xcf000001 /* below -2^31 */};
  static constexpr uint64_t kF64[] = {
      0x0000000000000000, 0x8000000000000000, 0x3ff0000000000000, 0xbff0000000000000, 0x7ff0000000000000,
      0xfff0000000000000, 0x7ff8000000000000, 0xfff8000000000000, 0x7ff4000000000000 /* signalling */,
      0x7ff8000000000001 /* payload */, 0x0000000000000001 /* denormal */, 0x7fefffffffffffff,
      0x41dfffffffc00000 /* 2^31-1 */, 0x41e0000000000000 /* 2^31 */, 0xc1e0000000000000 /* -2^31 */,
      0xc1e0000000200000 /* -2^31-1 */, 0x41efffffffe00000 /* 2^32-1 */, 0x41f0000000000000 /* 2^32 */,
      0x43e0000000000000 /* 2^63 */, 0xc3e0000000000000, 0x43f0000000000000 /* 2^64 */,
      0x3fe0000000000000 /* 0.5 */, 0x3ff8000000000000 /* 1.5 */, 0x4004000000000000 /* 2.5 */,
      0xbfe0000000000000, 0x41dfffffffffffff /* just below 2^31 */};
  bool edge = in.Below(4) != 0;
  switch (type) {
    case ValType::I32:
      if (edge) return kI32[in.Below(std::size(kI32))];
      return in.Chance(50) ? in.Below(1024) : in.U32();
    case ValType::I64:
      if (edge) return kI64[in.Below(std::size(kI64))];
      return in.Chance(50) ? in.Below(1024) : in.U64();
    case ValType::F32:
      if (edge) return kF32[in.Below(std::size(kF32))];
      return in.U32();
    case ValType::F64:
      if (edge) return kF64[in.Below(std::size(kF64))];
      return in.U64();
    default: return 0;
  }
}

namespace {

using VT = ValType;
constexpr VT kNumeric[] = {VT::I32, VT::I64, VT::F32, VT::F64};
constexpr uint32_t kMaxLoopsPerFunc = 8;
constexpr int kMaxLoopNesting = 3;
constexpr int kMaxDepth = 6;

// The binary format's encodings.
class Bytes {
 public:
  std::vector<uint8_t> b;
  void U8(uint8_t v) { b.push_back(v); }
  void U32(uint32_t v) {
    do {
      uint8_t x = v & 0x7f;
      v >>= 7;
      if (v != 0) x |= 0x80;
      b.push_back(x);
    } while (v != 0);
  }
  void S64(int64_t v) {
    for (;;) {
      uint8_t x = v & 0x7f;
      v >>= 7;  // arithmetic in C++20
      if ((v == 0 && (x & 0x40) == 0) || (v == -1 && (x & 0x40) != 0)) {
        b.push_back(x);
        return;
      }
      b.push_back(x | 0x80);
    }
  }
  void Fixed(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void Name(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    b.insert(b.end(), s.begin(), s.end());
  }
  void Append(const Bytes& o) { b.insert(b.end(), o.b.begin(), o.b.end()); }
  void Sized(const Bytes& o) {  // a size-prefixed blob (function body, section payload)
    U32(static_cast<uint32_t>(o.b.size()));
    Append(o);
  }
  void Section(uint8_t id, const Bytes& payload) {
    U8(id);
    Sized(payload);
  }
};

struct Sig {
  std::vector<VT> params, results;
  bool operator==(const Sig&) const = default;
};

// A numeric instruction: opcode (0x100 + n for the 0xFC-prefixed n), result, operands, and whether a
// NaN result's bits are left to the implementation.
struct NumOp {
  uint16_t code;
  VT result;
  uint8_t arity;
  VT a, b;
  bool nan;
};

const std::vector<NumOp>& NumOps() {
  static const std::vector<NumOp> ops = [] {
    std::vector<NumOp> v;
    auto bin = [&](uint16_t lo, uint16_t hi, VT r, VT a, bool nan) {
      for (uint16_t c = lo; c <= hi; ++c) v.push_back({c, r, 2, a, a, nan});
    };
    auto un = [&](uint16_t c, VT r, VT a, bool nan = false) { v.push_back({c, r, 1, a, a, nan}); };
    bin(0x46, 0x4f, VT::I32, VT::I32, false);  // i32 comparisons
    bin(0x51, 0x5a, VT::I32, VT::I64, false);  // i64 comparisons
    bin(0x5b, 0x60, VT::I32, VT::F32, false);  // f32 comparisons
    bin(0x61, 0x66, VT::I32, VT::F64, false);  // f64 comparisons
    bin(0x6a, 0x78, VT::I32, VT::I32, false);  // i32 add .. rotr (div/rem trap)
    bin(0x7c, 0x8a, VT::I64, VT::I64, false);  // i64 add .. rotr
    bin(0x92, 0x97, VT::F32, VT::F32, true);   // f32 add sub mul div min max
    bin(0x98, 0x98, VT::F32, VT::F32, false);  // f32 copysign (a bit operation)
    bin(0xa0, 0xa5, VT::F64, VT::F64, true);
    bin(0xa6, 0xa6, VT::F64, VT::F64, false);
    un(0x45, VT::I32, VT::I32);  // i32.eqz
    un(0x50, VT::I32, VT::I64);  // i64.eqz
    for (uint16_t c : {0x67, 0x68, 0x69, 0xc0, 0xc1}) un(c, VT::I32, VT::I32);  // clz ctz popcnt extend8/16
    for (uint16_t c : {0x79, 0x7a, 0x7b, 0xc2, 0xc3, 0xc4}) un(c, VT::I64, VT::I64);
    for (uint16_t c : {0x8b, 0x8c}) un(c, VT::F32, VT::F32);  // abs neg: bit operations
    for (uint16_t c = 0x8d; c <= 0x91; ++c) un(c, VT::F32, VT::F32, true);  // ceil floor trunc nearest sqrt
    for (uint16_t c : {0x99, 0x9a}) un(c, VT::F64, VT::F64);
    for (uint16_t c = 0x9b; c <= 0x9f; ++c) un(c, VT::F64, VT::F64, true);
    un(0xa7, VT::I32, VT::I64);  // i32.wrap_i64
    un(0xa8, VT::I32, VT::F32);  // i32.trunc_f32_s (traps) ..
    un(0xa9, VT::I32, VT::F32);
    un(0xaa, VT::I32, VT::F64);
    un(0xab, VT::I32, VT::F64);
    un(0xac, VT::I64, VT::I32);  // i64.extend_i32_s/u
    un(0xad, VT::I64, VT::I32);
    un(0xae, VT::I64, VT::F32);  // i64.trunc_* (traps)
    un(0xaf, VT::I64, VT::F32);
    un(0xb0, VT::I64, VT::F64);
    un(0xb1, VT::I64, VT::F64);
    un(0xb2, VT::F32, VT::I32);  // f32.convert_*
    un(0xb3, VT::F32, VT::I32);
    un(0xb4, VT::F32, VT::I64);
    un(0xb5, VT::F32, VT::I64);
    un(0xb6, VT::F32, VT::F64, true);  // f32.demote_f64
    un(0xb7, VT::F64, VT::I32);
    un(0xb8, VT::F64, VT::I32);
    un(0xb9, VT::F64, VT::I64);
    un(0xba, VT::F64, VT::I64);
    un(0xbb, VT::F64, VT::F32, true);  // f64.promote_f32
    un(0xbc, VT::I32, VT::F32);        // reinterprets
    un(0xbd, VT::I64, VT::F64);
    un(0xbe, VT::F32, VT::I32);
    un(0xbf, VT::F64, VT::I64);
    un(0x100, VT::I32, VT::F32);  // i32.trunc_sat_f32_s .. i64.trunc_sat_f64_u
    un(0x101, VT::I32, VT::F32);
    un(0x102, VT::I32, VT::F64);
    un(0x103, VT::I32, VT::F64);
    un(0x104, VT::I64, VT::F32);
    un(0x105, VT::I64, VT::F32);
    un(0x106, VT::I64, VT::F64);
    un(0x107, VT::I64, VT::F64);
    return v;
  }();
  return ops;
}

struct MemOp {
  uint8_t code;
  VT type;
  uint8_t max_align;  // log2 of the access width
};
constexpr MemOp kLoads[] = {{0x28, VT::I32, 2}, {0x29, VT::I64, 3}, {0x2a, VT::F32, 2}, {0x2b, VT::F64, 3},
                            {0x2c, VT::I32, 0}, {0x2d, VT::I32, 0}, {0x2e, VT::I32, 1}, {0x2f, VT::I32, 1},
                            {0x30, VT::I64, 0}, {0x31, VT::I64, 0}, {0x32, VT::I64, 1}, {0x33, VT::I64, 1},
                            {0x34, VT::I64, 2}, {0x35, VT::I64, 2}};
constexpr MemOp kStores[] = {{0x36, VT::I32, 2}, {0x37, VT::I64, 3}, {0x38, VT::F32, 2},
                             {0x39, VT::F64, 3}, {0x3a, VT::I32, 0}, {0x3b, VT::I32, 1},
                             {0x3c, VT::I64, 0}, {0x3d, VT::I64, 1}, {0x3e, VT::I64, 2}};

int SlotOf(VT t) {
  switch (t) {
    case VT::I32: return 0;
    case VT::I64: return 1;
    case VT::F32: return 2;
    case VT::F64: return 3;
    case VT::FuncRef: return 4;
    default: return 5;
  }
}

struct ModuleGen;

// Generates one function body.
class FuncGen {
 public:
  FuncGen(ModuleGen& m, uint32_t func_index);
  Bytes Generate();

 private:
  struct Label {
    std::vector<VT> types;  // what a branch to it carries
  };

  // ---- emission
  void Op(uint8_t op) {
    c_.U8(op);
    --budget_;
  }
  void OpFC(uint32_t sub) {
    c_.U8(0xfc);
    c_.U32(sub);
    --budget_;
  }
  void LocalGet(uint32_t i) { Op(0x20), c_.U32(i); }
  void LocalSet(uint32_t i) { Op(0x21), c_.U32(i); }
  void I32Const(int32_t v) { Op(0x41), c_.S64(v); }
  void Const(VT t, uint64_t bits);
  void BlockType(const std::vector<VT>& params, const std::vector<VT>& results);
  void MemArg(const MemOp& op);

  // ---- trees
  void Value(VT t, int d);
  void Values(const std::vector<VT>& ts, int d);
  void Leaf(VT t);
  void Numeric(VT t, int d, uint8_t arity);
  void Canonicalize(VT t);
  // SIMD: a v128 expression tree, and scalar values computed from one.
  void V128(int d);
  void SimdScalar(VT t, int d);
  void OpFD(uint32_t sub) {
    c_.U8(0xfd);
    c_.U32(sub);
    --budget_;
  }
  void Load(VT t, int d);
  void Addr(int d);
  void Len(int d);
  void TableIndex(uint32_t table, int d);
  void RefValue(VT t, int d);
  void CallTree(uint32_t f, int d);  // a call of f (direct, or indirect with f's type)
  void CallValue(VT t, int d);
  void Structured(int kind, const std::vector<VT>& params, const std::vector<VT>& results, int d);
  void StructuredValue(VT t, int d);
  void Narrow(const std::vector<VT>& results, size_t keep);
  void ConsumeParams(const std::vector<VT>& params);
  void Stmts(int d);
  void Stmt(int d);
  void Branch(int d);
  void MemoryStmt(int d);
  void TableStmt(int d);

  std::vector<VT> RandomTypes(uint32_t max_count);
  // A local of type t that generated code may read and write (not a loop counter or scratch), or -1.
  int64_t FreeLocal(VT t);
  int64_t MutableGlobal(VT t);
  int64_t AnyGlobal(VT t);

  // Of the functions in `candidates`, mostly one after this one: calls then rarely recurse, and the
  // call budget is spent on breadth rather than on the first recursion.
  // -1 when only earlier ones fit and the dice say no: a caller then emits something else.
  int64_t PickCallee(const std::vector<uint32_t>& candidates);

  ModuleGen& m_;
  Entropy& in_;
  const Sig sig_;
  uint32_t self_;  // a copy: block types are interned into m_.types while generating
  Bytes c_;
  std::vector<VT> locals_;  // params first
  uint32_t num_free_locals_ = 0;
  std::array<uint32_t, 6> scratch_{};
  uint32_t counter_base_ = 0, counters_used_ = 0;
  uint32_t v128_scratch_ = 0;  // a v128 local for canonicalizing NaN lanes
  int loop_nesting_ = 0;
  int budget_ = 0;
  std::vector<Label> labels_;
};

struct ModuleGen {
  ModuleGen(Entropy& in, const GenOptions& options) : in(in), opt(options) {}
  std::vector<uint8_t> Build();

  uint32_t Intern(const Sig& s) {
    for (size_t i = 0; i < types.size(); ++i)
      if (types[i] == s) return static_cast<uint32_t>(i);
    types.push_back(s);
    return static_cast<uint32_t>(types.size() - 1);
  }
  const Sig& FuncSig(uint32_t f) const { return types[func_types[f]]; }

  struct GlobalDef {
    VT type;
    bool mut;
    uint64_t init;
  };
  struct ElemDef {
    enum Kind { kActive, kPassive, kPassiveExprs } kind;
    uint32_t offset = 0;
    std::vector<int64_t> funcs;  // -1: ref.null (kPassiveExprs only)
  };
  struct DataDef {
    bool active;
    uint32_t offset;
    std::vector<uint8_t> bytes;
  };

  Entropy& in;
  const GenOptions& opt;
  std::vector<Sig> types;
  std::vector<uint32_t> func_types;
  std::vector<GlobalDef> globals;
  uint32_t budget_global = 0;
  uint32_t mem_min = 0, mem_max = 0;
  uint32_t table0_min = 0, table0_max = 0;
  bool has_table1 = false;
  uint32_t table1_min = 0, table1_max = 0;
  std::vector<ElemDef> elems;
  std::vector<DataDef> datas;
};

FuncGen::FuncGen(ModuleGen& m, uint32_t func_index)
    : m_(m), in_(m.in), sig_(m.types[m.func_types[func_index]]), self_(func_index) {
  locals_ = sig_.params;
  uint32_t extra = in_.Below(6);
  for (uint32_t i = 0; i < extra; ++i) {
    static constexpr VT kLocalTypes[] = {VT::I32, VT::I64, VT::F32, VT::F64, VT::FuncRef, VT::ExternRef};
    locals_.push_back(kLocalTypes[in_.Below(6)]);
  }
  num_free_locals_ = static_cast<uint32_t>(locals_.size());
  static constexpr VT kSlotTypes[] = {VT::I32, VT::I64, VT::F32, VT::F64, VT::FuncRef, VT::ExternRef};
  for (int s = 0; s < 6; ++s) {
    scratch_[s] = static_cast<uint32_t>(locals_.size());
    locals_.push_back(kSlotTypes[s]);
  }
  counter_base_ = static_cast<uint32_t>(locals_.size());
  for (uint32_t i = 0; i < kMaxLoopsPerFunc; ++i) locals_.push_back(VT::I32);
  v128_scratch_ = static_cast<uint32_t>(locals_.size());
  locals_.push_back(VT::V128);
  budget_ = static_cast<int>(in_.Range(8, m.opt.max_instrs_per_func));
}

std::vector<VT> FuncGen::RandomTypes(uint32_t max_count) {
  std::vector<VT> out(in_.Below(max_count + 1));
  for (VT& t : out) t = kNumeric[in_.Below(4)];
  return out;
}

int64_t FuncGen::FreeLocal(VT t) {
  std::vector<uint32_t> c;
  for (uint32_t i = 0; i < num_free_locals_; ++i)
    if (locals_[i] == t) c.push_back(i);
  return c.empty() ? int64_t{-1} : int64_t{c[in_.Below(static_cast<uint32_t>(c.size()))]};
}

int64_t FuncGen::MutableGlobal(VT t) {
  std::vector<uint32_t> c;
  for (uint32_t i = 0; i < m_.globals.size(); ++i)
    if (m_.globals[i].type == t && m_.globals[i].mut && i != m_.budget_global) c.push_back(i);
  return c.empty() ? int64_t{-1} : int64_t{c[in_.Below(static_cast<uint32_t>(c.size()))]};
}

int64_t FuncGen::AnyGlobal(VT t) {
  std::vector<uint32_t> c;
  for (uint32_t i = 0; i < m_.globals.size(); ++i)
    if (m_.globals[i].type == t) c.push_back(i);
  return c.empty() ? int64_t{-1} : int64_t{c[in_.Below(static_cast<uint32_t>(c.size()))]};
}

void FuncGen::Const(VT t, uint64_t bits) {
  switch (t) {
    case VT::I32: Op(0x41), c_.S64(static_cast<int32_t>(static_cast<uint32_t>(bits))); break;
    case VT::I64: Op(0x42), c_.S64(static_cast<int64_t>(bits)); break;
    case VT::F32: Op(0x43), c_.Fixed(bits, 4); break;
    case VT::F64: Op(0x44), c_.Fixed(bits, 8); break;
    default: Op(0xd0), c_.U8(static_cast<uint8_t>(t)); break;  // ref.null
  }
}

void FuncGen::BlockType(const std::vector<VT>& params, const std::vector<VT>& results) {
  if (params.empty() && results.empty()) {
    c_.U8(0x40);
  } else if (params.empty() && results.size() == 1) {
    c_.U8(static_cast<uint8_t>(results[0]));
  } else {
    c_.S64(m_.Intern(Sig{params, results}));
  }
}

void FuncGen::MemArg(const MemOp& op) {
  c_.U32(in_.Below(op.max_align + 1u));
  switch (in_.Below(24)) {
    case 21: c_.U32(in_.Below(65536)); break;
    case 22: c_.U32(m_.mem_min * 65536u - in_.Below(9)); break;
    case 23: c_.U32(in_.U32()); break;
    default: c_.U32(in_.Below(16)); break;
  }
}

void FuncGen::Leaf(VT t) {
  if (IsRef(t)) return Const(t, 0);
  switch (in_.Below(4)) {
    case 1:
      if (int64_t l = FreeLocal(t); l >= 0) return LocalGet(static_cast<uint32_t>(l));
      break;
    case 2:
      if (int64_t g = AnyGlobal(t); g >= 0) {
        Op(0x23), c_.U32(static_cast<uint32_t>(g));
        return;
      }
      break;
    default: break;
  }
  Const(t, InterestingBits(in_, t));
}

void FuncGen::Canonicalize(VT t) {
  uint32_t s = scratch_[SlotOf(t)];
  Op(0x22), c_.U32(s);  // local.tee
  Const(t, t == VT::F32 ? 0x7fc00000 : 0x7ff8000000000000);
  LocalGet(s);
  LocalGet(s);
  Op(t == VT::F32 ? 0x5b : 0x61);  // x == x: false only for a NaN
  Op(0x1b);                        // select(x, canonical NaN, x == x)
}

void FuncGen::Numeric(VT t, int d, uint8_t arity) {
  std::vector<const NumOp*> c;
  for (const NumOp& op : NumOps())
    if (op.result == t && op.arity == arity) c.push_back(&op);
  if (c.empty()) return Leaf(t);
  const NumOp& op = *c[in_.Below(static_cast<uint32_t>(c.size()))];
  Value(op.a, d - 1);
  if (arity == 2) Value(op.b, d - 1);
  if (op.code >= 0x100) {
    OpFC(op.code - 0x100u);
  } else {
    Op(static_cast<uint8_t>(op.code));
  }
  if (op.nan && m_.opt.canonicalize_nans) Canonicalize(t);
}

void FuncGen::Addr(int d) {
  switch (in_.Below(14)) {
    case 1: I32Const(static_cast<int32_t>(m_.mem_min * 65536u - in_.Below(16))); break;  // near the end
    case 2: Value(VT::I32, d - 1); break;
    case 3:
      if (int64_t l = FreeLocal(VT::I32); l >= 0) {
        LocalGet(static_cast<uint32_t>(l));
        break;
      }
      [[fallthrough]];
    case 4: I32Const(static_cast<int32_t>(in_.U32())); break;
    default: I32Const(static_cast<int32_t>(in_.Below(128))); break;
  }
}

void FuncGen::Len(int d) {
  switch (in_.Below(10)) {
    case 8: Value(VT::I32, d - 1); break;
    case 9: I32Const(static_cast<int32_t>(in_.Below(70000))); break;
    default: I32Const(static_cast<int32_t>(in_.Below(40))); break;
  }
}

void FuncGen::TableIndex(uint32_t table, int d) {
  uint32_t min = table == 0 ? m_.table0_min : m_.table1_min;
  if (in_.Chance(20)) return Value(VT::I32, d - 1);
  I32Const(static_cast<int32_t>(in_.Below(min + 3)));
}

void FuncGen::Load(VT t, int d) {
  std::vector<const MemOp*> c;
  for (const MemOp& op : kLoads)
    if (op.type == t) c.push_back(&op);
  const MemOp& op = *c[in_.Below(static_cast<uint32_t>(c.size()))];
  Addr(d);
  Op(op.code);
  MemArg(op);
}

void FuncGen::RefValue(VT t, int d) {
  if (d <= 0 || budget_ <= 0) return Const(t, 0);
  switch (in_.Below(5)) {
    case 1:
      if (t == VT::FuncRef) {
        Op(0xd2), c_.U32(in_.Below(static_cast<uint32_t>(m_.func_types.size())));
        return;
      }
      break;
    case 2:
      if (t == VT::FuncRef || m_.has_table1) {
        uint32_t table = t == VT::FuncRef ? 0 : 1;
        TableIndex(table, d);
        Op(0x25), c_.U32(table);
        return;
      }
      break;
    case 3:
      if (int64_t l = FreeLocal(t); l >= 0) return LocalGet(static_cast<uint32_t>(l));
      break;
    case 4:
      RefValue(t, d - 1);
      RefValue(t, d - 1);
      Value(VT::I32, d - 1);
      Op(0x1c), c_.U32(1), c_.U8(static_cast<uint8_t>(t));  // typed select
      return;
    default: break;
  }
  Const(t, 0);
}

void FuncGen::Value(VT t, int d) {
  if (IsRef(t)) return RefValue(t, d);
  if (d <= 0 || budget_ <= 0) return Leaf(t);
  switch (in_.Below(14)) {
    case 2: case 3: return Numeric(t, d, 1);
    case 4: case 5: case 6: return Numeric(t, d, 2);
    case 7: return Load(t, d);
    case 8: return StructuredValue(t, d);
    case 9: return CallValue(t, d);
    case 10: {
      bool typed = in_.Chance(30);
      Value(t, d - 1);
      Value(t, d - 1);
      Value(VT::I32, d - 1);
      if (typed) {
        Op(0x1c), c_.U32(1), c_.U8(static_cast<uint8_t>(t));
      } else {
        Op(0x1b);
      }
      return;
    }
    case 11:
      if (int64_t l = FreeLocal(t); l >= 0) {
        Value(t, d - 1);
        Op(0x22), c_.U32(static_cast<uint32_t>(l));
        return;
      }
      return Leaf(t);
    case 12:
      if (t != VT::I32) return Numeric(t, d, 1);
      switch (in_.Below(6)) {
        case 0: Op(0x3f), c_.U8(0); return;  // memory.size
        case 1:
          if (in_.Chance(70)) {
            I32Const(static_cast<int32_t>(in_.Below(3)));
          } else {
            Value(VT::I32, d - 1);
          }
          Op(0x40), c_.U8(0);  // memory.grow
          return;
        case 2: OpFC(16), c_.U32(m_.has_table1 ? in_.Below(2) : 0); return;  // table.size
        case 3: {                                                             // table.grow
          uint32_t table = m_.has_table1 ? in_.Below(2) : 0;
          RefValue(table == 0 ? VT::FuncRef : VT::ExternRef, d - 1);
          if (in_.Chance(70)) {
            I32Const(static_cast<int32_t>(in_.Below(4)));
          } else {
            Value(VT::I32, d - 1);
          }
          OpFC(15), c_.U32(table);
          return;
        }
        case 4:
          RefValue(in_.Chance(50) ? VT::FuncRef : VT::ExternRef, d - 1), Op(0xd1);
          return;  // ref.is_null
        default: return Numeric(t, d, 2);
      }
    case 13: return SimdScalar(t, d);
    default: return Leaf(t);
  }
}

// ---- SIMD ----------------------------------------------------------------------------------------------

// 0xFD sub-opcodes by shape. `nan` ops may make NaN lanes whose bits the spec leaves open: with
// canonicalize_nans their f32x4 / f64x2 results are canonicalized lane by lane.
struct SimdOps {
  std::vector<uint16_t> unary, binary, unary_nan32, unary_nan64, binary_nan32, binary_nan64;
};
const SimdOps& SimdOpLists() {
  static const SimdOps ops = [] {
    SimdOps o;
    auto range = [](std::vector<uint16_t>& v, uint16_t lo, uint16_t hi) {
      for (uint16_t c = lo; c <= hi; ++c) v.push_back(c);
    };
    // bit ops, integer lanes, float abs/neg, comparisons, pmin/pmax (pick an operand), conversions
    // to integers or from integers (no NaN made)
    for (uint16_t c : {0x4d, 0x60, 0x61, 0x62, 0x80, 0x81, 0xa0, 0xa1, 0xc0, 0xc1, 0xe0, 0xe1, 0xec, 0xed})
      o.unary.push_back(c);
    range(o.unary, 0x7c, 0x7f);
    range(o.unary, 0x87, 0x8a);
    range(o.unary, 0xa7, 0xaa);
    range(o.unary, 0xc7, 0xca);
    range(o.unary, 0xf8, 0xff);
    o.binary.push_back(0x0e);
    range(o.binary, 0x23, 0x4c);
    range(o.binary, 0x4e, 0x51);
    range(o.binary, 0x65, 0x66);
    range(o.binary, 0x6e, 0x73);
    range(o.binary, 0x76, 0x79);
    o.binary.push_back(0x7b);
    o.binary.push_back(0x82);
    range(o.binary, 0x85, 0x86);
    range(o.binary, 0x8e, 0x93);
    range(o.binary, 0x95, 0x99);
    range(o.binary, 0x9b, 0x9f);
    for (uint16_t c : {0xae, 0xb1, 0xce, 0xd1, 0xea, 0xeb, 0xf6, 0xf7}) o.binary.push_back(c);
    range(o.binary, 0xb5, 0xba);
    range(o.binary, 0xbc, 0xbf);
    range(o.binary, 0xd5, 0xdf);
    for (uint16_t c : {0x5e, 0x67, 0x68, 0x69, 0x6a, 0xe3}) o.unary_nan32.push_back(c);
    for (uint16_t c : {0x5f, 0x74, 0x75, 0x7a, 0x94, 0xef}) o.unary_nan64.push_back(c);
    range(o.binary_nan32, 0xe4, 0xe9);
    range(o.binary_nan64, 0xf0, 0xf5);
    return o;
  }();
  return ops;
}

void FuncGen::V128(int d) {
  const SimdOps& ops = SimdOpLists();
  auto pick = [&](const std::vector<uint16_t>& v) { return v[in_.Below(static_cast<uint32_t>(v.size()))]; };
  auto lane_const = [&]() {  // 16 bytes: edge values of one lane type, or random bytes
    OpFD(0x0c);
    static constexpr VT kLaneTypes[] = {VT::I32, VT::I64, VT::F32, VT::F64};
    VT t = kLaneTypes[in_.Below(4)];
    int width = (t == VT::I32 || t == VT::F32) ? 4 : 8;
    for (int k = 0; k < 16 / width; ++k) c_.Fixed(InterestingBits(in_, t), width);
  };
  if (d <= 0 || budget_ <= 0) {
    if (in_.Chance(50)) return lane_const();
    static constexpr VT kScalars[] = {VT::I32, VT::I32, VT::I64, VT::F32, VT::F64};
    static constexpr uint16_t kSplat[] = {0x0f, 0x10, 0x12, 0x13, 0x14};
    uint32_t k = in_.Below(5);
    Leaf(kScalars[k]);
    OpFD(kSplat[k]);
    return;
  }
  switch (in_.Below(12)) {
    case 0: return lane_const();
    case 1: V128(d - 1), OpFD(pick(ops.unary)); return;
    case 2: case 3: V128(d - 1), V128(d - 1), OpFD(pick(ops.binary)); return;
    case 4: V128(d - 1), V128(d - 1), V128(d - 1), OpFD(0x52); return;  // bitselect
    case 5: {  // shifts: count any i32 (taken modulo the lane width)
      static constexpr uint16_t kShifts[] = {0x6b, 0x6c, 0x6d, 0x8b, 0x8c, 0x8d, 0xab, 0xac, 0xad, 0xcb, 0xcc, 0xcd};
      V128(d - 1), Value(VT::I32, d - 1), OpFD(kShifts[in_.Below(12)]);
      return;
    }
    case 6: {  // i8x16.shuffle
      V128(d - 1), V128(d - 1), OpFD(0x0d);
      for (int k = 0; k < 16; ++k) c_.U8(static_cast<uint8_t>(in_.Below(32)));
      return;
    }
    case 7: {  // replace_lane
      static constexpr uint16_t kReplace[] = {0x17, 0x1a, 0x1c, 0x1e, 0x20, 0x22};
      static constexpr VT kScalar[] = {VT::I32, VT::I32, VT::I32, VT::I64, VT::F32, VT::F64};
      static constexpr uint8_t kLanes[] = {16, 8, 4, 2, 4, 2};
      uint32_t k = in_.Below(6);
      V128(d - 1), Value(kScalar[k], d - 1), OpFD(kReplace[k]), c_.U8(static_cast<uint8_t>(in_.Below(kLanes[k])));
      return;
    }
    case 8: {  // loads (bounds checked like any other)
      static constexpr uint16_t kLoads[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x5c, 0x5d};
      static constexpr uint8_t kAlign[] = {4, 3, 3, 3, 3, 3, 3, 0, 1, 2, 3, 2, 3};
      uint32_t k = in_.Below(13);
      Addr(d), OpFD(kLoads[k]), MemArg(MemOp{0, VT::I32, kAlign[k]});
      return;
    }
    case 9: {  // load lane
      uint32_t k = in_.Below(4);  // 8, 16, 32, 64 bits
      Addr(d), V128(d - 1), OpFD(0x54 + k), MemArg(MemOp{0, VT::I32, static_cast<uint8_t>(k)});
      c_.U8(static_cast<uint8_t>(in_.Below(16u >> k)));
      return;
    }
    case 10: {  // float arithmetic, NaN lanes canonicalized
      bool f64 = in_.Chance(50);
      bool binary = in_.Chance(60);
      V128(d - 1);
      if (binary) V128(d - 1);
      OpFD(pick(binary ? (f64 ? ops.binary_nan64 : ops.binary_nan32) : (f64 ? ops.unary_nan64 : ops.unary_nan32)));
      if (m_.opt.canonicalize_nans) {
        // bitselect(x, canonical NaNs, x == x): a lane keeps x unless it is a NaN
        Op(0x22), c_.U32(v128_scratch_);
        OpFD(0x0c);
        for (int k = 0; k < (f64 ? 2 : 4); ++k) c_.Fixed(f64 ? 0x7ff8000000000000 : 0x7fc00000, f64 ? 8 : 4);
        LocalGet(v128_scratch_), LocalGet(v128_scratch_), OpFD(f64 ? 0x47 : 0x41);
        OpFD(0x52);
      }
      return;
    }
    default: {  // a v128 through a local (the scratch one: v128 locals and their moves)
      V128(d - 1);
      Op(0x22), c_.U32(v128_scratch_);
      if (in_.Chance(50)) {
        Op(0x1a), LocalGet(v128_scratch_);  // drop, then read it back
      }
      return;
    }
  }
}

void FuncGen::SimdScalar(VT t, int d) {
  switch (t) {
    case VT::I32:
      switch (in_.Below(4)) {
        case 0: {  // extract_lane_s/u of i8x16 / i16x8, i32x4.extract_lane
          static constexpr uint16_t kOps[] = {0x15, 0x16, 0x18, 0x19, 0x1b};
          static constexpr uint8_t kLanes[] = {16, 16, 8, 8, 4};
          uint32_t k = in_.Below(5);
          V128(d - 1), OpFD(kOps[k]), c_.U8(static_cast<uint8_t>(in_.Below(kLanes[k])));
          return;
        }
        case 1: V128(d - 1), OpFD(0x53); return;  // any_true
        case 2: {                                   // all_true
          static constexpr uint16_t kOps[] = {0x63, 0x83, 0xa3, 0xc3};
          V128(d - 1), OpFD(kOps[in_.Below(4)]);
          return;
        }
        default: {  // bitmask
          static constexpr uint16_t kOps[] = {0x64, 0x84, 0xa4, 0xc4};
          V128(d - 1), OpFD(kOps[in_.Below(4)]);
          return;
        }
      }
    case VT::I64: V128(d - 1), OpFD(0x1d), c_.U8(static_cast<uint8_t>(in_.Below(2))); return;
    case VT::F32: V128(d - 1), OpFD(0x1f), c_.U8(static_cast<uint8_t>(in_.Below(4))); return;
    case VT::F64: V128(d - 1), OpFD(0x21), c_.U8(static_cast<uint8_t>(in_.Below(2))); return;
    default: return Leaf(t);
  }
}

void FuncGen::Values(const std::vector<VT>& ts, int d) {
  if (!ts.empty() && d > 0 && budget_ > 0 && in_.Chance(8)) {
    // A call with exactly these results, when some function has them (multi-value across calls).
    std::vector<uint32_t> c;
    for (uint32_t f = 0; f < m_.func_types.size(); ++f)
      if (m_.FuncSig(f).results == ts) c.push_back(f);
    if (int64_t f = PickCallee(c); f >= 0) return CallTree(static_cast<uint32_t>(f), d);
  }
  for (VT t : ts) Value(t, d - 1);
}

int64_t FuncGen::PickCallee(const std::vector<uint32_t>& candidates) {
  std::vector<uint32_t> later;
  for (uint32_t f : candidates)
    if (f > self_) later.push_back(f);
  if (candidates.empty() || (later.empty() && !in_.Chance(10))) return -1;
  const auto& from = !later.empty() && !in_.Chance(5) ? later : candidates;
  return from[in_.Below(static_cast<uint32_t>(from.size()))];
}

void FuncGen::CallTree(uint32_t f, int d) {
  const Sig s = m_.FuncSig(f);  // a copy: see sig_
  for (VT p : s.params) Value(p, d - 1);
  if (in_.Chance(30)) {
    // call_indirect of f's type: the entry may be another function, null, or out of range (traps).
    TableIndex(0, d);
    Op(0x11), c_.U32(m_.func_types[f]), c_.U32(0);
  } else {
    Op(0x10), c_.U32(f);
  }
}

void FuncGen::CallValue(VT t, int d) {
  std::vector<uint32_t> c;
  for (uint32_t f = 0; f < m_.func_types.size(); ++f) {
    const auto& r = m_.FuncSig(f).results;
    if (std::find(r.begin(), r.end(), t) != r.end()) c.push_back(f);
  }
  int64_t f = PickCallee(c);
  if (f < 0) return Leaf(t);
  std::vector<VT> results = m_.FuncSig(static_cast<uint32_t>(f)).results;
  CallTree(static_cast<uint32_t>(f), d);
  std::vector<size_t> at;
  for (size_t i = 0; i < results.size(); ++i)
    if (results[i] == t) at.push_back(i);
  Narrow(results, at[in_.Below(static_cast<uint32_t>(at.size()))]);
}

void FuncGen::Narrow(const std::vector<VT>& results, size_t keep) {
  for (size_t i = results.size(); i-- > 0;) {
    if (i == keep) {
      LocalSet(scratch_[SlotOf(results[i])]);
    } else {
      Op(0x1a);
    }
  }
  LocalGet(scratch_[SlotOf(results[keep])]);
}

void FuncGen::ConsumeParams(const std::vector<VT>& params) {
  for (size_t i = params.size(); i-- > 0;) {
    int64_t l = in_.Chance(60) ? FreeLocal(params[i]) : -1;
    if (l >= 0) {
      LocalSet(static_cast<uint32_t>(l));
    } else {
      Op(0x1a);
    }
  }
}

// kind: 0 block, 1 if/else, 2 loop (bounded).
void FuncGen::Structured(int kind, const std::vector<VT>& params, const std::vector<VT>& results, int d) {
  if (kind == 2 && (counters_used_ >= kMaxLoopsPerFunc || loop_nesting_ >= kMaxLoopNesting)) kind = 0;
  // Taken now: the params' trees below may hold loops of their own.
  const uint32_t counter = kind == 2 ? counter_base_ + counters_used_++ : 0;
  for (VT p : params) Value(p, d - 1);
  if (kind == 1) {
    Value(VT::I32, d - 1);
    Op(0x04), BlockType(params, results);
    labels_.push_back({results});
    ConsumeParams(params);
    Stmts(d - 1);
    Values(results, d);
    if (params != results || in_.Chance(70)) {
      Op(0x05);
      ConsumeParams(params);
      Stmts(d - 1);
      Values(results, d);
    }
    Op(0x0b);
    labels_.pop_back();
    return;
  }
  if (kind == 0) {
    Op(0x02), BlockType(params, results);
    labels_.push_back({results});
    ConsumeParams(params);
    Stmts(d - 1);
    Values(results, d);
    Op(0x0b);
    labels_.pop_back();
    return;
  }
  // A loop inside an exit block. Its header (which every back-edge reaches) leaves through the exit
  // block once the counter is spent, so it runs at most K+1 times per entry.
  ++loop_nesting_;
  I32Const(static_cast<int32_t>(in_.Below(5)));
  LocalSet(counter);
  Op(0x02), BlockType(params, results);
  labels_.push_back({results});
  Op(0x03), BlockType(params, results);
  labels_.push_back({params});
  LocalGet(counter);
  Op(0x45);  // i32.eqz
  Op(0x04), c_.U8(0x40);
  labels_.push_back({});
  Values(results, 0);  // leaves only: a branch back to the loop from here would skip the count
  Op(0x0c), c_.U32(2);  // br to the exit block
  Op(0x0b);
  labels_.pop_back();
  LocalGet(counter);
  I32Const(1);
  Op(0x6b);  // i32.sub
  LocalSet(counter);
  ConsumeParams(params);
  Stmts(d - 1);
  Values(results, d);
  Op(0x0b);  // end loop
  labels_.pop_back();
  Op(0x0b);  // end exit block
  labels_.pop_back();
  --loop_nesting_;
}

void FuncGen::StructuredValue(VT t, int d) {
  std::vector<VT> params, results;
  size_t keep = 0;
  if (in_.Chance(50)) {
    results = {t};
  } else {
    params = RandomTypes(2);
    results = RandomTypes(2);
    keep = in_.Below(static_cast<uint32_t>(results.size() + 1));
    results.insert(results.begin() + static_cast<ptrdiff_t>(keep), t);
  }
  Structured(static_cast<int>(in_.Below(3)), params, results, d);
  if (results.size() == 1) return;
  Narrow(results, keep);
}

void FuncGen::Stmts(int d) {
  if (d <= 0) return;
  uint32_t n = in_.Below(5);
  for (uint32_t i = 0; i < n && budget_ > 0; ++i) Stmt(d);
}

void FuncGen::Branch(int d) {
  uint32_t li = in_.Below(static_cast<uint32_t>(labels_.size()));
  const std::vector<VT> types = labels_[li].types;
  auto depth = [&](uint32_t i) { return static_cast<uint32_t>(labels_.size() - 1 - i); };
  switch (in_.Below(5)) {
    case 0:  // br: the rest of the block is dead code
      Values(types, d);
      Op(0x0c), c_.U32(depth(li));
      return;
    case 1: {  // br_table over labels of the same types
      std::vector<uint32_t> same;
      for (uint32_t i = 0; i < labels_.size(); ++i)
        if (labels_[i].types == types) same.push_back(i);
      uint32_t n = in_.Below(5);
      Values(types, d);
      Value(VT::I32, d - 1);
      Op(0x0e), c_.U32(n);
      for (uint32_t k = 0; k <= n; ++k) c_.U32(depth(same[in_.Below(static_cast<uint32_t>(same.size()))]));
      return;
    }
    default:  // br_if: not taken, the values stay and are dropped
      Values(types, d);
      Value(VT::I32, d - 1);
      Op(0x0d), c_.U32(depth(li));
      for (size_t i = 0; i < types.size(); ++i) Op(0x1a);
      return;
  }
}

void FuncGen::MemoryStmt(int d) {
  switch (in_.Below(5)) {
    case 4:  // v128.store, or v128.store{8,16,32,64}_lane
      Addr(d), V128(d - 1);
      if (in_.Chance(50)) {
        OpFD(0x0b), MemArg(MemOp{0, VT::I32, 4});
      } else {
        uint32_t k = in_.Below(4);
        OpFD(0x58 + k), MemArg(MemOp{0, VT::I32, static_cast<uint8_t>(k)});
        c_.U8(static_cast<uint8_t>(in_.Below(16u >> k)));
      }
      return;
    case 0:  // memory.fill
      Addr(d), Value(VT::I32, d - 1), Len(d);
      OpFC(11), c_.U8(0);
      return;
    case 1:  // memory.copy
      Addr(d), Addr(d), Len(d);
      OpFC(10), c_.U8(0), c_.U8(0);
      return;
    case 2:
      if (!m_.datas.empty()) {  // memory.init
        uint32_t seg = in_.Below(static_cast<uint32_t>(m_.datas.size()));
        Addr(d);
        I32Const(static_cast<int32_t>(in_.Below(static_cast<uint32_t>(m_.datas[seg].bytes.size()) + 4)));
        Len(d);
        OpFC(8), c_.U32(seg), c_.U8(0);
      }
      return;
    default:
      if (!m_.datas.empty()) OpFC(9), c_.U32(in_.Below(static_cast<uint32_t>(m_.datas.size())));  // data.drop
      return;
  }
}

void FuncGen::TableStmt(int d) {
  uint32_t table = m_.has_table1 && in_.Chance(30) ? 1 : 0;
  VT elem = table == 0 ? VT::FuncRef : VT::ExternRef;
  auto small = [&] { I32Const(static_cast<int32_t>(in_.Below(6))); };
  switch (in_.Below(6)) {
    case 0:  // table.set
      TableIndex(table, d), RefValue(elem, d - 1);
      Op(0x26), c_.U32(table);
      return;
    case 1:  // table.fill
      TableIndex(table, d), RefValue(elem, d - 1), small();
      OpFC(17), c_.U32(table);
      return;
    case 2:  // table.copy within the table
      TableIndex(table, d), TableIndex(table, d), small();
      OpFC(14), c_.U32(table), c_.U32(table);
      return;
    case 3:  // table.init (funcref segments only)
      if (table == 0 && !m_.elems.empty()) {
        uint32_t seg = in_.Below(static_cast<uint32_t>(m_.elems.size()));
        TableIndex(0, d), small(), small();
        OpFC(12), c_.U32(seg), c_.U32(0);
      }
      return;
    case 4:  // elem.drop
      if (!m_.elems.empty()) OpFC(13), c_.U32(in_.Below(static_cast<uint32_t>(m_.elems.size())));
      return;
    default:  // table.grow, result dropped
      RefValue(elem, d - 1), small();
      OpFC(15), c_.U32(table);
      Op(0x1a);
      return;
  }
}

void FuncGen::Stmt(int d) {
  switch (in_.Below(18)) {
    case 0: case 1: {
      int64_t l = FreeLocal(kNumeric[in_.Below(4)]);
      if (l < 0) return;
      Value(locals_[l], d);
      LocalSet(static_cast<uint32_t>(l));
      return;
    }
    case 2: {
      VT t = kNumeric[in_.Below(4)];
      int64_t g = MutableGlobal(t);
      if (g < 0) return;
      Value(t, d);
      Op(0x24), c_.U32(static_cast<uint32_t>(g));
      return;
    }
    case 3: case 4: {
      const MemOp& op = kStores[in_.Below(std::size(kStores))];
      Addr(d);
      Value(op.type, d - 1);
      Op(op.code);
      MemArg(op);
      return;
    }
    case 5: {
      static constexpr VT kAny[] = {VT::I32, VT::I64, VT::F32, VT::F64, VT::FuncRef, VT::ExternRef};
      Value(kAny[in_.Below(6)], d);
      Op(0x1a);
      return;
    }
    case 6: case 7: case 8: {
      std::vector<VT> params = in_.Chance(30) ? RandomTypes(2) : std::vector<VT>{};
      std::vector<VT> results = in_.Chance(30) ? RandomTypes(2) : std::vector<VT>{};
      Structured(static_cast<int>(in_.Below(3)), params, results, d);
      for (size_t i = 0; i < results.size(); ++i) Op(0x1a);
      return;
    }
    case 9: case 10: return Branch(d);
    case 11: {
      std::vector<uint32_t> all(m_.func_types.size());
      for (uint32_t i = 0; i < all.size(); ++i) all[i] = i;
      int64_t f = PickCallee(all);
      if (f < 0) return;
      CallTree(static_cast<uint32_t>(f), d);
      for (size_t i = 0; i < m_.FuncSig(static_cast<uint32_t>(f)).results.size(); ++i) Op(0x1a);
      return;
    }
    case 12: return MemoryStmt(d);
    case 13: return TableStmt(d);
    case 14:
      if (in_.Chance(25)) {
        Values(sig_.results, d);
        Op(0x0f);  // return
      }
      return;
    case 15:
      if (in_.Chance(5)) Op(0x00);  // unreachable
      return;
    default: Op(0x01); return;  // nop
  }
}

Bytes FuncGen::Generate() {
  // The call budget: trap once this instance has made its allowed number of calls.
  Op(0x23), c_.U32(m_.budget_global);
  Op(0x45);
  Op(0x04), c_.U8(0x40);
  Op(0x00);
  Op(0x0b);
  Op(0x23), c_.U32(m_.budget_global);
  I32Const(1);
  Op(0x6b);
  Op(0x24), c_.U32(m_.budget_global);

  labels_.push_back({sig_.results});
  int d = static_cast<int>(in_.Range(2, kMaxDepth));
  Stmts(d);
  Values(sig_.results, d);
  Op(0x0b);
  labels_.pop_back();

  Bytes body;
  std::vector<std::pair<uint32_t, VT>> groups;
  for (size_t i = sig_.params.size(); i < locals_.size(); ++i) {
    if (!groups.empty() && groups.back().second == locals_[i]) {
      ++groups.back().first;
    } else {
      groups.push_back({1, locals_[i]});
    }
  }
  body.U32(static_cast<uint32_t>(groups.size()));
  for (auto [n, t] : groups) body.U32(n), body.U8(static_cast<uint8_t>(t));
  body.Append(c_);
  return body;
}

std::vector<uint8_t> ModuleGen::Build() {
  // Functions and their types.
  uint32_t nfuncs = in.Range(1, std::max<uint32_t>(opt.max_funcs, 1));
  for (uint32_t f = 0; f < nfuncs; ++f) {
    Sig s;
    uint32_t np = in.Below(5), nr = in.Below(8);
    nr = nr < 1 ? 0 : nr < 5 ? 1 : nr - 3;  // mostly one result, sometimes none or 2-4
    for (uint32_t i = 0; i < np; ++i) s.params.push_back(kNumeric[in.Below(4)]);
    for (uint32_t i = 0; i < nr; ++i) s.results.push_back(kNumeric[in.Below(4)]);
    func_types.push_back(Intern(s));
  }
  // Globals, then the call budget.
  uint32_t nglobals = in.Below(6);
  for (uint32_t i = 0; i < nglobals; ++i) {
    VT t = kNumeric[in.Below(4)];
    globals.push_back({t, in.Chance(60), InterestingBits(in, t)});
  }
  budget_global = static_cast<uint32_t>(globals.size());
  globals.push_back({VT::I32, true, opt.call_budget});
  // Memory and tables; both have a maximum, so that growing stays cheap.
  mem_min = in.Chance(90) ? in.Range(1, 2) : 0;
  mem_max = mem_min + in.Below(3);
  table0_min = nfuncs + in.Below(4);
  table0_max = table0_min + in.Below(6);
  has_table1 = in.Chance(50);
  table1_min = in.Below(4);
  table1_max = table1_min + in.Below(4);
  // Element segments.
  {
    uint32_t count = in.Below(table0_min + 1);
    ElemDef e{ElemDef::kActive, in.Below(table0_min - count + 1), {}};
    for (uint32_t i = 0; i < count; ++i) e.funcs.push_back(in.Below(nfuncs));
    elems.push_back(e);
  }
  if (in.Chance(50)) {
    ElemDef e{ElemDef::kPassive, 0, {}};
    for (uint32_t i = 0, n = in.Below(5); i < n; ++i) e.funcs.push_back(in.Below(nfuncs));
    elems.push_back(e);
  }
  if (in.Chance(40)) {
    ElemDef e{ElemDef::kPassiveExprs, 0, {}};
    for (uint32_t i = 0, n = in.Below(5); i < n; ++i)
      e.funcs.push_back(in.Chance(30) ? -1 : static_cast<int64_t>(in.Below(nfuncs)));
    elems.push_back(e);
  }
  // Data segments: active ones inside the initial memory, passive ones anywhere.
  for (uint32_t i = 0, n = in.Below(4); i < n; ++i) {
    DataDef dd{in.Chance(50), 0, {}};
    uint32_t len = in.Below(24);
    if (dd.active) {
      len = std::min(len, mem_min * 65536u);
      uint32_t room = mem_min * 65536u - len;
      dd.offset = in.Chance(30) ? room - std::min(room, in.Below(8)) : std::min(room, in.Below(256));
    }
    for (uint32_t k = 0; k < len; ++k) dd.bytes.push_back(in.Byte());
    datas.push_back(dd);
  }
  // Bodies (they may add block types).
  std::vector<Bytes> bodies;
  for (uint32_t f = 0; f < nfuncs; ++f) bodies.push_back(FuncGen(*this, f).Generate());

  Bytes out;
  out.b = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  Bytes sec;
  sec.U32(static_cast<uint32_t>(types.size()));
  for (const Sig& s : types) {
    sec.U8(0x60);
    sec.U32(static_cast<uint32_t>(s.params.size()));
    for (VT t : s.params) sec.U8(static_cast<uint8_t>(t));
    sec.U32(static_cast<uint32_t>(s.results.size()));
    for (VT t : s.results) sec.U8(static_cast<uint8_t>(t));
  }
  out.Section(1, sec);

  sec = {};
  sec.U32(nfuncs);
  for (uint32_t t : func_types) sec.U32(t);
  out.Section(3, sec);

  sec = {};
  sec.U32(has_table1 ? 2 : 1);
  sec.U8(0x70), sec.U8(1), sec.U32(table0_min), sec.U32(table0_max);
  if (has_table1) sec.U8(0x6f), sec.U8(1), sec.U32(table1_min), sec.U32(table1_max);
  out.Section(4, sec);

  sec = {};
  sec.U32(1);
  sec.U8(1), sec.U32(mem_min), sec.U32(mem_max);
  out.Section(5, sec);

  sec = {};
  sec.U32(static_cast<uint32_t>(globals.size()));
  for (const GlobalDef& g : globals) {
    sec.U8(static_cast<uint8_t>(g.type)), sec.U8(g.mut ? 1 : 0);
    switch (g.type) {
      case VT::I32: sec.U8(0x41), sec.S64(static_cast<int32_t>(static_cast<uint32_t>(g.init))); break;
      case VT::I64: sec.U8(0x42), sec.S64(static_cast<int64_t>(g.init)); break;
      case VT::F32: sec.U8(0x43), sec.Fixed(g.init, 4); break;
      default: sec.U8(0x44), sec.Fixed(g.init, 8); break;
    }
    sec.U8(0x0b);
  }
  out.Section(6, sec);

  sec = {};
  sec.U32(nfuncs + static_cast<uint32_t>(globals.size()) + 1 + (has_table1 ? 2 : 1));
  // Names by appending (GCC 12's -Wrestrict misfires on "f" + std::to_string(f) at -O3).
  auto numbered = [](char prefix, uint32_t n) {
    std::string s(1, prefix);
    s += std::to_string(n);
    return s;
  };
  for (uint32_t f = 0; f < nfuncs; ++f) sec.Name(numbered('f', f)), sec.U8(0), sec.U32(f);
  for (uint32_t g = 0; g < globals.size(); ++g) sec.Name(numbered('g', g)), sec.U8(3), sec.U32(g);
  sec.Name("mem"), sec.U8(2), sec.U32(0);
  sec.Name("table0"), sec.U8(1), sec.U32(0);
  if (has_table1) sec.Name("table1"), sec.U8(1), sec.U32(1);
  out.Section(7, sec);

  sec = {};
  sec.U32(static_cast<uint32_t>(elems.size()));
  for (const ElemDef& e : elems) {
    switch (e.kind) {
      case ElemDef::kActive:
        sec.U8(0x00), sec.U8(0x41), sec.S64(e.offset), sec.U8(0x0b);
        break;
      case ElemDef::kPassive: sec.U8(0x01), sec.U8(0x00); break;
      case ElemDef::kPassiveExprs: sec.U8(0x05), sec.U8(0x70); break;
    }
    sec.U32(static_cast<uint32_t>(e.funcs.size()));
    for (int64_t f : e.funcs) {
      if (e.kind != ElemDef::kPassiveExprs) {
        sec.U32(static_cast<uint32_t>(f));
      } else if (f < 0) {
        sec.U8(0xd0), sec.U8(0x70), sec.U8(0x0b);
      } else {
        sec.U8(0xd2), sec.U32(static_cast<uint32_t>(f)), sec.U8(0x0b);
      }
    }
  }
  out.Section(9, sec);

  sec = {};
  sec.U32(static_cast<uint32_t>(datas.size()));
  out.Section(12, sec);  // data count: memory.init and data.drop need it

  sec = {};
  sec.U32(nfuncs);
  for (const Bytes& b : bodies) sec.Sized(b);
  out.Section(10, sec);

  sec = {};
  sec.U32(static_cast<uint32_t>(datas.size()));
  for (const DataDef& dd : datas) {
    if (dd.active) {
      sec.U8(0x00), sec.U8(0x41), sec.S64(static_cast<int32_t>(dd.offset)), sec.U8(0x0b);
    } else {
      sec.U8(0x01);
    }
    sec.U32(static_cast<uint32_t>(dd.bytes.size()));
    sec.b.insert(sec.b.end(), dd.bytes.begin(), dd.bytes.end());
  }
  out.Section(11, sec);
  return out.b;
}

}  // namespace

std::vector<uint8_t> GenerateModule(Entropy& in, const GenOptions& options) {
  return ModuleGen(in, options).Build();
}

}  // namespace wasmq::wasm::gen
