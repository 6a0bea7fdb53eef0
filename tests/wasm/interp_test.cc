// Tests of the interpreter (interp.cc) on hand-assembled internal code (ops.h): no decoder or compiler
// involved. Functions, tables and globals are built directly; memories come from a Store.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <deque>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "wasm/ops.h"
#include "wasm/runtime.h"
#include "wasm/wasm.h"

namespace wasmq::wasm {
namespace {

uint64_t F32Bits(float f) { return std::bit_cast<uint32_t>(f); }
uint64_t F64Bits(double d) { return std::bit_cast<uint64_t>(d); }
float AsF32(uint64_t v) { return std::bit_cast<float>(static_cast<uint32_t>(v)); }
double AsF64(uint64_t v) { return std::bit_cast<double>(v); }

// Assembles internal code. Operand counts are checked against kOpOperandWords.
class Asm {
 public:
  Asm& operator()(Op op, std::initializer_list<uint32_t> operands = {}) {
    if (op != Op::BrTable) {
      EXPECT_EQ(operands.size(), kOpOperandWords[static_cast<uint32_t>(op)])
          << kOpNames[static_cast<uint32_t>(op)];
    }
    words.push_back(static_cast<uint32_t>(op));
    words.insert(words.end(), operands.begin(), operands.end());
    return *this;
  }
  Asm& Const64(uint32_t d, uint64_t v) {
    return (*this)(Op::Const64, {d, static_cast<uint32_t>(v), static_cast<uint32_t>(v >> 32)});
  }
  uint32_t Here() const { return static_cast<uint32_t>(words.size()); }
  size_t LastWord() const { return words.size() - 1; }  // to patch a forward jump target
  void Patch(size_t at, uint32_t target) { words[at] = target; }
  std::vector<uint32_t> words;
};

class InterpTest : public ::testing::Test {
 protected:
  InterpTest() {
    module_->type_ids = {1000, 1001, 1002};
    inst_->module = module_;
  }

  // A wasm function of `inst` (defaults to inst_). type_index picks the canonical id for call_indirect.
  FuncInst* AddFunc(uint32_t params, uint32_t results, uint32_t locals, uint32_t slots, const Asm& a,
                    uint32_t type_index = 0, InstanceImpl* inst = nullptr) {
    if (inst == nullptr) inst = inst_.get();
    CompiledFunc& cf = codes_.emplace_back();
    cf.type_index = type_index;
    cf.num_params = params;
    cf.num_results = results;
    cf.num_locals = locals;
    cf.frame_slots = slots;
    cf.code = a.words;
    auto f = std::make_unique<FuncInst>();
    f->owned_type = std::make_unique<FuncType>(
        FuncType{std::vector<ValType>(params, ValType::I64), std::vector<ValType>(results, ValType::I64)});
    f->type = f->owned_type.get();
    f->type_id = module_->type_ids[type_index];
    f->instance = inst;
    f->code = &cf;
    f->func_index = static_cast<uint32_t>(inst->funcs.size());
    inst->funcs.push_back(f.get());
    funcs_.push_back(std::move(f));
    return inst->funcs.back();
  }

  FuncInst* AddHost(size_t params, size_t results, HostFunc fn, std::string name, uint32_t type_index = 0) {
    auto f = std::make_unique<FuncInst>();
    f->owned_type = std::make_unique<FuncType>(
        FuncType{std::vector<ValType>(params, ValType::I64), std::vector<ValType>(results, ValType::I64)});
    f->type = f->owned_type.get();
    f->type_id = module_->type_ids[type_index];
    f->host = std::move(fn);
    f->debug_name = std::move(name);
    f->func_index = static_cast<uint32_t>(inst_->funcs.size());
    inst_->funcs.push_back(f.get());
    funcs_.push_back(std::move(f));
    return inst_->funcs.back();
  }

  MemInst* AddMemory(uint64_t pages, uint64_t max_pages) {
    MemInst* m = store_.NewMemory(MemoryType{Limits{pages, max_pages}});
    inst_->memories.push_back(m);
    return m;
  }

  TableInst* AddTable(uint64_t size, uint64_t max_elems) {
    auto t = std::make_unique<TableInst>();
    t->type.limits.min = size;
    t->elems.assign(size, 0);
    t->max_elems = max_elems;
    inst_->tables.push_back(t.get());
    tables_.push_back(std::move(t));
    return tables_.back().get();
  }

  Result<void> Call(FuncInst* f, std::vector<uint64_t> args, std::vector<uint64_t>* out = nullptr) {
    std::vector<uint64_t> res(8, 0xDEADBEEF);
    Result<void> r = Invoke(*thread_, f, args.data(), res.data());
    EXPECT_TRUE(thread_->frames.empty());
    EXPECT_EQ(thread_->stack_top, thread_->stack_base);
    if (out != nullptr) *out = res;
    return r;
  }

  uint64_t CallOk(FuncInst* f, std::vector<uint64_t> args) {
    std::vector<uint64_t> out;
    Result<void> r = Call(f, std::move(args), &out);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return out[0];
  }

  // One instruction "op 0 0 [1]" over fresh params, then Return.
  Result<void> RunOp(Op op, std::vector<uint64_t> args, uint64_t* out) {
    Asm a;
    if (args.size() == 1) {
      a(op, {0, 0});
    } else {
      a(op, {0, 0, 1});
    }
    a(Op::Return);
    uint32_t n = static_cast<uint32_t>(args.size());
    FuncInst* f = AddFunc(n, 1, n, n, a);
    std::vector<uint64_t> res;
    Result<void> r = Call(f, std::move(args), &res);
    *out = res[0];
    return r;
  }
  uint64_t Op1(Op op, uint64_t x) {
    uint64_t out = 0;
    Result<void> r = RunOp(op, {x}, &out);
    EXPECT_TRUE(r.ok()) << kOpNames[static_cast<uint32_t>(op)] << ": " << r.error().message;
    return out;
  }
  uint64_t Op2(Op op, uint64_t x, uint64_t y) {
    uint64_t out = 0;
    Result<void> r = RunOp(op, {x, y}, &out);
    EXPECT_TRUE(r.ok()) << kOpNames[static_cast<uint32_t>(op)] << ": " << r.error().message;
    return out;
  }
  std::string TrapOf(Op op, std::vector<uint64_t> args) {
    uint64_t out = 0;
    Result<void> r = RunOp(op, std::move(args), &out);
    if (r.ok()) return "no trap";
    EXPECT_EQ(r.error().kind, ErrorKind::Trap);
    return r.error().message;
  }

  // sum(n) = n + (n-1) + ... + 1 with a Check at the loop header.
  FuncInst* AddSumLoop() {
    Asm a;
    uint32_t loop = a.Here();
    a(Op::Check);
    a(Op::BrUnless, {0, 0});
    size_t exit_fix = a.LastWord();
    a(Op::I32Add, {1, 1, 0});
    a(Op::Const32, {2, 1});
    a(Op::I32Sub, {0, 0, 2});
    a(Op::Jmp, {loop});
    a.Patch(exit_fix, a.Here());
    a(Op::Copy, {0, 1});
    a(Op::Return);
    return AddFunc(1, 1, 2, 3, a);
  }

