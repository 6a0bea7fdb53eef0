// File: src/wasm/compile.cc
//
// Validation and compilation in one pass. Module-level checks (limits, indices, exports, segments,
// constant expressions) come first; then each function body is validated with the spec's algorithm
// (an operand-type stack and a control stack, appendix "Validation Algorithm") while the same walk emits
// the slot-addressed internal code described in ops.h.
//
// Why one pass: validation already tracks the operand-stack height at every instruction, which is all the
// compiler needs to give every value a fixed slot (slot = num_locals + height). Code is only emitted while
// the current position is reachable; unreachable code is still fully validated.
#include <algorithm>
#include <cstring>
#include <set>
#include <span>

#include "wasm/reader.h"
#include "wasm/runtime.h"
#include "wasm/simd.h"

namespace wasmq::wasm {
namespace {

constexpr uint8_t kUnknown = 0;  // the polymorphic stack's "any type"
constexpr uint32_t kNoFixup = UINT32_MAX;

Error Invalid(std::string msg) { return MakeError(ErrorKind::Invalid, std::move(msg)); }
Error Malformed(std::string msg) { return MakeError(ErrorKind::Malformed, std::move(msg)); }

// Everything a function body may refer to, computed once per module.
struct ModuleContext {
  const ModuleInfo& m;
  std::vector<uint32_t> func_types;  // type index of every function (imports first)
  std::vector<TableType> tables;
  std::vector<MemoryType> memories;
  std::vector<GlobalType> globals;
  std::set<uint32_t> declared_funcs;  // C.refs: functions that ref.func may name
};

struct NumInfo {
  Op op;
  uint8_t a, b, r;  // operand types (b == 0 for unary) and result type
};

constexpr uint8_t I32 = 0x7F, I64 = 0x7E, F32 = 0x7D, F64 = 0x7C, V128 = 0x7B;

// Numeric instructions 0x45..0xC4, in opcode order. kCount marks reinterpretations, which need no code
// because i32/f32 and i64/f64 share their slot encoding.
constexpr NumInfo kNumeric[] = {
    {Op::I32Eqz, I32, 0, I32},      {Op::I32Eq, I32, I32, I32},     {Op::I32Ne, I32, I32, I32},
    {Op::I32LtS, I32, I32, I32},    {Op::I32LtU, I32, I32, I32},    {Op::I32GtS, I32, I32, I32},
    {Op::I32GtU, I32, I32, I32},    {Op::I32LeS, I32, I32, I32},    {Op::I32LeU, I32, I32, I32},
    {Op::I32GeS, I32, I32, I32},    {Op::I32GeU, I32, I32, I32},    {Op::I64Eqz, I64, 0, I32},
    {Op::I64Eq, I64, I64, I32},     {Op::I64Ne, I64, I64, I32},     {Op::I64LtS, I64, I64, I32},
    {Op::I64LtU, I64, I64, I32},    {Op::I64GtS, I64, I64, I32},    {Op::I64GtU, I64, I64, I32},
    {Op::I64LeS, I64, I64, I32},    {Op::I64LeU, I64, I64, I32},    {Op::I64GeS, I64, I64, I32},
    {Op::I64GeU, I64, I64, I32},    {Op::F32Eq, F32, F32, I32},     {Op::F32Ne, F32, F32, I32},
    {Op::F32Lt, F32, F32, I32},     {Op::F32Gt, F32, F32, I32},     {Op::F32Le, F32, F32, I32},
    {Op::F32Ge, F32, F32, I32},     {Op::F64Eq, F64, F64, I32},     {Op::F64Ne, F64, F64, I32},
    {Op::F64Lt, F64, F64, I32},     {Op::F64Gt, F64, F64, I32},     {Op::F64Le, F64, F64, I32},
    {Op::F64Ge, F64, F64, I32},     {Op::I32Clz, I32, 0, I32},      {Op::I32Ctz, I32, 0, I32},
    {Op::I32Popcnt, I32, 0, I32},   {Op::I32Add, I32, I32, I32},    {Op::I32Sub, I32, I32, I32},
    {Op::I32Mul, I32, I32, I32},    {Op::I32DivS, I32, I32, I32},   {Op::I32DivU, I32, I32, I32},
    {Op::I32RemS, I32, I32, I32},   {Op::I32RemU, I32, I32, I32},   {Op::I32And, I32, I32, I32},
    {Op::I32Or, I32, I32, I32},     {Op::I32Xor, I32, I32, I32},    {Op::I32Shl, I32, I32, I32},
    {Op::I32ShrS, I32, I32, I32},   {Op::I32ShrU, I32, I32, I32},   {Op::I32Rotl, I32, I32, I32},
    {Op::I32Rotr, I32, I32, I32},   {Op::I64Clz, I64, 0, I64},      {Op::I64Ctz, I64, 0, I64},
    {Op::I64Popcnt, I64, 0, I64},   {Op::I64Add, I64, I64, I64},    {Op::I64Sub, I64, I64, I64},
    {Op::I64Mul, I64, I64, I64},    {Op::I64DivS, I64, I64, I64},   {Op::I64DivU, I64, I64, I64},
    {Op::I64RemS, I64, I64, I64},   {Op::I64RemU, I64, I64, I64},   {Op::I64And, I64, I64, I64},
    {Op::I64Or, I64, I64, I64},     {Op::I64Xor, I64, I64, I64},    {Op::I64Shl, I64, I64, I64},
    {Op::I64ShrS, I64, I64, I64},   {Op::I64ShrU, I64, I64, I64},   {Op::I64Rotl, I64, I64, I64},
    {Op::I64Rotr, I64, I64, I64},   {Op::F32Abs, F32, 0, F32},      {Op::F32Neg, F32, 0, F32},
    {Op::F32Ceil, F32, 0, F32},     {Op::F32Floor, F32, 0, F32},    {Op::F32Trunc, F32, 0, F32},
    {Op::F32Nearest, F32, 0, F32},  {Op::F32Sqrt, F32, 0, F32},     {Op::F32Add, F32, F32, F32},
    {Op::F32Sub, F32, F32, F32},    {Op::F32Mul, F32, F32, F32},    {Op::F32Div, F32, F32, F32},
    {Op::F32Min, F32, F32, F32},    {Op::F32Max, F32, F32, F32},    {Op::F32Copysign, F32, F32, F32},
    {Op::F64Abs, F64, 0, F64},      {Op::F64Neg, F64, 0, F64},      {Op::F64Ceil, F64, 0, F64},
    {Op::F64Floor, F64, 0, F64},    {Op::F64Trunc, F64, 0, F64},    {Op::F64Nearest, F64, 0, F64},
    {Op::F64Sqrt, F64, 0, F64},     {Op::F64Add, F64, F64, F64},    {Op::F64Sub, F64, F64, F64},
    {Op::F64Mul, F64, F64, F64},    {Op::F64Div, F64, F64, F64},    {Op::F64Min, F64, F64, F64},
    {Op::F64Max, F64, F64, F64},    {Op::F64Copysign, F64, F64, F64}, {Op::I32WrapI64, I64, 0, I32},
    {Op::I32TruncF32S, F32, 0, I32}, {Op::I32TruncF32U, F32, 0, I32}, {Op::I32TruncF64S, F64, 0, I32},
    {Op::I32TruncF64U, F64, 0, I32}, {Op::I64ExtendI32S, I32, 0, I64}, {Op::I64ExtendI32U, I32, 0, I64},
    {Op::I64TruncF32S, F32, 0, I64}, {Op::I64TruncF32U, F32, 0, I64}, {Op::I64TruncF64S, F64, 0, I64},
    {Op::I64TruncF64U, F64, 0, I64}, {Op::F32ConvertI32S, I32, 0, F32}, {Op::F32ConvertI32U, I32, 0, F32},
    {Op::F32ConvertI64S, I64, 0, F32}, {Op::F32ConvertI64U, I64, 0, F32}, {Op::F32DemoteF64, F64, 0, F32},
    {Op::F64ConvertI32S, I32, 0, F64}, {Op::F64ConvertI32U, I32, 0, F64}, {Op::F64ConvertI64S, I64, 0, F64},
    {Op::F64ConvertI64U, I64, 0, F64}, {Op::F64PromoteF32, F32, 0, F64}, {Op::kCount, F32, 0, I32},
    {Op::kCount, F64, 0, I64},      {Op::kCount, I32, 0, F32},      {Op::kCount, I64, 0, F64},
    {Op::I32Extend8S, I32, 0, I32}, {Op::I32Extend16S, I32, 0, I32}, {Op::I64Extend8S, I64, 0, I64},
    {Op::I64Extend16S, I64, 0, I64}, {Op::I64Extend32S, I64, 0, I64},
};
static_assert(sizeof(kNumeric) / sizeof(kNumeric[0]) == 0xC4 - 0x45 + 1);

// 0xFC 0..7: saturating truncations.
constexpr NumInfo kSatTrunc[] = {
    {Op::I32TruncSatF32S, F32, 0, I32}, {Op::I32TruncSatF32U, F32, 0, I32},
    {Op::I32TruncSatF64S, F64, 0, I32}, {Op::I32TruncSatF64U, F64, 0, I32},
    {Op::I64TruncSatF32S, F32, 0, I64}, {Op::I64TruncSatF32U, F32, 0, I64},
    {Op::I64TruncSatF64S, F64, 0, I64}, {Op::I64TruncSatF64U, F64, 0, I64},
};

// Loads and stores 0x28..0x3E: value type and log2 of the access size.
struct MemInfo {
  uint8_t type;
  uint8_t log2_size;
  bool store;
};
constexpr MemInfo kMemOps[] = {
    {I32, 2, false}, {I64, 3, false}, {F32, 2, false}, {F64, 3, false}, {I32, 0, false}, {I32, 0, false},
    {I32, 1, false}, {I32, 1, false}, {I64, 0, false}, {I64, 0, false}, {I64, 1, false}, {I64, 1, false},
    {I64, 2, false}, {I64, 2, false}, {I32, 2, true},  {I64, 3, true},  {F32, 2, true},  {F64, 3, true},
    {I32, 0, true},  {I32, 1, true},  {I64, 0, true},  {I64, 1, true},  {I64, 2, true},
};

class FunctionCompiler {
 public:
  FunctionCompiler(const ModuleContext& ctx, uint32_t defined_index, CompiledFunc* out)
      : ctx_(ctx), m_(ctx.m), body_(m_.code[defined_index]), out_(out),
        r_(m_.bytes.data(), body_.body_begin, body_.body_end) {
    out_->type_index = m_.functions[defined_index];
    type_ = &m_.types[out_->type_index];
  }

