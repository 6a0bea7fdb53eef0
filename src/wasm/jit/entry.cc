// File: src/wasm/jit/entry.cc
//
// The runtime side of the compiling tier, free of LLVM: entering compiled code (JitEnter), the helpers
// compiled code calls for everything that is not worth inlining (traps, interruption and fuel, calls to
// host and interpreted functions, call_indirect's checks, bulk memory and table instructions), and the
// compiled frames' backtraces.
//
// A trap in compiled code never returns through the compiled frames: the helper that raises it records
// the error and the backtrace in the Thread and siglongjmps to the innermost JitEnter, which restores the
// thread's depth and returns the Error. No compiled frame owns anything that would need unwinding, and a
// helper raises only after its own C++ objects are gone (the work is done in a function that returns
// first), so nothing leaks. Host functions called from compiled code may re-enter wasm through
// Store::Call: the nested entry has its own jump buffer.
//
// Guarded memories (guard.h): compiled code without bounds checks faults on an access past the memory's
// size. The SIGSEGV/SIGBUS handler (installed once, on each thread's alternate signal stack) turns a
// fault raised while this thread runs compiled code (t_compiled: set by JitEnter, cleared while a host or
// interpreted function runs) at an address inside a guarded reservation into the same trap the helpers
// raise: it jumps to the innermost JitEnter, which records the backtrace. Any other fault goes to the
// handler that was there before (or the default action: the process still crashes on a host bug).
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>

#include "wasm/guard.h"
#include "wasm/jit/jit.h"
#include "wasm/simd.h"

