// File: src/wasm/wasm.h
//
// wasmq's WebAssembly engine: the public embedding API. Everything else under src/wasm is internal.
//
//   wasm::Engine engine;                                   // limits shared by every store
//   auto module = wasm::Module::Compile(engine, bytes);    // decode + validate + compile, once
//   wasm::Store store(engine);                             // owns instances and everything they create
//   wasm::Imports imports;                                 // (module, name) -> Extern
//   imports.Add("env", "log", store.NewHostFunc({{I32}, {}}, [](wasm::HostContext& c, uint64_t* s) {...}));
//   auto inst = store.Instantiate(*module, imports);       // links, initialises, runs `start`
//   auto fn = inst->GetFunc("run");
//   auto out = store.Call(*fn, {wasm::Value::I32(7)});      // results or an Error (trap, exhaustion, ...)
//
// Threading: an Engine and a compiled Module are immutable and may be shared by any number of threads.
// A Store and everything it owns must be used by one thread at a time; Interrupt() is the exception and
// may be called from any thread.
//
// Lifetimes: Func, Table, Memory, Global and Instance handles are plain pointers into their Store and
// stay valid until the Store is destroyed.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wasm/result.h"
#include "wasm/types.h"

namespace wasmq::wasm {

struct CompiledModule;
struct FuncInst;
struct TableInst;
struct MemInst;
struct GlobalInst;
struct InstanceImpl;
class Thread;

// Which tier runs a module's code. kNever: the interpreter only (instant start; the reference). kAlways:
// every function is compiled to machine code before the module is returned. kAuto: the interpreter runs
// a module until its compiled code is ready, compiling in the background.
enum class CompileMode : uint8_t { kNever, kAuto, kAlways };

// How compiled code keeps its loads and stores inside linear memory. kOn: every memory reserves 8 GiB of
// address space (guard pages past its size), so compiled code needs no bounds checks and an access past
// the end faults into a trap. kOff: explicit checks on every access (for very many instances: the
// address space is 128 TiB). kAuto: explicit checks for now (guard.cc says why). Only a
// compiling engine (compile != kNever) without pooling uses guards.
enum class MemoryGuards : uint8_t { kAuto, kOn, kOff };

class SlotPool;  // pool.h

// Limits applied to every store of an engine. A limit that is hit becomes a trap or an error, never a
// host crash.
struct EngineConfig {
  CompileMode compile = CompileMode::kNever;
  uint64_t max_memory_bytes = kMaxPages * kPageSize;  // per memory; below the module's declared max
  uint32_t max_table_elements = 10'000'000;           // per table
  uint32_t max_call_depth = 20'000;                   // wasm frames; deeper traps "call stack exhausted"
  uint32_t value_stack_slots = 1u << 20;              // 8 MiB of 64-bit slots per store
  // Compiled code is kept here, keyed by module digest, engine build, LLVM version and CPU, and loaded
  // instead of compiled again. Empty: no cache.
  std::string compile_cache_dir{};
  MemoryGuards memory_guards = MemoryGuards::kAuto;
  // Pooling (density): when pool_slots > 0 the engine reserves one mapping holding pool_slots linear
  // memories of pool_memory_bytes each and as many value stacks, and stores take their memories and
  // stacks from it, so an instance costs no mapping of its own. A memory is then capped at
  // pool_memory_bytes, accesses are checked explicitly, and data segments are copied in (no memory
  // image). When the pool is full, stores fall back to mappings of their own.
  uint32_t pool_slots = 0;
  uint64_t pool_memory_bytes = 64ull << 20;
};

class Engine {
 public:
  explicit Engine(EngineConfig config = {});
  const EngineConfig& config() const { return config_; }
  // The pooled reservation (EngineConfig::pool_slots), shared by copies of this engine; null if none.
  SlotPool* pool() const { return pool_.get(); }
  const std::shared_ptr<SlotPool>& shared_pool() const { return pool_; }

 private:
  EngineConfig config_;
  std::shared_ptr<SlotPool> pool_;
};

// A value crossing the API. References: a funcref is a Func (or null); an externref is an opaque
// non-zero host word (0 is null).
struct Value {
  ValType type = ValType::I32;
  uint64_t bits = 0;  // i32/f32 in the low 32 bits; f32/f64 as IEEE bit patterns (NaN payloads kept)
  uint64_t hi = 0;    // v128: the high 64 bits (bits holds the low ones: lanes in little-endian order)

