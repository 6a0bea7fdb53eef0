// File: src/wasm/interp.cc
//
// The interpreter: runs the internal code of ops.h on a Thread's value stack.
//
// Dispatch: one function (Run) with a computed-goto loop (GCC/clang "labels as values"): every handler
// ends by jumping straight to the next handler through a static label table, so there is no central
// switch and each handler has its own indirect branch (better prediction). pc, fp, the current function,
// instance, code base and memory 0's base/size live in locals.
//
// Calls between wasm functions never recurse on the C++ stack: a call pushes a Thread::Frame (the
// caller's resume pc, fp and function) and switches fp to the callee's frame, which starts at a slot of
// the caller's frame (the arguments are already there) and extends past it. A host function is called
// in place with its slots at the same position; it may call back into wasm through Invoke, which starts
// a new frame base at thread.stack_top (set past the caller's whole frame before every host call).
//
// Memory 0: `data` never moves (the runtime reserves the whole range up front), so only `size` can go
// stale. We cache base and size in locals and reload both whenever they may have changed: after our own
// memory.grow, after a host call returns (a host may grow the memory, directly or by re-entering wasm),
// when a call enters a callee (possibly another instance) and when a return resumes a caller (a callee
// in any instance sharing the memory may have grown it). Nothing else can change the size while a frame
// runs (a Store is used by one thread at a time), and the cached size saves a dependent load on every
// access.
#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <new>

#include "wasm/jit/jit.h"
#include "wasm/pool.h"
#include "wasm/runtime.h"
#include "wasm/simd.h"

namespace wasmq::wasm {

static_assert(std::endian::native == std::endian::little, "the interpreter assumes a little-endian host");

namespace {

// Nested Invoke calls (host -> wasm -> host -> wasm ...) recurse on the C++ stack; bound them so a
// runaway mutual recursion traps with "call stack exhausted" instead of overflowing the native stack.
// Counted per OS thread because it is the native stack that is at stake.
constexpr uint32_t kMaxNestedInvokes = 256;  // ~0.8 KiB of native stack each (~7 KiB under ASan)
thread_local uint32_t t_nested_invokes = 0;

struct NestingGuard {
  NestingGuard() { ++t_nested_invokes; }
  ~NestingGuard() { --t_nested_invokes; }
  NestingGuard(const NestingGuard&) = delete;
  NestingGuard& operator=(const NestingGuard&) = delete;
};

constexpr const char kUnreachable[] = "unreachable";
constexpr const char kDivByZero[] = "integer divide by zero";
constexpr const char kIntOverflow[] = "integer overflow";
constexpr const char kInvalidConversion[] = "invalid conversion to integer";
constexpr const char kOobMemory[] = "out of bounds memory access";
constexpr const char kOobTable[] = "out of bounds table access";
constexpr const char kUndefinedElement[] = "undefined element";
constexpr const char kUninitializedElement[] = "uninitialized element";
constexpr const char kIndirectMismatch[] = "indirect call type mismatch";
constexpr const char kStackExhausted[] = "call stack exhausted";
constexpr const char kInterrupted[] = "interrupted";
constexpr const char kFuelExhausted[] = "fuel exhausted";

// --- slot access -------------------------------------------------------------------------------------

inline uint32_t U32(uint64_t v) { return static_cast<uint32_t>(v); }
inline int32_t S32(uint64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(v)); }
inline int64_t S64(uint64_t v) { return static_cast<int64_t>(v); }
inline float F32(uint64_t v) { return std::bit_cast<float>(static_cast<uint32_t>(v)); }
inline double F64(uint64_t v) { return std::bit_cast<double>(v); }
inline uint64_t BitsF32(float f) { return std::bit_cast<uint32_t>(f); }
inline uint64_t BitsF64(double d) { return std::bit_cast<uint64_t>(d); }

// --- float helpers -----------------------------------------------------------------------------------

// min/max: a NaN operand gives a NaN (a + b quiets it, as the spec's arithmetic-NaN rule allows);
// equal operands can only differ in the sign of a zero: min takes the negative one, max the positive.
inline float MinF32(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return a + b;
  if (a == b) return std::bit_cast<float>(std::bit_cast<uint32_t>(a) | std::bit_cast<uint32_t>(b));
  return a < b ? a : b;
}
inline float MaxF32(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return a + b;
  if (a == b) return std::bit_cast<float>(std::bit_cast<uint32_t>(a) & std::bit_cast<uint32_t>(b));
  return a > b ? a : b;
}
inline double MinF64(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return a + b;
  if (a == b) return std::bit_cast<double>(std::bit_cast<uint64_t>(a) | std::bit_cast<uint64_t>(b));
  return a < b ? a : b;
}
inline double MaxF64(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return a + b;
  if (a == b) return std::bit_cast<double>(std::bit_cast<uint64_t>(a) & std::bit_cast<uint64_t>(b));
  return a > b ? a : b;
}

// Rounding: a NaN input must come back quiet; x + x guarantees that whatever the libm does.
inline float CeilF32(float v) { return std::isnan(v) ? v + v : std::ceil(v); }
inline float FloorF32(float v) { return std::isnan(v) ? v + v : std::floor(v); }
inline float TruncF32(float v) { return std::isnan(v) ? v + v : std::trunc(v); }
inline float NearestF32(float v) { return std::isnan(v) ? v + v : std::nearbyint(v); }
inline double CeilF64(double v) { return std::isnan(v) ? v + v : std::ceil(v); }
inline double FloorF64(double v) { return std::isnan(v) ? v + v : std::floor(v); }
inline double TruncF64(double v) { return std::isnan(v) ? v + v : std::trunc(v); }
inline double NearestF64(double v) { return std::isnan(v) ? v + v : std::nearbyint(v); }

// Range checks of the float -> integer truncations: true iff trunc(v) is representable (v not NaN).
inline bool InRangeI32(float v) { return v >= -2147483648.0f && v < 2147483648.0f; }
inline bool InRangeU32(float v) { return v > -1.0f && v < 4294967296.0f; }
inline bool InRangeI32(double v) { return v > -2147483649.0 && v < 2147483648.0; }
inline bool InRangeU32(double v) { return v > -1.0 && v < 4294967296.0; }
inline bool InRangeI64(float v) { return v >= -9223372036854775808.0f && v < 9223372036854775808.0f; }
inline bool InRangeU64(float v) { return v > -1.0f && v < 18446744073709551616.0f; }
inline bool InRangeI64(double v) { return v >= -9223372036854775808.0 && v < 9223372036854775808.0; }
inline bool InRangeU64(double v) { return v > -1.0 && v < 18446744073709551616.0; }

template <typename F>
inline uint32_t SatI32(F v) {
  if (std::isnan(v)) return 0;
  if (InRangeI32(v)) return static_cast<uint32_t>(static_cast<int32_t>(v));
  return v < 0 ? 0x80000000u : 0x7FFFFFFFu;
}
template <typename F>
inline uint32_t SatU32(F v) {
  if (std::isnan(v)) return 0;
  if (InRangeU32(v)) return static_cast<uint32_t>(v);
  return v < 0 ? 0u : 0xFFFFFFFFu;
}
template <typename F>
inline uint64_t SatI64(F v) {
  if (std::isnan(v)) return 0;
  if (InRangeI64(v)) return static_cast<uint64_t>(static_cast<int64_t>(v));
  return v < 0 ? 0x8000000000000000ull : 0x7FFFFFFFFFFFFFFFull;
}
template <typename F>
inline uint64_t SatU64(F v) {
  if (std::isnan(v)) return 0;
  if (InRangeU64(v)) return static_cast<uint64_t>(v);
  return v < 0 ? 0ull : 0xFFFFFFFFFFFFFFFFull;
}

// --- slow paths (kept out of line so the dispatch loop stays small) ----------------------------------

std::string DisplayName(const FuncInst* f) {
  if (f->code == nullptr) return f->def != nullptr ? f->def->debug_name : f->debug_name;
  return FunctionName(f->instance, f->func_index);
}

// Innermost first: `current` (when not null), then every frame of the thread, including those of outer
// Invoke calls, so a trap deep inside host -> wasm re-entry shows the whole chain.
[[gnu::noinline, gnu::cold]] void RecordBacktrace(Thread& thread, const FuncInst* current) {
  auto& bt = thread.last_backtrace;
  bt.clear();
  bt.reserve(thread.frames.size() + 1);
  if (current != nullptr) bt.push_back(BacktraceFrame{DisplayName(current), current->func_index});
  for (auto it = thread.frames.rbegin(); it != thread.frames.rend(); ++it) {
    if (it->func != nullptr) bt.push_back(BacktraceFrame{DisplayName(it->func), it->func->func_index});
  }
  AppendJitBacktrace(thread, &bt);  // compiled frames that called into this interpreter run
}

[[gnu::noinline]] Result<void> CallHost(Thread& thread, InstanceImpl* caller, FuncInst* f, uint64_t* slots) {
  HostContext ctx(&thread, caller, f->host_data);
  try {
    if (f->def != nullptr) return f->def->fn(ctx, slots);
    return f->host(ctx, slots);
  } catch (const std::exception& e) {
    return MakeError(ErrorKind::Trap, std::string("host function threw: ") + e.what());
  } catch (...) {
    return MakeError(ErrorKind::Trap, "host function threw an exception");
  }
}

[[gnu::noinline]] bool GrowTable(TableInst* t, uint64_t delta, uint64_t value) {
  uint64_t old = t->elems.size();
  if (delta > t->max_elems || old > t->max_elems - delta) return false;
  try {
    t->elems.resize(old + delta, value);
  } catch (const std::bad_alloc&) {
    return false;
  }
  t->type.limits.min = t->elems.size();
  return true;
}

[[gnu::noinline, gnu::cold]] Error Fail(Thread& thread, const FuncInst* current, ErrorKind kind,
                                        const char* message) {
  RecordBacktrace(thread, current);
  return MakeError(kind, message);
}

// Runs wasm function `func` whose frame is at `fp` (arguments in place, locals not yet zeroed) until it
// returns. On error, thread.frames may hold frames above the entry depth: Invoke truncates them.
Result<void> Run(Thread& thread, FuncInst* func, uint64_t* fp) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#ifdef __clang__
#pragma clang diagnostic ignored "-Wgnu-label-as-value"
#endif
#define WASMQ_LABEL_ADDR(name, n) &&L_##name,
  static void* const kLabels[] = {WASMQ_ALL_OPS(WASMQ_LABEL_ADDR)};
#undef WASMQ_LABEL_ADDR
  static_assert(sizeof(kLabels) / sizeof(kLabels[0]) == static_cast<size_t>(Op::kCount));

