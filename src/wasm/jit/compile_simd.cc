// File: src/wasm/jit/compile_simd.cc
//
// SIMD ops -> LLVM IR. A v128 lives in two i64 slot allocas (ops.h); an op loads them into a <2 x i64>,
// bitcasts it to its lane shape (<16 x i8>, <8 x i16>, <4 x i32>, <2 x i64>, <4 x float>, <2 x double>),
// computes, and stores the two halves back, so SROA turns the slots into vector registers.
//
// Which ops are native: the lane-wise integer arithmetic, min/max and bitwise ops, splats, lane
// extraction and replacement, shuffles, constants, float add/sub/mul/div (operands hidden from LLVM's
// NaN-unsafe folds) and pmin/pmax: their LLVM instructions mean exactly the spec's operation. Everything
// else (memory accesses with their bounds checks, float min/max/rounding/sqrt, saturating, narrowing and
// converting ops) calls wasmq_jit_simd, which runs the interpreter's ExecSimd on a small scratch frame:
// one semantics for both tiers, at the price of a call.
#include "wasm/jit/compile_simd.h"

#include <cstring>

#include <llvm/IR/InlineAsm.h>

#include "wasm/simd.h"

namespace wasmq::wasm {
namespace {

class SimdTranslator {
 public:
  SimdTranslator(SimdTranslateContext& ctx, const uint32_t* o)
      : x_(ctx), b_(ctx.b), c_(ctx.b.getContext()), o_(o) {
    i8_ = llvm::Type::getInt8Ty(c_);
    i16_ = llvm::Type::getInt16Ty(c_);
    i32_ = llvm::Type::getInt32Ty(c_);
    i64_ = llvm::Type::getInt64Ty(c_);
    v2i64_ = llvm::FixedVectorType::get(i64_, 2);
  }

  void Run() {
    if (!Native()) Fallback();
  }

 private:
  llvm::FixedVectorType* Vec(llvm::Type* lane, unsigned n) { return llvm::FixedVectorType::get(lane, n); }
  llvm::Type* LaneType(unsigned bits) {
    return bits == 8 ? i8_ : bits == 16 ? i16_ : bits == 32 ? i32_ : i64_;
  }
  llvm::Value* Ld(uint32_t k) { return b_.CreateLoad(i64_, x_.slots[k]); }
  void St(uint32_t k, llvm::Value* v) { b_.CreateStore(v, x_.slots[k]); }
  // The v128 at slot k as a vector of n lanes of `bits` bits.
  llvm::Value* LdV(uint32_t k, unsigned bits) {
    llvm::Value* v = llvm::PoisonValue::get(v2i64_);
    v = b_.CreateInsertElement(v, Ld(k), uint64_t{0});
    v = b_.CreateInsertElement(v, Ld(k + 1), uint64_t{1});
    return b_.CreateBitCast(v, Vec(LaneType(bits), 128 / bits));
  }
  void StV(uint32_t k, llvm::Value* v) {
    v = b_.CreateBitCast(v, v2i64_);
    St(k, b_.CreateExtractElement(v, uint64_t{0}));
    St(k + 1, b_.CreateExtractElement(v, uint64_t{1}));
  }
  llvm::Value* Splat(llvm::Value* scalar, unsigned bits) {
    return b_.CreateVectorSplat(128 / bits, b_.CreateTrunc(scalar, LaneType(bits)));
  }