  // fact(n: i64) -> i64, recursive through Call.
  FuncInst* AddFactorial() {
    Asm a;
    uint32_t self = static_cast<uint32_t>(inst_->funcs.size());
    a(Op::I64Eqz, {1, 0});
    a(Op::BrUnless, {1, 0});
    size_t fix = a.LastWord();
    a.Const64(0, 1);
    a(Op::Return);
    a.Patch(fix, a.Here());
    a.Const64(2, 1);
    a(Op::I64Sub, {3, 0, 2});
    a(Op::Call, {self, 3});
    a(Op::I64Mul, {0, 0, 3});
    a(Op::Return);
    return AddFunc(1, 1, 1, 4, a);
  }

  Engine engine_;
  Store store_{engine_};
  std::shared_ptr<CompiledModule> module_ = std::make_shared<CompiledModule>();
  std::unique_ptr<InstanceImpl> inst_ = std::make_unique<InstanceImpl>();
  std::deque<CompiledFunc> codes_;
  std::vector<std::unique_ptr<FuncInst>> funcs_;
  std::vector<std::unique_ptr<TableInst>> tables_;
  std::unique_ptr<Thread> thread_ = std::make_unique<Thread>(EngineConfig{});
};

TEST(OpsTable, NamesAndOperandWords) {
  EXPECT_STREQ(kOpNames[static_cast<uint32_t>(Op::Unreachable)], "Unreachable");
  EXPECT_STREQ(kOpNames[static_cast<uint32_t>(Op::F64Copysign)], "F64Copysign");
  EXPECT_EQ(kOpOperandWords[static_cast<uint32_t>(Op::CallIndirect)], 4);
  EXPECT_EQ(kOpOperandWords[static_cast<uint32_t>(Op::TableCopy)], 5);
  EXPECT_EQ(kOpOperandWords[static_cast<uint32_t>(Op::I64Store32)], 3);
  EXPECT_EQ(kOpOperandWords[static_cast<uint32_t>(Op::Return)], 0);
}

TEST_F(InterpTest, LoopSum) {
  FuncInst* f = AddSumLoop();
  EXPECT_EQ(CallOk(f, {100}), 5050u);
  EXPECT_EQ(CallOk(f, {0}), 0u);
  EXPECT_EQ(CallOk(f, {100000}), static_cast<uint32_t>(100000ull * 100001 / 2));
}

TEST_F(InterpTest, RecursiveFactorial) {
  FuncInst* f = AddFactorial();
  EXPECT_EQ(CallOk(f, {0}), 1u);
  EXPECT_EQ(CallOk(f, {5}), 120u);
  EXPECT_EQ(CallOk(f, {20}), 2432902008176640000ull);
}

TEST_F(InterpTest, LocalsAreZeroedOnEntry) {
  // f(p) -> local1 + local2: locals must read 0 even when the stack held garbage.
  Asm a;
  a(Op::I64Add, {0, 1, 2});
  a(Op::Return);
  FuncInst* f = AddFunc(1, 1, 3, 3, a);
  std::fill(thread_->stack_base, thread_->stack_base + 16, 0x5555555555555555ull);
  EXPECT_EQ(CallOk(f, {7}), 0u);
}

TEST_F(InterpTest, BrTableClampsIndex) {
  // return 10 + min(idx, 2) via br_table
  Asm a;
  a(Op::BrTable, {0, 2, 0, 0, 0});
  size_t t0 = a.LastWord() - 2, t1 = a.LastWord() - 1, t2 = a.LastWord();
  a.Patch(t0, a.Here());
  a(Op::Const32, {0, 10});
  a(Op::Return);
  a.Patch(t1, a.Here());
  a(Op::Const32, {0, 11});
  a(Op::Return);
  a.Patch(t2, a.Here());
  a(Op::Const32, {0, 12});
  a(Op::Return);
  FuncInst* f = AddFunc(1, 1, 1, 1, a);
  EXPECT_EQ(CallOk(f, {0}), 10u);
  EXPECT_EQ(CallOk(f, {1}), 11u);
  EXPECT_EQ(CallOk(f, {2}), 12u);
  EXPECT_EQ(CallOk(f, {3}), 12u);
  EXPECT_EQ(CallOk(f, {0xFFFFFFFFull}), 12u);
  EXPECT_EQ(CallOk(f, {0x100000000ull}), 10u);  // only the low 32 bits count
}

TEST_F(InterpTest, SelectGlobalsRefs) {
  GlobalInst g;
  g.value = 41;
  inst_->globals.push_back(&g);
  Asm a;
  a(Op::GlobalGet, {1, 0});
  a(Op::Const32, {2, 1});
  a(Op::I32Add, {1, 1, 2});
  a(Op::GlobalSet, {0, 1});
  a(Op::Const32, {2, 100});
  a(Op::Select, {0, 1, 2, 0});  // param ? g : 100
  a(Op::Return);
  FuncInst* f = AddFunc(1, 1, 1, 3, a);
  EXPECT_EQ(CallOk(f, {1}), 42u);
  EXPECT_EQ(g.value, 42u);
  EXPECT_EQ(CallOk(f, {0x100000000ull}), 100u);  // select looks at the low 32 bits only

  Asm b;
  b(Op::RefFunc, {0, 0});
  b(Op::RefIsNull, {1, 0});
  b(Op::Const32, {2, 0});
  b(Op::RefIsNull, {2, 2});
  b(Op::Return);
  FuncInst* r = AddFunc(0, 3, 0, 3, b);
  std::vector<uint64_t> out;
  ASSERT_TRUE(Call(r, {}, &out).ok());
  EXPECT_EQ(out[0], reinterpret_cast<uintptr_t>(inst_->funcs[0]));
  EXPECT_EQ(out[1], 0u);
  EXPECT_EQ(out[2], 1u);
}

TEST_F(InterpTest, IntegerArithmetic) {
  EXPECT_EQ(Op2(Op::I32Add, 0xFFFFFFFF, 1), 0u);
  EXPECT_EQ(Op2(Op::I32Sub, 0, 1), 0xFFFFFFFFu);  // zero-extended
  EXPECT_EQ(Op2(Op::I32Mul, 0x10000, 0x10000), 0u);
  EXPECT_EQ(Op2(Op::I64Mul, 0x8000000000000000ull, 2), 0u);
  EXPECT_EQ(Op2(Op::I32DivS, static_cast<uint32_t>(-7), 2), static_cast<uint32_t>(-3));
  EXPECT_EQ(Op2(Op::I32RemS, static_cast<uint32_t>(-7), 2), static_cast<uint32_t>(-1));
  EXPECT_EQ(Op2(Op::I32RemS, 0x80000000u, 0xFFFFFFFFu), 0u);
  EXPECT_EQ(Op2(Op::I64RemS, 0x8000000000000000ull, ~0ull), 0u);
  EXPECT_EQ(Op2(Op::I32DivU, 0xFFFFFFFFu, 2), 0x7FFFFFFFu);
  EXPECT_EQ(Op2(Op::I64DivS, static_cast<uint64_t>(-9), 2), static_cast<uint64_t>(-4));
  EXPECT_EQ(Op2(Op::I32Shl, 1, 33), 2u);
  EXPECT_EQ(Op2(Op::I32ShrS, 0x80000000u, 31), 0xFFFFFFFFu);
  EXPECT_EQ(Op2(Op::I32ShrU, 0x80000000u, 63), 1u);
  EXPECT_EQ(Op2(Op::I64Shl, 1, 65), 2u);
  EXPECT_EQ(Op2(Op::I64ShrS, 0x8000000000000000ull, 127), ~0ull);
  EXPECT_EQ(Op2(Op::I32Rotl, 0x80000001u, 33), 3u);
  EXPECT_EQ(Op2(Op::I32Rotr, 3, 1), 0x80000001u);
  EXPECT_EQ(Op2(Op::I64Rotl, 0x8000000000000001ull, 65), 3u);
  EXPECT_EQ(Op2(Op::I64Rotr, 1, 0), 1u);
  EXPECT_EQ(Op2(Op::I32LtS, 0xFFFFFFFFu, 0), 1u);
  EXPECT_EQ(Op2(Op::I32LtU, 0xFFFFFFFFu, 0), 0u);
  EXPECT_EQ(Op2(Op::I64GeS, 0, ~0ull), 1u);
  EXPECT_EQ(Op1(Op::I32Clz, 0), 32u);
  EXPECT_EQ(Op1(Op::I32Ctz, 0), 32u);
  EXPECT_EQ(Op1(Op::I64Clz, 0), 64u);
  EXPECT_EQ(Op1(Op::I64Ctz, 0x100), 8u);
  EXPECT_EQ(Op1(Op::I32Popcnt, 0xFFFFFFFFu), 32u);
  EXPECT_EQ(Op1(Op::I32Eqz, 0x100000000ull), 1u);
  EXPECT_EQ(Op1(Op::I32Extend8S, 0x80), 0xFFFFFF80u);
  EXPECT_EQ(Op1(Op::I32Extend16S, 0x7FFF), 0x7FFFu);
  EXPECT_EQ(Op1(Op::I64Extend32S, 0x80000000u), 0xFFFFFFFF80000000ull);
  EXPECT_EQ(Op1(Op::I64ExtendI32S, 0xFFFFFFFFu), ~0ull);
  EXPECT_EQ(Op1(Op::I64ExtendI32U, 0xFFFFFFFFFFFFFFFFull), 0xFFFFFFFFu);
  EXPECT_EQ(Op1(Op::I32WrapI64, 0x123456789ull), 0x23456789u);
}

TEST_F(InterpTest, DivisionTraps) {
  EXPECT_EQ(TrapOf(Op::I32DivS, {1, 0}), "integer divide by zero");
  EXPECT_EQ(TrapOf(Op::I32DivU, {1, 0}), "integer divide by zero");
  EXPECT_EQ(TrapOf(Op::I32RemS, {1, 0}), "integer divide by zero");
  EXPECT_EQ(TrapOf(Op::I64RemU, {1, 0}), "integer divide by zero");
  EXPECT_EQ(TrapOf(Op::I32DivS, {0x80000000u, 0xFFFFFFFFu}), "integer overflow");
  EXPECT_EQ(TrapOf(Op::I64DivS, {0x8000000000000000ull, ~0ull}), "integer overflow");
  EXPECT_EQ(TrapOf(Op::I32DivS, {0x80000000u, 1}), "no trap");
  // the divisor's high bits are not part of an i32
  EXPECT_EQ(TrapOf(Op::I32DivU, {1, 0x100000000ull}), "integer divide by zero");

  uint64_t out = 0;
  Result<void> r = RunOp(Op::I32DivS, {1, 0}, &out);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(thread_->last_backtrace.size(), 1u);
  EXPECT_EQ(thread_->last_backtrace[0].function, "func[" + std::to_string(inst_->funcs.size() - 1) + "]");
}

TEST_F(InterpTest, FloatMinMaxAndSigns) {
  auto f32 = [&](Op op, float a, float b) { return Op2(op, F32Bits(a), F32Bits(b)); };
  auto f64 = [&](Op op, double a, double b) { return Op2(op, F64Bits(a), F64Bits(b)); };
  EXPECT_EQ(f32(Op::F32Min, -0.0f, 0.0f), 0x80000000u);
  EXPECT_EQ(f32(Op::F32Min, 0.0f, -0.0f), 0x80000000u);
  EXPECT_EQ(f32(Op::F32Max, -0.0f, 0.0f), 0u);
  EXPECT_EQ(f32(Op::F32Max, 0.0f, -0.0f), 0u);
  EXPECT_EQ(f64(Op::F64Min, 0.0, -0.0), 0x8000000000000000ull);
  EXPECT_EQ(f64(Op::F64Max, -0.0, 0.0), 0u);
  EXPECT_EQ(AsF32(f32(Op::F32Min, 1.0f, -2.0f)), -2.0f);
  EXPECT_EQ(AsF64(f64(Op::F64Max, 1.0, -2.0)), 1.0);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(AsF32(f32(Op::F32Min, nan, 1.0f))));
  EXPECT_TRUE(std::isnan(AsF32(f32(Op::F32Max, 1.0f, nan))));
  EXPECT_TRUE(std::isnan(AsF64(f64(Op::F64Min, 1.0, std::numeric_limits<double>::quiet_NaN()))));
  // A signalling NaN operand comes back quiet (an arithmetic NaN).
  uint64_t snan = 0x7F800001u;
  uint64_t m = Op2(Op::F32Min, snan, F32Bits(1.0f));
  EXPECT_TRUE(std::isnan(AsF32(m)));
  EXPECT_NE(m & 0x00400000u, 0u);