  std::vector<Thread::Frame>& frames = thread.frames;
  const size_t entry_depth = frames.size();
  uint64_t* const entry_top = thread.stack_top;
  FuncInst* cur = func;
  InstanceImpl* inst = func->instance;
  const uint32_t* code = func->code->code.data();
  const uint32_t* pc = code;
  MemInst* mem = nullptr;
  uint8_t* mem_base = nullptr;
  uint64_t mem_size = 0;
  const char* fail_msg = nullptr;
  ErrorKind fail_kind = ErrorKind::Trap;
  FuncInst* callee = nullptr;
  uint32_t call_at = 0;
  // Declared here, not in the host-call handler: an indirect goto may not leave the scope of an object
  // with a destructor (clang rejects it).
  Result<void> host_result;

#define DISPATCH() goto* kLabels[*pc++]
#define FAIL(kind, msg) \
  do {                  \
    fail_kind = (kind); \
    fail_msg = (msg);   \
    goto fail;          \
  } while (0)
#define TRAP(msg) FAIL(ErrorKind::Trap, msg)
#define RELOAD_MEMORY()           \
  do {                            \
    if (inst->memories.empty()) { \
      mem = nullptr;              \
      mem_base = nullptr;         \
      mem_size = 0;               \
    } else {                      \
      mem = inst->memories[0];    \
      mem_base = mem->data;       \
      mem_size = mem->size;       \
    }                             \
  } while (0)
#define CHECK_FUEL()                                                                                  \
  do {                                                                                                \
    if (thread.interrupt.load(std::memory_order_relaxed)) FAIL(ErrorKind::Interrupted, kInterrupted); \
    if (thread.fuel_enabled) {                                                                        \
      if (thread.fuel == 0) FAIL(ErrorKind::Interrupted, kFuelExhausted);                             \
      --thread.fuel;                                                                                  \
    }                                                                                                 \
  } while (0)
#define ZERO_LOCALS(cf)                                                                                \
  do {                                                                                                 \
    if ((cf)->num_locals > (cf)->num_params)                                                           \
      std::memset(fp + (cf)->num_params, 0, ((cf)->num_locals - (cf)->num_params) * sizeof(uint64_t)); \
  } while (0)

// A handler: `o` points at its operand words; pc already points at the next instruction.
#define OP(name, nwords, ...) \
  L_##name : {                \
    const uint32_t* o = pc;   \
    pc += (nwords);           \
    __VA_ARGS__;              \
    DISPATCH();               \
  }