  static Value I32(int32_t v) { return {ValType::I32, static_cast<uint32_t>(v)}; }
  static Value I64(int64_t v) { return {ValType::I64, static_cast<uint64_t>(v)}; }
  static Value F32Bits(uint32_t b) { return {ValType::F32, b}; }
  static Value F64Bits(uint64_t b) { return {ValType::F64, b}; }
  static Value F32(float f);
  static Value F64(double d);
  static Value NullRef(ValType t) { return {t, 0}; }
  static Value ExternRef(uint64_t host_word) { return {ValType::ExternRef, host_word}; }
  static Value V128(uint64_t lo, uint64_t hi) { return {ValType::V128, lo, hi}; }

  int32_t i32() const { return static_cast<int32_t>(static_cast<uint32_t>(bits)); }
  int64_t i64() const { return static_cast<int64_t>(bits); }
  float f32() const;
  double f64() const;
  bool is_null() const { return bits == 0; }
  std::string ToString() const;  // "i32:7", "f64:0x1p+0", "funcref:null", ...
};

class Module {
 public:
  // Decodes, validates and compiles `bytes`. Errors are Malformed or Invalid with the spec's wording.
  static Result<std::shared_ptr<const Module>> Compile(const Engine& engine, std::span<const uint8_t> bytes);

  struct ImportDesc {
    std::string module, name;
    ExternKind kind;
    // Memory and Table imports: the declared limits, so that a host that supplies the memory (OPA's
    // `env.memory`) can create one the module accepts. Zero for other kinds.
    Limits limits;
  };
  struct ExportDesc {
    std::string name;
    ExternKind kind;
  };
  std::vector<ImportDesc> imports() const;
  std::vector<ExportDesc> exports() const;
  // Which tier runs this module's code now: kInterpreted (CompileMode::kNever, or the compiler could not
  // be loaded), kCompiling (kAuto: the background compile is under way; the interpreter runs meanwhile)
  // or kCompiled.
  enum class Tier : uint8_t { kInterpreted, kCompiling, kCompiled };
  Tier tier() const;
  // Once the machine code is ready: what it cost (the compile, or loading it from the disk cache) and how
  // big it is; nullopt before (or without) compiled code. Throughput: ms per 100 KB of wasm function bodies.
  struct CompileStats {
    double ms = 0;
    size_t wasm_code_bytes = 0;     // the function bodies in the wasm binary
    size_t machine_code_bytes = 0;  // x86-64 code
    bool from_cache = false;
  };
  std::optional<CompileStats> compile_stats() const;
  const CompiledModule& impl() const { return *impl_; }
  const std::shared_ptr<const CompiledModule>& shared_impl() const { return impl_; }

  explicit Module(std::shared_ptr<const CompiledModule> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<const CompiledModule> impl_;
};

// An external value: what an import is satisfied with and what an export yields.
struct Extern {
  ExternKind kind = ExternKind::Func;
  void* ptr = nullptr;  // FuncInst*, TableInst*, MemInst* or GlobalInst*
  FuncInst* func() const { return kind == ExternKind::Func ? static_cast<FuncInst*>(ptr) : nullptr; }
  TableInst* table() const { return kind == ExternKind::Table ? static_cast<TableInst*>(ptr) : nullptr; }
  MemInst* memory() const { return kind == ExternKind::Memory ? static_cast<MemInst*>(ptr) : nullptr; }
  GlobalInst* global() const { return kind == ExternKind::Global ? static_cast<GlobalInst*>(ptr) : nullptr; }
};

class Instance;

// What a host function sees of its caller.
class HostContext {
 public:
  HostContext(Thread* thread, InstanceImpl* caller, void* data = nullptr)
      : thread_(thread), caller_(caller), data_(data) {}
  // The calling instance's memory 0 (nullptr when it has none): WASI reads and writes through it.
  MemInst* memory() const;
  uint8_t* memory_data() const;
  uint64_t memory_size() const;
  InstanceImpl* caller() const { return caller_; }
  Thread* thread() const { return thread_; }
  // What the called function was bound to by Store::NewHostFunc(const HostFuncDef&, data); null for a
  // HostFunc (which captures what it needs instead).
  void* data() const { return data_; }