  // neg/abs/copysign are bit operations: NaN payloads survive.
  EXPECT_EQ(Op1(Op::F32Neg, 0x7FA00001u), 0xFFA00001u);
  EXPECT_EQ(Op1(Op::F32Abs, 0xFFA00001u), 0x7FA00001u);
  EXPECT_EQ(Op1(Op::F64Neg, 0x7FF0000000000001ull), 0xFFF0000000000001ull);
  EXPECT_EQ(Op1(Op::F64Abs, 0xFFF0000000000001ull), 0x7FF0000000000001ull);
  EXPECT_EQ(Op2(Op::F32Copysign, 0x7FA00001u, F32Bits(-1.0f)), 0xFFA00001u);
  EXPECT_EQ(Op2(Op::F64Copysign, F64Bits(-2.0), F64Bits(0.0)), F64Bits(2.0));
  EXPECT_EQ(Op1(Op::F32Neg, F32Bits(0.0f)), 0x80000000u);
  // f32 results stay in the low 32 bits
  EXPECT_EQ(Op2(Op::F32Add, F32Bits(1.5f), F32Bits(2.25f)), F32Bits(3.75f));
  EXPECT_EQ(Op2(Op::F32Add, F32Bits(-1.0f), F32Bits(0.5f)) >> 32, 0u);
}

TEST_F(InterpTest, FloatRounding) {
  EXPECT_EQ(AsF32(Op1(Op::F32Nearest, F32Bits(2.5f))), 2.0f);
  EXPECT_EQ(AsF32(Op1(Op::F32Nearest, F32Bits(3.5f))), 4.0f);
  EXPECT_EQ(Op1(Op::F32Nearest, F32Bits(-0.5f)), 0x80000000u);
  EXPECT_EQ(AsF64(Op1(Op::F64Nearest, F64Bits(2.5))), 2.0);
  EXPECT_EQ(AsF64(Op1(Op::F64Nearest, F64Bits(-3.5))), -4.0);
  EXPECT_EQ(AsF64(Op1(Op::F64Nearest, F64Bits(4503599627370497.0))), 4503599627370497.0);
  EXPECT_EQ(AsF32(Op1(Op::F32Ceil, F32Bits(1.1f))), 2.0f);
  EXPECT_EQ(Op1(Op::F32Ceil, F32Bits(-0.5f)), 0x80000000u);
  EXPECT_EQ(AsF32(Op1(Op::F32Floor, F32Bits(-1.1f))), -2.0f);
  EXPECT_EQ(AsF64(Op1(Op::F64Trunc, F64Bits(-1.9))), -1.0);
  EXPECT_EQ(AsF64(Op1(Op::F64Sqrt, F64Bits(16.0))), 4.0);
  EXPECT_EQ(AsF32(Op1(Op::F32Sqrt, F32Bits(2.25f))), 1.5f);
  uint64_t q = Op1(Op::F64Floor, 0x7FF0000000000001ull);  // signalling in, quiet out
  EXPECT_TRUE(std::isnan(AsF64(q)));
  EXPECT_NE(q & 0x0008000000000000ull, 0u);
  EXPECT_EQ(Op2(Op::F32Lt, F32Bits(1.0f), F32Bits(2.0f)), 1u);
  EXPECT_EQ(Op2(Op::F32Ne, 0x7FC00000u, 0x7FC00000u), 1u);
  EXPECT_EQ(Op2(Op::F64Eq, F64Bits(0.0), F64Bits(-0.0)), 1u);
  EXPECT_EQ(Op2(Op::F64Ge, F64Bits(std::nan("")), F64Bits(0.0)), 0u);
}

TEST_F(InterpTest, TruncationBoundaries) {
  auto f32 = [](float f) { return F32Bits(f); };
  auto f64 = [](double d) { return F64Bits(d); };
  const uint64_t nan32 = 0x7FC00000u, nan64 = 0x7FF8000000000000ull;
  // i32.trunc_f32_s
  EXPECT_EQ(Op1(Op::I32TruncF32S, f32(-2147483648.0f)), 0x80000000u);
  EXPECT_EQ(TrapOf(Op::I32TruncF32S, {f32(2147483648.0f)}), "integer overflow");
  EXPECT_EQ(TrapOf(Op::I32TruncF32S, {f32(-2147483904.0f)}), "integer overflow");
  EXPECT_EQ(TrapOf(Op::I32TruncF32S, {nan32}), "invalid conversion to integer");
  EXPECT_EQ(Op1(Op::I32TruncF32S, f32(-1.9f)), 0xFFFFFFFFu);
  // i32.trunc_f32_u
  EXPECT_EQ(Op1(Op::I32TruncF32U, f32(-0.9f)), 0u);
  EXPECT_EQ(Op1(Op::I32TruncF32U, f32(4294967040.0f)), 4294967040u);
  EXPECT_EQ(TrapOf(Op::I32TruncF32U, {f32(4294967296.0f)}), "integer overflow");
  EXPECT_EQ(TrapOf(Op::I32TruncF32U, {f32(-1.0f)}), "integer overflow");
  // i32.trunc_f64_s / u
  EXPECT_EQ(Op1(Op::I32TruncF64S, f64(-2147483648.9)), 0x80000000u);
  EXPECT_EQ(Op1(Op::I32TruncF64S, f64(2147483647.9)), 0x7FFFFFFFu);
  EXPECT_EQ(TrapOf(Op::I32TruncF64S, {f64(-2147483649.0)}), "integer overflow");
  EXPECT_EQ(TrapOf(Op::I32TruncF64S, {f64(2147483648.0)}), "integer overflow");
  EXPECT_EQ(Op1(Op::I32TruncF64U, f64(4294967295.9)), 0xFFFFFFFFu);
  EXPECT_EQ(Op1(Op::I32TruncF64U, f64(-0.9)), 0u);
  EXPECT_EQ(TrapOf(Op::I32TruncF64U, {f64(4294967296.0)}), "integer overflow");
  EXPECT_EQ(TrapOf(Op::I32TruncF64U, {f64(-1.0)}), "integer overflow");
  EXPECT_EQ(TrapOf(Op::I32TruncF64U, {nan64}), "invalid conversion to integer");
  EXPECT_EQ(TrapOf(Op::I32TruncF64U, {f64(INFINITY)}), "integer overflow");
  // i64
  EXPECT_EQ(Op1(Op::I64TruncF32S, f32(-9223372036854775808.0f)), 0x8000000000000000ull);
  EXPECT_EQ(TrapOf(Op::I64TruncF32S, {f32(9223372036854775808.0f)}), "integer overflow");
  EXPECT_EQ(Op1(Op::I64TruncF64S, f64(-9223372036854775808.0)), 0x8000000000000000ull);
  EXPECT_EQ(Op1(Op::I64TruncF64S, f64(9223372036854774784.0)), 9223372036854774784ull);
  EXPECT_EQ(TrapOf(Op::I64TruncF64S, {f64(9223372036854775808.0)}), "integer overflow");
  EXPECT_EQ(Op1(Op::I64TruncF64U, f64(18446744073709549568.0)), 18446744073709549568ull);
  EXPECT_EQ(TrapOf(Op::I64TruncF64U, {f64(18446744073709551616.0)}), "integer overflow");
  EXPECT_EQ(Op1(Op::I64TruncF32U, f32(18446742974197923840.0f)), 18446742974197923840ull);
  EXPECT_EQ(TrapOf(Op::I64TruncF32U, {f32(18446744073709551616.0f)}), "integer overflow");
  EXPECT_EQ(TrapOf(Op::I64TruncF32U, {nan32 | 0x80000000u}), "invalid conversion to integer");
  EXPECT_EQ(TrapOf(Op::I64TruncF64U, {f64(-1.0)}), "integer overflow");
  EXPECT_EQ(Op1(Op::I64TruncF64U, f64(-0.99)), 0u);
}

TEST_F(InterpTest, SaturatingTruncation) {
  auto f32 = [](float f) { return F32Bits(f); };
  auto f64 = [](double d) { return F64Bits(d); };
  EXPECT_EQ(Op1(Op::I32TruncSatF32S, 0x7FC00000u), 0u);
  EXPECT_EQ(Op1(Op::I32TruncSatF32S, f32(1e10f)), 0x7FFFFFFFu);
  EXPECT_EQ(Op1(Op::I32TruncSatF32S, f32(-1e10f)), 0x80000000u);
  EXPECT_EQ(Op1(Op::I32TruncSatF32S, f32(-INFINITY)), 0x80000000u);
  EXPECT_EQ(Op1(Op::I32TruncSatF32U, f32(-1.0f)), 0u);
  EXPECT_EQ(Op1(Op::I32TruncSatF32U, f32(INFINITY)), 0xFFFFFFFFu);
  EXPECT_EQ(Op1(Op::I32TruncSatF64S, f64(-2147483648.9)), 0x80000000u);
  EXPECT_EQ(Op1(Op::I32TruncSatF64S, f64(-2147483649.0)), 0x80000000u);
  EXPECT_EQ(Op1(Op::I32TruncSatF64U, f64(4294967296.0)), 0xFFFFFFFFu);
  EXPECT_EQ(Op1(Op::I32TruncSatF64U, f64(123.9)), 123u);
  EXPECT_EQ(Op1(Op::I64TruncSatF32S, f32(INFINITY)), 0x7FFFFFFFFFFFFFFFull);
  EXPECT_EQ(Op1(Op::I64TruncSatF32U, f32(-INFINITY)), 0u);
  EXPECT_EQ(Op1(Op::I64TruncSatF64S, 0x7FF8000000000000ull), 0u);
  EXPECT_EQ(Op1(Op::I64TruncSatF64S, f64(-1e300)), 0x8000000000000000ull);
  EXPECT_EQ(Op1(Op::I64TruncSatF64U, f64(1e300)), ~0ull);
  EXPECT_EQ(Op1(Op::I64TruncSatF64U, f64(-5.0)), 0u);
}

TEST_F(InterpTest, Conversions) {
  // Correct rounding of unsigned 64-bit conversions (spec conversions.wast cases).
  EXPECT_EQ(Op1(Op::F32ConvertI64U, 0x8000008000000001ull), F32Bits(0x1.000002p+63f));
  EXPECT_EQ(Op1(Op::F32ConvertI64U, 0xFFFFFFFFFFFFFFFFull), F32Bits(18446744073709551616.0f));
  EXPECT_EQ(Op1(Op::F64ConvertI64U, 0x8000000000000401ull), F64Bits(0x1.0000000000001p+63));
  EXPECT_EQ(Op1(Op::F64ConvertI64U, 0xFFFFFFFFFFFFFFFFull), F64Bits(18446744073709551616.0));
  EXPECT_EQ(Op1(Op::F32ConvertI64S, 0x7FFFFF4000000001ull), F32Bits(0x1.fffffep+62f));
  EXPECT_EQ(Op1(Op::F32ConvertI32U, 0xFFFFFFFFu), F32Bits(4294967296.0f));
  EXPECT_EQ(Op1(Op::F32ConvertI32S, 0x80000000u), F32Bits(-2147483648.0f));
  EXPECT_EQ(Op1(Op::F32ConvertI32U, 0x1000001u), F32Bits(16777216.0f));  // ties to even
  EXPECT_EQ(Op1(Op::F64ConvertI32U, 0xFFFFFFFFu), F64Bits(4294967295.0));
  EXPECT_EQ(Op1(Op::F64ConvertI32S, 0xFFFFFFFFu), F64Bits(-1.0));
  EXPECT_EQ(Op1(Op::F64ConvertI64S, 0x8000000000000000ull), F64Bits(-9223372036854775808.0));
  EXPECT_EQ(Op1(Op::F32DemoteF64, F64Bits(0x1.fffffffffffffp-1)), F32Bits(1.0f));
  EXPECT_EQ(Op1(Op::F64PromoteF32, F32Bits(-1.5f)), F64Bits(-1.5));
  uint64_t d = Op1(Op::F32DemoteF64, 0x7FF4000000000000ull);  // signalling NaN demotes to a quiet NaN
  EXPECT_TRUE(std::isnan(AsF32(d)));
  EXPECT_NE(d & 0x00400000u, 0u);
}

TEST_F(InterpTest, MemoryLoadStoreAndBounds) {
  AddMemory(1, 2);
  // store(addr, value, off=0) then load it back with every width
  auto store_load = [&](Op store, Op load, uint32_t off, uint64_t addr, uint64_t value, uint64_t* out) {
    Asm a;
    a(store, {0, 1, off});
    a(load, {0, 0, off});
    a(Op::Return);
    FuncInst* f = AddFunc(2, 1, 2, 2, a);
    std::vector<uint64_t> res;
    Result<void> r = Call(f, {addr, value}, &res);
    *out = res[0];
    return r;
  };
  uint64_t out = 0;
  ASSERT_TRUE(store_load(Op::I32Store, Op::I32Load, 0, 65532, 0x89ABCDEFu, &out).ok());
  EXPECT_EQ(out, 0x89ABCDEFu);
  ASSERT_TRUE(store_load(Op::I64Store, Op::I64Load, 8, 16, 0x0123456789ABCDEFull, &out).ok());
  EXPECT_EQ(out, 0x0123456789ABCDEFull);
  ASSERT_TRUE(store_load(Op::I32Store8, Op::I32Load8S, 0, 7, 0x1FF, &out).ok());
  EXPECT_EQ(out, 0xFFFFFFFFu);
  ASSERT_TRUE(store_load(Op::I32Store8, Op::I32Load8U, 0, 7, 0x1FF, &out).ok());
  EXPECT_EQ(out, 0xFFu);
  ASSERT_TRUE(store_load(Op::I64Store16, Op::I64Load16S, 0, 65534, 0x8001, &out).ok());
  EXPECT_EQ(out, 0xFFFFFFFFFFFF8001ull);
  ASSERT_TRUE(store_load(Op::I32Store16, Op::I32Load16U, 0, 2, 0x8001, &out).ok());
  EXPECT_EQ(out, 0x8001u);
  ASSERT_TRUE(store_load(Op::I64Store32, Op::I64Load32S, 0, 40, 0x80000000u, &out).ok());
  EXPECT_EQ(out, 0xFFFFFFFF80000000ull);
  ASSERT_TRUE(store_load(Op::I64Store32, Op::I64Load32U, 0, 40, 0xFFFFFFFF80000000ull, &out).ok());
  EXPECT_EQ(out, 0x80000000u);
  ASSERT_TRUE(store_load(Op::I64Store8, Op::I64Load8U, 0, 65535, 0xAB, &out).ok());
  EXPECT_EQ(out, 0xABu);
  ASSERT_TRUE(store_load(Op::F32Store, Op::F32Load, 0, 100, 0x7FA00001u, &out).ok());
  EXPECT_EQ(out, 0x7FA00001u);
  ASSERT_TRUE(store_load(Op::F64Store, Op::F64Load, 0, 200, 0xFFF0000000000001ull, &out).ok());
  EXPECT_EQ(out, 0xFFF0000000000001ull);
  EXPECT_EQ(inst_->memories[0]->data[16 + 8], 0xEF);  // little-endian

  // bounds
  Result<void> r = store_load(Op::I32Store, Op::I32Load, 0, 65533, 1, &out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Trap);
  EXPECT_EQ(r.error().message, "out of bounds memory access");
  EXPECT_EQ(store_load(Op::I64Store, Op::I64Load, 0, 65529, 1, &out).error().message,
            "out of bounds memory access");
  EXPECT_EQ(store_load(Op::I32Store8, Op::I32Load8U, 0, 65536, 1, &out).error().message,
            "out of bounds memory access");
  EXPECT_EQ(store_load(Op::I32Store8, Op::I32Load8U, 0xFFFFFFFFu, 0xFFFFFFFFu, 1, &out).error().message,
            "out of bounds memory access");
  // the address is the low 32 bits of the slot
  ASSERT_TRUE(store_load(Op::I32Store, Op::I32Load, 0, 0xFFFFFFFF00000010ull, 77, &out).ok());
  EXPECT_EQ(out, 77u);
}

TEST_F(InterpTest, MemoryGrowAndSize) {
  MemInst* mem = AddMemory(1, 3);
  Asm a;
  a(Op::MemoryGrow, {1, 0});  // slot1 = grow(param)
  a(Op::Const32, {2, 70000});
  a(Op::I32Store, {2, 2, 0});  // needs the second page
  a(Op::MemorySize, {0});
  a(Op::Return);
  FuncInst* f = AddFunc(1, 2, 1, 3, a);
  std::vector<uint64_t> out;
  ASSERT_TRUE(Call(f, {1}, &out).ok());
  EXPECT_EQ(out[0], 2u);
  EXPECT_EQ(out[1], 1u);
  EXPECT_EQ(mem->size, 2 * kPageSize);
  ASSERT_TRUE(Call(f, {5}, &out).ok());  // refused: past max
  EXPECT_EQ(out[0], 2u);
  EXPECT_EQ(out[1], 0xFFFFFFFFu);
  ASSERT_TRUE(Call(f, {0}, &out).ok());
  EXPECT_EQ(out[1], 2u);
}

TEST_F(InterpTest, HostGrowsMemoryCallerSeesNewSize) {
  AddMemory(1, 4);
  FuncInst* grow = AddHost(
      0, 0,
      [](HostContext& ctx, uint64_t*) -> Result<void> {
        if (MemoryGrow(ctx.memory(), 1) != 1) return MakeError(ErrorKind::Trap, "grow failed");
        return {};
      },
      "grow");
  Asm a;
  a(Op::Const32, {1, 65536});
  a(Op::Call, {grow->func_index, 2});
  a(Op::I32Store, {1, 1, 0});
  a(Op::I32Load, {0, 1, 0});
  a(Op::Return);
  FuncInst* f = AddFunc(0, 1, 0, 3, a);
  EXPECT_EQ(CallOk(f, {}), 65536u);
}

TEST_F(InterpTest, BulkMemory) {
  MemInst* mem = AddMemory(1, 1);
  static const uint8_t kSeg[] = {1, 2, 3, 4, 5};
  inst_->datas.push_back(DataInst{kSeg, sizeof(kSeg)});
  auto run = [&](Op op, std::vector<uint64_t> args) {
    Asm a;
    if (op == Op::MemoryInit) {
      a(op, {0, 0, 1, 2});
    } else {
      a(op, {0, 1, 2});
    }
    a(Op::Return);
    FuncInst* f = AddFunc(3, 0, 3, 3, a);
    return Call(f, std::move(args));
  };
  ASSERT_TRUE(run(Op::MemoryFill, {10, 0x1AB, 4}).ok());
  EXPECT_EQ(mem->data[9], 0);
  EXPECT_EQ(mem->data[10], 0xAB);
  EXPECT_EQ(mem->data[13], 0xAB);
  EXPECT_EQ(mem->data[14], 0);
  EXPECT_TRUE(run(Op::MemoryFill, {65536, 0, 0}).ok());  // empty at the end is fine
  EXPECT_EQ(run(Op::MemoryFill, {65537, 0, 0}).error().message, "out of bounds memory access");
  EXPECT_EQ(run(Op::MemoryFill, {65530, 7, 7}).error().message, "out of bounds memory access");
  EXPECT_EQ(mem->data[65530], 0);  // nothing written
  // overlapping copy
  ASSERT_TRUE(run(Op::MemoryCopy, {11, 10, 4}).ok());
  EXPECT_EQ(mem->data[14], 0xAB);
  EXPECT_EQ(run(Op::MemoryCopy, {0, 65535, 2}).error().message, "out of bounds memory access");
  EXPECT_EQ(run(Op::MemoryCopy, {0xFFFFFFFF, 0, 2}).error().message, "out of bounds memory access");
  EXPECT_TRUE(run(Op::MemoryCopy, {65536, 65536, 0}).ok());
  // init
  ASSERT_TRUE(run(Op::MemoryInit, {100, 1, 4}).ok());
  EXPECT_EQ(mem->data[100], 2);
  EXPECT_EQ(mem->data[103], 5);
  EXPECT_EQ(run(Op::MemoryInit, {200, 2, 4}).error().message, "out of bounds memory access");
  EXPECT_EQ(mem->data[200], 0);
  EXPECT_TRUE(run(Op::MemoryInit, {200, 5, 0}).ok());
  EXPECT_EQ(run(Op::MemoryInit, {65535, 0, 2}).error().message, "out of bounds memory access");
  // drop
  Asm d;
  d(Op::DataDrop, {0});
  d(Op::Return);
  ASSERT_TRUE(Call(AddFunc(0, 0, 0, 0, d), {}).ok());
  EXPECT_EQ(inst_->datas[0].size, 0u);
  EXPECT_TRUE(run(Op::MemoryInit, {0, 0, 0}).ok());
  EXPECT_EQ(run(Op::MemoryInit, {0, 0, 1}).error().message, "out of bounds memory access");
}

TEST_F(InterpTest, TableOps) {
  FuncInst* f0 = AddFunc(0, 0, 0, 0, Asm()(Op::Return));
  uint64_t ref = reinterpret_cast<uintptr_t>(f0);
  TableInst* t = AddTable(2, 5);
  TableInst* t2 = AddTable(3, 3);
  inst_->elems.push_back(ElemInst{ValType::FuncRef, {ref, 0, ref}});

  // grow(tbl0, v=p0, n=p1) -> result 0; then size -> result 1
  Asm g;
  g(Op::TableGrow, {2, 0, 0, 1});
  g(Op::TableSize, {1, 0});
  g(Op::Copy, {0, 2});
  g(Op::Return);
  FuncInst* grow = AddFunc(2, 2, 2, 3, g);
  std::vector<uint64_t> out;
  ASSERT_TRUE(Call(grow, {ref, 2}, &out).ok());
  EXPECT_EQ(out[0], 2u);
  EXPECT_EQ(out[1], 4u);
  EXPECT_EQ(t->elems[3], ref);
  EXPECT_EQ(t->type.limits.min, 4u);
  ASSERT_TRUE(Call(grow, {0, 2}, &out).ok());  // 6 > 5
  EXPECT_EQ(out[0], 0xFFFFFFFFu);
  EXPECT_EQ(out[1], 4u);
  ASSERT_TRUE(Call(grow, {0, 1}, &out).ok());
  EXPECT_EQ(out[0], 4u);
  EXPECT_EQ(out[1], 5u);

  // get / set
  Asm gs;
  gs(Op::TableGet, {2, 0, 0});
  gs(Op::TableSet, {0, 1, 2});
  gs(Op::Return);
  FuncInst* getset = AddFunc(2, 0, 2, 3, gs);
  ASSERT_TRUE(Call(getset, {3, 0}).ok());  // t[0] = t[3]
  EXPECT_EQ(t->elems[0], ref);
  EXPECT_EQ(Call(getset, {5, 0}).error().message, "out of bounds table access");
  EXPECT_EQ(Call(getset, {0, 5}).error().message, "out of bounds table access");

  // fill tbl1 [p0, +p2) with p1
  Asm fl;
  fl(Op::TableFill, {1, 0, 1, 2});
  fl(Op::Return);
  FuncInst* fill = AddFunc(3, 0, 3, 3, fl);
  ASSERT_TRUE(Call(fill, {1, ref, 2}).ok());
  EXPECT_EQ(t2->elems, (std::vector<uint64_t>{0, ref, ref}));
  EXPECT_TRUE(Call(fill, {3, ref, 0}).ok());
  EXPECT_EQ(Call(fill, {2, 0, 2}).error().message, "out of bounds table access");
  EXPECT_EQ(t2->elems[2], ref);

  // copy tbl0 <- tbl1
  Asm cp;
  cp(Op::TableCopy, {0, 1, 0, 1, 2});
  cp(Op::Return);
  FuncInst* copy = AddFunc(3, 0, 3, 3, cp);
  std::fill(t->elems.begin(), t->elems.end(), 0);
  ASSERT_TRUE(Call(copy, {2, 0, 3}).ok());  // t[2..5) = t2[0..3)
  EXPECT_EQ(t->elems, (std::vector<uint64_t>{0, 0, 0, ref, ref}));
  EXPECT_EQ(Call(copy, {3, 0, 3}).error().message, "out of bounds table access");
  EXPECT_EQ(Call(copy, {0, 1, 3}).error().message, "out of bounds table access");

  // init tbl1 from elem 0, then drop it
  Asm in;
  in(Op::TableInit, {0, 1, 0, 1, 2});
  in(Op::Return);
  FuncInst* init = AddFunc(3, 0, 3, 3, in);
  std::fill(t2->elems.begin(), t2->elems.end(), 0);
  ASSERT_TRUE(Call(init, {0, 1, 2}).ok());  // t2[0..2) = seg[1..3)
  EXPECT_EQ(t2->elems, (std::vector<uint64_t>{0, ref, 0}));
  EXPECT_EQ(Call(init, {0, 2, 2}).error().message, "out of bounds table access");
  EXPECT_EQ(Call(init, {2, 0, 2}).error().message, "out of bounds table access");
  Asm dr;
  dr(Op::ElemDrop, {0});
  dr(Op::Return);
  ASSERT_TRUE(Call(AddFunc(0, 0, 0, 0, dr), {}).ok());
  EXPECT_TRUE(inst_->elems[0].refs.empty());
  EXPECT_TRUE(Call(init, {0, 0, 0}).ok());
  EXPECT_EQ(Call(init, {0, 0, 1}).error().message, "out of bounds table access");
}

TEST_F(InterpTest, CallIndirect) {
  // type 0: (i64) -> i64 ; type 1: other
  Asm dbl;
  dbl(Op::I64Add, {0, 0, 0});
  dbl(Op::Return);
  FuncInst* twice = AddFunc(1, 1, 1, 1, dbl, 0);
  FuncInst* other = AddFunc(1, 1, 1, 1, dbl, 1);
  TableInst* t = AddTable(4, 4);
  t->elems = {reinterpret_cast<uintptr_t>(twice), reinterpret_cast<uintptr_t>(other), 0, 0};
  // f(i, x) = table[i](x) with type 0
  Asm a;
  a(Op::Copy, {2, 1});
  a(Op::CallIndirect, {0, 0, 2, 0});
  a(Op::Copy, {0, 2});
  a(Op::Return);
  FuncInst* f = AddFunc(2, 1, 2, 3, a);
  EXPECT_EQ(CallOk(f, {0, 21}), 42u);
  EXPECT_EQ(Call(f, {1, 21}).error().message, "indirect call type mismatch");
  EXPECT_EQ(Call(f, {2, 21}).error().message, "uninitialized element");
  EXPECT_EQ(Call(f, {4, 21}).error().message, "undefined element");
  EXPECT_EQ(Call(f, {0xFFFFFFFF, 21}).error().message, "undefined element");
}

TEST_F(InterpTest, CallStackExhaustion) {
  EngineConfig cfg;
  cfg.max_call_depth = 500;
  thread_ = std::make_unique<Thread>(cfg);
  Asm a;
  a(Op::Call, {0, 1});
  a(Op::Return);
  FuncInst* f = AddFunc(0, 0, 0, 2, a);
  Result<void> r = Call(f, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Exhaustion);
  EXPECT_EQ(r.error().message, "call stack exhausted");
  EXPECT_EQ(thread_->last_backtrace.size(), 501u);
  EXPECT_EQ(thread_->last_backtrace[0].function, "func[0]");
  // the thread is usable afterwards
  FuncInst* fact = AddFactorial();
  EXPECT_EQ(CallOk(fact, {10}), 3628800u);
}

TEST_F(InterpTest, ValueStackExhaustion) {
  EngineConfig cfg;
  cfg.value_stack_slots = 1000;
  thread_ = std::make_unique<Thread>(cfg);
  Asm a;
  a(Op::Call, {0, 10});
  a(Op::Return);
  FuncInst* f = AddFunc(0, 0, 0, 20, a);
  Result<void> r = Call(f, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Exhaustion);
  EXPECT_EQ(thread_->last_backtrace.size(), 99u);  // frames at 0, 10, ..., 980; the next needs 990+20

  FuncInst* big = AddFunc(0, 0, 0, 1001, Asm()(Op::Return));
  EXPECT_EQ(Call(big, {}).error().kind, ErrorKind::Exhaustion);
  FuncInst* fits = AddFunc(0, 0, 0, 1000, Asm()(Op::Return));
  EXPECT_TRUE(Call(fits, {}).ok());
}

TEST_F(InterpTest, FuelAndInterrupt) {
  FuncInst* f = AddSumLoop();
  thread_->fuel_enabled = true;
  thread_->fuel = 1000;
  // entry costs 1, each of the 11 loop headers (n=10..0) 1
  EXPECT_EQ(CallOk(f, {10}), 55u);
  EXPECT_EQ(thread_->fuel, 1000u - 12u);
  thread_->fuel = 50;
  Result<void> r = Call(f, {100});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Interrupted);
  EXPECT_EQ(r.error().message, "fuel exhausted");
  EXPECT_EQ(thread_->fuel, 0u);
  thread_->fuel = 12;
  EXPECT_EQ(CallOk(f, {10}), 55u);
  thread_->fuel_enabled = false;

