// File: src/wasm/jit/compile.cc
//
// The compiler of the compiling tier: a module's validated internal code (ops.h) -> LLVM IR -> optimised
// machine code: an x86-64 relocatable object, one function per defined wasm function, which the engine
// loads itself (object_load.cc) and keeps in the disk cache (loader.cc). This file is the only one that
// sees LLVM (wasmq-jit.so).
//
// Why from the internal code and not from the wasm bytes: compile.cc of the engine has already validated
// the body and given every operand a fixed slot, with branches resolved to code offsets and the moves of
// carried values made explicit. Each slot becomes an i64 alloca; LLVM's SROA/mem2reg turn them into SSA
// values, so the result is the same IR a stack-to-SSA front end would build, from a much smaller
// translator whose semantics are the interpreter's, op by op.
//
// What a compiled function reads of the runtime (Thread, InstanceImpl, FuncInst, MemInst, GlobalInst) it
// reads at byte offsets entry.cc measures on real objects (JitLayout), so the runtime structs need no special
// layout. Helpers are called by symbol name (entry.cc), so the object code has no absolute addresses.
// A compile checks JitRequest::cancelled between its phases and skips every optional pass once it is set.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <optional>

#include <llvm/Config/llvm-config.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/InlineAsm.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/OptBisect.h>
#include <llvm/IR/PassInstrumentation.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>

#include "wasm/jit/compile_simd.h"
#include "wasm/jit/jit.h"

namespace wasmq::wasm {

namespace {

class Translator {
 public:
  Translator(llvm::Module& mod, const CompiledModule& cm, const JitLayout& layout, bool bounds_checks)
      : c_(mod.getContext()), mod_(mod), cm_(cm), m_(cm.module), l_(layout), checks_(bounds_checks), b_(c_) {
    i1_ = llvm::Type::getInt1Ty(c_);
    i8_ = llvm::Type::getInt8Ty(c_);
    i16_ = llvm::Type::getInt16Ty(c_);
    i32_ = llvm::Type::getInt32Ty(c_);
    i64_ = llvm::Type::getInt64Ty(c_);
    f32_ = llvm::Type::getFloatTy(c_);
    f64_ = llvm::Type::getDoubleTy(c_);
    ptr_ = llvm::PointerType::getUnqual(c_);
    void_ = llvm::Type::getVoidTy(c_);
    fn_type_ = llvm::FunctionType::get(void_, {ptr_, ptr_, ptr_}, false);
    unlikely_ = llvm::MDBuilder(c_).createBranchWeights(1, 2000);
  }

  // False when `cancelled` said to stop (checked between functions).
  bool Run(const std::function<bool()>& cancelled) {
    DeclareHelpers();
    for (size_t i = 0; i < cm_.funcs.size(); ++i) {
      auto* f = llvm::Function::Create(fn_type_, llvm::Function::ExternalLinkage, JitFuncSymbol(i), mod_);
      f->addFnAttr(llvm::Attribute::NoUnwind);
      // Defined here: calls between them are direct (no GOT, no stub) in the position-independent object.
      f->setVisibility(llvm::GlobalValue::HiddenVisibility);
      f->setDSOLocal(true);
      funcs_.push_back(f);
    }
    for (size_t i = 0; i < cm_.funcs.size(); ++i) {
      if (cancelled()) return false;
      Define(static_cast<uint32_t>(i));
    }
    return true;
  }

 private:
  // ---- helpers ----------------------------------------------------------------------------------------

  llvm::FunctionCallee Helper(const char* name, llvm::Type* ret, std::vector<llvm::Type*> extra,
                              bool noreturn = false) {
    std::vector<llvm::Type*> params = {ptr_, ptr_};
    params.insert(params.end(), extra.begin(), extra.end());
    auto callee = mod_.getOrInsertFunction(name, llvm::FunctionType::get(ret, params, false));
    auto* fn = llvm::cast<llvm::Function>(callee.getCallee());
    if (noreturn) {
      fn->addFnAttr(llvm::Attribute::NoReturn);
      fn->addFnAttr(llvm::Attribute::Cold);
    }
    return callee;
  }

  void DeclareHelpers() {
    h_trap_ = Helper("wasmq_jit_trap", void_, {i32_}, true);
    h_poll_ = Helper("wasmq_jit_poll", void_, {});
    h_call_ = Helper("wasmq_jit_call", void_, {ptr_, ptr_});
    h_indirect_ = Helper("wasmq_jit_indirect", ptr_, {i32_, i32_, i32_});
    h_memory_grow_ = Helper("wasmq_jit_memory_grow", i32_, {i32_});
    h_memory_fill_ = Helper("wasmq_jit_memory_fill", void_, {i32_, i32_, i32_});
    h_memory_copy_ = Helper("wasmq_jit_memory_copy", void_, {i32_, i32_, i32_});
    h_memory_init_ = Helper("wasmq_jit_memory_init", void_, {i32_, i32_, i32_, i32_});
    h_data_drop_ = Helper("wasmq_jit_data_drop", void_, {i32_});
    h_table_get_ = Helper("wasmq_jit_table_get", i64_, {i32_, i32_});
    h_table_set_ = Helper("wasmq_jit_table_set", void_, {i32_, i32_, i64_});
    h_table_size_ = Helper("wasmq_jit_table_size", i32_, {i32_});
    h_table_grow_ = Helper("wasmq_jit_table_grow", i32_, {i32_, i64_, i32_});
    h_table_fill_ = Helper("wasmq_jit_table_fill", void_, {i32_, i32_, i64_, i32_});
    h_table_copy_ = Helper("wasmq_jit_table_copy", void_, {i32_, i32_, i32_, i32_, i32_});
    h_table_init_ = Helper("wasmq_jit_table_init", void_, {i32_, i32_, i32_, i32_, i32_});
    h_elem_drop_ = Helper("wasmq_jit_elem_drop", void_, {i32_});
  }

  llvm::Value* CallHelper(llvm::FunctionCallee h, std::vector<llvm::Value*> extra) {
    std::vector<llvm::Value*> args = {th_, inst_};
    args.insert(args.end(), extra.begin(), extra.end());
    return b_.CreateCall(h, args);
  }

  // ---- small IR pieces ----------------------------------------------------------------------------

  llvm::Constant* K32(uint32_t v) { return llvm::ConstantInt::get(i32_, v); }
  llvm::Constant* K64(uint64_t v) { return llvm::ConstantInt::get(i64_, v); }

  llvm::Value* FieldPtr(llvm::Value* base, uint64_t offset) {
    return b_.CreateInBoundsGEP(i8_, base, K64(offset));
  }
  llvm::Value* LoadField(llvm::Type* t, llvm::Value* base, uint64_t offset) {
    return b_.CreateLoad(t, FieldPtr(base, offset));
  }

  llvm::Value* Ld(uint32_t k) { return b_.CreateLoad(i64_, slots_[k]); }
  void St(uint32_t k, llvm::Value* v64) {
    b_.CreateStore(v64, slots_[k]);
    consts_.erase(k);
  }