  Result<void> Run() {
    for (ValType t : type_->params) locals_.push_back(t);
    for (const LocalGroup& g : body_.locals) {
      if (locals_.size() + g.count > kMaxLocals) return Invalid("too many locals");
      locals_.insert(locals_.end(), g.count, g.type);
    }
    // A v128 local takes two slots (ops.h), so local x lives at local_slot_[x], not at slot x.
    for (ValType t : locals_) {
      local_slot_.push_back(num_locals_);
      num_locals_ += SlotWidth(t);
    }
    out_->num_params = SlotCount(type_->params);
    out_->num_results = SlotCount(type_->results);
    out_->num_locals = num_locals_;

    PushCtrl(kFunction, {}, type_->results, false);
    while (!ctrls_.empty()) {
      if (r_.eof()) return Malformed("unexpected end of section or function");
      if (!Instruction()) return Fail();
    }
    if (!r_.eof()) return Malformed("section size mismatch");
    out_->frame_slots = num_locals_ + max_height_;
    out_->code = std::move(code_);
    return {};
  }

 private:
  static constexpr uint32_t kMaxLocals = 50000;  // same bound as V8 and wasm3: frames stay small
  enum CtrlKind : uint8_t { kFunction, kBlock, kLoop, kIf, kElse };

  struct Ctrl {
    CtrlKind kind;
    std::vector<ValType> params, results;
    uint32_t height;           // operand-stack height below the block's params
    bool unreachable = false;  // the rest of the block is unreachable (stack is polymorphic)
    bool dead;                 // opened in unreachable code: emit nothing for it
    uint32_t loop_pc = 0;      // loop: branch target
    std::vector<uint32_t> fixups;  // code words to patch with the end's address
    uint32_t else_fixup = kNoFixup;  // if: the BrUnless target to patch at else/end
  };

  // ---- errors -------------------------------------------------------------------------------------
  bool Err(ErrorKind kind, std::string msg) {
    if (!error_) error_ = MakeError(kind, std::move(msg));
    return false;
  }
  bool Inv(std::string msg) { return Err(ErrorKind::Invalid, std::move(msg)); }
  bool Mal(std::string msg) { return Err(ErrorKind::Malformed, std::move(msg)); }
  Error Fail() {
    if (error_) return *error_;
    return Malformed(r_.error().empty() ? "malformed function body" : r_.error());
  }

  // ---- operand stack (validation) -----------------------------------------------------------------
  uint32_t Height() const { return static_cast<uint32_t>(vals_.size()); }
  // The first slot of the value at `height`: past the locals, the widths of the values below it
  // (prefix_[h]; a v128 counts two). Like locs_, prefix_ is not shrunk by pops, so it still answers for
  // operands just popped. Heights never pushed occur only in unreachable code, which emits nothing.
  uint32_t Slot(uint32_t height) const {
    if (height < prefix_.size()) return num_locals_ + prefix_[height];
    return num_locals_ + prefix_.back() + (height - static_cast<uint32_t>(prefix_.size()) + 1);
  }
  static uint32_t Width(uint8_t t) { return t == V128 ? 2 : 1; }
  // Emits the copies that move a value of `width` slots.
  void EmitMove(uint32_t dst, uint32_t src, uint32_t width) {
    for (uint32_t k = 0; k < width; ++k) Emit(Op::Copy, dst + k, src + k);
  }
  // Emits a Simd op (ops.h): d sub a b c i0 i1 i2 i3.
  void EmitSimd(uint32_t sub, uint32_t d, uint32_t a = 0, uint32_t b = 0, uint32_t c = 0,
                const uint32_t* imm = nullptr) {
    Emit(Op::Simd, d, sub, a, b);
    W(c);
    for (int k = 0; k < 4; ++k) W(imm != nullptr ? imm[k] : 0);
  }
  // Every operand-stack value has a *location*: normally its own slot, Slot(height), but a local.get
  // pushes no code and leaves the value in the local's slot ("deferred"). Instructions read their
  // operands from these locations. locs_ is not shrunk by pops, so right after popping an
  // instruction's operands, Loc(Height() + k) is still the k-th operand's location.
  void Push(uint8_t t) { PushAt(t, Slot(Height())); }
  void PushLocal(uint8_t t, uint32_t local) {
    PushAt(t, local);
    deferred_.push_back(Height() - 1);
  }
  void PushAt(uint8_t t, uint32_t loc) {
    DropStaleDeferred();  // a deferred entry at this height belonged to a value already popped
    uint32_t h = Height();
    vals_.push_back(t);
    if (locs_.size() <= h) locs_.resize(h + 1);
    locs_[h] = loc;
    if (prefix_.size() <= h + 1) prefix_.resize(h + 2);
    prefix_[h + 1] = prefix_[h] + Width(t);
    max_height_ = std::max(max_height_, prefix_[h + 1]);
  }
  uint32_t Loc(uint32_t height) const { return height < locs_.size() ? locs_[height] : 0; }
  // A constant pushes no code either: its location is kConstLoc and its bits wait in consts_ until an
  // instruction takes it as an immediate or needs it in a slot.
  static constexpr uint32_t kConstLoc = UINT32_MAX;
  void PushConst(uint8_t t, uint64_t bits) {
    PushAt(t, kConstLoc);
    uint32_t h = Height() - 1;
    if (consts_.size() <= h) consts_.resize(h + 1);
    consts_[h] = {bits, t == I64 || t == F64};
    deferred_.push_back(h);
  }
  bool IsConst(uint32_t height) const { return Loc(height) == kConstLoc; }
  // Emits the constant at `height` into `dst`.
  void EmitConst(uint32_t height, uint32_t dst) {
    const ConstVal& c = consts_[height];
    if (c.wide)
      Emit(Op::Const64, dst, static_cast<uint32_t>(c.bits), static_cast<uint32_t>(c.bits >> 32));
    else
      Emit(Op::Const32, dst, static_cast<uint32_t>(c.bits));
  }
  // The location an instruction reads the (already popped) value at `height` from; a constant is first
  // written to the value's own slot. Only call when Live().
  uint32_t Operand(uint32_t height) {
    if (!IsConst(height)) return Loc(height);
    EmitConst(height, Slot(height));
    locs_[height] = Slot(height);
    return Slot(height);
  }
  void DropStaleDeferred() {
    while (!deferred_.empty() && deferred_.back() >= Height()) deferred_.pop_back();
  }
  // Copies deferred values into their own slots. Needed wherever control flow splits or joins (the
  // values must sit in the same place on every path), before calls (arguments must be contiguous), and
  // before a local they were read from is overwritten. `only_local` limits it to values of one local.
  void Materialize(uint32_t only_local = UINT32_MAX) {
    if (!Live()) return;
    DropStaleDeferred();
    size_t kept = 0;
    for (uint32_t h : deferred_) {
      if (only_local != UINT32_MAX && locs_[h] != only_local) {
        deferred_[kept++] = h;
        continue;
      }
      if (locs_[h] == kConstLoc)
        EmitConst(h, Slot(h));
      else
        EmitMove(Slot(h), locs_[h], Width(vals_[h]));
      locs_[h] = Slot(h);
    }
    deferred_.resize(kept);
  }
  bool Pop(uint8_t* out) {
    Ctrl& c = ctrls_.back();
    if (Height() == c.height) {
      if (c.unreachable) {
        *out = kUnknown;
        return true;
      }
      return Inv("type mismatch");
    }
    *out = vals_.back();
    vals_.pop_back();
    return true;
  }
  bool PopExpect(uint8_t expect) {
    uint8_t t = kUnknown;
    if (!Pop(&t)) return false;
    if (t != expect && t != kUnknown && expect != kUnknown) return Inv("type mismatch");
    return true;
  }
  bool PopTypes(const std::vector<ValType>& types) {
    for (size_t i = types.size(); i-- > 0;)
      if (!PopExpect(static_cast<uint8_t>(types[i]))) return false;
    return true;
  }
  void PushTypes(const std::vector<ValType>& types) {
    for (ValType t : types) Push(static_cast<uint8_t>(t));
  }