  thread_->interrupt.store(true);
  r = Call(f, {10});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Interrupted);
  EXPECT_EQ(r.error().message, "interrupted");
  thread_->interrupt.store(false);
  EXPECT_EQ(CallOk(f, {10}), 55u);

  // calls cost fuel too: fact(5) = 6 calls
  FuncInst* fact = AddFactorial();
  thread_->fuel_enabled = true;
  thread_->fuel = 5;
  EXPECT_EQ(Call(fact, {5}).error().message, "fuel exhausted");
  thread_->fuel = 6;
  EXPECT_EQ(CallOk(fact, {5}), 120u);
}

TEST_F(InterpTest, InterruptFromHostStopsLoop) {
  // A host function sets the interrupt flag; the next loop header stops execution.
  FuncInst* h = AddHost(
      0, 0,
      [](HostContext& ctx, uint64_t*) -> Result<void> {
        ctx.thread()->interrupt.store(true);
        return {};
      },
      "stop");
  Asm a;
  uint32_t loop = a.Here();
  a(Op::Check);
  a(Op::Call, {h->func_index, 0});
  a(Op::Jmp, {loop});
  FuncInst* f = AddFunc(0, 0, 0, 1, a);
  Result<void> r = Call(f, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Interrupted);
  thread_->interrupt.store(false);
}