  // LLVM folds x * 1, x - 0, -0 - x, x / -1, demote(promote(x)) and the like to x or -x, as if signalling
  // NaNs did not exist; wasm requires the result to be a quiet NaN. An empty asm hides the constant (or
  // the promoted value) from the folds and costs no instruction.
  llvm::Value* Opaque(llvm::Value* v) {
    auto* asm_fn = llvm::InlineAsm::get(llvm::FunctionType::get(v->getType(), {v->getType()}, false), "",
                                        "=x,0", /*hasSideEffects=*/false);
    return b_.CreateCall(asm_fn, {v});
  }
  llvm::Value* FpOperand(uint32_t k, bool is64) {
    llvm::Value* v = is64 ? LdF64(k) : LdF32(k);
    return consts_.count(k) ? Opaque(v) : v;
  }
  llvm::Value* LdI32(uint32_t k) { return b_.CreateTrunc(Ld(k), i32_); }
  void StI32(uint32_t k, llvm::Value* v) { St(k, b_.CreateZExt(v, i64_)); }
  llvm::Value* LdF32(uint32_t k) { return b_.CreateBitCast(LdI32(k), f32_); }
  void StF32(uint32_t k, llvm::Value* v) { StI32(k, b_.CreateBitCast(v, i32_)); }
  llvm::Value* LdF64(uint32_t k) { return b_.CreateBitCast(Ld(k), f64_); }
  void StF64(uint32_t k, llvm::Value* v) { St(k, b_.CreateBitCast(v, i64_)); }
  void StBool(uint32_t k, llvm::Value* b1) { St(k, b_.CreateZExt(b1, i64_)); }

  llvm::BasicBlock* NewBlock(const char* name = "") { return llvm::BasicBlock::Create(c_, name, fn_); }

  // Branches to a (shared, per function) block that raises `code` when `cond` holds.
  void TrapIf(llvm::Value* cond, JitTrap code) {
    llvm::BasicBlock*& trap = trap_blocks_[static_cast<uint32_t>(code)];
    if (trap == nullptr) {
      llvm::IRBuilderBase::InsertPointGuard guard(b_);
      trap = NewBlock("trap");
      b_.SetInsertPoint(trap);
      CallHelper(h_trap_, {K32(static_cast<uint32_t>(code))});
      b_.CreateUnreachable();
    }
    llvm::BasicBlock* cont = NewBlock();
    b_.CreateCondBr(cond, trap, cont, unlikely_);
    b_.SetInsertPoint(cont);
  }

  void Trap(JitTrap code) {
    CallHelper(h_trap_, {K32(static_cast<uint32_t>(code))});
    b_.CreateUnreachable();
  }

  // Interruption and fuel: two byte loads and a compare; the helper does the rest.
  void Poll() {
    auto* intr = b_.CreateLoad(i8_, FieldPtr(th_, l_.th_interrupt));
    intr->setVolatile(true);
    llvm::Value* fuel = LoadField(i8_, th_, l_.th_fuel_enabled);
    llvm::Value* any = b_.CreateICmpNE(b_.CreateOr(intr, fuel), llvm::ConstantInt::get(i8_, 0));
    llvm::BasicBlock* slow = NewBlock("poll");
    llvm::BasicBlock* cont = NewBlock();
    b_.CreateCondBr(any, slow, cont, unlikely_);
    b_.SetInsertPoint(slow);
    CallHelper(h_poll_, {});
    b_.CreateBr(cont);
    b_.SetInsertPoint(cont);
  }

  void ReloadMemorySize() {
    if (mem_ != nullptr) b_.CreateStore(LoadField(i64_, mem_, l_.mem_size), mem_size_var_);
  }

  // The address of a `size`-byte access at u32 fp[a] + off in memory 0.
  llvm::Value* Address(uint32_t a, uint32_t off, uint32_t size) {
    llvm::Value* ea = b_.CreateAdd(b_.CreateZExt(LdI32(a), i64_), K64(off));
    if (checks_) {
      llvm::Value* end = b_.CreateAdd(ea, K64(size));
      TrapIf(b_.CreateICmpUGT(end, b_.CreateLoad(i64_, mem_size_var_)), JitTrap::kOobMemory);
    }
    return b_.CreateGEP(i8_, mem_base_, ea);
  }

  void Load(const uint32_t* o, llvm::Type* t, uint32_t size, bool sign, bool to64, bool is_float) {
    llvm::Value* p = Address(o[1], o[2], size);
    llvm::LoadInst* load = b_.CreateAlignedLoad(t, p, llvm::MaybeAlign(1));
    // Without checks the access itself is the trap (a guard-page fault): volatile keeps it in program
    // order with the other traps and memory effects (LLVM would otherwise sink it past them).
    load->setVolatile(!checks_);
    llvm::Value* v = load;
    if (is_float) {
      v = b_.CreateBitCast(v, t == f32_ ? i32_ : i64_);
      St(o[0], b_.CreateZExt(v, i64_));
      return;
    }
    llvm::Type* wide = to64 ? i64_ : i32_;
    if (t != wide) v = sign ? b_.CreateSExt(v, wide) : b_.CreateZExt(v, wide);
    St(o[0], to64 ? v : b_.CreateZExt(v, i64_));
  }

  void Store(const uint32_t* o, llvm::Type* t, uint32_t size) {
    llvm::Value* p = Address(o[0], o[2], size);
    b_.CreateAlignedStore(b_.CreateTrunc(Ld(o[1]), t), p, llvm::MaybeAlign(1))->setVolatile(!checks_);
  }

  llvm::Value* Intrinsic(llvm::Intrinsic::ID id, std::vector<llvm::Type*> types, std::vector<llvm::Value*> args) {
    return b_.CreateIntrinsic(id, types, args);
  }

  // min/max as the interpreter: a NaN operand gives a + b (quiet); equal operands differ at most in the
  // sign of zero: min ORs the bits (negative wins), max ANDs them.
  llvm::Value* MinMax(llvm::Value* a, llvm::Value* b, bool is_min) {
    llvm::Type* ft = a->getType();
    llvm::Type* it = ft == f32_ ? i32_ : i64_;
    llvm::Value* nan = b_.CreateFCmpUNO(a, b);
    llvm::Value* sum = b_.CreateFAdd(a, b);
    llvm::Value* eq = b_.CreateFCmpOEQ(a, b);
    llvm::Value* ab = b_.CreateBitCast(a, it);
    llvm::Value* bb = b_.CreateBitCast(b, it);
    llvm::Value* same = b_.CreateBitCast(is_min ? b_.CreateOr(ab, bb) : b_.CreateAnd(ab, bb), ft);
    llvm::Value* pick = is_min ? b_.CreateSelect(b_.CreateFCmpOLT(a, b), a, b)
                               : b_.CreateSelect(b_.CreateFCmpOGT(a, b), a, b);
    return b_.CreateSelect(nan, sum, b_.CreateSelect(eq, same, pick));
  }