  bool Native() {
    const uint32_t d = o_[0], sub = o_[1], a = o_[2], b = o_[3], c = o_[4];
    switch (sub) {
      case 0x0C: {  // v128.const
        St(d, b_.getInt64(static_cast<uint64_t>(o_[5]) | static_cast<uint64_t>(o_[6]) << 32));
        St(d + 1, b_.getInt64(static_cast<uint64_t>(o_[7]) | static_cast<uint64_t>(o_[8]) << 32));
        return true;
      }
      case 0x0D: {  // i8x16.shuffle
        uint8_t idx[16];
        std::memcpy(idx, o_ + 5, 16);
        int mask[16];
        for (int i = 0; i < 16; ++i) mask[i] = idx[i];
        StV(d, b_.CreateShuffleVector(LdV(a, 8), LdV(b, 8), mask));
        return true;
      }
      case 0x0F: StV(d, Splat(Ld(a), 8)); return true;
      case 0x10: StV(d, Splat(Ld(a), 16)); return true;
      case 0x11:
      case 0x13: StV(d, Splat(Ld(a), 32)); return true;
      case 0x12:
      case 0x14: StV(d, Splat(Ld(a), 64)); return true;
      case 0x15:
      case 0x16:
      case 0x18:
      case 0x19: {  // extract_lane_s/u of i8x16 / i16x8: widened to i32, zero-extended in the slot
        const unsigned bits = sub <= 0x16 ? 8 : 16;
        const bool sign = sub == 0x15 || sub == 0x18;
        llvm::Value* lane = b_.CreateExtractElement(LdV(a, bits), uint64_t{o_[5]});
        llvm::Value* v32 = sign ? b_.CreateSExt(lane, i32_) : b_.CreateZExt(lane, i32_);
        St(d, b_.CreateZExt(v32, i64_));
        return true;
      }
      case 0x1B:
      case 0x1F: St(d, b_.CreateZExt(b_.CreateExtractElement(LdV(a, 32), uint64_t{o_[5]}), i64_)); return true;
      case 0x1D:
      case 0x21: St(d, b_.CreateExtractElement(LdV(a, 64), uint64_t{o_[5]})); return true;
      case 0x17:
      case 0x1A:
      case 0x1C:
      case 0x1E:
      case 0x20:
      case 0x22: {  // replace_lane
        const unsigned bits = sub == 0x17 ? 8 : sub == 0x1A ? 16 : (sub == 0x1C || sub == 0x20) ? 32 : 64;
        llvm::Value* v = LdV(a, bits);
        StV(d, b_.CreateInsertElement(v, b_.CreateTrunc(Ld(b), LaneType(bits)), uint64_t{o_[5]}));
        return true;
      }
      // integer comparisons: sext of the i1 lanes gives the all-ones masks
      case 0x23: case 0x24: case 0x25: case 0x26: case 0x27: case 0x28: case 0x29: case 0x2A: case 0x2B:
      case 0x2C: return Compare(8, sub - 0x23);
      case 0x2D: case 0x2E: case 0x2F: case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35:
      case 0x36: return Compare(16, sub - 0x2D);
      case 0x37: case 0x38: case 0x39: case 0x3A: case 0x3B: case 0x3C: case 0x3D: case 0x3E: case 0x3F:
      case 0x40: return Compare(32, sub - 0x37);
      case 0xD6: return Compare(64, 0);
      case 0xD7: return Compare(64, 1);
      case 0xD8: return Compare(64, 2);
      case 0xD9: return Compare(64, 4);
      case 0xDA: return Compare(64, 6);
      case 0xDB: return Compare(64, 8);
      // bitwise
      case 0x4D: StV(d, b_.CreateNot(LdV(a, 64))); return true;
      case 0x4E: StV(d, b_.CreateAnd(LdV(a, 64), LdV(b, 64))); return true;
      case 0x4F: StV(d, b_.CreateAnd(LdV(a, 64), b_.CreateNot(LdV(b, 64)))); return true;
      case 0x50: StV(d, b_.CreateOr(LdV(a, 64), LdV(b, 64))); return true;
      case 0x51: StV(d, b_.CreateXor(LdV(a, 64), LdV(b, 64))); return true;
      case 0x52: {
        llvm::Value* m = LdV(c, 64);
        StV(d, b_.CreateOr(b_.CreateAnd(LdV(a, 64), m), b_.CreateAnd(LdV(b, 64), b_.CreateNot(m))));
        return true;
      }
      // lane-wise add / sub / mul
      case 0x6E: StV(d, b_.CreateAdd(LdV(a, 8), LdV(b, 8))); return true;
      case 0x71: StV(d, b_.CreateSub(LdV(a, 8), LdV(b, 8))); return true;
      case 0x8E: StV(d, b_.CreateAdd(LdV(a, 16), LdV(b, 16))); return true;
      case 0x91: StV(d, b_.CreateSub(LdV(a, 16), LdV(b, 16))); return true;
      case 0x95: StV(d, b_.CreateMul(LdV(a, 16), LdV(b, 16))); return true;
      case 0xAE: StV(d, b_.CreateAdd(LdV(a, 32), LdV(b, 32))); return true;
      case 0xB1: StV(d, b_.CreateSub(LdV(a, 32), LdV(b, 32))); return true;
      case 0xB5: StV(d, b_.CreateMul(LdV(a, 32), LdV(b, 32))); return true;
      case 0xCE: StV(d, b_.CreateAdd(LdV(a, 64), LdV(b, 64))); return true;
      case 0xD1: StV(d, b_.CreateSub(LdV(a, 64), LdV(b, 64))); return true;
      case 0xD5: StV(d, b_.CreateMul(LdV(a, 64), LdV(b, 64))); return true;
      case 0x61: StV(d, b_.CreateNeg(LdV(a, 8))); return true;
      case 0x81: StV(d, b_.CreateNeg(LdV(a, 16))); return true;
      case 0xA1: StV(d, b_.CreateNeg(LdV(a, 32))); return true;
      case 0xC1: StV(d, b_.CreateNeg(LdV(a, 64))); return true;
      // integer min/max: compare and select
      case 0x76: return MinMax(8, llvm::CmpInst::ICMP_SLT);
      case 0x77: return MinMax(8, llvm::CmpInst::ICMP_ULT);
      case 0x78: return MinMax(8, llvm::CmpInst::ICMP_SGT);
      case 0x79: return MinMax(8, llvm::CmpInst::ICMP_UGT);
      case 0x96: return MinMax(16, llvm::CmpInst::ICMP_SLT);
      case 0x97: return MinMax(16, llvm::CmpInst::ICMP_ULT);
      case 0x98: return MinMax(16, llvm::CmpInst::ICMP_SGT);
      case 0x99: return MinMax(16, llvm::CmpInst::ICMP_UGT);
      case 0xB6: return MinMax(32, llvm::CmpInst::ICMP_SLT);
      case 0xB7: return MinMax(32, llvm::CmpInst::ICMP_ULT);
      case 0xB8: return MinMax(32, llvm::CmpInst::ICMP_SGT);
      case 0xB9: return MinMax(32, llvm::CmpInst::ICMP_UGT);
      // float arithmetic: the operands pass through an empty asm first, so that LLVM cannot fold x * 1,
      // x - 0 and the like to x (wasm wants a quiet NaN out of a signalling one)
      case 0xE4: return FloatBinary(32, llvm::Instruction::FAdd);
      case 0xE5: return FloatBinary(32, llvm::Instruction::FSub);
      case 0xE6: return FloatBinary(32, llvm::Instruction::FMul);
      case 0xE7: return FloatBinary(32, llvm::Instruction::FDiv);
      case 0xF0: return FloatBinary(64, llvm::Instruction::FAdd);
      case 0xF1: return FloatBinary(64, llvm::Instruction::FSub);
      case 0xF2: return FloatBinary(64, llvm::Instruction::FMul);
      case 0xF3: return FloatBinary(64, llvm::Instruction::FDiv);
      // pmin / pmax: b < a ? b : a and a < b ? b : a, exactly (an ordered compare is false on NaNs)
      case 0xEA: return PMinMax(32, true);
      case 0xEB: return PMinMax(32, false);
      case 0xF6: return PMinMax(64, true);
      case 0xF7: return PMinMax(64, false);
      // shifts: the count is taken modulo the lane width, as the spec says
      case 0x6B: case 0x6C: case 0x6D: return Shift(8, sub - 0x6B);
      case 0x8B: case 0x8C: case 0x8D: return Shift(16, sub - 0x8B);
      case 0xAB: case 0xAC: case 0xAD: return Shift(32, sub - 0xAB);
      case 0xCB: case 0xCC: case 0xCD: return Shift(64, sub - 0xCB);
      default: return false;
    }
  }