TEST_F(InterpTest, HostFunctionCall) {
  AddMemory(1, 1);
  InstanceImpl* seen = nullptr;
  FuncInst* add = AddHost(
      2, 1,
      [&](HostContext& ctx, uint64_t* s) -> Result<void> {
        seen = ctx.caller();
        if (seen != nullptr) {
          EXPECT_EQ(ctx.memory_size(), kPageSize);
          ctx.memory_data()[5] = 99;
        }
        s[0] = s[0] + s[1];
        return {};
      },
      "add");
  Asm a;
  a(Op::Const64, {2, 123, 0});  // live across the call
  a(Op::Copy, {3, 0});
  a(Op::Copy, {4, 1});
  a(Op::Call, {add->func_index, 3});
  a(Op::I64Add, {0, 3, 2});
  a(Op::Return);
  FuncInst* f = AddFunc(2, 1, 2, 5, a);
  EXPECT_EQ(CallOk(f, {40, 2}), 165u);
  EXPECT_EQ(seen, inst_.get());
  EXPECT_EQ(inst_->memories[0]->data[5], 99);

  // Invoking a host function directly: no caller instance.
  std::vector<uint64_t> out;
  ASSERT_TRUE(Call(add, {1, 2}, &out).ok());
  EXPECT_EQ(out[0], 3u);
  EXPECT_EQ(seen, nullptr);
  HostContext none(thread_.get(), nullptr);
  EXPECT_EQ(none.memory(), nullptr);
  EXPECT_EQ(none.memory_data(), nullptr);
  EXPECT_EQ(none.memory_size(), 0u);
}