  // ---- control stack ------------------------------------------------------------------------------
  bool Live() const { return !ctrls_.back().unreachable && !ctrls_.back().dead; }
  void PushCtrl(CtrlKind kind, std::vector<ValType> params, std::vector<ValType> results, bool dead) {
    Ctrl c{kind, std::move(params), std::move(results), Height(), false, dead, 0, {}, kNoFixup};
    ctrls_.push_back(std::move(c));
    PushTypes(ctrls_.back().params);
  }
  void SetUnreachable() {
    vals_.resize(ctrls_.back().height);
    ctrls_.back().unreachable = true;
  }
  const std::vector<ValType>& LabelTypes(const Ctrl& c) const {
    return c.kind == kLoop ? c.params : c.results;
  }

  // ---- emission -----------------------------------------------------------------------------------
  uint32_t Pc() const { return static_cast<uint32_t>(code_.size()); }
  void Emit(Op op) {
    producer_pc_ = kNoFixup;
    code_.push_back(static_cast<uint32_t>(op));
  }
  // Marks the instruction just emitted at `pc` as writing its result to its first operand word, so a
  // following local.set can retarget it (see SetLocal).
  void Produced(uint32_t pc) { producer_pc_ = pc; }
  void W(uint32_t w) { code_.push_back(w); }
  void Emit(Op op, uint32_t a) { Emit(op), W(a); }
  void Emit(Op op, uint32_t a, uint32_t b) { Emit(op), W(a), W(b); }
  void Emit(Op op, uint32_t a, uint32_t b, uint32_t c) { Emit(op), W(a), W(b), W(c); }
  void Emit(Op op, uint32_t a, uint32_t b, uint32_t c, uint32_t d) { Emit(op), W(a), W(b), W(c), W(d); }

  // Moves the top `n` operand-stack values into place for a branch to `target`.
  void EmitBranchMoves(const Ctrl& target) {
    uint32_t n = static_cast<uint32_t>(LabelTypes(target).size());
    uint32_t src = Slot(Height() - n);
    uint32_t dst = target.kind == kFunction ? 0 : Slot(target.height);
    if (src == dst) return;
    uint32_t slots = Slot(Height()) - src;  // v128 values count two
    for (uint32_t i = 0; i < slots; ++i) Emit(Op::Copy, dst + i, src + i);
  }
  bool NeedsMoves(const Ctrl& target) const {
    uint32_t n = static_cast<uint32_t>(LabelTypes(target).size());
    uint32_t dst = target.kind == kFunction ? 0 : Slot(target.height);
    return n > 0 && Slot(Height() - n) != dst;
  }
  // Emits a jump to `target` (after the moves): to the loop head, a return, or a forward fixup.
  void EmitJumpTo(Ctrl& target) {
    if (target.kind == kFunction) {
      Emit(Op::Return);
    } else if (target.kind == kLoop) {
      Emit(Op::Jmp, target.loop_pc);
    } else {
      Emit(Op::Jmp, 0);
      target.fixups.push_back(Pc() - 1);
    }
  }
  // Makes the code word at `pos` jump to `target` (resolving now for loops, later for blocks).
  void BindWordTo(uint32_t pos, Ctrl& target) {
    if (target.kind == kLoop)
      code_[pos] = target.loop_pc;
    else
      target.fixups.push_back(pos);
  }

  // ---- immediates ---------------------------------------------------------------------------------
  bool ReadBlockType(std::vector<ValType>* params, std::vector<ValType>* results) {
    int64_t bt;
    if (!r_.S33(&bt)) return false;
    if (bt >= 0) {
      if (static_cast<uint64_t>(bt) >= m_.types.size()) return Inv("unknown type");
      *params = m_.types[bt].params;
      *results = m_.types[bt].results;
      return true;
    }
    if (bt < -64) return Mal("malformed value type");
    uint8_t byte = static_cast<uint8_t>(bt & 0x7F);
    if (byte == 0x40) return true;
    if (!IsValType(byte)) return Mal("malformed value type");
    results->push_back(static_cast<ValType>(byte));
    return true;
  }
  static bool IsValType(uint8_t b) {
    return b == I32 || b == I64 || b == F32 || b == F64 || b == V128 || b == 0x70 || b == 0x6F;
  }
  bool ReadIndex(uint32_t* x) { return r_.U32(x); }
  bool ReadZeroByte() {
    uint8_t b;
    if (!r_.U8(&b)) return false;
    if (b != 0) return Mal("zero byte expected");
    return true;
  }
  bool CheckMemory() {
    if (ctx_.memories.empty()) return Inv("unknown memory 0");
    return true;
  }
  bool CheckTable(uint32_t x) {
    if (x >= ctx_.tables.size()) return Inv("unknown table " + std::to_string(x));
    return true;
  }
  bool CheckDataIndex(uint32_t x) {
    if (!m_.data_count) return Mal("data count section required");
    if (x >= *m_.data_count) return Inv("unknown data segment " + std::to_string(x));
    return true;
  }
  bool CheckElemIndex(uint32_t x) {
    if (x >= m_.elems.size()) return Inv("unknown elem segment " + std::to_string(x));
    return true;
  }

