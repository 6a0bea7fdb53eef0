// File: src/wasm/jit/jit.h  (internal)
//
// The compiling tier: a module's defined functions as machine code (LLVM, compile.cc of this folder), and
// the runtime side compiled code calls into (entry.cc: entering compiled code, traps, the slow paths).
//
// Compiled code keeps the interpreter's frame convention, so the tiers call each other freely: a compiled
// function is `void f(Thread*, InstanceImpl*, uint64_t* fp)` with its arguments in fp[0..params) and its
// results written to fp[0..results); a call puts the callee's frame at fp + k, as ops.h's Call does. Its
// locals and operand slots live in machine registers and on the native stack; the value stack is only the
// argument area of calls. A trap longjmps from the helper that raises it to the innermost JitEnter.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wasm/runtime.h"

namespace wasmq::wasm {

using JitFn = void (*)(Thread* thread, InstanceImpl* instance, uint64_t* fp);

// A compiled module's code: one entry per defined function.
struct JitCode {
  std::shared_ptr<void> owner;  // keeps the code's memory alive (object_load.cc's mapping)
  std::vector<JitFn> funcs;
  double compile_ms = 0;   // wall time of the compile, or of loading it from the cache
  size_t code_bytes = 0;   // machine code (for the throughput report)
  size_t wasm_code_bytes = 0;  // the module's function bodies in the wasm binary
  bool from_cache = false;
};

// The name of defined function `i` in the compiled object.
inline std::string JitFuncSymbol(size_t defined_index) { return "wasmq_f" + std::to_string(defined_index); }

struct JitOptions {
  bool bounds_checks = true;  // explicit checks on every access instead of relying on guard pages
  std::string cache_dir;      // where compiled objects are kept; empty: no cache
};

// Byte offsets of the runtime fields compiled code reads and writes (measured on real objects by
// entry.cc, so the runtime structs need no special layout).
struct JitLayout {
  uint64_t th_interrupt, th_fuel_enabled, th_stack_end, th_frames, th_depth, th_max_depth, th_native_limit;
  uint64_t in_funcs, in_globals, in_memory;
  uint64_t fn_jit_code, fn_instance;
  uint64_t gl_value;
  uint64_t mem_data, mem_size;
};
const JitLayout& GetJitLayout();

// The helpers compiled code calls, by symbol name (entry.cc fills it).
using JitSymbols = std::vector<std::pair<const char*, void*>>;
const JitSymbols& JitHelperSymbols();

// What the compiler (wasmq-jit.so, loaded on first use) is given. It returns an x86-64 relocatable
// object (ELF) defining JitFuncSymbol(i) for every defined function, or an error (Interrupted when
// `cancelled` said to stop).
struct JitRequest {
  const CompiledModule* module = nullptr;
  JitOptions options;
  JitLayout layout{};
  const std::function<bool()>* cancelled = nullptr;  // polled between passes; null: never cancelled
};
using JitCompileFn = void (*)(const JitRequest* request, Result<std::string>* object);
#define WASMQ_JIT_COMPILE_SYMBOL "wasmq_jit_compile_v2"

// Loads an object the compiler made (object_load.cc, no LLVM): its code in executable memory, with the
// helpers (and libc functions codegen may call) linked in.
Result<std::shared_ptr<const JitCode>> LoadJitObject(std::string_view object, size_t num_funcs,
                                                     const JitSymbols& helpers);

// Trap codes compiled code passes to wasmq_jit_trap.
enum class JitTrap : uint32_t {
  kUnreachable,
  kDivByZero,
  kIntOverflow,
  kInvalidConversion,
  kOobMemory,
  kOobTable,
  kUndefinedElement,
  kUninitializedElement,
  kIndirectMismatch,
  kStackExhausted,
};

// Compiles every defined function of `module` to machine code, or loads it from the cache. The compiler
// lives in wasmq-jit.so with LLVM (linking LLVM into wasmq would cost every start ~45 ms); loader.cc
// opens it on the first compile, never for a module found in the cache.
Result<std::shared_ptr<const JitCode>> JitCompile(const CompiledModule& module, const JitOptions& options,
                                                  const std::function<bool()>* cancelled = nullptr);

// The cached code of `module`, loaded without LLVM; null when there is none (or no cache_dir).
std::shared_ptr<const JitCode> JitLoadCached(const CompiledModule& module, const JitOptions& options);

// kAuto: compiles `module` on the engine's background thread, then publishes the code (jit_ready);
// instances made before then switch to it at their next call (AttachJit). A failure leaves the module
// interpreted.
void JitCompileInBackground(std::shared_ptr<CompiledModule> module, JitOptions options);

// Runs compiled `func` (jit_code set) with its frame at `fp` on `thread`; a trap, exhaustion or
// interruption comes back as an Error with thread.last_backtrace recorded.
Result<void> JitEnter(Thread& thread, FuncInst* func, uint64_t* fp);

// The compiled frames of `thread`, innermost first, appended to `out` (for the interpreter's backtraces).
void AppendJitBacktrace(const Thread& thread, std::vector<BacktraceFrame>* out);

}  // namespace wasmq::wasm