TEST_F(InterpTest, HostErrorPropagates) {
  FuncInst* exit = AddHost(
      0, 0,
      [](HostContext&, uint64_t*) -> Result<void> {
        return Error{ErrorKind::Exit, "exit", 3};
      },
      "proc_exit");
  Asm a;
  a(Op::Call, {exit->func_index, 0});
  a(Op::Unreachable);
  FuncInst* inner = AddFunc(0, 0, 0, 1, a);
  Asm b;
  b(Op::Call, {inner->func_index, 0});
  b(Op::Return);
  FuncInst* outer = AddFunc(0, 0, 0, 1, b);
  Result<void> r = Call(outer, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Exit);
  EXPECT_EQ(r.error().exit_code, 3);
  ASSERT_EQ(thread_->last_backtrace.size(), 3u);
  EXPECT_EQ(thread_->last_backtrace[0].function, "proc_exit");
  EXPECT_EQ(thread_->last_backtrace[1].function, "func[" + std::to_string(inner->func_index) + "]");
  EXPECT_EQ(thread_->last_backtrace[2].function, "func[" + std::to_string(outer->func_index) + "]");

  FuncInst* thrower = AddHost(
      0, 0, [](HostContext&, uint64_t*) -> Result<void> { throw std::runtime_error("boom"); }, "thrower");
  r = Call(thrower, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Trap);
}