#define I32_BIN(name, expr) \
  OP(name, 3, uint32_t a = U32(fp[o[1]]); uint32_t b = U32(fp[o[2]]); fp[o[0]] = static_cast<uint32_t>(expr))
#define I64_BIN(name, expr) \
  OP(name, 3, uint64_t a = fp[o[1]]; uint64_t b = fp[o[2]]; fp[o[0]] = static_cast<uint64_t>(expr))
#define F32_BIN(name, expr) \
  OP(name, 3, float a = F32(fp[o[1]]); float b = F32(fp[o[2]]); fp[o[0]] = BitsF32(expr))
#define F64_BIN(name, expr) \
  OP(name, 3, double a = F64(fp[o[1]]); double b = F64(fp[o[2]]); fp[o[0]] = BitsF64(expr))
#define F32_CMP(name, expr) \
  OP(name, 3, float a = F32(fp[o[1]]); float b = F32(fp[o[2]]); fp[o[0]] = (expr) ? 1 : 0)
#define F64_CMP(name, expr) \
  OP(name, 3, double a = F64(fp[o[1]]); double b = F64(fp[o[2]]); fp[o[0]] = (expr) ? 1 : 0)
#define UNARY(name, expr) OP(name, 2, uint64_t x = fp[o[1]]; fp[o[0]] = (expr))
#define TRUNC(name, getter, in_range, conv)                                           \
  OP(name, 2, auto v = getter(fp[o[1]]); if (std::isnan(v)) TRAP(kInvalidConversion); \
     if (!in_range(v)) TRAP(kIntOverflow); fp[o[0]] = conv)
#define LOAD(name, T, conv)                                                                           \
  OP(name, 3, uint64_t ea = static_cast<uint64_t>(U32(fp[o[1]])) + o[2];                              \
     if (ea + sizeof(T) > mem_size) TRAP(kOobMemory); T v; std::memcpy(&v, mem_base + ea, sizeof(T)); \
     fp[o[0]] = conv)
#define STORE(name, T)                                                                \
  OP(name, 3, uint64_t ea = static_cast<uint64_t>(U32(fp[o[0]])) + o[2];              \
     if (ea + sizeof(T) > mem_size) TRAP(kOobMemory); T v = static_cast<T>(fp[o[1]]); \
     std::memcpy(mem_base + ea, &v, sizeof(T)))

  ZERO_LOCALS(func->code);
  RELOAD_MEMORY();
  CHECK_FUEL();
  DISPATCH();

  // --- control ---------------------------------------------------------------------------------------

L_Unreachable:
  TRAP(kUnreachable);

L_Jmp:
  pc = code + pc[0];
  DISPATCH();

L_BrIf:
  pc = U32(fp[pc[0]]) != 0 ? code + pc[1] : pc + 2;
  DISPATCH();

L_BrUnless:
  pc = U32(fp[pc[0]]) == 0 ? code + pc[1] : pc + 2;
  DISPATCH();

#define FUSED_BR(name, cmp)                                                                 \
  L_BrIf##name : {                                                                            \
    int32_t a = static_cast<int32_t>(fp[pc[0]]), b = static_cast<int32_t>(fp[pc[1]]);         \
    uint32_t ua = static_cast<uint32_t>(a), ub = static_cast<uint32_t>(b);                    \
    (void)ua, (void)ub, (void)a, (void)b;                                                     \
    pc = (cmp) ? code + pc[2] : pc + 3;                                                       \
    DISPATCH();                                                                               \
  }                                                                                           \
  L_BrUnless##name : {                                                                        \
    int32_t a = static_cast<int32_t>(fp[pc[0]]), b = static_cast<int32_t>(fp[pc[1]]);         \
    uint32_t ua = static_cast<uint32_t>(a), ub = static_cast<uint32_t>(b);                    \
    (void)ua, (void)ub, (void)a, (void)b;                                                     \
    pc = (cmp) ? pc + 3 : code + pc[2];                                                       \
    DISPATCH();                                                                               \
  }
  FUSED_BR(I32Eq, ua == ub)
  FUSED_BR(I32Ne, ua != ub)
  FUSED_BR(I32LtS, a < b)
  FUSED_BR(I32LtU, ua < ub)
  FUSED_BR(I32GtS, a > b)
  FUSED_BR(I32GtU, ua > ub)
  FUSED_BR(I32LeS, a <= b)
  FUSED_BR(I32LeU, ua <= ub)
  FUSED_BR(I32GeS, a >= b)
  FUSED_BR(I32GeU, ua >= ub)
#undef FUSED_BR
#define FUSED_BR_IMM(name, cmp)                                                              \
  L_BrIf##name##Imm : {                                                                        \
    int32_t a = static_cast<int32_t>(fp[pc[0]]), b = static_cast<int32_t>(pc[1]);              \
    uint32_t ua = static_cast<uint32_t>(a), ub = static_cast<uint32_t>(b);                     \
    (void)ua, (void)ub, (void)a, (void)b;                                                      \
    pc = (cmp) ? code + pc[2] : pc + 3;                                                        \
    DISPATCH();                                                                                \
  }                                                                                            \
  L_BrUnless##name##Imm : {                                                                    \
    int32_t a = static_cast<int32_t>(fp[pc[0]]), b = static_cast<int32_t>(pc[1]);              \
    uint32_t ua = static_cast<uint32_t>(a), ub = static_cast<uint32_t>(b);                     \
    (void)ua, (void)ub, (void)a, (void)b;                                                      \
    pc = (cmp) ? pc + 3 : code + pc[2];                                                        \
    DISPATCH();                                                                                \
  }
  FUSED_BR_IMM(I32Eq, ua == ub)
  FUSED_BR_IMM(I32Ne, ua != ub)
  FUSED_BR_IMM(I32LtS, a < b)
  FUSED_BR_IMM(I32LtU, ua < ub)
  FUSED_BR_IMM(I32GtS, a > b)
  FUSED_BR_IMM(I32GtU, ua > ub)
  FUSED_BR_IMM(I32LeS, a <= b)
  FUSED_BR_IMM(I32LeU, ua <= ub)
  FUSED_BR_IMM(I32GeS, a >= b)
  FUSED_BR_IMM(I32GeU, ua >= ub)