namespace wasmq::wasm {

namespace {

constexpr const char* kTrapMessages[] = {
    "unreachable",
    "integer divide by zero",
    "integer overflow",
    "invalid conversion to integer",
    "out of bounds memory access",
    "out of bounds table access",
    "undefined element",
    "uninitialized element",
    "indirect call type mismatch",
    "call stack exhausted",
};

// The Thread whose compiled code runs on this OS thread right now, or null (not in compiled code, or in a
// host/interpreted function it called). Read by the fault handler: a plain pointer in initial-exec TLS.
thread_local Thread* t_compiled = nullptr;

constexpr int kFaultJump = 2;  // siglongjmp value of a guard-page fault (1: a helper's trap)

struct sigaction g_prev_segv, g_prev_bus;

// Hands a fault that is not ours to whoever handled it before; with no previous handler the default
// action is restored and the faulting instruction re-executed, so the process dies as it would have.
void ChainFault(int sig, siginfo_t* info, void* context) {
  const struct sigaction& prev = sig == SIGBUS ? g_prev_bus : g_prev_segv;
  if ((prev.sa_flags & SA_SIGINFO) != 0 && prev.sa_sigaction != nullptr) {
    prev.sa_sigaction(sig, info, context);
    return;
  }
  if ((prev.sa_flags & SA_SIGINFO) == 0 && prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    prev.sa_handler(sig);
    return;
  }
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
  if (info->si_code <= 0) raise(sig);  // sent, not a fault: returning would not repeat it
}

void OnFault(int sig, siginfo_t* info, void* context) {
  Thread* t = t_compiled;
  if (t != nullptr && t->jit_jump != nullptr &&
      IsGuardedAddress(reinterpret_cast<uintptr_t>(info->si_addr))) {
    // The handler runs with `sig` blocked; the jump leaves it, so unblock it for the next fault.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    siglongjmp(*static_cast<sigjmp_buf*>(t->jit_jump), kFaultJump);
  }
  ChainFault(sig, info, context);
}

void InstallFaultHandler() {
  struct sigaction sa {};
  sa.sa_sigaction = OnFault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &g_prev_segv);
  sigaction(SIGBUS, &sa, &g_prev_bus);
}

// This thread's alternate signal stack (the handler must run when the native stack is what overflowed),
// unless the thread already has one. Freed when the thread exits.
struct AltStack {
  void* mem = nullptr;
  AltStack() {
    stack_t old{};
    if (sigaltstack(nullptr, &old) == 0 && (old.ss_flags & SS_DISABLE) == 0) return;  // someone else's
    const size_t size = std::max<size_t>(64 * 1024, static_cast<size_t>(SIGSTKSZ) * 4);
    mem = ::operator new(size);
    stack_t st{};
    st.ss_sp = mem;
    st.ss_size = size;
    if (sigaltstack(&st, nullptr) != 0) {
      ::operator delete(mem);
      mem = nullptr;
    }
  }
  ~AltStack() {
    if (mem == nullptr) return;
    stack_t st{};
    st.ss_flags = SS_DISABLE;
    sigaltstack(&st, nullptr);
    ::operator delete(mem);
  }
};

void PrepareFaultHandling() {
  static std::once_flag once;
  std::call_once(once, InstallFaultHandler);
  thread_local AltStack alt_stack;
  (void)alt_stack;
}

std::string DisplayName(const FuncInst* f) {
  if (f->code == nullptr) return f->def != nullptr ? f->def->debug_name : f->debug_name;
  return FunctionName(f->instance, f->func_index);
}

// Compiled frames first (they are the innermost), then the interpreter's.
void RecordJitBacktrace(Thread& t) {
  auto& bt = t.last_backtrace;
  bt.clear();
  AppendJitBacktrace(t, &bt);
  for (auto it = t.frames.rbegin(); it != t.frames.rend(); ++it)
    if (it->func != nullptr) bt.push_back(BacktraceFrame{DisplayName(it->func), it->func->func_index});
}

[[noreturn]] void Raise(Thread& t) { siglongjmp(*static_cast<sigjmp_buf*>(t.jit_jump), 1); }

// Records a failure raised by compiled code; the caller then Raise()s.
[[gnu::noinline, gnu::cold]] void SetFailure(Thread& t, ErrorKind kind, const char* message) {
  RecordJitBacktrace(t);
  t.jit_error = MakeError(kind, message);
}

[[noreturn, gnu::noinline, gnu::cold]] void Fail(Thread& t, ErrorKind kind, const char* message) {
  SetFailure(t, kind, message);
  Raise(t);
}

[[noreturn]] void Trap(Thread& t, JitTrap code) {
  Fail(t, code == JitTrap::kStackExhausted ? ErrorKind::Exhaustion : ErrorKind::Trap,
       kTrapMessages[static_cast<uint32_t>(code)]);
}

// Calls a host function or an interpreted one; false (t.jit_error set) when it failed.
[[gnu::noinline]] bool CallSlow(Thread& t, InstanceImpl* caller, FuncInst* f, uint64_t* fp) {
  const size_t np = SlotCount(f->type->params), nr = SlotCount(f->type->results);
  uint64_t* const saved_top = t.stack_top;
  // Whatever the callee runs re-entrantly starts past its slots (the caller's later slots are dead).
  t.stack_top = fp + std::max(np, nr);
  Result<void> r;
  // Faults in the callee are not compiled code's (a host bug must still crash); nested entries set it.
  Thread* const saved_compiled = t_compiled;
  t_compiled = nullptr;
  if (f->code == nullptr) {
    if (t.jit_depth >= t.max_depth) {
      t.stack_top = saved_top;
      t_compiled = saved_compiled;
      SetFailure(t, ErrorKind::Exhaustion, kTrapMessages[static_cast<uint32_t>(JitTrap::kStackExhausted)]);
      return false;
    }
    t.jit_frames[t.jit_depth++] = f;  // visible to backtraces taken inside or below the host call
    if (!t.last_backtrace.empty()) t.last_backtrace.clear();
    HostContext ctx(&t, caller, f->host_data);
    try {
      r = f->def != nullptr ? f->def->fn(ctx, fp) : f->host(ctx, fp);
    } catch (const std::exception& e) {
      r = MakeError(ErrorKind::Trap, std::string("host function threw: ") + e.what());
    } catch (...) {
      r = MakeError(ErrorKind::Trap, "host function threw an exception");
    }
    // A nested entry that failed has already recorded the whole chain; otherwise the host itself failed.
    if (!r.ok() && t.last_backtrace.empty()) RecordJitBacktrace(t);
    --t.jit_depth;
  } else {
    r = Invoke(t, f, fp, fp);  // the interpreter (a module not compiled, or not yet)
  }
  t_compiled = saved_compiled;
  t.stack_top = saved_top;
  if (r.ok()) return true;
  t.jit_error = std::move(r).error();
  return false;
}

bool GrowTable(TableInst* t, uint64_t delta, uint64_t value) {
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

// The lowest address compiled code may push to on this OS thread: the stack's end plus room for the host
// functions and helpers it calls (and the signal handler's frame when it runs on this stack).
uintptr_t NativeStackLimit() {
  thread_local uintptr_t limit = 0;
  if (limit != 0) return limit;
  pthread_attr_t attr;
  void* addr = nullptr;
  size_t size = 0;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
  }
  constexpr uintptr_t kReserve = 256 * 1024;
  if (addr == nullptr || size <= 2 * kReserve) {  // unknown: assume 1 MiB below here
    char here;
    limit = reinterpret_cast<uintptr_t>(&here) - (1u << 20) + kReserve;
  } else {
    limit = reinterpret_cast<uintptr_t>(addr) + kReserve;
  }
  return limit;
}

TableInst* Table(InstanceImpl* inst, uint32_t i) { return inst->tables[i]; }

}  // namespace