  // Trapping float -> int: NaN traps "invalid conversion", out of range "integer overflow".
  void Trunc(const uint32_t* o, bool src64, bool dst64, bool is_signed) {
    llvm::Value* v = src64 ? LdF64(o[1]) : LdF32(o[1]);
    llvm::Type* ft = v->getType();
    TrapIf(b_.CreateFCmpUNO(v, v), JitTrap::kInvalidConversion);
    double lo, hi;
    bool lo_inclusive;
    if (!dst64) {
      if (is_signed) {
        if (src64) lo = -2147483649.0, lo_inclusive = false;
        else lo = -2147483648.0, lo_inclusive = true;
        hi = 2147483648.0;
      } else {
        lo = -1.0, lo_inclusive = false, hi = 4294967296.0;
      }
    } else {
      if (is_signed) lo = -9223372036854775808.0, lo_inclusive = true, hi = 9223372036854775808.0;
      else lo = -1.0, lo_inclusive = false, hi = 18446744073709551616.0;
    }
    llvm::Value* klo = llvm::ConstantFP::get(ft, lo);
    llvm::Value* khi = llvm::ConstantFP::get(ft, hi);
    llvm::Value* ok = b_.CreateAnd(lo_inclusive ? b_.CreateFCmpOGE(v, klo) : b_.CreateFCmpOGT(v, klo),
                                   b_.CreateFCmpOLT(v, khi));
    TrapIf(b_.CreateNot(ok), JitTrap::kIntOverflow);
    llvm::Type* it = dst64 ? i64_ : i32_;
    llvm::Value* r = is_signed ? b_.CreateFPToSI(v, it) : b_.CreateFPToUI(v, it);
    St(o[0], dst64 ? r : b_.CreateZExt(r, i64_));
  }

  void TruncSat(const uint32_t* o, bool src64, bool dst64, bool is_signed) {
    llvm::Value* v = src64 ? LdF64(o[1]) : LdF32(o[1]);
    llvm::Type* it = dst64 ? i64_ : i32_;
    llvm::Value* r =
        Intrinsic(is_signed ? llvm::Intrinsic::fptosi_sat : llvm::Intrinsic::fptoui_sat, {it, v->getType()}, {v});
    St(o[0], dst64 ? r : b_.CreateZExt(r, i64_));
  }

  llvm::Value* IntCompare(uint32_t which, llvm::Value* a, llvm::Value* b) {
    static constexpr llvm::CmpInst::Predicate kPreds[] = {
        llvm::CmpInst::ICMP_EQ,  llvm::CmpInst::ICMP_NE,  llvm::CmpInst::ICMP_SLT, llvm::CmpInst::ICMP_ULT,
        llvm::CmpInst::ICMP_SGT, llvm::CmpInst::ICMP_UGT, llvm::CmpInst::ICMP_SLE, llvm::CmpInst::ICMP_ULE,
        llvm::CmpInst::ICMP_SGE, llvm::CmpInst::ICMP_UGE};
    return b_.CreateICmp(kPreds[which], a, b);
  }

  // I32Add.. / I64Add.. in the order of the *Imm ops after the ten comparisons.
  llvm::Value* IntArith(uint32_t which, llvm::Value* a, llvm::Value* b) {
    unsigned bits = a->getType()->getIntegerBitWidth();
    llvm::Value* mask = llvm::ConstantInt::get(a->getType(), bits - 1);
    switch (which) {
      case 0: return b_.CreateAdd(a, b);
      case 1: return b_.CreateSub(a, b);
      case 2: return b_.CreateMul(a, b);
      case 3: return b_.CreateAnd(a, b);
      case 4: return b_.CreateOr(a, b);
      case 5: return b_.CreateXor(a, b);
      case 6: return b_.CreateShl(a, b_.CreateAnd(b, mask));
      case 7: return b_.CreateAShr(a, b_.CreateAnd(b, mask));
      default: return b_.CreateLShr(a, b_.CreateAnd(b, mask));
    }
  }

  void DivRem(const uint32_t* o, bool is64, bool is_signed, bool is_rem) {
    llvm::Value* a = is64 ? Ld(o[1]) : LdI32(o[1]);
    llvm::Value* b = is64 ? Ld(o[2]) : LdI32(o[2]);
    llvm::Type* t = a->getType();
    llvm::Value* zero = llvm::ConstantInt::get(t, 0);
    llvm::Value* minus1 = llvm::ConstantInt::getSigned(t, -1);
    TrapIf(b_.CreateICmpEQ(b, zero), JitTrap::kDivByZero);
    llvm::Value* r;
    if (!is_signed) {
      r = is_rem ? b_.CreateURem(a, b) : b_.CreateUDiv(a, b);
    } else if (!is_rem) {
      llvm::Value* min = is64 ? K64(0x8000000000000000ull) : K32(0x80000000u);
      TrapIf(b_.CreateAnd(b_.CreateICmpEQ(a, min), b_.CreateICmpEQ(b, minus1)), JitTrap::kIntOverflow);
      r = b_.CreateSDiv(a, b);
    } else {  // x rem -1 is 0; dividing by 1 instead avoids the INT_MIN / -1 fault
      llvm::Value* is_m1 = b_.CreateICmpEQ(b, minus1);
      r = b_.CreateSRem(a, b_.CreateSelect(is_m1, llvm::ConstantInt::get(t, 1), b));
    }
    St(o[0], is64 ? r : b_.CreateZExt(r, i64_));
  }

  // ---- calls ------------------------------------------------------------------------------------------

  // Moves the arguments into the value stack at fp + at, calls, and takes the results back.
  void CallWith(const FuncType& type, uint32_t at, const std::function<void(llvm::Value*)>& emit_call) {
    llvm::Value* frame = b_.CreateInBoundsGEP(i64_, fp_, K64(at));
    for (uint32_t k = 0; k < SlotCount(type.params); ++k)  // slots: a v128 takes two
      b_.CreateStore(Ld(at + k), b_.CreateInBoundsGEP(i64_, frame, K64(k)));
    emit_call(frame);
    for (uint32_t k = 0; k < SlotCount(type.results); ++k)
      St(at + k, b_.CreateLoad(i64_, b_.CreateInBoundsGEP(i64_, frame, K64(k))));
    ReloadMemorySize();
  }

  // A call through a FuncInst*: straight into its machine code when it has some, else the helper (host
  // functions, interpreted ones).
  void CallFuncInst(llvm::Value* callee, llvm::Value* frame) {
    llvm::Value* code = LoadField(ptr_, callee, l_.fn_jit_code);
    llvm::BasicBlock* direct = NewBlock("direct");
    llvm::BasicBlock* slow = NewBlock("slowcall");
    llvm::BasicBlock* done = NewBlock();
    b_.CreateCondBr(b_.CreateIsNotNull(code), direct, slow);
    b_.SetInsertPoint(direct);
    b_.CreateCall(fn_type_, code, {th_, LoadField(ptr_, callee, l_.fn_instance), frame});
    b_.CreateBr(done);
    b_.SetInsertPoint(slow);
    CallHelper(h_call_, {callee, frame});
    b_.CreateBr(done);
    b_.SetInsertPoint(done);
  }

  llvm::Value* InstanceFunc(uint32_t x) {
    llvm::Value* funcs = LoadField(ptr_, inst_, l_.in_funcs);
    return b_.CreateLoad(ptr_, b_.CreateInBoundsGEP(ptr_, funcs, K64(x)));
  }

  // ---- one function -----------------------------------------------------------------------------------

  llvm::BasicBlock* BlockAt(uint32_t pc) {
    auto it = blocks_.find(pc);
    return it == blocks_.end() ? nullptr : it->second;
  }

  static uint32_t InstructionWords(const uint32_t* code, uint32_t pc) {
    Op op = static_cast<Op>(code[pc]);
    uint32_t n = 1 + kOpOperandWords[code[pc]];
    if (op == Op::BrTable) n += code[pc + 2] + 1;
    return n;
  }