  // ---- instructions -------------------------------------------------------------------------------
  bool Unary(const NumInfo& n) {
    if (!PopExpect(n.a)) return false;
    uint32_t d = Slot(Height()), a = Loc(Height());
    if (n.op == Op::kCount) {  // a reinterpretation: same bits, same location
      if (a == kConstLoc)
        PushConst(n.r, consts_[Height()].bits);
      else if (a != d)
        PushLocal(n.r, a);
      else
        Push(n.r);
      return true;
    }
    if (Live()) a = Operand(Height());
    Push(n.r);
    if (Live()) {
      uint32_t pc = Pc();
      Emit(n.op, d, a);
      Produced(pc);
    }
    return true;
  }
  bool Binary(const NumInfo& n) {
    if (!PopExpect(n.b) || !PopExpect(n.a)) return false;
    uint32_t h = Height(), d = Slot(h);
    if (!Live()) {
      Push(n.r);
      return true;
    }
    Op op = n.op;
    uint32_t a = 0, b = 0;
    Op imm_op = ImmForm(op);
    if (imm_op != Op::kCount && !IsConst(h) && IsConst(h + 1) && FitsImm(h + 1)) {
      op = imm_op, a = Loc(h), b = static_cast<uint32_t>(consts_[h + 1].bits);
    } else if (imm_op != Op::kCount && IsCommutative(op) && IsConst(h) && !IsConst(h + 1) && FitsImm(h)) {
      op = imm_op, a = Loc(h + 1), b = static_cast<uint32_t>(consts_[h].bits);
    } else {
      a = Operand(h), b = Operand(h + 1);
    }
    Push(n.r);
    uint32_t pc = Pc();
    Emit(op, d, a, b);
    Produced(pc);
    return true;
  }
  bool Numeric(const NumInfo& n) { return n.b ? Binary(n) : Unary(n); }

  // The immediate form of a binary op, or kCount when it has none (see WASMQ_IMM_OPS).
  static Op ImmForm(Op op) {
    switch (op) {
      case Op::I32Eq: return Op::I32EqImm;
      case Op::I32Ne: return Op::I32NeImm;
      case Op::I32LtS: return Op::I32LtSImm;
      case Op::I32LtU: return Op::I32LtUImm;
      case Op::I32GtS: return Op::I32GtSImm;
      case Op::I32GtU: return Op::I32GtUImm;
      case Op::I32LeS: return Op::I32LeSImm;
      case Op::I32LeU: return Op::I32LeUImm;
      case Op::I32GeS: return Op::I32GeSImm;
      case Op::I32GeU: return Op::I32GeUImm;
      case Op::I32Add: return Op::I32AddImm;
      case Op::I32Sub: return Op::I32SubImm;
      case Op::I32Mul: return Op::I32MulImm;
      case Op::I32And: return Op::I32AndImm;
      case Op::I32Or: return Op::I32OrImm;
      case Op::I32Xor: return Op::I32XorImm;
      case Op::I32Shl: return Op::I32ShlImm;
      case Op::I32ShrS: return Op::I32ShrSImm;
      case Op::I32ShrU: return Op::I32ShrUImm;
      case Op::I64Eq: return Op::I64EqImm;
      case Op::I64Ne: return Op::I64NeImm;
      case Op::I64LtS: return Op::I64LtSImm;
      case Op::I64LtU: return Op::I64LtUImm;
      case Op::I64GtS: return Op::I64GtSImm;
      case Op::I64GtU: return Op::I64GtUImm;
      case Op::I64LeS: return Op::I64LeSImm;
      case Op::I64LeU: return Op::I64LeUImm;
      case Op::I64GeS: return Op::I64GeSImm;
      case Op::I64GeU: return Op::I64GeUImm;
      case Op::I64Add: return Op::I64AddImm;
      case Op::I64Sub: return Op::I64SubImm;
      case Op::I64Mul: return Op::I64MulImm;
      case Op::I64And: return Op::I64AndImm;
      case Op::I64Or: return Op::I64OrImm;
      case Op::I64Xor: return Op::I64XorImm;
      case Op::I64Shl: return Op::I64ShlImm;
      case Op::I64ShrS: return Op::I64ShrSImm;
      case Op::I64ShrU: return Op::I64ShrUImm;
      default: return Op::kCount;
    }
  }
  static bool IsCommutative(Op op) {
    switch (op) {
      case Op::I32Add: case Op::I32Mul: case Op::I32And: case Op::I32Or: case Op::I32Xor:
      case Op::I32Eq: case Op::I32Ne: case Op::I64Add: case Op::I64Mul: case Op::I64And:
      case Op::I64Or: case Op::I64Xor: case Op::I64Eq: case Op::I64Ne:
        return true;
      default: return false;
    }
  }
  // i32 immediates are any 32 bits; i64 immediates must survive sign extension from 32 bits.
  bool FitsImm(uint32_t height) const {
    const ConstVal& c = consts_[height];
    return !c.wide || static_cast<int64_t>(c.bits) == static_cast<int32_t>(static_cast<uint32_t>(c.bits));
  }

  bool MemAccess(uint8_t opcode) {
    const MemInfo& mi = kMemOps[opcode - 0x28];
    uint32_t align, offset;
    if (!r_.U32(&align) || !r_.U32(&offset)) return false;
    if (!CheckMemory()) return false;
    if (align > mi.log2_size) return Inv("alignment must not be larger than natural");
    Op op = static_cast<Op>(static_cast<uint32_t>(Op::I32Load) + (opcode - 0x28));
    if (mi.store) {
      if (!PopExpect(mi.type) || !PopExpect(I32)) return false;
      if (Live()) {
        uint32_t a = Operand(Height()), v = Operand(Height() + 1);
        Emit(op, a, v, offset);
      }
    } else {
      if (!PopExpect(I32)) return false;
      uint32_t d = Slot(Height()), a = Live() ? Operand(Height()) : 0;
      Push(mi.type);
      if (Live()) {
        uint32_t pc = Pc();
        Emit(op, d, a, offset);
        Produced(pc);
      }
    }
    return true;
  }

  bool Branch(uint32_t depth, bool conditional) {
    if (depth >= ctrls_.size()) return Inv("unknown label");
    Ctrl& target = ctrls_[ctrls_.size() - 1 - depth];
    uint32_t cond_slot = 0;
    FusedCompare fused;
    if (conditional) {
      if (!PopExpect(I32)) return false;
      cond_slot = Live() ? Operand(Height()) : 0;
      fused = TakeCompare(cond_slot);
    }
    Materialize();
    const auto& types = LabelTypes(target);
    if (!PopTypes(types)) return false;
    PushTypes(types);
    if (Live()) {
      if (!conditional) {
        EmitBranchMoves(target);
        EmitJumpTo(target);
      } else if (!NeedsMoves(target) && target.kind != kFunction) {
        BindWordTo(EmitCondJump(true, cond_slot, fused), target);
      } else {
        uint32_t skip = EmitCondJump(false, cond_slot, fused);
        EmitBranchMoves(target);
        EmitJumpTo(target);
        code_[skip] = Pc();
      }
    }
    if (!conditional) SetUnreachable();
    return true;
  }