#undef FUSED_BR_IMM

L_BrIfI32Eqz:
  pc = U32(fp[pc[0]]) == 0 ? code + pc[1] : pc + 2;
  DISPATCH();

L_BrUnlessI32Eqz:
  pc = U32(fp[pc[0]]) != 0 ? code + pc[1] : pc + 2;
  DISPATCH();

L_BrTable : {
  uint32_t idx = U32(fp[pc[0]]);
  uint32_t n = pc[1];
  pc = code + pc[2 + (idx < n ? idx : n)];
  DISPATCH();
}

  OP(Copy, 2, fp[o[0]] = fp[o[1]])

L_Return:
  if (frames.size() == entry_depth) return {};
  {
    const Thread::Frame& f = frames.back();
    pc = f.ret_pc;
    fp = f.fp;
    cur = f.func;
    frames.pop_back();
    inst = cur->instance;
    code = cur->code->code.data();
    RELOAD_MEMORY();
    DISPATCH();
  }

L_Call:
  callee = inst->funcs[pc[0]];
  call_at = pc[1];
  pc += 2;
  goto do_call;

L_CallIndirect : {
  const uint32_t* o = pc;
  pc += 4;
  const TableInst* t = inst->tables[o[1]];
  uint32_t idx = U32(fp[o[3]]);
  if (idx >= t->elems.size()) TRAP(kUndefinedElement);
  uint64_t ref = t->elems[idx];
  if (ref == 0) TRAP(kUninitializedElement);
  callee = reinterpret_cast<FuncInst*>(static_cast<uintptr_t>(ref));
  if (callee->type_id != inst->module->type_ids[o[0]]) TRAP(kIndirectMismatch);
  call_at = o[2];
  goto do_call;
}

do_call:
  if (callee->instance != nullptr && callee->instance->jit_pending) AttachJit(callee->instance);
  if (callee->jit_code != nullptr) {
    // Compiled code (its module was compiled after this caller's code started running): enter it like a
    // host call, with its frame at fp[call_at..].
    thread.stack_top = fp + cur->code->frame_slots;
    frames.push_back(Thread::Frame{pc, fp, cur});
    host_result = JitEnter(thread, callee, fp + call_at);
    if (!host_result.ok()) return host_result;
    frames.pop_back();
    thread.stack_top = entry_top;
    RELOAD_MEMORY();
    DISPATCH();
  } else if (callee->code != nullptr) {
    const CompiledFunc* cf = callee->code;
    if (frames.size() >= thread.max_depth ||
        static_cast<uint64_t>(thread.stack_end - fp) < static_cast<uint64_t>(call_at) + cf->frame_slots) {
      FAIL(ErrorKind::Exhaustion, kStackExhausted);
    }
    frames.push_back(Thread::Frame{pc, fp, cur});
    fp += call_at;
    ZERO_LOCALS(cf);
    cur = callee;
    inst = callee->instance;
    code = cf->code.data();
    pc = code;
    RELOAD_MEMORY();
    CHECK_FUEL();
    DISPATCH();
  } else {
    // Host function: its slots are fp[call_at..]; anything it runs re-entrantly starts past our frame.
    // Two frames (caller, host) make the host call visible to backtraces taken inside or below it.
    thread.stack_top = fp + cur->code->frame_slots;
    frames.push_back(Thread::Frame{pc, fp, cur});
    frames.push_back(Thread::Frame{nullptr, nullptr, callee});
    if (!thread.last_backtrace.empty()) thread.last_backtrace.clear();
    host_result = CallHost(thread, inst, callee, fp + call_at);
    if (!host_result.ok()) {
      // A nested Invoke that failed has already recorded the full chain; otherwise the host itself failed.
      if (thread.last_backtrace.empty()) RecordBacktrace(thread, nullptr);
      return host_result;
    }
    frames.pop_back();
    frames.pop_back();
    thread.stack_top = entry_top;
    RELOAD_MEMORY();
    DISPATCH();
  }

  OP(Select, 4, fp[o[0]] = U32(fp[o[3]]) != 0 ? fp[o[1]] : fp[o[2]])