  void FindTargets(const CompiledFunc& cf) {
    const uint32_t* code = cf.code.data();
    const uint32_t size = static_cast<uint32_t>(cf.code.size());
    auto mark = [&](uint32_t t) {
      if (!blocks_.count(t)) blocks_[t] = NewBlock("L");
    };
    for (uint32_t pc = 0; pc < size; pc += InstructionWords(code, pc)) {
      const uint32_t op = code[pc];
      const uint32_t* o = code + pc + 1;
      switch (static_cast<Op>(op)) {
        case Op::Jmp: mark(o[0]); break;
        case Op::BrIf:
        case Op::BrUnless:
        case Op::BrIfI32Eqz:
        case Op::BrUnlessI32Eqz: mark(o[1]); break;
        case Op::BrTable:
          for (uint32_t i = 0; i <= o[1]; ++i) mark(o[2 + i]);
          break;
        default:
          if ((op >= static_cast<uint32_t>(Op::BrIfI32Eq) && op <= static_cast<uint32_t>(Op::BrUnlessI32GeU)) ||
              (op >= static_cast<uint32_t>(Op::BrIfI32EqImm) && op <= static_cast<uint32_t>(Op::BrUnlessI32GeUImm)))
            mark(o[2]);
          break;
      }
    }
  }

  void Define(uint32_t index) {
    const CompiledFunc& cf = cm_.funcs[index];
    const FuncType& type = m_.types[cf.type_index];
    fn_ = funcs_[index];
    blocks_.clear();
    for (auto& t : trap_blocks_) t = nullptr;
    slots_.clear();
    consts_.clear();
    simd_scratch_ = nullptr;
    auto arg = fn_->arg_begin();
    th_ = &*arg++;
    inst_ = &*arg++;
    fp_ = &*arg++;

    llvm::BasicBlock* entry = NewBlock("entry");
    b_.SetInsertPoint(entry);
    slots_.reserve(cf.frame_slots);
    for (uint32_t k = 0; k < cf.frame_slots; ++k) slots_.push_back(b_.CreateAlloca(i64_));
    mem_size_var_ = b_.CreateAlloca(i64_);

    // Depth, native stack and value stack bounds; then this frame goes on the shadow stack.
    llvm::Value* depth = LoadField(i32_, th_, l_.th_depth);
    llvm::Value* too_deep = b_.CreateICmpUGE(depth, LoadField(i32_, th_, l_.th_max_depth));
    llvm::Value* sp = b_.CreatePtrToInt(Intrinsic(llvm::Intrinsic::frameaddress, {ptr_}, {K32(0)}), i64_);
    llvm::Value* low = b_.CreateICmpULT(sp, LoadField(i64_, th_, l_.th_native_limit));
    llvm::Value* frame_end = b_.CreatePtrToInt(b_.CreateInBoundsGEP(i64_, fp_, K64(cf.frame_slots)), i64_);
    llvm::Value* stack_end = b_.CreatePtrToInt(LoadField(ptr_, th_, l_.th_stack_end), i64_);
    llvm::Value* no_room = b_.CreateICmpUGT(frame_end, stack_end);
    TrapIf(b_.CreateOr(b_.CreateOr(too_deep, low), no_room), JitTrap::kStackExhausted);
    llvm::Value* frames = LoadField(ptr_, th_, l_.th_frames);
    const uint32_t func_index = m_.num_imported_funcs + index;
    b_.CreateStore(InstanceFunc(func_index), b_.CreateInBoundsGEP(ptr_, frames, b_.CreateZExt(depth, i64_)));
    b_.CreateStore(b_.CreateAdd(depth, K32(1)), FieldPtr(th_, l_.th_depth));
    Poll();

    for (uint32_t k = 0; k < cf.num_params; ++k) St(k, b_.CreateLoad(i64_, b_.CreateInBoundsGEP(i64_, fp_, K64(k))));
    for (uint32_t k = cf.num_params; k < cf.num_locals; ++k) St(k, K64(0));
    mem_ = nullptr;
    mem_base_ = nullptr;
    if (m_.NumMemories() > 0) {
      mem_ = LoadField(ptr_, inst_, l_.in_memory);
      mem_base_ = LoadField(ptr_, mem_, l_.mem_data);
      ReloadMemorySize();
    }

    FindTargets(cf);
    const uint32_t* code = cf.code.data();
    const uint32_t size = static_cast<uint32_t>(cf.code.size());
    bool terminated = false;
    for (uint32_t pc = 0; pc < size;) {
      if (llvm::BasicBlock* bb = BlockAt(pc)) {
        consts_.clear();  // control merges here
        if (!terminated) b_.CreateBr(bb);
        b_.SetInsertPoint(bb);
        terminated = false;
      } else if (terminated) {
        b_.SetInsertPoint(NewBlock("dead"));
        terminated = false;
      }
      const uint32_t next = pc + InstructionWords(code, pc);
      terminated = Emit(cf, type, code, pc, next, depth);
      pc = next;
    }
    if (!terminated) b_.CreateUnreachable();
  }

  // Conditional branch to code offset `target`, falling through to `next`. True when `next` starts a
  // block of its own (the caller moves there), false when the fall-through continues in a new block.
  bool CondBr(llvm::Value* cond, uint32_t target, uint32_t next) {
    if (llvm::BasicBlock* fall = BlockAt(next)) {
      b_.CreateCondBr(cond, blocks_.at(target), fall);
      return true;
    }
    llvm::BasicBlock* fall = NewBlock();
    b_.CreateCondBr(cond, blocks_.at(target), fall);
    b_.SetInsertPoint(fall);
    return false;
  }

  // Emits the instruction at `pc`; true when it ended the block (jump, return, trap).
  bool Emit(const CompiledFunc& cf, const FuncType& type, const uint32_t* code, uint32_t pc, uint32_t next,
            llvm::Value* entry_depth) {
    const uint32_t opw = code[pc];
    const Op op = static_cast<Op>(opw);
    const uint32_t* o = code + pc + 1;
    auto in = [&](Op first, Op last) {
      return opw >= static_cast<uint32_t>(first) && opw <= static_cast<uint32_t>(last);
    };

    // Fused compare-and-branch forms.
    if (in(Op::BrIfI32Eq, Op::BrUnlessI32GeU)) {
      uint32_t k = opw - static_cast<uint32_t>(Op::BrIfI32Eq);
      llvm::Value* cond = IntCompare(k % 10, LdI32(o[0]), LdI32(o[1]));
      return CondBr(k < 10 ? cond : b_.CreateNot(cond), o[2], next);
    }
    if (in(Op::BrIfI32EqImm, Op::BrUnlessI32GeUImm)) {
      uint32_t k = opw - static_cast<uint32_t>(Op::BrIfI32EqImm);
      llvm::Value* cond = IntCompare(k % 10, LdI32(o[0]), K32(o[1]));
      return CondBr(k < 10 ? cond : b_.CreateNot(cond), o[2], next);
    }
    if (in(Op::I32EqImm, Op::I32ShrUImm)) {
      uint32_t k = opw - static_cast<uint32_t>(Op::I32EqImm);
      llvm::Value* a = LdI32(o[1]);
      if (k < 10) StBool(o[0], IntCompare(k, a, K32(o[2])));
      else StI32(o[0], IntArith(k - 10, a, K32(o[2])));
      return false;
    }
    if (in(Op::I64EqImm, Op::I64ShrUImm)) {
      uint32_t k = opw - static_cast<uint32_t>(Op::I64EqImm);
      llvm::Value* a = Ld(o[1]);
      llvm::Value* imm = K64(static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(o[2]))));
      if (k < 10) StBool(o[0], IntCompare(k, a, imm));
      else St(o[0], IntArith(k - 10, a, imm));
      return false;
    }
    if (in(Op::I32Eq, Op::I32GeU)) {
      StBool(o[0], IntCompare(opw - static_cast<uint32_t>(Op::I32Eq), LdI32(o[1]), LdI32(o[2])));
      return false;
    }
    if (in(Op::I64Eq, Op::I64GeU)) {
      StBool(o[0], IntCompare(opw - static_cast<uint32_t>(Op::I64Eq), Ld(o[1]), Ld(o[2])));
      return false;
    }
    if (in(Op::F32Eq, Op::F32Ge) || in(Op::F64Eq, Op::F64Ge)) {
      static constexpr llvm::CmpInst::Predicate kPreds[] = {llvm::CmpInst::FCMP_OEQ, llvm::CmpInst::FCMP_UNE,
                                                            llvm::CmpInst::FCMP_OLT, llvm::CmpInst::FCMP_OGT,
                                                            llvm::CmpInst::FCMP_OLE, llvm::CmpInst::FCMP_OGE};
      bool is64 = in(Op::F64Eq, Op::F64Ge);
      uint32_t k = opw - static_cast<uint32_t>(is64 ? Op::F64Eq : Op::F32Eq);
      llvm::Value* a = is64 ? LdF64(o[1]) : LdF32(o[1]);
      llvm::Value* b = is64 ? LdF64(o[2]) : LdF32(o[2]);
      StBool(o[0], b_.CreateFCmp(kPreds[k], a, b));
      return false;
    }