  // k: 0 eq, 1 ne, 2 lt_s, 3 lt_u, 4 gt_s, 5 gt_u, 6 le_s, 7 le_u, 8 ge_s, 9 ge_u (the binary order).
  bool Compare(unsigned bits, uint32_t k) {
    static constexpr llvm::CmpInst::Predicate kPreds[] = {
        llvm::CmpInst::ICMP_EQ,  llvm::CmpInst::ICMP_NE,  llvm::CmpInst::ICMP_SLT, llvm::CmpInst::ICMP_ULT,
        llvm::CmpInst::ICMP_SGT, llvm::CmpInst::ICMP_UGT, llvm::CmpInst::ICMP_SLE, llvm::CmpInst::ICMP_ULE,
        llvm::CmpInst::ICMP_SGE, llvm::CmpInst::ICMP_UGE};
    llvm::Value* a = LdV(o_[2], bits);
    llvm::Value* b = LdV(o_[3], bits);
    StV(o_[0], b_.CreateSExt(b_.CreateICmp(kPreds[k], a, b), a->getType()));
    return true;
  }

  bool MinMax(unsigned bits, llvm::CmpInst::Predicate pick_a) {
    llvm::Value* a = LdV(o_[2], bits);
    llvm::Value* b = LdV(o_[3], bits);
    StV(o_[0], b_.CreateSelect(b_.CreateICmp(pick_a, a, b), a, b));
    return true;
  }
  llvm::Type* FloatVec(unsigned bits) {
    return bits == 32 ? Vec(llvm::Type::getFloatTy(c_), 4) : Vec(llvm::Type::getDoubleTy(c_), 2);
  }
  llvm::Value* LdF(uint32_t k, unsigned bits) { return b_.CreateBitCast(LdV(k, 64), FloatVec(bits)); }
  llvm::Value* Opaque(llvm::Value* v) {
    auto* asm_fn = llvm::InlineAsm::get(llvm::FunctionType::get(v->getType(), {v->getType()}, false), "",
                                        "=x,0", /*hasSideEffects=*/false);
    return b_.CreateCall(asm_fn, {v});
  }
  bool FloatBinary(unsigned bits, llvm::Instruction::BinaryOps op) {
    llvm::Value* a = Opaque(LdF(o_[2], bits));
    llvm::Value* b = Opaque(LdF(o_[3], bits));
    StV(o_[0], b_.CreateBinOp(op, a, b));
    return true;
  }
  bool PMinMax(unsigned bits, bool min) {
    llvm::Value* a = LdF(o_[2], bits);
    llvm::Value* b = LdF(o_[3], bits);
    llvm::Value* take_b = min ? b_.CreateFCmpOLT(b, a) : b_.CreateFCmpOLT(a, b);
    StV(o_[0], b_.CreateSelect(take_b, b, a));
    return true;
  }