 private:
  Thread* thread_;
  InstanceImpl* caller_;
  void* data_;
};

// A host function reads its arguments from slots[0..params) and writes its results to slots[0..results)
// (64-bit slots, same encoding as Value::bits). Returning an Error traps (or exits, for ErrorKind::Exit).
using HostFunc = std::function<Result<void>(HostContext& ctx, uint64_t* slots)>;

// A host function defined once and bound in any number of stores, each time to its own `data` (what
// HostContext::data() returns in the call). For host interfaces bound per instance, such as WASI:
// binding one costs one small allocation, where NewHostFunc(FuncType, HostFunc) copies a type, interns
// it, copies a std::function and a name. A HostFuncDef must outlive every store it is bound in (make
// them static).
struct HostFuncDef {
  using Fn = Result<void> (*)(HostContext& ctx, uint64_t* slots);
  HostFuncDef(FuncType type, Fn fn, std::string debug_name);
  FuncType type;
  uint32_t type_id;  // the engine's canonical id of `type`
  Fn fn;
  std::string debug_name;
};

class Imports {
 public:
  void Add(std::string module, std::string name, Extern ext);
  // Imports of `module` that no Add() names are asked of `resolve` when instantiation looks them up; it
  // returns the Extern for a name (ptr null when it has none). Lets a host interface create only the
  // functions a module actually imports (wasi::Wasi::AddToImports does).
  using Resolver = std::function<Extern(std::string_view name)>;
  void AddResolver(std::string module, Resolver resolve);
  // Add() entries first, then the resolvers of `module` (the last added first). The pointer is valid
  // until the Imports is changed or destroyed.
  const Extern* Find(std::string_view module, std::string_view name) const;

 private:
  struct Entry {
    std::string module, name;
    Extern ext;
  };
  std::vector<Entry> entries_;
  std::vector<std::pair<std::string, Resolver>> resolvers_;
  mutable std::deque<Extern> resolved_;  // what the resolvers returned, for Find's pointer
};

class Instance {
 public:
  explicit Instance(InstanceImpl* impl) : impl_(impl) {}
  const Extern* GetExport(std::string_view name) const;
  FuncInst* GetFunc(std::string_view name) const;
  MemInst* GetMemory(std::string_view name) const;
  GlobalInst* GetGlobal(std::string_view name) const;
  std::vector<std::pair<std::string, Extern>> exports() const;
  InstanceImpl* impl() const { return impl_; }

 private:
  InstanceImpl* impl_;
};

// A frame of a trap's Wasm backtrace, innermost first.
struct BacktraceFrame {
  std::string function;  // name from the name section, or "func[N]"
  uint32_t func_index = 0;
};

class Store {
 public:
  explicit Store(const Engine& engine);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Links `module` against `imports`, allocates its memories/tables/globals, initialises segments and
  // runs the start function. Unlinkable on a missing or mistyped import; Trap if initialisation traps.
  Result<Instance> Instantiate(const Module& module, const Imports& imports);

  // Calls `func` with `args` (checked against its type). Traps come back as Error.
  Result<std::vector<Value>> Call(FuncInst* func, std::span<const Value> args);
  Result<std::vector<Value>> Call(FuncInst* func, std::initializer_list<Value> args) {
    return Call(func, std::span<const Value>(args.begin(), args.size()));
  }

  FuncInst* NewHostFunc(FuncType type, HostFunc fn, std::string debug_name = "host");
  // The cheap form: `def` (which must outlive this store) bound to `data`.
  FuncInst* NewHostFunc(const HostFuncDef& def, void* data);
  TableInst* NewTable(TableType type, Value init);
  MemInst* NewMemory(MemoryType type);
  GlobalInst* NewGlobal(GlobalType type, Value value);

  // Execution limits. Fuel: each loop iteration and call costs 1; 0 fuel left traps Interrupted.
  // Fuel is unlimited unless set.
  void SetFuel(uint64_t fuel);
  uint64_t fuel_remaining() const;
  void ClearFuel();
  // Makes the running (or next) execution stop with ErrorKind::Interrupted at its next loop back-edge or
  // call. Safe from any thread; cleared by ResetInterrupt().
  void Interrupt();
  void ResetInterrupt();

  // The backtrace of the last trap returned by Call or Instantiate.
  const std::vector<BacktraceFrame>& last_backtrace() const;

  const Engine& engine() const { return engine_; }
  Thread& thread() { return *thread_; }

 private:
  struct Impl;
  const Engine& engine_;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<Thread> thread_;
};

// Stops the background compiles of CompileMode::kAuto: the queued modules stay interpreted, the compile
// under way is cancelled, and the call waits at most 100 ms for it. Calling it before the process exits
// (wasmq's main does) is optional: an on_exit handler does the same and, should a compile still be inside
// LLVM, ends the process with _exit (its status kept) before LLVM's static destructors would run.
void StopBackgroundCompiles();

// Accessors on store-owned objects (defined in runtime.cc).
const FuncType& GetFuncType(const FuncInst* f);
ValType GetGlobalType(const GlobalInst* g, bool* mut = nullptr);
Value GetGlobalValue(const GlobalInst* g);
Result<void> SetGlobalValue(GlobalInst* g, Value v);
uint8_t* MemoryData(MemInst* m);
uint64_t MemorySize(const MemInst* m);  // bytes
// Grows by `delta_pages`; returns the old size in pages, or -1 when refused.
int64_t MemoryGrow(MemInst* m, uint64_t delta_pages);

}  // namespace wasmq::wasm