    switch (op) {
      // ---- control ----
      case Op::Unreachable: Trap(JitTrap::kUnreachable); return true;
      case Op::Jmp: b_.CreateBr(blocks_.at(o[0])); return true;
      case Op::BrIf: return CondBr(b_.CreateICmpNE(LdI32(o[0]), K32(0)), o[1], next);
      case Op::BrUnless: return CondBr(b_.CreateICmpEQ(LdI32(o[0]), K32(0)), o[1], next);
      case Op::BrIfI32Eqz: return CondBr(b_.CreateICmpEQ(LdI32(o[0]), K32(0)), o[1], next);
      case Op::BrUnlessI32Eqz: return CondBr(b_.CreateICmpNE(LdI32(o[0]), K32(0)), o[1], next);
      case Op::BrTable: {
        uint32_t n = o[1];
        llvm::SwitchInst* sw = b_.CreateSwitch(LdI32(o[0]), blocks_.at(o[2 + n]), n);
        for (uint32_t i = 0; i < n; ++i) sw->addCase(llvm::cast<llvm::ConstantInt>(K32(i)), blocks_.at(o[2 + i]));
        return true;
      }
      case Op::Copy: St(o[0], Ld(o[1])); return false;
      case Op::Return:
        for (uint32_t k = 0; k < cf.num_results; ++k) b_.CreateStore(Ld(k), b_.CreateInBoundsGEP(i64_, fp_, K64(k)));
        b_.CreateStore(entry_depth, FieldPtr(th_, l_.th_depth));
        b_.CreateRetVoid();
        return true;
      case Op::Call: {
        const uint32_t x = o[0];
        const FuncType& ft = m_.types[x < m_.num_imported_funcs ? m_.imports[ImportIndexOfFunc(x)].type_index
                                                                 : m_.functions[x - m_.num_imported_funcs]];
        CallWith(ft, o[1], [&](llvm::Value* frame) {
          if (x >= m_.num_imported_funcs) {
            b_.CreateCall(funcs_[x - m_.num_imported_funcs], {th_, inst_, frame});
          } else {
            CallFuncInst(InstanceFunc(x), frame);
          }
        });
        return false;
      }
      case Op::CallIndirect: {
        const FuncType& ft = m_.types[o[0]];
        llvm::Value* callee = CallHelper(h_indirect_, {K32(o[1]), LdI32(o[3]), K32(o[0])});
        CallWith(ft, o[2], [&](llvm::Value* frame) { CallFuncInst(callee, frame); });
        return false;
      }
      case Op::Select: St(o[0], b_.CreateSelect(b_.CreateICmpNE(LdI32(o[3]), K32(0)), Ld(o[1]), Ld(o[2]))); return false;
      case Op::Check: Poll(); return false;
      case Op::Const32:
        St(o[0], K64(o[1]));
        consts_.insert(o[0]);
        return false;
      case Op::Const64:
        St(o[0], K64(static_cast<uint64_t>(o[1]) | (static_cast<uint64_t>(o[2]) << 32)));
        consts_.insert(o[0]);
        return false;
      case Op::RefFunc: St(o[0], b_.CreatePtrToInt(InstanceFunc(o[1]), i64_)); return false;
      case Op::RefIsNull: StBool(o[0], b_.CreateICmpEQ(Ld(o[1]), K64(0))); return false;
      case Op::GlobalGet:
      case Op::GlobalSet: {
        uint32_t x = op == Op::GlobalGet ? o[1] : o[0];
        llvm::Value* globals = LoadField(ptr_, inst_, l_.in_globals);
        llvm::Value* g = b_.CreateLoad(ptr_, b_.CreateInBoundsGEP(ptr_, globals, K64(x)));
        if (op == Op::GlobalGet) St(o[0], LoadField(i64_, g, l_.gl_value));
        else b_.CreateStore(Ld(o[1]), FieldPtr(g, l_.gl_value));
        return false;
      }
      // ---- memory ----
      case Op::MemorySize: St(o[0], b_.CreateLShr(b_.CreateLoad(i64_, mem_size_var_), K64(16))); return false;
      case Op::MemoryGrow:
        StI32(o[0], CallHelper(h_memory_grow_, {LdI32(o[1])}));
        ReloadMemorySize();
        return false;
      case Op::MemoryFill: CallHelper(h_memory_fill_, {LdI32(o[0]), LdI32(o[1]), LdI32(o[2])}); return false;
      case Op::MemoryCopy: CallHelper(h_memory_copy_, {LdI32(o[0]), LdI32(o[1]), LdI32(o[2])}); return false;
      case Op::MemoryInit: CallHelper(h_memory_init_, {K32(o[0]), LdI32(o[1]), LdI32(o[2]), LdI32(o[3])}); return false;
      case Op::DataDrop: CallHelper(h_data_drop_, {K32(o[0])}); return false;
      case Op::I32Load: Load(o, i32_, 4, false, false, false); return false;
      case Op::I64Load: Load(o, i64_, 8, false, true, false); return false;
      case Op::F32Load: Load(o, f32_, 4, false, false, true); return false;
      case Op::F64Load: Load(o, f64_, 8, false, true, true); return false;
      case Op::I32Load8S: Load(o, i8_, 1, true, false, false); return false;
      case Op::I32Load8U: Load(o, i8_, 1, false, false, false); return false;
      case Op::I32Load16S: Load(o, i16_, 2, true, false, false); return false;
      case Op::I32Load16U: Load(o, i16_, 2, false, false, false); return false;
      case Op::I64Load8S: Load(o, i8_, 1, true, true, false); return false;
      case Op::I64Load8U: Load(o, i8_, 1, false, true, false); return false;
      case Op::I64Load16S: Load(o, i16_, 2, true, true, false); return false;
      case Op::I64Load16U: Load(o, i16_, 2, false, true, false); return false;
      case Op::I64Load32S: Load(o, i32_, 4, true, true, false); return false;
      case Op::I64Load32U: Load(o, i32_, 4, false, true, false); return false;
      case Op::I32Store:
      case Op::F32Store:
      case Op::I64Store32: Store(o, i32_, 4); return false;
      case Op::I64Store:
      case Op::F64Store: Store(o, i64_, 8); return false;
      case Op::I32Store8:
      case Op::I64Store8: Store(o, i8_, 1); return false;
      case Op::I32Store16:
      case Op::I64Store16: Store(o, i16_, 2); return false;
      // ---- tables ----
      case Op::TableGet: St(o[0], CallHelper(h_table_get_, {K32(o[1]), LdI32(o[2])})); return false;
      case Op::TableSet: CallHelper(h_table_set_, {K32(o[0]), LdI32(o[1]), Ld(o[2])}); return false;
      case Op::TableSize: StI32(o[0], CallHelper(h_table_size_, {K32(o[1])})); return false;
      case Op::TableGrow: StI32(o[0], CallHelper(h_table_grow_, {K32(o[1]), Ld(o[2]), LdI32(o[3])})); return false;
      case Op::TableFill: CallHelper(h_table_fill_, {K32(o[0]), LdI32(o[1]), Ld(o[2]), LdI32(o[3])}); return false;
      case Op::TableCopy:
        CallHelper(h_table_copy_, {K32(o[0]), K32(o[1]), LdI32(o[2]), LdI32(o[3]), LdI32(o[4])});
        return false;
      case Op::TableInit:
        CallHelper(h_table_init_, {K32(o[0]), K32(o[1]), LdI32(o[2]), LdI32(o[3]), LdI32(o[4])});
        return false;
      case Op::ElemDrop: CallHelper(h_elem_drop_, {K32(o[0])}); return false;
      case Op::Simd: {  // compile_simd.cc
        SimdTranslateContext ctx{b_, mod_, slots_, th_, inst_, &fn_->getEntryBlock(), simd_scratch_};
        TranslateSimd(ctx, o);
        simd_scratch_ = ctx.scratch;
        return false;
      }
      // ---- unary ----
      case Op::I32Eqz: StBool(o[0], b_.CreateICmpEQ(LdI32(o[1]), K32(0))); return false;
      case Op::I64Eqz: StBool(o[0], b_.CreateICmpEQ(Ld(o[1]), K64(0))); return false;
      case Op::I32Clz: StI32(o[0], Intrinsic(llvm::Intrinsic::ctlz, {i32_}, {LdI32(o[1]), b_.getFalse()})); return false;
      case Op::I32Ctz: StI32(o[0], Intrinsic(llvm::Intrinsic::cttz, {i32_}, {LdI32(o[1]), b_.getFalse()})); return false;
      case Op::I32Popcnt: StI32(o[0], Intrinsic(llvm::Intrinsic::ctpop, {i32_}, {LdI32(o[1])})); return false;
      case Op::I64Clz: St(o[0], Intrinsic(llvm::Intrinsic::ctlz, {i64_}, {Ld(o[1]), b_.getFalse()})); return false;
      case Op::I64Ctz: St(o[0], Intrinsic(llvm::Intrinsic::cttz, {i64_}, {Ld(o[1]), b_.getFalse()})); return false;
      case Op::I64Popcnt: St(o[0], Intrinsic(llvm::Intrinsic::ctpop, {i64_}, {Ld(o[1])})); return false;
      case Op::F32Abs: StI32(o[0], b_.CreateAnd(LdI32(o[1]), K32(0x7FFFFFFFu))); return false;
      case Op::F32Neg: StI32(o[0], b_.CreateXor(LdI32(o[1]), K32(0x80000000u))); return false;
      case Op::F64Abs: St(o[0], b_.CreateAnd(Ld(o[1]), K64(0x7FFFFFFFFFFFFFFFull))); return false;
      case Op::F64Neg: St(o[0], b_.CreateXor(Ld(o[1]), K64(0x8000000000000000ull))); return false;
      case Op::F32Ceil: StF32(o[0], Intrinsic(llvm::Intrinsic::ceil, {f32_}, {LdF32(o[1])})); return false;
      case Op::F32Floor: StF32(o[0], Intrinsic(llvm::Intrinsic::floor, {f32_}, {LdF32(o[1])})); return false;
      case Op::F32Trunc: StF32(o[0], Intrinsic(llvm::Intrinsic::trunc, {f32_}, {LdF32(o[1])})); return false;
      case Op::F32Nearest: StF32(o[0], Intrinsic(llvm::Intrinsic::roundeven, {f32_}, {LdF32(o[1])})); return false;
      case Op::F32Sqrt: StF32(o[0], Intrinsic(llvm::Intrinsic::sqrt, {f32_}, {LdF32(o[1])})); return false;
      case Op::F64Ceil: StF64(o[0], Intrinsic(llvm::Intrinsic::ceil, {f64_}, {LdF64(o[1])})); return false;
      case Op::F64Floor: StF64(o[0], Intrinsic(llvm::Intrinsic::floor, {f64_}, {LdF64(o[1])})); return false;
      case Op::F64Trunc: StF64(o[0], Intrinsic(llvm::Intrinsic::trunc, {f64_}, {LdF64(o[1])})); return false;
      case Op::F64Nearest: StF64(o[0], Intrinsic(llvm::Intrinsic::roundeven, {f64_}, {LdF64(o[1])})); return false;
      case Op::F64Sqrt: StF64(o[0], Intrinsic(llvm::Intrinsic::sqrt, {f64_}, {LdF64(o[1])})); return false;
      case Op::I32WrapI64: StI32(o[0], LdI32(o[1])); return false;
      case Op::I32TruncF32S: Trunc(o, false, false, true); return false;
      case Op::I32TruncF32U: Trunc(o, false, false, false); return false;
      case Op::I32TruncF64S: Trunc(o, true, false, true); return false;
      case Op::I32TruncF64U: Trunc(o, true, false, false); return false;
      case Op::I64TruncF32S: Trunc(o, false, true, true); return false;
      case Op::I64TruncF32U: Trunc(o, false, true, false); return false;
      case Op::I64TruncF64S: Trunc(o, true, true, true); return false;
      case Op::I64TruncF64U: Trunc(o, true, true, false); return false;
      case Op::I64ExtendI32S: St(o[0], b_.CreateSExt(LdI32(o[1]), i64_)); return false;
      case Op::I64ExtendI32U: St(o[0], b_.CreateZExt(LdI32(o[1]), i64_)); return false;
      case Op::F32ConvertI32S: StF32(o[0], b_.CreateSIToFP(LdI32(o[1]), f32_)); return false;
      case Op::F32ConvertI32U: StF32(o[0], b_.CreateUIToFP(LdI32(o[1]), f32_)); return false;
      case Op::F32ConvertI64S: StF32(o[0], b_.CreateSIToFP(Ld(o[1]), f32_)); return false;
      case Op::F32ConvertI64U: StF32(o[0], b_.CreateUIToFP(Ld(o[1]), f32_)); return false;
      case Op::F32DemoteF64: StF32(o[0], b_.CreateFPTrunc(Opaque(LdF64(o[1])), f32_)); return false;
      case Op::F64ConvertI32S: StF64(o[0], b_.CreateSIToFP(LdI32(o[1]), f64_)); return false;
      case Op::F64ConvertI32U: StF64(o[0], b_.CreateUIToFP(LdI32(o[1]), f64_)); return false;
      case Op::F64ConvertI64S: StF64(o[0], b_.CreateSIToFP(Ld(o[1]), f64_)); return false;
      case Op::F64ConvertI64U: StF64(o[0], b_.CreateUIToFP(Ld(o[1]), f64_)); return false;
      case Op::F64PromoteF32: StF64(o[0], b_.CreateFPExt(LdF32(o[1]), f64_)); return false;
      case Op::I32Extend8S: StI32(o[0], b_.CreateSExt(b_.CreateTrunc(Ld(o[1]), i8_), i32_)); return false;
      case Op::I32Extend16S: StI32(o[0], b_.CreateSExt(b_.CreateTrunc(Ld(o[1]), i16_), i32_)); return false;
      case Op::I64Extend8S: St(o[0], b_.CreateSExt(b_.CreateTrunc(Ld(o[1]), i8_), i64_)); return false;
      case Op::I64Extend16S: St(o[0], b_.CreateSExt(b_.CreateTrunc(Ld(o[1]), i16_), i64_)); return false;
      case Op::I64Extend32S: St(o[0], b_.CreateSExt(b_.CreateTrunc(Ld(o[1]), i32_), i64_)); return false;
      case Op::I32TruncSatF32S: TruncSat(o, false, false, true); return false;
      case Op::I32TruncSatF32U: TruncSat(o, false, false, false); return false;
      case Op::I32TruncSatF64S: TruncSat(o, true, false, true); return false;
      case Op::I32TruncSatF64U: TruncSat(o, true, false, false); return false;
      case Op::I64TruncSatF32S: TruncSat(o, false, true, true); return false;
      case Op::I64TruncSatF32U: TruncSat(o, false, true, false); return false;
      case Op::I64TruncSatF64S: TruncSat(o, true, true, true); return false;
      case Op::I64TruncSatF64U: TruncSat(o, true, true, false); return false;
      // ---- binary ----
      case Op::I32Add: StI32(o[0], IntArith(0, LdI32(o[1]), LdI32(o[2]))); return false;
      case Op::I32Sub: StI32(o[0], IntArith(1, LdI32(o[1]), LdI32(o[2]))); return false;
      case Op::I32Mul: StI32(o[0], IntArith(2, LdI32(o[1]), LdI32(o[2]))); return false;
      case Op::I32And: StI32(o[0], IntArith(3, LdI32(o[1]), LdI32(o[2]))); return false;
      case Op::I32Or: StI32(o[0], IntArith(4, LdI32(o[1]), LdI32(o[2]))); return false;
      case Op::I32Xor: StI32(o[0], IntArith(5, LdI32(o[1]), LdI32(o[2]))); return false;
      case Op::I32Shl: StI32(o[0], IntArith(6, LdI32(o[1]), LdI32(o[2]))); return false;
      case Op::I32ShrS: StI32(o[0], IntArith(7, LdI32(o[1]), LdI32(o[2]))); return false;
      case Op::I32ShrU: StI32(o[0], IntArith(8, LdI32(o[1]), LdI32(o[2]))); return false;
      case Op::I64Add: St(o[0], IntArith(0, Ld(o[1]), Ld(o[2]))); return false;
      case Op::I64Sub: St(o[0], IntArith(1, Ld(o[1]), Ld(o[2]))); return false;
      case Op::I64Mul: St(o[0], IntArith(2, Ld(o[1]), Ld(o[2]))); return false;
      case Op::I64And: St(o[0], IntArith(3, Ld(o[1]), Ld(o[2]))); return false;
      case Op::I64Or: St(o[0], IntArith(4, Ld(o[1]), Ld(o[2]))); return false;
      case Op::I64Xor: St(o[0], IntArith(5, Ld(o[1]), Ld(o[2]))); return false;
      case Op::I64Shl: St(o[0], IntArith(6, Ld(o[1]), Ld(o[2]))); return false;
      case Op::I64ShrS: St(o[0], IntArith(7, Ld(o[1]), Ld(o[2]))); return false;
      case Op::I64ShrU: St(o[0], IntArith(8, Ld(o[1]), Ld(o[2]))); return false;
      case Op::I32DivS: DivRem(o, false, true, false); return false;
      case Op::I32DivU: DivRem(o, false, false, false); return false;
      case Op::I32RemS: DivRem(o, false, true, true); return false;
      case Op::I32RemU: DivRem(o, false, false, true); return false;
      case Op::I64DivS: DivRem(o, true, true, false); return false;
      case Op::I64DivU: DivRem(o, true, false, false); return false;
      case Op::I64RemS: DivRem(o, true, true, true); return false;
      case Op::I64RemU: DivRem(o, true, false, true); return false;
      case Op::I32Rotl: {
        llvm::Value* a = LdI32(o[1]);
        StI32(o[0], Intrinsic(llvm::Intrinsic::fshl, {i32_}, {a, a, LdI32(o[2])}));
        return false;
      }
      case Op::I32Rotr: {
        llvm::Value* a = LdI32(o[1]);
        StI32(o[0], Intrinsic(llvm::Intrinsic::fshr, {i32_}, {a, a, LdI32(o[2])}));
        return false;
      }
      case Op::I64Rotl: {
        llvm::Value* a = Ld(o[1]);
        St(o[0], Intrinsic(llvm::Intrinsic::fshl, {i64_}, {a, a, Ld(o[2])}));
        return false;
      }
      case Op::I64Rotr: {
        llvm::Value* a = Ld(o[1]);
        St(o[0], Intrinsic(llvm::Intrinsic::fshr, {i64_}, {a, a, Ld(o[2])}));
        return false;
      }
      case Op::F32Add: StF32(o[0], b_.CreateFAdd(FpOperand(o[1], false), FpOperand(o[2], false))); return false;
      case Op::F32Sub: StF32(o[0], b_.CreateFSub(FpOperand(o[1], false), FpOperand(o[2], false))); return false;
      case Op::F32Mul: StF32(o[0], b_.CreateFMul(FpOperand(o[1], false), FpOperand(o[2], false))); return false;
      case Op::F32Div: StF32(o[0], b_.CreateFDiv(FpOperand(o[1], false), FpOperand(o[2], false))); return false;
      case Op::F32Min: StF32(o[0], MinMax(LdF32(o[1]), LdF32(o[2]), true)); return false;
      case Op::F32Max: StF32(o[0], MinMax(LdF32(o[1]), LdF32(o[2]), false)); return false;
      case Op::F32Copysign:
        StI32(o[0], b_.CreateOr(b_.CreateAnd(LdI32(o[1]), K32(0x7FFFFFFFu)), b_.CreateAnd(LdI32(o[2]), K32(0x80000000u))));
        return false;
      case Op::F64Add: StF64(o[0], b_.CreateFAdd(FpOperand(o[1], true), FpOperand(o[2], true))); return false;
      case Op::F64Sub: StF64(o[0], b_.CreateFSub(FpOperand(o[1], true), FpOperand(o[2], true))); return false;
      case Op::F64Mul: StF64(o[0], b_.CreateFMul(FpOperand(o[1], true), FpOperand(o[2], true))); return false;
      case Op::F64Div: StF64(o[0], b_.CreateFDiv(FpOperand(o[1], true), FpOperand(o[2], true))); return false;
      case Op::F64Min: StF64(o[0], MinMax(LdF64(o[1]), LdF64(o[2]), true)); return false;
      case Op::F64Max: StF64(o[0], MinMax(LdF64(o[1]), LdF64(o[2]), false)); return false;
      case Op::F64Copysign:
        St(o[0], b_.CreateOr(b_.CreateAnd(Ld(o[1]), K64(0x7FFFFFFFFFFFFFFFull)),
                             b_.CreateAnd(Ld(o[2]), K64(0x8000000000000000ull))));
        return false;
      default: break;
    }
    // Every op is handled above; reaching here is a translator bug, so fail loudly in the code too.
    Trap(JitTrap::kUnreachable);
    return true;
  }