L_Check:
  CHECK_FUEL();
  DISPATCH();

  OP(Const32, 2, fp[o[0]] = o[1])
  OP(Const64, 3, fp[o[0]] = static_cast<uint64_t>(o[1]) | (static_cast<uint64_t>(o[2]) << 32))
  OP(RefFunc, 2, fp[o[0]] = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(inst->funcs[o[1]])))
  OP(RefIsNull, 2, fp[o[0]] = fp[o[1]] == 0 ? 1 : 0)
  OP(GlobalGet, 2, fp[o[0]] = inst->globals[o[1]]->value)
  OP(GlobalSet, 2, inst->globals[o[0]]->value = fp[o[1]])

  // --- memory ----------------------------------------------------------------------------------------

  OP(MemorySize, 1, fp[o[0]] = static_cast<uint32_t>(mem_size / kPageSize))

  OP(MemoryGrow, 2, uint64_t old_pages = mem->size / kPageSize; bool grown = mem->Grow(U32(fp[o[1]]));
     fp[o[0]] = grown ? static_cast<uint32_t>(old_pages) : 0xFFFFFFFFu; mem_size = mem->size)

  OP(MemoryFill, 3, uint64_t dst = U32(fp[o[0]]); uint64_t len = U32(fp[o[2]]);
     if (dst + len > mem_size) TRAP(kOobMemory);
     if (len != 0) std::memset(mem_base + dst, static_cast<uint8_t>(fp[o[1]]), len))

  OP(MemoryCopy, 3, uint64_t dst = U32(fp[o[0]]); uint64_t src = U32(fp[o[1]]); uint64_t len = U32(fp[o[2]]);
     if (dst + len > mem_size || src + len > mem_size) TRAP(kOobMemory);
     if (len != 0) std::memmove(mem_base + dst, mem_base + src, len))

  OP(MemoryInit, 4, const DataInst& seg = inst->datas[o[0]]; uint64_t dst = U32(fp[o[1]]);
     uint64_t src = U32(fp[o[2]]); uint64_t len = U32(fp[o[3]]);
     if (src + len > seg.size || dst + len > mem_size) TRAP(kOobMemory);
     if (len != 0) std::memcpy(mem_base + dst, seg.data + src, len))

  OP(DataDrop, 1, inst->datas[o[0]].size = 0)

  LOAD(I32Load, uint32_t, v)
  LOAD(I64Load, uint64_t, v)
  LOAD(F32Load, uint32_t, v)
  LOAD(F64Load, uint64_t, v)
  LOAD(I32Load8S, int8_t, static_cast<uint32_t>(static_cast<int32_t>(v)))
  LOAD(I32Load8U, uint8_t, static_cast<uint32_t>(v))
  LOAD(I32Load16S, int16_t, static_cast<uint32_t>(static_cast<int32_t>(v)))
  LOAD(I32Load16U, uint16_t, static_cast<uint32_t>(v))
  LOAD(I64Load8S, int8_t, static_cast<uint64_t>(static_cast<int64_t>(v)))
  LOAD(I64Load8U, uint8_t, static_cast<uint64_t>(v))
  LOAD(I64Load16S, int16_t, static_cast<uint64_t>(static_cast<int64_t>(v)))
  LOAD(I64Load16U, uint16_t, static_cast<uint64_t>(v))
  LOAD(I64Load32S, int32_t, static_cast<uint64_t>(static_cast<int64_t>(v)))
  LOAD(I64Load32U, uint32_t, static_cast<uint64_t>(v))
  STORE(I32Store, uint32_t)
  STORE(I64Store, uint64_t)
  STORE(F32Store, uint32_t)
  STORE(F64Store, uint64_t)
  STORE(I32Store8, uint8_t)
  STORE(I32Store16, uint16_t)
  STORE(I64Store8, uint8_t)
  STORE(I64Store16, uint16_t)
  STORE(I64Store32, uint32_t)

  // --- tables ----------------------------------------------------------------------------------------

  OP(TableGet, 3, const TableInst* t = inst->tables[o[1]]; uint32_t i = U32(fp[o[2]]);
     if (i >= t->elems.size()) TRAP(kOobTable); fp[o[0]] = t->elems[i])

  OP(TableSet, 3, TableInst* t = inst->tables[o[0]]; uint32_t i = U32(fp[o[1]]);
     if (i >= t->elems.size()) TRAP(kOobTable); t->elems[i] = fp[o[2]])

  OP(TableSize, 2, fp[o[0]] = static_cast<uint32_t>(inst->tables[o[1]]->elems.size()))

  OP(TableGrow, 4, TableInst* t = inst->tables[o[1]]; uint64_t old = t->elems.size();
     bool grown = GrowTable(t, U32(fp[o[3]]), fp[o[2]]);
     fp[o[0]] = grown ? static_cast<uint32_t>(old) : 0xFFFFFFFFu)

  OP(TableFill, 4, TableInst* t = inst->tables[o[0]]; uint64_t i = U32(fp[o[1]]); uint64_t n = U32(fp[o[3]]);
     if (i + n > t->elems.size()) TRAP(kOobTable);
     std::fill_n(t->elems.begin() + static_cast<ptrdiff_t>(i), n, fp[o[2]]))

  OP(TableCopy, 5, TableInst* dt = inst->tables[o[0]]; const TableInst* st = inst->tables[o[1]];
     uint64_t d = U32(fp[o[2]]); uint64_t s = U32(fp[o[3]]); uint64_t n = U32(fp[o[4]]);
     if (d + n > dt->elems.size() || s + n > st->elems.size()) TRAP(kOobTable);
     if (n != 0) std::memmove(dt->elems.data() + d, st->elems.data() + s, n * sizeof(uint64_t)))

  OP(TableInit, 5, const ElemInst& seg = inst->elems[o[0]]; TableInst* t = inst->tables[o[1]];
     uint64_t d = U32(fp[o[2]]); uint64_t s = U32(fp[o[3]]); uint64_t n = U32(fp[o[4]]);
     if (s + n > seg.refs.size() || d + n > t->elems.size()) TRAP(kOobTable);
     if (n != 0) std::memcpy(t->elems.data() + d, seg.refs.data() + s, n * sizeof(uint64_t)))

  OP(ElemDrop, 1, std::vector<uint64_t>().swap(inst->elems[o[0]].refs))

  // --- numeric: unary --------------------------------------------------------------------------------

  UNARY(I32Eqz, U32(x) == 0 ? 1 : 0)
  UNARY(I64Eqz, x == 0 ? 1 : 0)
  UNARY(I32Clz, static_cast<uint32_t>(std::countl_zero(U32(x))))
  UNARY(I32Ctz, static_cast<uint32_t>(std::countr_zero(U32(x))))
  UNARY(I32Popcnt, static_cast<uint32_t>(std::popcount(U32(x))))
  UNARY(I64Clz, static_cast<uint64_t>(std::countl_zero(x)))
  UNARY(I64Ctz, static_cast<uint64_t>(std::countr_zero(x)))
  UNARY(I64Popcnt, static_cast<uint64_t>(std::popcount(x)))
  UNARY(F32Abs, U32(x) & 0x7FFFFFFFu)
  UNARY(F32Neg, U32(x) ^ 0x80000000u)
  UNARY(F32Ceil, BitsF32(CeilF32(F32(x))))
  UNARY(F32Floor, BitsF32(FloorF32(F32(x))))
  UNARY(F32Trunc, BitsF32(TruncF32(F32(x))))
  UNARY(F32Nearest, BitsF32(NearestF32(F32(x))))
  UNARY(F32Sqrt, BitsF32(std::sqrt(F32(x))))
  UNARY(F64Abs, x & 0x7FFFFFFFFFFFFFFFull)
  UNARY(F64Neg, x ^ 0x8000000000000000ull)
  UNARY(F64Ceil, BitsF64(CeilF64(F64(x))))
  UNARY(F64Floor, BitsF64(FloorF64(F64(x))))
  UNARY(F64Trunc, BitsF64(TruncF64(F64(x))))
  UNARY(F64Nearest, BitsF64(NearestF64(F64(x))))
  UNARY(F64Sqrt, BitsF64(std::sqrt(F64(x))))
  UNARY(I32WrapI64, U32(x))
  TRUNC(I32TruncF32S, F32, InRangeI32, static_cast<uint32_t>(static_cast<int32_t>(v)))
  TRUNC(I32TruncF32U, F32, InRangeU32, static_cast<uint32_t>(v))
  TRUNC(I32TruncF64S, F64, InRangeI32, static_cast<uint32_t>(static_cast<int32_t>(v)))
  TRUNC(I32TruncF64U, F64, InRangeU32, static_cast<uint32_t>(v))
  UNARY(I64ExtendI32S, static_cast<uint64_t>(static_cast<int64_t>(S32(x))))
  UNARY(I64ExtendI32U, static_cast<uint64_t>(U32(x)))
  TRUNC(I64TruncF32S, F32, InRangeI64, static_cast<uint64_t>(static_cast<int64_t>(v)))
  TRUNC(I64TruncF32U, F32, InRangeU64, static_cast<uint64_t>(v))
  TRUNC(I64TruncF64S, F64, InRangeI64, static_cast<uint64_t>(static_cast<int64_t>(v)))
  TRUNC(I64TruncF64U, F64, InRangeU64, static_cast<uint64_t>(v))
  UNARY(F32ConvertI32S, BitsF32(static_cast<float>(S32(x))))
  UNARY(F32ConvertI32U, BitsF32(static_cast<float>(U32(x))))
  UNARY(F32ConvertI64S, BitsF32(static_cast<float>(S64(x))))
  UNARY(F32ConvertI64U, BitsF32(static_cast<float>(x)))
  UNARY(F32DemoteF64, BitsF32(static_cast<float>(F64(x))))
  UNARY(F64ConvertI32S, BitsF64(static_cast<double>(S32(x))))
  UNARY(F64ConvertI32U, BitsF64(static_cast<double>(U32(x))))
  UNARY(F64ConvertI64S, BitsF64(static_cast<double>(S64(x))))
  UNARY(F64ConvertI64U, BitsF64(static_cast<double>(x)))
  UNARY(F64PromoteF32, BitsF64(static_cast<double>(F32(x))))
  UNARY(I32Extend8S, static_cast<uint32_t>(static_cast<int32_t>(static_cast<int8_t>(x))))
  UNARY(I32Extend16S, static_cast<uint32_t>(static_cast<int32_t>(static_cast<int16_t>(x))))
  UNARY(I64Extend8S, static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(x))))
  UNARY(I64Extend16S, static_cast<uint64_t>(static_cast<int64_t>(static_cast<int16_t>(x))))
  UNARY(I64Extend32S, static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(x))))
  UNARY(I32TruncSatF32S, SatI32(F32(x)))
  UNARY(I32TruncSatF32U, SatU32(F32(x)))
  UNARY(I32TruncSatF64S, SatI32(F64(x)))
  UNARY(I32TruncSatF64U, SatU32(F64(x)))
  UNARY(I64TruncSatF32S, SatI64(F32(x)))
  UNARY(I64TruncSatF32U, SatU64(F32(x)))
  UNARY(I64TruncSatF64S, SatI64(F64(x)))
  UNARY(I64TruncSatF64U, SatU64(F64(x)))

  // --- numeric: binary -------------------------------------------------------------------------------

  I32_BIN(I32Eq, a == b)
  I32_BIN(I32Ne, a != b)
  I32_BIN(I32LtS, static_cast<int32_t>(a) < static_cast<int32_t>(b))
  I32_BIN(I32LtU, a < b)
  I32_BIN(I32GtS, static_cast<int32_t>(a) > static_cast<int32_t>(b))
  I32_BIN(I32GtU, a > b)
  I32_BIN(I32LeS, static_cast<int32_t>(a) <= static_cast<int32_t>(b))
  I32_BIN(I32LeU, a <= b)
  I32_BIN(I32GeS, static_cast<int32_t>(a) >= static_cast<int32_t>(b))
  I32_BIN(I32GeU, a >= b)
  I64_BIN(I64Eq, a == b)
  I64_BIN(I64Ne, a != b)
  I64_BIN(I64LtS, static_cast<int64_t>(a) < static_cast<int64_t>(b))
  I64_BIN(I64LtU, a < b)
  I64_BIN(I64GtS, static_cast<int64_t>(a) > static_cast<int64_t>(b))
  I64_BIN(I64GtU, a > b)
  I64_BIN(I64LeS, static_cast<int64_t>(a) <= static_cast<int64_t>(b))
  I64_BIN(I64LeU, a <= b)
  I64_BIN(I64GeS, static_cast<int64_t>(a) >= static_cast<int64_t>(b))
  I64_BIN(I64GeU, a >= b)
  F32_CMP(F32Eq, a == b)
  F32_CMP(F32Ne, a != b)
  F32_CMP(F32Lt, a < b)
  F32_CMP(F32Gt, a > b)
  F32_CMP(F32Le, a <= b)
  F32_CMP(F32Ge, a >= b)
  F64_CMP(F64Eq, a == b)
  F64_CMP(F64Ne, a != b)
  F64_CMP(F64Lt, a < b)
  F64_CMP(F64Gt, a > b)
  F64_CMP(F64Le, a <= b)
  F64_CMP(F64Ge, a >= b)

  I32_BIN(I32Add, a + b)
  I32_BIN(I32Sub, a - b)
  I32_BIN(I32Mul, a * b)
  OP(I32DivS, 3, uint32_t a = U32(fp[o[1]]); uint32_t b = U32(fp[o[2]]); if (b == 0) TRAP(kDivByZero);
     if (a == 0x80000000u && b == 0xFFFFFFFFu) TRAP(kIntOverflow);
     fp[o[0]] = static_cast<uint32_t>(static_cast<int32_t>(a) / static_cast<int32_t>(b)))
  OP(I32DivU, 3, uint32_t a = U32(fp[o[1]]); uint32_t b = U32(fp[o[2]]); if (b == 0) TRAP(kDivByZero);
     fp[o[0]] = a / b)
  OP(I32RemS, 3, uint32_t a = U32(fp[o[1]]); uint32_t b = U32(fp[o[2]]); if (b == 0) TRAP(kDivByZero);
     fp[o[0]] =
         b == 0xFFFFFFFFu ? 0u : static_cast<uint32_t>(static_cast<int32_t>(a) % static_cast<int32_t>(b)))
  OP(I32RemU, 3, uint32_t a = U32(fp[o[1]]); uint32_t b = U32(fp[o[2]]); if (b == 0) TRAP(kDivByZero);
     fp[o[0]] = a % b)
  I32_BIN(I32And, a & b)
  I32_BIN(I32Or, a | b)
  I32_BIN(I32Xor, a ^ b)
  I32_BIN(I32Shl, a << (b & 31))
  I32_BIN(I32ShrS, static_cast<uint32_t>(static_cast<int32_t>(a) >> (b & 31)))
  I32_BIN(I32ShrU, a >> (b & 31))
  I32_BIN(I32Rotl, std::rotl(a, static_cast<int>(b & 31)))
  I32_BIN(I32Rotr, std::rotr(a, static_cast<int>(b & 31)))

  I64_BIN(I64Add, a + b)
  I64_BIN(I64Sub, a - b)
  I64_BIN(I64Mul, a * b)
  OP(I64DivS, 3, uint64_t a = fp[o[1]]; uint64_t b = fp[o[2]]; if (b == 0) TRAP(kDivByZero);
     if (a == 0x8000000000000000ull && b == 0xFFFFFFFFFFFFFFFFull) TRAP(kIntOverflow);
     fp[o[0]] = static_cast<uint64_t>(static_cast<int64_t>(a) / static_cast<int64_t>(b)))
  OP(I64DivU, 3, uint64_t a = fp[o[1]]; uint64_t b = fp[o[2]]; if (b == 0) TRAP(kDivByZero); fp[o[0]] = a / b)
  OP(I64RemS, 3, uint64_t a = fp[o[1]]; uint64_t b = fp[o[2]]; if (b == 0) TRAP(kDivByZero);
     fp[o[0]] = b == 0xFFFFFFFFFFFFFFFFull
                    ? 0ull
                    : static_cast<uint64_t>(static_cast<int64_t>(a) % static_cast<int64_t>(b)))
  OP(I64RemU, 3, uint64_t a = fp[o[1]]; uint64_t b = fp[o[2]]; if (b == 0) TRAP(kDivByZero); fp[o[0]] = a % b)
  I64_BIN(I64And, a & b)
  I64_BIN(I64Or, a | b)
  I64_BIN(I64Xor, a ^ b)
  I64_BIN(I64Shl, a << (b & 63))
  I64_BIN(I64ShrS, static_cast<uint64_t>(static_cast<int64_t>(a) >> (b & 63)))
  I64_BIN(I64ShrU, a >> (b & 63))
  I64_BIN(I64Rotl, std::rotl(a, static_cast<int>(b & 63)))
  I64_BIN(I64Rotr, std::rotr(a, static_cast<int>(b & 63)))

  // --- immediate forms (the second operand was a constant) -------------------------------------------