void AppendJitBacktrace(const Thread& t, std::vector<BacktraceFrame>* out) {
  for (uint32_t i = t.jit_depth; i-- > 0;) {
    const FuncInst* f = t.jit_frames[i];
    out->push_back(BacktraceFrame{DisplayName(f), f->func_index});
  }
}

Result<void> JitEnter(Thread& t, FuncInst* func, uint64_t* fp) {
  if (t.jit_frames == nullptr) t.jit_frames = new FuncInst*[static_cast<size_t>(t.max_depth) + 1];
  if (func->instance->module->jit_guards) PrepareFaultHandling();
  void* const saved_jump = t.jit_jump;
  const uint32_t saved_depth = t.jit_depth;
  const uintptr_t saved_limit = t.jit_native_limit;
  Thread* const saved_compiled = t_compiled;
  sigjmp_buf jump;
  t.jit_native_limit = NativeStackLimit();
  t.jit_jump = &jump;
  t_compiled = &t;
  const int jumped = sigsetjmp(jump, 0);
  if (jumped == 0) {
    reinterpret_cast<JitFn>(func->jit_code)(&t, func->instance, fp);
    t_compiled = saved_compiled;
    t.jit_jump = saved_jump;
    t.jit_native_limit = saved_limit;
    return {};
  }
  t_compiled = saved_compiled;
  // A guard-page fault: the shadow stack still holds the faulting frames, so the backtrace is the
  // one a helper's trap would have recorded.
  if (jumped == kFaultJump)
    SetFailure(t, ErrorKind::Trap, kTrapMessages[static_cast<uint32_t>(JitTrap::kOobMemory)]);
  t.jit_jump = saved_jump;
  t.jit_depth = saved_depth;
  t.jit_native_limit = saved_limit;
  return std::move(t.jit_error);
}

// ---- helpers called from compiled code ---------------------------------------------------------------