  bool BrTable() {
    uint32_t count;
    if (!r_.U32(&count)) return false;
    if (count > r_.remaining()) return Mal("unexpected end");
    std::vector<uint32_t> depths(count + 1);
    for (uint32_t& d : depths)
      if (!r_.U32(&d)) return false;
    if (!PopExpect(I32)) return false;
    uint32_t index_slot = Live() ? Operand(Height()) : 0;
    Materialize();
    size_t arity = SIZE_MAX;
    for (uint32_t d : depths) {
      if (d >= ctrls_.size()) return Inv("unknown label");
      const auto& types = LabelTypes(ctrls_[ctrls_.size() - 1 - d]);
      if (arity == SIZE_MAX) arity = types.size();
      if (types.size() != arity) return Inv("type mismatch");
      // Each label's types must match the stack; pop and push back so the next label sees the same.
      std::vector<uint8_t> popped;
      for (size_t i = types.size(); i-- > 0;) {
        uint8_t t = kUnknown;
        if (!Pop(&t)) return false;
        if (t != kUnknown && t != static_cast<uint8_t>(types[i])) return Inv("type mismatch");
        popped.push_back(t);
      }
      for (size_t i = popped.size(); i-- > 0;) vals_.push_back(popped[i]);
    }
    if (Live()) {
      Emit(Op::BrTable, index_slot, count);
      uint32_t table = Pc();
      code_.resize(code_.size() + count + 1);
      for (uint32_t i = 0; i <= count; ++i) {
        Ctrl& target = ctrls_[ctrls_.size() - 1 - depths[i]];
        if (target.kind != kFunction && !NeedsMoves(target)) {
          BindWordTo(table + i, target);
        } else {  // a stub after the table does the moves, then jumps or returns
          code_[table + i] = Pc();
          EmitBranchMoves(target);
          EmitJumpTo(target);
        }
      }
    }
    SetUnreachable();
    return true;
  }

  bool Call(uint32_t type_index, bool indirect, uint32_t func_or_table, uint32_t type_for_indirect) {
    const FuncType& ft = m_.types[type_index];
    uint32_t index_slot = 0;
    Materialize();  // the arguments must sit in consecutive slots: they become the callee's frame
    if (indirect) {
      if (!PopExpect(I32)) return false;
      index_slot = Slot(Height());
    }
    if (!PopTypes(ft.params)) return false;
    uint32_t base = Slot(Height());
    PushTypes(ft.results);
    if (Live()) {
      if (indirect)
        Emit(Op::CallIndirect, type_for_indirect, func_or_table, base, index_slot);
      else
        Emit(Op::Call, func_or_table, base);
    }
    return true;
  }

  bool End() {
    Materialize();
    producer_pc_ = kNoFixup;  // the end is a branch target: no retargeting across it
    Ctrl& c = ctrls_.back();
    if (!PopTypes(c.results)) return false;
    if (Height() != c.height) return Inv("type mismatch");
    if (c.kind == kIf && c.params != c.results) return Inv("type mismatch");  // implicit else
    if (c.kind == kFunction) {
      if (Live()) {  // the results sit at the bottom of the operand stack; return them in fp[0..)
        uint32_t base = Slot(c.height), slots = SlotCount(c.results);
        if (base != 0)
          for (uint32_t i = 0; i < slots; ++i) Emit(Op::Copy, i, base + i);
        Emit(Op::Return);
      }
      ctrls_.pop_back();
      return true;
    }
    uint32_t end = Pc();
    if (c.else_fixup != kNoFixup) code_[c.else_fixup] = end;
    for (uint32_t pos : c.fixups) code_[pos] = end;
    std::vector<ValType> results = std::move(c.results);
    ctrls_.pop_back();
    PushTypes(results);
    return true;
  }

  bool Else() {
    Ctrl& c = ctrls_.back();
    if (c.kind != kIf) return Mal("else without if");
    Materialize();
    if (!PopTypes(c.results)) return false;
    if (Height() != c.height) return Inv("type mismatch");
    if (!c.dead) {
      if (!c.unreachable) {
        Emit(Op::Jmp, 0);
        c.fixups.push_back(Pc() - 1);
      }
      code_[c.else_fixup] = Pc();
      c.else_fixup = kNoFixup;
    }
    producer_pc_ = kNoFixup;
    c.kind = kElse;
    c.unreachable = false;
    PushTypes(c.params);
    return true;
  }

  // local.set x of the value at location `src` (already popped). If the instruction just emitted
  // computed that value into its stack slot, it is retargeted to write x directly (no Copy). Values
  // still deferred on x are first copied out, since x is about to change.
  void SetLocal(uint32_t x, uint32_t height, uint32_t width) {
    uint32_t producer = producer_pc_;
    Materialize(x);
    if (IsConst(height)) {  // a constant goes straight into the local
      EmitConst(height, x);
      return;
    }
    uint32_t src = Loc(height);
    if (producer != kNoFixup && producer_pc_ == producer && src == Slot(Height()) &&
        code_[producer + 1] == src) {
      code_[producer + 1] = x;
      producer_pc_ = kNoFixup;
      return;
    }
    if (src != x) EmitMove(x, src, width);
  }

  // If the condition at `cond_slot` was computed by the instruction just emitted and that is an i32
  // comparison (or eqz), removes it and returns it, so the branch can test the operands itself.
  struct FusedCompare {
    Op op = Op::kCount;  // I32Eq..I32GeU or I32Eqz
    uint32_t a = 0, b = 0;
  };
  FusedCompare TakeCompare(uint32_t cond_slot) {
    FusedCompare f;
    if (!Live() || producer_pc_ == kNoFixup || cond_slot != Slot(Height()) ||
        code_[producer_pc_ + 1] != cond_slot)
      return f;
    Op op = static_cast<Op>(code_[producer_pc_]);
    bool cmp = op >= Op::I32Eq && op <= Op::I32GeU;
    bool cmp_imm = op >= Op::I32EqImm && op <= Op::I32GeUImm;
    if (!cmp && !cmp_imm && op != Op::I32Eqz) return f;
    f.op = op;
    f.a = code_[producer_pc_ + 2];
    if (cmp || cmp_imm) f.b = code_[producer_pc_ + 3];
    code_.resize(producer_pc_);
    producer_pc_ = kNoFixup;
    return f;
  }
  // Emits "if cond (is true / is false) goto <target word, returned>", fused with `f` when it has one.
  uint32_t EmitCondJump(bool if_true, uint32_t cond_slot, const FusedCompare& f) {
    if (f.op == Op::I32Eqz) {
      Emit(if_true ? Op::BrIfI32Eqz : Op::BrUnlessI32Eqz, f.a, 0);
    } else if (f.op >= Op::I32EqImm && f.op <= Op::I32GeUImm) {
      uint32_t base = static_cast<uint32_t>(if_true ? Op::BrIfI32EqImm : Op::BrUnlessI32EqImm);
      Emit(static_cast<Op>(base + (static_cast<uint32_t>(f.op) - static_cast<uint32_t>(Op::I32EqImm))),
           f.a, f.b, 0);
    } else if (f.op != Op::kCount) {
      uint32_t base = static_cast<uint32_t>(if_true ? Op::BrIfI32Eq : Op::BrUnlessI32Eq);
      Emit(static_cast<Op>(base + (static_cast<uint32_t>(f.op) - static_cast<uint32_t>(Op::I32Eq))), f.a,
           f.b, 0);
    } else {
      Emit(if_true ? Op::BrIf : Op::BrUnless, cond_slot, 0);
    }
    return Pc() - 1;
  }

  bool Instruction();
  bool PrefixedFC();
  bool PrefixedFD();