#define I32_IMM(name, expr) \
  OP(name##Imm, 3, uint32_t a = U32(fp[o[1]]); uint32_t b = o[2]; fp[o[0]] = static_cast<uint32_t>(expr))
#define I64_IMM(name, expr)                                                                         \
  OP(name##Imm, 3, uint64_t a = fp[o[1]];                                                           \
     uint64_t b = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(o[2])));          \
     fp[o[0]] = static_cast<uint64_t>(expr))
  I32_IMM(I32Eq, a == b)
  I32_IMM(I32Ne, a != b)
  I32_IMM(I32LtS, static_cast<int32_t>(a) < static_cast<int32_t>(b))
  I32_IMM(I32LtU, a < b)
  I32_IMM(I32GtS, static_cast<int32_t>(a) > static_cast<int32_t>(b))
  I32_IMM(I32GtU, a > b)
  I32_IMM(I32LeS, static_cast<int32_t>(a) <= static_cast<int32_t>(b))
  I32_IMM(I32LeU, a <= b)
  I32_IMM(I32GeS, static_cast<int32_t>(a) >= static_cast<int32_t>(b))
  I32_IMM(I32GeU, a >= b)
  I32_IMM(I32Add, a + b)
  I32_IMM(I32Sub, a - b)
  I32_IMM(I32Mul, a * b)
  I32_IMM(I32And, a & b)
  I32_IMM(I32Or, a | b)
  I32_IMM(I32Xor, a ^ b)
  I32_IMM(I32Shl, a << (b & 31))
  I32_IMM(I32ShrS, static_cast<uint32_t>(static_cast<int32_t>(a) >> (b & 31)))
  I32_IMM(I32ShrU, a >> (b & 31))
  I64_IMM(I64Eq, a == b)
  I64_IMM(I64Ne, a != b)
  I64_IMM(I64LtS, static_cast<int64_t>(a) < static_cast<int64_t>(b))
  I64_IMM(I64LtU, a < b)
  I64_IMM(I64GtS, static_cast<int64_t>(a) > static_cast<int64_t>(b))
  I64_IMM(I64GtU, a > b)
  I64_IMM(I64LeS, static_cast<int64_t>(a) <= static_cast<int64_t>(b))
  I64_IMM(I64LeU, a <= b)
  I64_IMM(I64GeS, static_cast<int64_t>(a) >= static_cast<int64_t>(b))
  I64_IMM(I64GeU, a >= b)
  I64_IMM(I64Add, a + b)
  I64_IMM(I64Sub, a - b)
  I64_IMM(I64Mul, a * b)
  I64_IMM(I64And, a & b)
  I64_IMM(I64Or, a | b)
  I64_IMM(I64Xor, a ^ b)
  I64_IMM(I64Shl, a << (b & 63))
  I64_IMM(I64ShrS, static_cast<uint64_t>(static_cast<int64_t>(a) >> (b & 63)))
  I64_IMM(I64ShrU, a >> (b & 63))