extern "C" {

[[noreturn]] void wasmq_jit_trap(Thread* t, InstanceImpl*, uint32_t code) { Trap(*t, static_cast<JitTrap>(code)); }

void wasmq_jit_poll(Thread* t, InstanceImpl*) {
  if (t->interrupt.load(std::memory_order_relaxed)) Fail(*t, ErrorKind::Interrupted, "interrupted");
  if (t->fuel_enabled) {
    if (t->fuel == 0) Fail(*t, ErrorKind::Interrupted, "fuel exhausted");
    --t->fuel;
  }
}

void wasmq_jit_call(Thread* t, InstanceImpl* inst, FuncInst* callee, uint64_t* fp) {
  if (!CallSlow(*t, inst, callee, fp)) Raise(*t);
}

FuncInst* wasmq_jit_indirect(Thread* t, InstanceImpl* inst, uint32_t table, uint32_t index, uint32_t type_index) {
  const TableInst* tab = Table(inst, table);
  if (index >= tab->elems.size()) Trap(*t, JitTrap::kUndefinedElement);
  uint64_t ref = tab->elems[index];
  if (ref == 0) Trap(*t, JitTrap::kUninitializedElement);
  auto* f = reinterpret_cast<FuncInst*>(static_cast<uintptr_t>(ref));
  if (f->type_id != inst->module->type_ids[type_index]) Trap(*t, JitTrap::kIndirectMismatch);
  return f;
}

uint32_t wasmq_jit_memory_grow(Thread*, InstanceImpl* inst, uint32_t delta) {
  MemInst* m = inst->memories[0];
  uint64_t old = m->size / kPageSize;
  return m->Grow(delta) ? static_cast<uint32_t>(old) : 0xFFFFFFFFu;
}

void wasmq_jit_memory_fill(Thread* t, InstanceImpl* inst, uint32_t d, uint32_t v, uint32_t n) {
  MemInst* m = inst->memories[0];
  if (uint64_t{d} + n > m->size) Trap(*t, JitTrap::kOobMemory);
  if (n != 0) std::memset(m->data + d, static_cast<uint8_t>(v), n);
}

void wasmq_jit_memory_copy(Thread* t, InstanceImpl* inst, uint32_t d, uint32_t s, uint32_t n) {
  MemInst* m = inst->memories[0];
  if (uint64_t{d} + n > m->size || uint64_t{s} + n > m->size) Trap(*t, JitTrap::kOobMemory);
  if (n != 0) std::memmove(m->data + d, m->data + s, n);
}

void wasmq_jit_memory_init(Thread* t, InstanceImpl* inst, uint32_t x, uint32_t d, uint32_t s, uint32_t n) {
  MemInst* m = inst->memories[0];
  const DataInst& seg = inst->datas[x];
  if (uint64_t{s} + n > seg.size || uint64_t{d} + n > m->size) Trap(*t, JitTrap::kOobMemory);
  if (n != 0) std::memcpy(m->data + d, seg.data + s, n);
}

void wasmq_jit_data_drop(Thread*, InstanceImpl* inst, uint32_t x) { inst->datas[x].size = 0; }

uint64_t wasmq_jit_table_get(Thread* t, InstanceImpl* inst, uint32_t table, uint32_t i) {
  const TableInst* tab = Table(inst, table);
  if (i >= tab->elems.size()) Trap(*t, JitTrap::kOobTable);
  return tab->elems[i];
}

void wasmq_jit_table_set(Thread* t, InstanceImpl* inst, uint32_t table, uint32_t i, uint64_t v) {
  TableInst* tab = Table(inst, table);
  if (i >= tab->elems.size()) Trap(*t, JitTrap::kOobTable);
  tab->elems[i] = v;
}

uint32_t wasmq_jit_table_size(Thread*, InstanceImpl* inst, uint32_t table) {
  return static_cast<uint32_t>(Table(inst, table)->elems.size());
}

uint32_t wasmq_jit_table_grow(Thread*, InstanceImpl* inst, uint32_t table, uint64_t v, uint32_t n) {
  TableInst* tab = Table(inst, table);
  uint64_t old = tab->elems.size();
  return GrowTable(tab, n, v) ? static_cast<uint32_t>(old) : 0xFFFFFFFFu;
}

void wasmq_jit_table_fill(Thread* t, InstanceImpl* inst, uint32_t table, uint32_t i, uint64_t v, uint32_t n) {
  TableInst* tab = Table(inst, table);
  if (uint64_t{i} + n > tab->elems.size()) Trap(*t, JitTrap::kOobTable);
  std::fill_n(tab->elems.begin() + i, n, v);
}

void wasmq_jit_table_copy(Thread* t, InstanceImpl* inst, uint32_t dt, uint32_t st, uint32_t d, uint32_t s,
                          uint32_t n) {
  TableInst* dtab = Table(inst, dt);
  const TableInst* stab = Table(inst, st);
  if (uint64_t{d} + n > dtab->elems.size() || uint64_t{s} + n > stab->elems.size()) Trap(*t, JitTrap::kOobTable);
  if (n != 0) std::memmove(dtab->elems.data() + d, stab->elems.data() + s, n * sizeof(uint64_t));
}

void wasmq_jit_table_init(Thread* t, InstanceImpl* inst, uint32_t x, uint32_t table, uint32_t d, uint32_t s,
                          uint32_t n) {
  const ElemInst& seg = inst->elems[x];
  TableInst* tab = Table(inst, table);
  if (uint64_t{s} + n > seg.refs.size() || uint64_t{d} + n > tab->elems.size()) Trap(*t, JitTrap::kOobTable);
  if (n != 0) std::memcpy(tab->elems.data() + d, seg.refs.data() + s, n * sizeof(uint64_t));
}

void wasmq_jit_elem_drop(Thread*, InstanceImpl* inst, uint32_t x) { std::vector<uint64_t>().swap(inst->elems[x].refs); }

// A SIMD op the compiled code does not do inline (jit/compile_simd.cc): the interpreter's, on a scratch
// frame.
void wasmq_jit_simd(Thread* t, InstanceImpl* inst, const uint32_t* words, uint64_t* scratch) {
  MemInst* m = inst->jit_memory;
  if (const char* msg = ExecSimd(words, scratch, m ? m->data : nullptr, m ? m->size : 0, inst))
    Fail(*t, ErrorKind::Trap, msg);
}

}  // extern "C"