TEST_F(InterpTest, NestedInvokeFromHost) {
  FuncInst* fact = AddFactorial();
  FuncInst* h = AddHost(
      1, 1,
      [&](HostContext& ctx, uint64_t* s) -> Result<void> {
        uint64_t arg = s[0];
        return Invoke(*ctx.thread(), fact, &arg, s);
      },
      "reenter");
  Asm a;
  a(Op::Const64, {1, 777, 0});  // live value right below the host's slots
  a(Op::Copy, {2, 0});
  a(Op::Call, {h->func_index, 2});
  a(Op::I64Add, {0, 1, 2});
  a(Op::Return);
  FuncInst* f = AddFunc(1, 1, 1, 3, a);
  EXPECT_EQ(CallOk(f, {10}), 777u + 3628800u);
}

TEST_F(InterpTest, NestedTrapBacktraceAndRecovery) {
  FuncInst* trapper = AddFunc(0, 0, 0, 0, Asm()(Op::Unreachable));
  bool swallow = false;
  FuncInst* h = AddHost(
      0, 0,
      [&](HostContext& ctx, uint64_t*) -> Result<void> {
        Result<void> r = Invoke(*ctx.thread(), trapper, nullptr, nullptr);
        EXPECT_FALSE(r.ok());
        if (swallow) return {};
        return r;
      },
      "host");
  Asm a;
  a(Op::Call, {h->func_index, 0});
  a(Op::Const32, {0, 5});
  a(Op::Return);
  FuncInst* outer = AddFunc(0, 1, 0, 1, a);
  Result<void> r = Call(outer, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "unreachable");
  ASSERT_EQ(thread_->last_backtrace.size(), 3u);
  EXPECT_EQ(thread_->last_backtrace[0].function, "func[" + std::to_string(trapper->func_index) + "]");
  EXPECT_EQ(thread_->last_backtrace[1].function, "host");
  EXPECT_EQ(thread_->last_backtrace[2].function, "func[" + std::to_string(outer->func_index) + "]");

  // A host that swallows the nested trap: the call succeeds, and the earlier backtrace stays.
  swallow = true;
  EXPECT_EQ(CallOk(outer, {}), 5u);
  ASSERT_EQ(thread_->last_backtrace.size(), 3u);
}