#undef I32_IMM
#undef I64_IMM

  F32_BIN(F32Add, a + b)
  F32_BIN(F32Sub, a - b)
  F32_BIN(F32Mul, a * b)
  F32_BIN(F32Div, a / b)
  F32_BIN(F32Min, MinF32(a, b))
  F32_BIN(F32Max, MaxF32(a, b))
  OP(F32Copysign, 3, fp[o[0]] = (U32(fp[o[1]]) & 0x7FFFFFFFu) | (U32(fp[o[2]]) & 0x80000000u))
  F64_BIN(F64Add, a + b)
  F64_BIN(F64Sub, a - b)
  F64_BIN(F64Mul, a * b)
  F64_BIN(F64Div, a / b)
  F64_BIN(F64Min, MinF64(a, b))
  F64_BIN(F64Max, MaxF64(a, b))
  OP(F64Copysign, 3, fp[o[0]] = (fp[o[1]] & 0x7FFFFFFFFFFFFFFFull) | (fp[o[2]] & 0x8000000000000000ull))

  // --- SIMD: every 0xFD instruction, out of line (interp_simd.cc) ----------------------------------
  OP(Simd, 9, if (const char* msg = ExecSimd(o, fp, mem_base, mem_size, inst)) TRAP(msg))

fail:
  return Fail(thread, cur, fail_kind, fail_msg);

