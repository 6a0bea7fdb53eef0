// File: src/wasm/runtime.h  (internal)
//
// The runtime objects a Store owns (function, table, memory and global instances, module instances), the
// compiled module, and the execution Thread the interpreter runs on. Public code sees these only as
// opaque pointers through wasm.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "wasm/image.h"
#include "wasm/module.h"
#include "wasm/ops.h"
#include "wasm/wasm.h"

namespace wasmq::wasm {

// Canonical id of a function type: two structurally equal types have the same id in the whole process,
// so call_indirect's type check is one integer compare, also across modules.
uint32_t InternFuncType(const FuncType& type);

struct CompiledFunc {
  uint32_t type_index = 0;  // into ModuleInfo::types
  uint32_t num_params = 0;
  uint32_t num_results = 0;
  uint32_t num_locals = 0;   // params included
  uint32_t frame_slots = 0;  // locals + operand stack + scratch: what a call must have room for
  std::vector<uint32_t> code;
};

struct JitCode;  // jit/jit.h: a module's machine code (the compiling tier)

struct CompiledModule {
  ModuleInfo module;
  std::vector<uint32_t> type_ids;     // canonical id per ModuleInfo::types entry
  std::vector<CompiledFunc> funcs;    // one per *defined* function
  std::unordered_map<std::string, uint32_t> export_index;  // name -> index into module.exports
  // Machine code of every defined function (EngineConfig::compile). `jit` owns it; readers use jit_ready,
  // which is published (release) once `jit` is set: at Module::Compile for kAlways, later for kAuto.
  std::shared_ptr<const JitCode> jit;
  std::atomic<const JitCode*> jit_ready{nullptr};
  std::atomic<bool> jit_pending{false};  // kAuto: a background compile is under way
  bool jit_guards = false;               // the code skips bounds checks: memory 0 must be guarded (guard.h)

  // The initial memory image (image.h), built at the first instantiation; null when the module needs
  // the copying path. Built once even when several threads instantiate the module at the same time.
  const MemoryImage* memory_image() const;