  // k: 0 shl, 1 shr_s, 2 shr_u.
  bool Shift(unsigned bits, uint32_t k) {
    llvm::Value* count = b_.CreateAnd(b_.CreateTrunc(Ld(o_[3]), i32_), bits - 1);
    llvm::Value* n = Splat(b_.CreateZExt(count, i64_), bits);
    llvm::Value* a = LdV(o_[2], bits);
    llvm::Value* r = k == 0 ? b_.CreateShl(a, n) : k == 1 ? b_.CreateAShr(a, n) : b_.CreateLShr(a, n);
    StV(o_[0], r);
    return true;
  }

  // The generic path: operands into a scratch frame (a at 2, b at 4, c at 6, result at 0), the helper,
  // the result back.
  void Fallback() {
    const uint32_t sub = o_[1];
    const SimdInfo& info = SimdOpInfo(sub);
    using S = SimdShape;
    if (x_.scratch == nullptr) {
      llvm::IRBuilder<> eb(x_.entry, x_.entry->begin());
      x_.scratch = eb.CreateAlloca(llvm::ArrayType::get(i64_, 8));
    }
    // Operand widths in slots (0 = none), and the result's.
    unsigned w[3] = {0, 0, 0}, wr = 0;
    switch (info.shape) {
      case S::kLoad: w[0] = 1, wr = 2; break;
      case S::kStore: w[0] = 1, w[1] = 2; break;
      case S::kLoadLane: w[0] = 1, w[1] = 2, wr = 2; break;
      case S::kStoreLane: w[0] = 1, w[1] = 2; break;
      case S::kConst: wr = 2; break;
      case S::kShuffle:
      case S::kBinary: w[0] = w[1] = 2, wr = 2; break;
      case S::kSplat: w[0] = 1, wr = 2; break;
      case S::kExtract: w[0] = 2, wr = 1; break;
      case S::kReplace: w[0] = 2, w[1] = 1, wr = 2; break;
      case S::kUnary: w[0] = 2, wr = 2; break;
      case S::kTernary: w[0] = w[1] = w[2] = 2, wr = 2; break;
      case S::kTest: w[0] = 2, wr = 1; break;
      case S::kShift: w[0] = 2, w[1] = 1, wr = 2; break;
      case S::kNone:
        if (sub == kSimdGlobalGet) wr = 2;
        if (sub == kSimdGlobalSet) w[0] = 2;
        if (sub == kSimdSelect) w[0] = w[1] = 2, w[2] = 1, wr = 2;
        break;
    }
    auto scratch_at = [&](unsigned k) { return b_.CreateConstInBoundsGEP2_32(x_.scratch->getAllocatedType(), x_.scratch, 0, k); };
    for (unsigned i = 0; i < 3; ++i)
      for (unsigned k = 0; k < w[i]; ++k) b_.CreateStore(Ld(o_[2 + i] + k), scratch_at(2 + 2 * i + k));
    uint32_t words[9] = {0, sub, 2, 4, 6, o_[5], o_[6], o_[7], o_[8]};
    auto* arr_type = llvm::ArrayType::get(i32_, 9);
    auto* init = llvm::ConstantDataArray::get(c_, llvm::ArrayRef<uint32_t>(words, 9));
    auto* g = new llvm::GlobalVariable(x_.mod, arr_type, /*isConstant=*/true, llvm::GlobalValue::PrivateLinkage,
                                       init, "simd_words");
    g->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
    auto* ptr = llvm::PointerType::getUnqual(c_);
    auto helper = x_.mod.getOrInsertFunction(
        kSimdHelperName, llvm::FunctionType::get(llvm::Type::getVoidTy(c_), {ptr, ptr, ptr, ptr}, false));
    b_.CreateCall(helper, {x_.th, x_.inst, g, x_.scratch});
    for (unsigned k = 0; k < wr; ++k) St(o_[0] + k, b_.CreateLoad(i64_, scratch_at(k)));
  }

  SimdTranslateContext& x_;
  llvm::IRBuilder<>& b_;
  llvm::LLVMContext& c_;
  const uint32_t* o_;
  llvm::Type *i8_, *i16_, *i32_, *i64_;
  llvm::FixedVectorType* v2i64_;
};

}  // namespace

void TranslateSimd(SimdTranslateContext& ctx, const uint32_t* o) { SimdTranslator(ctx, o).Run(); }

}  // namespace wasmq::wasm