  uint32_t ImportIndexOfFunc(uint32_t func_index) {
    if (func_import_index_.empty()) {
      for (uint32_t i = 0; i < m_.imports.size(); ++i)
        if (m_.imports[i].kind == ExternKind::Func) func_import_index_.push_back(i);
    }
    return func_import_index_[func_index];
  }

  llvm::LLVMContext& c_;
  llvm::Module& mod_;
  const CompiledModule& cm_;
  const ModuleInfo& m_;
  const JitLayout& l_;
  const bool checks_;
  llvm::IRBuilder<> b_;
  llvm::Type *i1_, *i8_, *i16_, *i32_, *i64_, *f32_, *f64_, *ptr_, *void_;
  llvm::FunctionType* fn_type_;
  llvm::MDNode* unlikely_;
  llvm::FunctionCallee h_trap_, h_poll_, h_call_, h_indirect_, h_memory_grow_, h_memory_fill_, h_memory_copy_,
      h_memory_init_, h_data_drop_, h_table_get_, h_table_set_, h_table_size_, h_table_grow_, h_table_fill_,
      h_table_copy_, h_table_init_, h_elem_drop_;
  std::vector<llvm::Function*> funcs_;
  std::vector<uint32_t> func_import_index_;

  // Per function.
  llvm::Function* fn_ = nullptr;
  llvm::Value *th_ = nullptr, *inst_ = nullptr, *fp_ = nullptr;
  llvm::Value *mem_ = nullptr, *mem_base_ = nullptr;
  llvm::AllocaInst* mem_size_var_ = nullptr;
  std::vector<llvm::AllocaInst*> slots_;
  llvm::AllocaInst* simd_scratch_ = nullptr;  // compile_simd.cc's scratch frame
  std::unordered_set<uint32_t> consts_;  // slots holding a constant written in this block
  std::unordered_map<uint32_t, llvm::BasicBlock*> blocks_;
  llvm::BasicBlock* trap_blocks_[16] = {};
};