TEST_F(InterpTest, RunawayHostRecursionIsExhaustion) {
  // wasm -> host -> wasm -> host ... recurses on the native stack: must stop cleanly.
  FuncInst* w = nullptr;
  FuncInst* h = AddHost(
      0, 0,
      [&](HostContext& ctx, uint64_t*) -> Result<void> { return Invoke(*ctx.thread(), w, nullptr, nullptr); },
      "h");
  w = AddFunc(0, 0, 0, 1, Asm()(Op::Call, {h->func_index, 0})(Op::Return));
  Result<void> r = Call(w, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Exhaustion);
}

TEST_F(InterpTest, CrossInstanceCall) {
  // A function of another instance runs with that instance's memory, and the caller's memory is
  // restored on return.
  AddMemory(1, 1);
  auto other = std::make_unique<InstanceImpl>();
  other->module = module_;
  MemInst* other_mem = store_.NewMemory(MemoryType{Limits{2, 2}});
  other->memories.push_back(other_mem);
  Asm sz;
  sz(Op::MemorySize, {0});
  sz(Op::Return);
  FuncInst* g = AddFunc(0, 1, 0, 1, sz, 0, other.get());
  inst_->funcs.push_back(g);  // imported into inst_
  uint32_t gi = static_cast<uint32_t>(inst_->funcs.size() - 1);
  Asm a;
  a(Op::Call, {gi, 1});
  a(Op::MemorySize, {2});
  a(Op::Const32, {3, 10});
  a(Op::I32Mul, {1, 1, 3});
  a(Op::I32Add, {0, 1, 2});  // 10 * other + mine
  a(Op::Return);
  FuncInst* f = AddFunc(0, 1, 0, 4, a);
  EXPECT_EQ(CallOk(f, {}), 21u);
}

}  // namespace
}  // namespace wasmq::wasm