 private:
  mutable std::once_flag image_once_;
  mutable std::unique_ptr<MemoryImage> image_;
};

// Decodes `bytes` (Malformed errors) into a ModuleInfo.
Result<ModuleInfo> Decode(std::span<const uint8_t> bytes);
// Validates `module` (Invalid errors) and compiles every function body.
Result<std::shared_ptr<CompiledModule>> Compile(ModuleInfo module);

struct InstanceImpl;

struct FuncInst {
  const FuncType* type = nullptr;
  uint32_t type_id = 0;
  // A wasm function: its instance and compiled code. A host function: `host` set, instance null.
  InstanceImpl* instance = nullptr;
  const CompiledFunc* code = nullptr;
  uint32_t func_index = 0;  // index in its module's function space (for names in backtraces)
  HostFunc host;
  std::unique_ptr<FuncType> owned_type;  // host functions own their type
  std::string debug_name;
  // A host function bound from a shared definition: `def->fn` is called with `host_data` as
  // HostContext::data(); `host`, `owned_type` and `debug_name` stay empty.
  const HostFuncDef* def = nullptr;
  void* host_data = nullptr;
  // Machine code of a wasm function when its module was compiled (jit/jit.h's JitFn), else null.
  void* jit_code = nullptr;
};

struct TableInst {
  TableType type;  // type.limits.min is kept equal to the current size
  std::vector<uint64_t> elems;
  uint64_t max_elems = 0;  // min(declared max, engine cap)
};

// Linear memory. The whole addressable range (up to the cap) is reserved once with mmap and committed as
// it grows, so `data` never moves: the interpreter may keep it across calls. The interpreter checks
// bounds explicitly against `size` on every access; compiled code does too unless the memory is guarded
// (guard.h: kGuardedBytes reserved, an access past `size` faults into a trap). A pooled memory (pool.h)
// is a slot of its engine's pool, already read-write: growing it only moves `size`.
struct MemInst {
  MemoryType type;          // declared limits (min is the initial size)
  uint8_t* data = nullptr;
  uint64_t size = 0;        // bytes, a multiple of the page size
  uint64_t max_pages = 0;   // min(declared max, engine cap)
  uint64_t reserved = 0;    // bytes reserved at `data`
  bool guarded = false;     // reserved == kGuardedBytes, registered with guard.h
  std::shared_ptr<SlotPool> pool;  // set when `data` is a slot of this pool
  ~MemInst();
  bool Grow(uint64_t delta_pages);  // false when past max_pages or the commit fails
};

struct GlobalInst {
  GlobalType type;
  uint64_t value = 0;
  uint64_t hi = 0;  // v128 globals: the high 64 bits (value holds the low ones)
};

struct ElemInst {
  ValType type = ValType::FuncRef;
  std::vector<uint64_t> refs;  // emptied by elem.drop (and after an active segment is applied)
};

struct DataInst {
  const uint8_t* data = nullptr;  // into the compiled module's bytes
  uint32_t size = 0;              // 0 after data.drop
};

struct InstanceImpl {
  std::shared_ptr<const CompiledModule> module;
  std::vector<FuncInst*> funcs;
  std::vector<TableInst*> tables;
  std::vector<MemInst*> memories;
  std::vector<GlobalInst*> globals;
  std::vector<ElemInst> elems;
  std::vector<DataInst> datas;
  std::vector<std::pair<std::string, Extern>> exports;
  // Flat views for compiled code (set once the vectors above stop growing, before any code runs).
  FuncInst** jit_funcs = nullptr;
  GlobalInst** jit_globals = nullptr;
  MemInst* jit_memory = nullptr;  // memory 0 or null
  // Instantiated before its module's background compile finished: calls check for the code (AttachJit).
  bool jit_pending = false;
  // The module's code relies on guard pages but memory 0 has none (an imported or unguarded memory): this
  // instance stays interpreted.
  bool jit_blocked = false;
};

// Points the instance's functions at their compiled code once its module's background compile is done.
// Returns true when the instance now runs compiled code. Called by the thread using the instance's store.
bool AttachJit(InstanceImpl* instance);

// Execution state for one store: the value stack every wasm frame lives on, the call-frame stack, and
// the limits. The interpreter never recurses on the C++ stack for wasm-to-wasm calls, so deep wasm
// recursion is bounded only by these limits.
class Thread {
 public:
  explicit Thread(const EngineConfig& config, std::shared_ptr<SlotPool> pool = nullptr);
  ~Thread();
  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;

  struct Frame {
    const uint32_t* ret_pc;  // where the caller resumes
    uint64_t* fp;            // the caller's frame
    FuncInst* func;          // the caller
  };

  uint64_t* stack_base = nullptr;
  uint64_t* stack_end = nullptr;
  uint64_t* stack_top = nullptr;  // first free slot: nested host->wasm calls start here
  std::shared_ptr<SlotPool> pool;  // set when the value stack is a slot of it
  std::vector<Frame> frames;      // reserved to max_call_depth
  uint32_t max_depth = 0;

  bool fuel_enabled = false;
  uint64_t fuel = 0;
  std::atomic<bool> interrupt{false};

  std::vector<BacktraceFrame> last_backtrace;

  // The compiling tier's state (jit/entry.cc). Compiled code receives this Thread and reads these
  // fields at fixed offsets. jit_frames is the shadow stack of compiled (and host, when called from
  // compiled code) frames: depth bound and backtraces. jit_native_limit: the lowest native stack
  // address compiled code may use on this OS thread.
  FuncInst** jit_frames = nullptr;  // max_depth entries, allocated at the first compiled call
  uint32_t jit_depth = 0;
  uintptr_t jit_native_limit = 0;
  void* jit_jump = nullptr;  // sigjmp_buf* of the innermost entry into compiled code
  Error jit_error;           // what a trap in compiled code returns
};

// Runs `func` on `thread`. Arguments are read from args[0..params) and results written to
// results[0..results) (64-bit slots). A trap, exhaustion or interruption returns an Error and records
// the Wasm backtrace in thread.last_backtrace.
Result<void> Invoke(Thread& thread, FuncInst* func, const uint64_t* args, uint64_t* results);

// Name of function `index` of `instance` for backtraces: the name section's, or "func[N]".
std::string FunctionName(const InstanceImpl* instance, uint32_t index);

}  // namespace wasmq::wasm