std::string ToString(llvm::Error err) { return llvm::toString(std::move(err)); }

// Stops a compile whose result nobody wants any more (the process is exiting, or the module was dropped):
// every optional pass is skipped from then on, in the optimiser (new pass manager) and in code generation
// (legacy passes ask the context's gate), so what is left is the required lowering of the function at hand.
class CancelGate : public llvm::OptPassGate {
 public:
  explicit CancelGate(const std::function<bool()>* cancelled) : cancelled_(cancelled) {}
  bool shouldRunPass(const llvm::StringRef, llvm::StringRef) override { return !Cancelled(); }
  bool isEnabled() const override { return cancelled_ != nullptr && *cancelled_; }
  bool Cancelled() const { return isEnabled() && (*cancelled_)(); }

 private:
  const std::function<bool()>* cancelled_;
};

void Optimize(llvm::Module& mod, llvm::TargetMachine* tm, const CancelGate& gate) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassInstrumentationCallbacks pic;
  if (gate.isEnabled())
    pic.registerShouldRunOptionalPassCallback([&gate](llvm::StringRef, llvm::Any) { return !gate.Cancelled(); });
  llvm::PassBuilder pb(tm, llvm::PipelineTuningOptions(), std::nullopt, &pic);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2);
  mpm.run(mod, mam);
}