namespace {
template <typename T, typename M>
uint64_t OffsetOf(const T& obj, const M& member) {
  return static_cast<uint64_t>(reinterpret_cast<const char*>(&member) - reinterpret_cast<const char*>(&obj));
}
}  // namespace

const JitLayout& GetJitLayout() {
  static const JitLayout layout = [] {
    JitLayout l{};
    EngineConfig config;
    config.value_stack_slots = 0;
    config.max_call_depth = 0;
    Thread t(config);
    l.th_interrupt = OffsetOf(t, t.interrupt);
    l.th_fuel_enabled = OffsetOf(t, t.fuel_enabled);
    l.th_stack_end = OffsetOf(t, t.stack_end);
    l.th_frames = OffsetOf(t, t.jit_frames);
    l.th_depth = OffsetOf(t, t.jit_depth);
    l.th_max_depth = OffsetOf(t, t.max_depth);
    l.th_native_limit = OffsetOf(t, t.jit_native_limit);
    InstanceImpl in;
    l.in_funcs = OffsetOf(in, in.jit_funcs);
    l.in_globals = OffsetOf(in, in.jit_globals);
    l.in_memory = OffsetOf(in, in.jit_memory);
    FuncInst fn;
    l.fn_jit_code = OffsetOf(fn, fn.jit_code);
    l.fn_instance = OffsetOf(fn, fn.instance);
    GlobalInst gl;
    l.gl_value = OffsetOf(gl, gl.value);
    MemInst mem;
    l.mem_data = OffsetOf(mem, mem.data);
    l.mem_size = OffsetOf(mem, mem.size);
    return l;
  }();
  return layout;
}

const JitSymbols& JitHelperSymbols() {
  static const JitSymbols symbols = {
#define WASMQ_JIT_HELPER(name) {#name, reinterpret_cast<void*>(&name)}
      WASMQ_JIT_HELPER(wasmq_jit_trap),         WASMQ_JIT_HELPER(wasmq_jit_poll),
      WASMQ_JIT_HELPER(wasmq_jit_call),         WASMQ_JIT_HELPER(wasmq_jit_indirect),
      WASMQ_JIT_HELPER(wasmq_jit_memory_grow),  WASMQ_JIT_HELPER(wasmq_jit_memory_fill),
      WASMQ_JIT_HELPER(wasmq_jit_memory_copy),  WASMQ_JIT_HELPER(wasmq_jit_memory_init),
      WASMQ_JIT_HELPER(wasmq_jit_data_drop),    WASMQ_JIT_HELPER(wasmq_jit_table_get),
      WASMQ_JIT_HELPER(wasmq_jit_table_set),    WASMQ_JIT_HELPER(wasmq_jit_table_size),
      WASMQ_JIT_HELPER(wasmq_jit_table_grow),   WASMQ_JIT_HELPER(wasmq_jit_table_fill),
      WASMQ_JIT_HELPER(wasmq_jit_table_copy),   WASMQ_JIT_HELPER(wasmq_jit_table_init),
      WASMQ_JIT_HELPER(wasmq_jit_elem_drop),    WASMQ_JIT_HELPER(wasmq_jit_simd),
#undef WASMQ_JIT_HELPER
  };
  return symbols;
}

}  // namespace wasmq::wasm