  const ModuleContext& ctx_;
  const ModuleInfo& m_;
  const FunctionBody& body_;
  CompiledFunc* out_;
  Reader r_;
  const FuncType* type_;
  std::vector<ValType> locals_;
  std::vector<uint32_t> local_slot_;  // first slot of each local
  uint32_t num_locals_ = 0;           // slots the locals take (params included)
  std::vector<uint32_t> prefix_ = {0};  // see Slot()
  std::vector<uint8_t> vals_;
  std::vector<uint32_t> locs_;      // location of each operand-stack value (see Push)
  std::vector<uint32_t> deferred_;  // heights whose value is still in a local's slot or a constant
  struct ConstVal {
    uint64_t bits;
    bool wide;
  };
  std::vector<ConstVal> consts_;     // bits of deferred constants, by height
  uint32_t producer_pc_ = kNoFixup; // see Produced()
  std::vector<Ctrl> ctrls_;
  std::vector<uint32_t> code_;
  uint32_t max_height_ = 0;
  std::optional<Error> error_;
};

bool FunctionCompiler::Instruction() {
  uint8_t op;
  if (!r_.U8(&op)) return false;
  switch (op) {
    case 0x00:  // unreachable
      if (Live()) Emit(Op::Unreachable);
      SetUnreachable();
      return true;
    case 0x01:  // nop
      return true;
    case 0x02:    // block
    case 0x03:    // loop
    case 0x04: {  // if
      std::vector<ValType> params, results;
      if (!ReadBlockType(&params, &results)) return false;
      uint32_t cond_slot = 0;
      FusedCompare fused;
      if (op == 0x04) {
        if (!PopExpect(I32)) return false;
        cond_slot = Live() ? Operand(Height()) : 0;
        fused = TakeCompare(cond_slot);
      }
      Materialize();  // values live across the block's paths must be in their own slots
      if (!PopTypes(params)) return false;
      bool dead = !Live();
      CtrlKind kind = op == 0x02 ? kBlock : op == 0x03 ? kLoop : kIf;
      PushCtrl(kind, std::move(params), std::move(results), dead);
      Ctrl& c = ctrls_.back();
      if (dead) return true;
      if (kind == kLoop) {
        c.loop_pc = Pc();
        Emit(Op::Check);
      } else if (kind == kIf) {
        // The else branch is entered only through this jump, before the then branch has touched the
        // param slots, so an if with params needs no copies of them.
        c.else_fixup = EmitCondJump(false, cond_slot, fused);
      }
      return true;
    }
    case 0x05:
      return Else();
    case 0x0B:
      return End();
    case 0x0C:
    case 0x0D: {  // br, br_if
      uint32_t depth;
      if (!r_.U32(&depth)) return false;
      return Branch(depth, op == 0x0D);
    }
    case 0x0E:
      return BrTable();
    case 0x0F: {  // return
      Materialize();
      Ctrl& fn = ctrls_.front();
      if (!PopTypes(fn.results)) return false;
      if (Live()) {
        PushTypes(fn.results);
        EmitBranchMoves(fn);
        Emit(Op::Return);
      }
      SetUnreachable();
      return true;
    }
    case 0x10: {  // call
      uint32_t x;
      if (!ReadIndex(&x)) return false;
      if (x >= ctx_.func_types.size()) return Inv("unknown function " + std::to_string(x));
      return Call(ctx_.func_types[x], false, x, 0);
    }
    case 0x11: {  // call_indirect
      uint32_t type_index, table;
      if (!ReadIndex(&type_index) || !ReadIndex(&table)) return false;
      if (!CheckTable(table)) return false;
      if (type_index >= m_.types.size()) return Inv("unknown type");
      if (ctx_.tables[table].elem != ValType::FuncRef) return Inv("type mismatch");
      return Call(type_index, true, table, type_index);
    }
    case 0x1A: {  // drop
      uint8_t t = kUnknown;
      return Pop(&t);
    }
    case 0x1B:    // select
    case 0x1C: {  // select t
      uint8_t want = kUnknown;
      if (op == 0x1C) {
        uint32_t n;
        if (!r_.U32(&n)) return false;
        if (n != 1) return Inv("invalid result arity");
        uint8_t b;
        if (!r_.U8(&b)) return false;
        if (!IsValType(b)) return Mal("malformed value type");
        want = b;
      }
      uint8_t t1 = kUnknown, t2 = kUnknown;
      if (!PopExpect(I32) || !Pop(&t1) || !Pop(&t2)) return false;
      uint8_t t = want;
      if (op == 0x1B) {
        bool ref1 = t1 != kUnknown && IsRef(static_cast<ValType>(t1));
        bool ref2 = t2 != kUnknown && IsRef(static_cast<ValType>(t2));
        if (ref1 || ref2) return Inv("type mismatch");
        if (t1 != kUnknown && t2 != kUnknown && t1 != t2) return Inv("type mismatch");
        t = t1 == kUnknown ? t2 : t1;
      } else if ((t1 != kUnknown && t1 != want) || (t2 != kUnknown && t2 != want)) {
        return Inv("type mismatch");
      }
      uint32_t d = Slot(Height()), a = 0, b = 0, c = 0;
      if (Live()) a = Operand(Height()), b = Operand(Height() + 1), c = Operand(Height() + 2);
      Push(t);
      if (Live()) {
        uint32_t pc = Pc();
        if (t == V128)
          EmitSimd(kSimdSelect, d, a, b, c);
        else
          Emit(Op::Select, d, a, b, c);
        Produced(pc);
      }
      return true;
    }
    case 0x20:
    case 0x21:
    case 0x22: {  // local.get / set / tee
      uint32_t x;
      if (!ReadIndex(&x)) return false;
      if (x >= locals_.size()) return Inv("unknown local " + std::to_string(x));
      uint8_t t = static_cast<uint8_t>(locals_[x]);
      uint32_t slot = local_slot_[x];
      if (op == 0x20) {
        PushLocal(t, slot);  // no code: readers use the local's slot until it is overwritten
        return true;
      }
      if (!PopExpect(t)) return false;
      if (Live()) SetLocal(slot, Height(), Width(t));
      if (op == 0x22) PushLocal(t, slot);
      return true;
    }
    case 0x23:
    case 0x24: {  // global.get / set
      uint32_t x;
      if (!ReadIndex(&x)) return false;
      if (x >= ctx_.globals.size()) return Inv("unknown global " + std::to_string(x));
      const GlobalType& g = ctx_.globals[x];
      const uint32_t imm[4] = {x, 0, 0, 0};
      if (op == 0x23) {
        uint32_t d = Slot(Height());
        Push(static_cast<uint8_t>(g.type));
        if (Live()) {
          uint32_t pc = Pc();
          if (g.type == ValType::V128)
            EmitSimd(kSimdGlobalGet, d, 0, 0, 0, imm);
          else
            Emit(Op::GlobalGet, d, x);
          Produced(pc);
        }
      } else {
        if (!g.mut) return Inv("global is immutable");
        if (!PopExpect(static_cast<uint8_t>(g.type))) return false;
        if (Live()) {
          if (g.type == ValType::V128)
            EmitSimd(kSimdGlobalSet, 0, Operand(Height()), 0, 0, imm);
          else
            Emit(Op::GlobalSet, x, Operand(Height()));
        }
      }
      return true;
    }
    case 0x25:
    case 0x26: {  // table.get / set
      uint32_t x;
      if (!ReadIndex(&x) || !CheckTable(x)) return false;
      Materialize();  // rare instructions: operands simply come from their own slots
      uint8_t t = static_cast<uint8_t>(ctx_.tables[x].elem);
      if (op == 0x25) {
        if (!PopExpect(I32)) return false;
        uint32_t i = Slot(Height());
        Push(t);
        if (Live()) Emit(Op::TableGet, i, x, i);
      } else {
        if (!PopExpect(t) || !PopExpect(I32)) return false;
        uint32_t i = Slot(Height());
        if (Live()) Emit(Op::TableSet, x, i, i + 1);
      }
      return true;
    }
    case 0x3F:
    case 0x40: {  // memory.size / grow
      if (!ReadZeroByte() || !CheckMemory()) return false;
      Materialize();
      if (op == 0x3F) {
        uint32_t d = Slot(Height());
        Push(I32);
        if (Live()) Emit(Op::MemorySize, d);
      } else {
        if (!PopExpect(I32)) return false;
        uint32_t a = Slot(Height());
        Push(I32);
        if (Live()) Emit(Op::MemoryGrow, a, a);
      }
      return true;
    }
    case 0x41: {
      int32_t v;
      if (!r_.S32(&v)) return false;
      PushConst(I32, static_cast<uint32_t>(v));
      return true;
    }
    case 0x42: {
      int64_t v;
      if (!r_.S64(&v)) return false;
      PushConst(I64, static_cast<uint64_t>(v));
      return true;
    }
    case 0x43: {
      uint32_t bits;
      if (!r_.Fixed32(&bits)) return false;
      PushConst(F32, bits);
      return true;
    }
    case 0x44: {
      uint64_t bits;
      if (!r_.Fixed64(&bits)) return false;
      PushConst(F64, bits);
      return true;
    }
    case 0xD0: {  // ref.null t
      uint8_t t = kUnknown;
      if (!r_.U8(&t)) return false;
      if (t != 0x70 && t != 0x6F) return Mal("malformed reference type");
      PushConst(t, 0);
      return true;
    }
    case 0xD1: {  // ref.is_null
      uint8_t t = kUnknown;
      if (!Pop(&t)) return false;
      if (t != kUnknown && !IsRef(static_cast<ValType>(t))) return Inv("type mismatch");
      uint32_t d = Slot(Height()), a = Live() ? Operand(Height()) : 0;
      Push(I32);
      if (Live()) Emit(Op::RefIsNull, d, a);
      return true;
    }
    case 0xD2: {  // ref.func x
      uint32_t x;
      if (!ReadIndex(&x)) return false;
      if (x >= ctx_.func_types.size()) return Inv("unknown function " + std::to_string(x));
      if (!ctx_.declared_funcs.count(x)) return Inv("undeclared function reference");
      uint32_t d = Slot(Height());
      Push(0x70);
      if (Live()) {
        uint32_t pc = Pc();
        Emit(Op::RefFunc, d, x);
        Produced(pc);
      }
      return true;
    }
    case 0xFC:
      return PrefixedFC();
    case 0xFD:
      return PrefixedFD();
    default:
      if (op >= 0x28 && op <= 0x3E) return MemAccess(op);
      if (op >= 0x45 && op <= 0xC4) return Numeric(kNumeric[op - 0x45]);
      return Mal("illegal opcode");
  }
}

bool FunctionCompiler::PrefixedFC() {
  uint32_t sub;
  if (!r_.U32(&sub)) return false;
  if (sub <= 7) return Numeric(kSatTrunc[sub]);
  Materialize();  // bulk memory and table instructions read their operands from their own slots
  switch (sub) {
    case 8: {  // memory.init x
      uint32_t x;
      if (!ReadIndex(&x) || !ReadZeroByte() || !CheckMemory() || !CheckDataIndex(x)) return false;
      if (!PopExpect(I32) || !PopExpect(I32) || !PopExpect(I32)) return false;
      uint32_t d = Slot(Height());
      if (Live()) Emit(Op::MemoryInit, x, d, d + 1, d + 2);
      return true;
    }
    case 9: {  // data.drop x
      uint32_t x;
      if (!ReadIndex(&x) || !CheckDataIndex(x)) return false;
      if (Live()) Emit(Op::DataDrop, x);
      return true;
    }
    case 10:    // memory.copy
    case 11: {  // memory.fill
      if (!ReadZeroByte() || (sub == 10 && !ReadZeroByte()) || !CheckMemory()) return false;
      if (!PopExpect(I32) || !PopExpect(I32) || !PopExpect(I32)) return false;
      uint32_t d = Slot(Height());
      if (Live()) Emit(sub == 10 ? Op::MemoryCopy : Op::MemoryFill, d, d + 1, d + 2);
      return true;
    }
    case 12: {  // table.init x t
      uint32_t x, t;
      if (!ReadIndex(&x) || !ReadIndex(&t) || !CheckElemIndex(x) || !CheckTable(t)) return false;
      if (m_.elems[x].type != ctx_.tables[t].elem) return Inv("type mismatch");
      if (!PopExpect(I32) || !PopExpect(I32) || !PopExpect(I32)) return false;
      uint32_t d = Slot(Height());
      if (Live()) {
        Emit(Op::TableInit, x, t, d, d + 1), W(d + 2);
      }
      return true;
    }
    case 13: {  // elem.drop x
      uint32_t x;
      if (!ReadIndex(&x) || !CheckElemIndex(x)) return false;
      if (Live()) Emit(Op::ElemDrop, x);
      return true;
    }
    case 14: {  // table.copy dst src
      uint32_t dt, st;
      if (!ReadIndex(&dt) || !ReadIndex(&st) || !CheckTable(dt) || !CheckTable(st)) return false;
      if (ctx_.tables[dt].elem != ctx_.tables[st].elem) return Inv("type mismatch");
      if (!PopExpect(I32) || !PopExpect(I32) || !PopExpect(I32)) return false;
      uint32_t d = Slot(Height());
      if (Live()) {
        Emit(Op::TableCopy, dt, st, d, d + 1), W(d + 2);
      }
      return true;
    }
    case 15: {  // table.grow t
      uint32_t t;
      if (!ReadIndex(&t) || !CheckTable(t)) return false;
      if (!PopExpect(I32) || !PopExpect(static_cast<uint8_t>(ctx_.tables[t].elem))) return false;
      uint32_t v = Slot(Height());
      Push(I32);
      if (Live()) Emit(Op::TableGrow, v, t, v, v + 1);
      return true;
    }
    case 16: {  // table.size t
      uint32_t t;
      if (!ReadIndex(&t) || !CheckTable(t)) return false;
      uint32_t d = Slot(Height());
      Push(I32);
      if (Live()) Emit(Op::TableSize, d, t);
      return true;
    }
    case 17: {  // table.fill t
      uint32_t t;
      if (!ReadIndex(&t) || !CheckTable(t)) return false;
      if (!PopExpect(I32) || !PopExpect(static_cast<uint8_t>(ctx_.tables[t].elem)) || !PopExpect(I32))
        return false;
      uint32_t i = Slot(Height());
      if (Live()) Emit(Op::TableFill, t, i, i + 1, i + 2);
      return true;
    }
    default:
      return Mal("illegal opcode");
  }
}

// 0xFD: SIMD. Every instruction becomes one Simd op (ops.h) carrying its sub-opcode; simd.h says what
// each one pops and pushes.
bool FunctionCompiler::PrefixedFD() {
  uint32_t sub;
  if (!r_.U32(&sub)) return false;
  const SimdInfo& info = SimdOpInfo(sub);
  using S = SimdShape;
  uint32_t imm[4] = {0, 0, 0, 0};
  auto read16 = [&]() {
    const uint8_t* p;
    if (!r_.Bytes(16, &p)) return false;
    std::memcpy(imm, p, 16);
    return true;
  };
  auto read_lane = [&](uint32_t* lane) {
    uint8_t b;
    if (!r_.U8(&b)) return false;
    if (b >= info.lanes) return Inv("invalid lane index");
    *lane = b;
    return true;
  };
  // Pops `n` v128/scalar operands (types given bottom first) and pushes `result` (0: nothing), then
  // emits the op with the operands' locations as a, b, c.
  auto emit = [&](std::initializer_list<uint8_t> operands, uint8_t result) {
    const uint8_t* types = operands.begin();
    const uint32_t n = static_cast<uint32_t>(operands.size());
    for (uint32_t k = n; k-- > 0;)
      if (!PopExpect(types[k])) return false;
    const uint32_t h = Height(), d = Slot(h);
    uint32_t loc[3] = {0, 0, 0};
    if (Live())
      for (uint32_t k = 0; k < n; ++k) loc[k] = Operand(h + k);
    if (result != 0) Push(result);
    if (Live()) {
      uint32_t pc = Pc();
      EmitSimd(sub, d, loc[0], loc[1], loc[2], imm);
      if (result != 0) Produced(pc);
    }
    return true;
  };
  switch (info.shape) {
    case S::kNone: return Mal("illegal opcode");
    case S::kLoad:
    case S::kStore:
    case S::kLoadLane:
    case S::kStoreLane: {
      const bool lane_form = info.shape == S::kLoadLane || info.shape == S::kStoreLane;
      uint32_t align, offset, lane = 0;
      if (!r_.U32(&align) || !r_.U32(&offset)) return false;
      if (lane_form && !read_lane(&lane)) return false;
      if (!CheckMemory()) return false;
      if (align > info.log2_size) return Inv("alignment must not be larger than natural");
      imm[0] = offset, imm[1] = lane;
      switch (info.shape) {
        case S::kLoad: return emit({I32}, V128);
        case S::kStore: return emit({I32, V128}, 0);
        case S::kLoadLane: return emit({I32, V128}, V128);
        default: return emit({I32, V128}, 0);
      }
    }
    case S::kConst: return read16() && emit({}, V128);
    case S::kShuffle: {
      if (!read16()) return false;
      uint8_t lanes[16];
      std::memcpy(lanes, imm, 16);
      for (uint8_t l : lanes)
        if (l >= 32) return Inv("invalid lane index");
      return emit({V128, V128}, V128);
    }
    case S::kSplat: return emit({info.scalar}, V128);
    case S::kExtract: return read_lane(&imm[0]) && emit({V128}, info.scalar);
    case S::kReplace: return read_lane(&imm[0]) && emit({V128, info.scalar}, V128);
    case S::kUnary: return emit({V128}, V128);
    case S::kBinary: return emit({V128, V128}, V128);
    case S::kTernary: return emit({V128, V128, V128}, V128);
    case S::kTest: return emit({V128}, I32);
    case S::kShift: return emit({V128, I32}, V128);
  }
  return Mal("illegal opcode");
}

// ---- module-level validation -------------------------------------------------------------------------

Result<void> CheckLimits(const Limits& l, uint64_t bound, const char* too_big) {
  if (l.min > bound || (l.max && *l.max > bound)) return Invalid(too_big);
  if (l.max && l.min > *l.max) return Invalid("size minimum must not be greater than maximum");
  return {};
}
Result<void> CheckMemoryType(const MemoryType& t) {
  return CheckLimits(t.limits, kMaxPages, "memory size must be at most 65536 pages (4GiB)");
}
Result<void> CheckTableType(const TableType& t) {
  return CheckLimits(t.limits, UINT32_MAX, "table size must be at most 2^32-1");
}

// Validates a constant expression and returns its type through *type.
Result<void> CheckConstExpr(const ModuleContext& ctx, const ConstExpr& e, ValType expected) {
  ValType t;
  switch (e.op) {
    case ConstExpr::Op::I32Const: t = ValType::I32; break;
    case ConstExpr::Op::I64Const: t = ValType::I64; break;
    case ConstExpr::Op::F32Const: t = ValType::F32; break;
    case ConstExpr::Op::F64Const: t = ValType::F64; break;
    case ConstExpr::Op::V128Const: t = ValType::V128; break;
    case ConstExpr::Op::RefNull: t = e.ref_type; break;
    case ConstExpr::Op::RefFunc:
      if (e.index >= ctx.func_types.size()) return Invalid("unknown function " + std::to_string(e.index));
      t = ValType::FuncRef;
      break;
    case ConstExpr::Op::GlobalGet:
      // In WebAssembly 2.0 a constant expression may only read imported, immutable globals.
      if (e.index >= ctx.m.num_imported_globals)
        return Invalid("unknown global " + std::to_string(e.index));
      if (ctx.globals[e.index].mut) return Invalid("constant expression required");
      t = ctx.globals[e.index].type;
      break;
    default: return Invalid("constant expression required");
  }
  if (t != expected) return Invalid("type mismatch");
  return {};
}

Result<void> ValidateModule(ModuleContext& ctx) {
  const ModuleInfo& m = ctx.m;
  for (const Import& imp : m.imports) {
    switch (imp.kind) {
      case ExternKind::Func:
        if (imp.type_index >= m.types.size()) return Invalid("unknown type");
        ctx.func_types.push_back(imp.type_index);
        break;
      case ExternKind::Table:
        if (auto r = CheckTableType(imp.table); !r) return r.error();
        ctx.tables.push_back(imp.table);
        break;
      case ExternKind::Memory:
        if (auto r = CheckMemoryType(imp.memory); !r) return r.error();
        ctx.memories.push_back(imp.memory);
        break;
      case ExternKind::Global: ctx.globals.push_back(imp.global); break;
    }
  }
  for (uint32_t t : m.functions) {
    if (t >= m.types.size()) return Invalid("unknown type");
    ctx.func_types.push_back(t);
  }
  for (const TableType& t : m.tables) {
    if (auto r = CheckTableType(t); !r) return r.error();
    ctx.tables.push_back(t);
  }
  for (const MemoryType& t : m.memories) {
    if (auto r = CheckMemoryType(t); !r) return r.error();
    ctx.memories.push_back(t);
  }
  if (ctx.memories.size() > 1) return Invalid("multiple memories");

  // C.refs: functions referenced outside function bodies may be named by ref.func.
  for (const Global& g : m.globals)
    if (g.init.op == ConstExpr::Op::RefFunc) ctx.declared_funcs.insert(g.init.index);
  for (const ElemSegment& e : m.elems)
    for (const ConstExpr& init : e.inits)
      if (init.op == ConstExpr::Op::RefFunc) ctx.declared_funcs.insert(init.index);
  for (const Export& e : m.exports)
    if (e.kind == ExternKind::Func) ctx.declared_funcs.insert(e.index);

  for (const Global& g : m.globals) {
    if (auto r = CheckConstExpr(ctx, g.init, g.type.type); !r) return r.error();
    ctx.globals.push_back(g.type);
  }

  std::set<std::string_view> names;
  for (const Export& e : m.exports) {
    if (!names.insert(e.name).second) return Invalid("duplicate export name");
    size_t bound = 0;
    const char* what = "";
    switch (e.kind) {
      case ExternKind::Func: bound = ctx.func_types.size(), what = "unknown function "; break;
      case ExternKind::Table: bound = ctx.tables.size(), what = "unknown table "; break;
      case ExternKind::Memory: bound = ctx.memories.size(), what = "unknown memory "; break;
      case ExternKind::Global: bound = ctx.globals.size(), what = "unknown global "; break;
    }
    if (e.index >= bound) return Invalid(what + std::to_string(e.index));
  }

  if (m.start) {
    if (*m.start >= ctx.func_types.size()) return Invalid("unknown function " + std::to_string(*m.start));
    const FuncType& ft = m.types[ctx.func_types[*m.start]];
    if (!ft.params.empty() || !ft.results.empty()) return Invalid("start function");
  }

  for (const ElemSegment& e : m.elems) {
    if (e.mode == SegmentMode::Active) {
      if (e.table_index >= ctx.tables.size())
        return Invalid("unknown table " + std::to_string(e.table_index));
      if (ctx.tables[e.table_index].elem != e.type) return Invalid("type mismatch");
      if (auto r = CheckConstExpr(ctx, e.offset, ValType::I32); !r) return r.error();
    }
    for (const ConstExpr& init : e.inits)
      if (auto r = CheckConstExpr(ctx, init, e.type); !r) return r.error();
  }
  for (const DataSegment& d : m.datas) {
    if (d.mode != SegmentMode::Active) continue;
    if (d.memory_index >= ctx.memories.size())
      return Invalid("unknown memory " + std::to_string(d.memory_index));
    if (auto r = CheckConstExpr(ctx, d.offset, ValType::I32); !r) return r.error();
  }
  return {};
}

}  // namespace

Result<std::shared_ptr<CompiledModule>> Compile(ModuleInfo module) {
  auto cm = std::make_shared<CompiledModule>();
  cm->module = std::move(module);
  const ModuleInfo& m = cm->module;
  ModuleContext ctx{m, {}, {}, {}, {}, {}};
  if (auto r = ValidateModule(ctx); !r) return r.error();

  cm->funcs.resize(m.code.size());
  for (size_t i = 0; i < m.code.size(); ++i) {
    FunctionCompiler fc(ctx, static_cast<uint32_t>(i), &cm->funcs[i]);
    if (auto r = fc.Run(); !r) return r.error();
  }
  for (const FuncType& t : m.types) cm->type_ids.push_back(InternFuncType(t));
  for (size_t i = 0; i < m.exports.size(); ++i) cm->export_index.emplace(m.exports[i].name, i);
  return cm;
}

}  // namespace wasmq::wasm