// The host's target, once: the CPU name and features are what the code is generated for.
struct HostTarget {
  mutable std::optional<llvm::orc::JITTargetMachineBuilder> builder;  // createTargetMachine is not const (it is thread-safe)
  std::string error;
};

const HostTarget& GetHost() {
  static const HostTarget* host = [] {
    auto* h = new HostTarget;  // never destroyed: a compile may be running in another thread at exit
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
    if (!jtmb) {
      h->error = ToString(jtmb.takeError());
      return h;
    }
    // Position-independent code in the small code model: the object loader (object_load.cc) places it
    // anywhere and reaches the helpers through stubs.
    jtmb->setRelocationModel(llvm::Reloc::PIC_);
    jtmb->setCodeModel(llvm::CodeModel::Small);
    jtmb->setCodeGenOptLevel(llvm::CodeGenOptLevel::Default);
    h->builder = std::move(*jtmb);
    return h;
  }();
  return *host;
}

// Validated internal code -> LLVM IR -> optimised x86-64 relocatable object.
Result<std::string> CompileToObject(const JitRequest& req) {
  auto fail = [](std::string what) { return MakeError(ErrorKind::Resource, "compiling tier: " + what); };
  auto cancelled = [] { return MakeError(ErrorKind::Interrupted, "compiling tier: compile cancelled"); };
  const HostTarget& host = GetHost();
  if (!host.builder) return fail(host.error);
  auto tm = host.builder->createTargetMachine();
  if (!tm) return fail(ToString(tm.takeError()));
  CancelGate gate(req.cancelled);
  llvm::LLVMContext context;
  context.setOptPassGate(gate);
  llvm::Module mod("wasm", context);
  mod.setDataLayout((*tm)->createDataLayout());
  mod.setTargetTriple((*tm)->getTargetTriple().str());
  mod.setPICLevel(llvm::PICLevel::BigPIC);
  if (!Translator(mod, *req.module, req.layout, req.options.bounds_checks).Run([&gate] { return gate.Cancelled(); }))
    return cancelled();
  {
    std::string problems;
    llvm::raw_string_ostream os(problems);
    if (llvm::verifyModule(mod, &os)) return fail("invalid IR: " + problems.substr(0, 2000));
  }
  if (gate.Cancelled()) return cancelled();
  Optimize(mod, tm->get(), gate);
  if (gate.Cancelled()) return cancelled();
  llvm::SmallVector<char, 0> bytes;
  {
    llvm::raw_svector_ostream os(bytes);
    llvm::legacy::PassManager pm;
    if ((*tm)->addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::ObjectFile))
      return fail("the target cannot emit object files");
    pm.run(mod);
  }
  if (gate.Cancelled()) return cancelled();
  return std::string(bytes.data(), bytes.size());
}

}  // namespace

}  // namespace wasmq::wasm

extern "C" [[gnu::visibility("default")]] void wasmq_jit_compile_v2(const wasmq::wasm::JitRequest* request,
                                                                    wasmq::wasm::Result<std::string>* out) {
  *out = wasmq::wasm::CompileToObject(*request);
}