#undef DISPATCH
#undef FAIL
#undef TRAP
#undef RELOAD_MEMORY
#undef CHECK_FUEL
#undef ZERO_LOCALS
#undef OP
#undef I32_BIN
#undef I64_BIN
#undef F32_BIN
#undef F64_BIN
#undef F32_CMP
#undef F64_CMP
#undef UNARY
#undef TRUNC
#undef LOAD
#undef STORE
#pragma GCC diagnostic pop
}

}  // namespace

// --- Thread ------------------------------------------------------------------------------------------

Thread::Thread(const EngineConfig& config, std::shared_ptr<SlotPool> slot_pool) {
  max_depth = config.max_call_depth;
  const size_t slots = config.value_stack_slots;
  // Pooled engine: the stack is a slot of the engine's pool (no mapping of its own) when one is free.
  uint8_t* slot = slot_pool != nullptr && slots != 0 ? slot_pool->Take(SlotPool::kStack) : nullptr;
  if (slot != nullptr) {
    pool = std::move(slot_pool);
    stack_base = reinterpret_cast<uint64_t*>(slot);
    stack_end = stack_base + slots;
  } else if (slots != 0) {
    // Reserved, not committed: pages are touched only as deep as execution actually goes. A stack an
    // earlier Store on this thread gave back (pool.h) saves the mmap and, at the end, the munmap.
    void* p = TakeReservation(ReservationKind::ValueStack, slots * sizeof(uint64_t));
    if (p == nullptr)
      p = mmap(nullptr, slots * sizeof(uint64_t), PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) {
      stack_base = static_cast<uint64_t*>(p);
      stack_end = stack_base + slots;
    }
  }
  // Without a stack every Invoke fails with "call stack exhausted" rather than crashing.
  stack_top = stack_base;
  frames.reserve(std::min<size_t>(static_cast<size_t>(max_depth) + 2, 4096));
}

Thread::~Thread() {
  delete[] jit_frames;
  if (stack_base == nullptr) return;
  const size_t bytes = static_cast<size_t>(stack_end - stack_base) * sizeof(uint64_t);
  if (pool != nullptr) {
    pool->Give(SlotPool::kStack, reinterpret_cast<uint8_t*>(stack_base), bytes);
    return;
  }
  // A cached stack keeps its first pages (what a typical task touches again) and gives the rest of
  // whatever deep recursion touched back to the system.
  constexpr size_t kKeepBytes = 64 * 1024;
  if (bytes > kKeepBytes)
    madvise(reinterpret_cast<uint8_t*>(stack_base) + kKeepBytes, bytes - kKeepBytes, MADV_DONTNEED);
  if (!GiveReservation(ReservationKind::ValueStack, stack_base, bytes)) munmap(stack_base, bytes);
}

// --- HostContext -------------------------------------------------------------------------------------

MemInst* HostContext::memory() const {
  if (caller_ == nullptr || caller_->memories.empty()) return nullptr;
  return caller_->memories[0];
}

uint8_t* HostContext::memory_data() const {
  MemInst* m = memory();
  return m != nullptr ? m->data : nullptr;
}

uint64_t HostContext::memory_size() const {
  MemInst* m = memory();
  return m != nullptr ? m->size : 0;
}

// --- Invoke ------------------------------------------------------------------------------------------

Result<void> Invoke(Thread& thread, FuncInst* func, const uint64_t* args, uint64_t* results) {
  NestingGuard nesting;
  // The backtrace of an earlier failure stays visible unless this call fails too.
  std::vector<BacktraceFrame> saved_backtrace;
  saved_backtrace.swap(thread.last_backtrace);

  uint64_t* const base = thread.stack_top;
  const size_t entry_depth = thread.frames.size();
  const bool is_host = func->code == nullptr;
  const size_t num_params = is_host ? SlotCount(func->type->params) : func->code->num_params;
  const size_t num_results = is_host ? SlotCount(func->type->results) : func->code->num_results;
  const size_t need =
      std::max({num_params, num_results, is_host ? size_t{0} : size_t{func->code->frame_slots}});

  if (t_nested_invokes > kMaxNestedInvokes || thread.frames.size() > thread.max_depth ||
      static_cast<size_t>(thread.stack_end - base) < need) {
    return Fail(thread, func, ErrorKind::Exhaustion, kStackExhausted);
  }
  if (num_params != 0) std::memcpy(base, args, num_params * sizeof(uint64_t));

  Result<void> r;
  if (is_host) {
    thread.stack_top = base + need;
    thread.frames.push_back(Thread::Frame{nullptr, nullptr, func});
    r = CallHost(thread, nullptr, func, base);
    if (!r.ok() && thread.last_backtrace.empty()) RecordBacktrace(thread, nullptr);
  } else if (func->jit_code != nullptr || (func->instance->jit_pending && AttachJit(func->instance) &&
                                            func->jit_code != nullptr)) {
    r = JitEnter(thread, func, base);
  } else {
    r = Run(thread, func, base);
  }

  thread.frames.resize(entry_depth);
  thread.stack_top = base;
  if (r.ok()) {
    if (num_results != 0) std::memcpy(results, base, num_results * sizeof(uint64_t));
    thread.last_backtrace.swap(saved_backtrace);
  }
  return r;
}

}  // namespace wasmq::wasm
