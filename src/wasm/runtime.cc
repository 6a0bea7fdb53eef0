// File: src/wasm/runtime.cc
//
// Stores, instantiation and the public API of wasm.h. Instantiation follows the spec's order: resolve
// and type-check imports, allocate functions/tables/memories/globals, evaluate globals and segments, apply
// active element segments then active data segments (stopping at the first out-of-bounds one, whose
// earlier writes stay visible, as in WebAssembly 2.0), then run the start function.
#include "wasm/runtime.h"

#include <sys/mman.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>

#include "base/mutex.h"
#include "wasm/guard.h"
#include "wasm/jit/jit.h"
#include "wasm/pool.h"

namespace wasmq::wasm {

// ---- function type interning ------------------------------------------------------------------------

uint32_t InternFuncType(const FuncType& type) {
  static base::Mutex mu;
  static std::map<std::string, uint32_t> ids GUARDED_BY(mu);
  std::string key;
  for (ValType t : type.params) key.push_back(static_cast<char>(t));
  key.push_back('|');
  for (ValType t : type.results) key.push_back(static_cast<char>(t));
  base::MutexLock lock(mu);
  auto [it, inserted] = ids.emplace(std::move(key), static_cast<uint32_t>(ids.size() + 1));
  return it->second;
}

bool AttachJit(InstanceImpl* inst) {
  if (inst->jit_blocked) {
    inst->jit_pending = false;
    return false;
  }
  const JitCode* code = inst->module->jit_ready.load(std::memory_order_acquire);
  if (code == nullptr) {
    if (!inst->module->jit_pending.load(std::memory_order_relaxed)) inst->jit_pending = false;  // failed
    return false;
  }
  const uint32_t imported = inst->module->module.num_imported_funcs;
  for (size_t i = 0; i < code->funcs.size(); ++i)
    inst->funcs[imported + i]->jit_code = reinterpret_cast<void*>(code->funcs[i]);
  inst->jit_pending = false;
  return true;
}

std::string FunctionName(const InstanceImpl* instance, uint32_t index) {
  if (instance) {
    const auto& names = instance->module->module.function_names;
    if (auto it = names.find(index); it != names.end()) return it->second;
  }
  return "func[" + std::to_string(index) + "]";
}

const MemoryImage* CompiledModule::memory_image() const {
  std::call_once(image_once_, [this] { image_ = MemoryImage::Build(module); });
  return image_.get();
}

// ---- values -----------------------------------------------------------------------------------------

Value Value::F32(float f) { return {ValType::F32, std::bit_cast<uint32_t>(f)}; }
Value Value::F64(double d) { return {ValType::F64, std::bit_cast<uint64_t>(d)}; }
float Value::f32() const { return std::bit_cast<float>(static_cast<uint32_t>(bits)); }
double Value::f64() const { return std::bit_cast<double>(bits); }

std::string Value::ToString() const {
  char buf[64];
  switch (type) {
    case ValType::I32: std::snprintf(buf, sizeof buf, "i32:%d", i32()); break;
    case ValType::I64: std::snprintf(buf, sizeof buf, "i64:%lld", static_cast<long long>(i64())); break;
    case ValType::F32:
      std::snprintf(buf, sizeof buf, "f32:%a (0x%08x)", static_cast<double>(f32()),
                    static_cast<uint32_t>(bits));
      break;
    case ValType::F64:
      std::snprintf(buf, sizeof buf, "f64:%a (0x%016llx)", f64(), static_cast<unsigned long long>(bits));
      break;
    case ValType::FuncRef:
    case ValType::ExternRef:
      if (bits == 0)
        std::snprintf(buf, sizeof buf, "%s:null", ValTypeName(type));
      else
        std::snprintf(buf, sizeof buf, "%s:0x%llx", ValTypeName(type), static_cast<unsigned long long>(bits));
      break;
    case ValType::V128:
      std::snprintf(buf, sizeof buf, "v128:0x%016llx%016llx", static_cast<unsigned long long>(hi),
                    static_cast<unsigned long long>(bits));
      break;
    default: std::snprintf(buf, sizeof buf, "?"); break;
  }
  return buf;
}

// ---- memories ---------------------------------------------------------------------------------------

MemInst::~MemInst() {
  if (data == nullptr) return;
  if (pool != nullptr) {
    pool->Give(SlotPool::kMemory, data, size);
    return;
  }
  auto unmap = [this] { guarded ? UnmapGuarded(data) : void(munmap(data, reserved)); };
  // Back to an untouched PROT_NONE reservation in one call (dropping the pages and the image mapping),
  // then into this thread's cache for the next memory of the same reserved size (pool.h).
  if (size != 0 && mmap(data, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) ==
                       MAP_FAILED) {
    unmap();
    return;
  }
  if (!GiveReservation(guarded ? ReservationKind::GuardedMemory : ReservationKind::Memory, data, reserved))
    unmap();
}

bool MemInst::Grow(uint64_t delta_pages) {
  uint64_t pages = size / kPageSize;
  if (delta_pages > max_pages || pages + delta_pages > max_pages) return false;
  if (delta_pages == 0) return true;
  uint64_t new_size = (pages + delta_pages) * kPageSize;
  if (pool == nullptr && mprotect(data + size, new_size - size, PROT_READ | PROT_WRITE) != 0) return false;
  size = new_size;
  type.limits.min = pages + delta_pages;
  return true;
}

namespace {

// Where a new memory's pages come from: a slot of the engine's pool, a guarded reservation (guard.h), or
// a reservation of exactly its maximum. The first two fall back to the last (a full pool; an address
// space that will not take another 8 GiB) unless the engine insists on guards.
bool ReserveMemory(MemInst* mem, const Engine& engine, Error* err) {
  const EngineConfig& config = engine.config();
  if (SlotPool* pool = engine.pool();
      pool != nullptr && mem->max_pages * kPageSize <= pool->slot_bytes(SlotPool::kMemory)) {
    if (uint8_t* slot = pool->Take(SlotPool::kMemory)) {
      mem->data = slot;
      mem->reserved = pool->slot_bytes(SlotPool::kMemory);
      mem->pool = engine.shared_pool();
      return true;
    }
  }
  if (GuardsEnabled(config)) {
    void* p = TakeReservation(ReservationKind::GuardedMemory, kGuardedBytes);
    if (p == nullptr) p = ReserveGuarded();
    if (p != nullptr) {
      mem->data = static_cast<uint8_t*>(p);
      mem->reserved = kGuardedBytes;
      mem->guarded = true;
      return true;
    }
    if (config.memory_guards == MemoryGuards::kOn) {
      *err = MakeError(ErrorKind::Resource, "cannot reserve a guarded linear memory");
      return false;
    }
  }
  mem->reserved = std::max<uint64_t>(mem->max_pages, 1) * kPageSize;
  void* p = TakeReservation(ReservationKind::Memory, mem->reserved);
  if (p == nullptr)
    p = mmap(nullptr, mem->reserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    *err = MakeError(ErrorKind::Resource, "cannot reserve linear memory");
    return false;
  }
  mem->data = static_cast<uint8_t*>(p);
  return true;
}

// Reserves address space for up to `max_pages` pages (at least one page, so data is never null) and
// commits the first `min_pages`.
std::unique_ptr<MemInst> NewMemInst(const MemoryType& type, const Engine& engine, Error* err,
                                    const MemoryImage* image = nullptr) {
  const EngineConfig& config = engine.config();
  auto mem = std::make_unique<MemInst>();
  mem->type = type;
  uint64_t cap_bytes = config.max_memory_bytes;
  // A pooled memory is capped at its slot.
  if (engine.pool() != nullptr)
    cap_bytes = std::min<uint64_t>(cap_bytes, engine.pool()->slot_bytes(SlotPool::kMemory));
  uint64_t cap_pages = std::min<uint64_t>(cap_bytes / kPageSize, kMaxPages);
  mem->max_pages = std::min<uint64_t>(type.limits.max.value_or(kMaxPages), cap_pages);
  if (type.limits.min > mem->max_pages) {
    *err = MakeError(ErrorKind::Resource, "memory of " + std::to_string(type.limits.min) +
                                              " pages exceeds the limit of " +
                                              std::to_string(mem->max_pages) + " pages");
    return nullptr;
  }
  if (!ReserveMemory(mem.get(), engine, err)) return nullptr;
  if (mem->pool != nullptr) image = nullptr;  // mapping an image would split the pool's one mapping
  uint64_t min = type.limits.min;
  if (image != nullptr) {  // the initial pages are the image, mapped copy-on-write
    if (!image->MapAt(mem->data)) {
      *err = MakeError(ErrorKind::Resource, "cannot map the memory image");
      return nullptr;
    }
    mem->size = image->size();
    return mem;
  }
  mem->type.limits.min = 0;
  if (!mem->Grow(min)) {
    *err = MakeError(ErrorKind::Resource, "cannot commit linear memory");
    return nullptr;
  }
  return mem;
}

std::unique_ptr<TableInst> NewTableInst(const TableType& type, uint64_t init, const EngineConfig& config,
                                        Error* err) {
  auto t = std::make_unique<TableInst>();
  t->type = type;
  t->max_elems = std::min<uint64_t>(type.limits.max.value_or(UINT32_MAX), config.max_table_elements);
  if (type.limits.min > t->max_elems) {
    *err = MakeError(ErrorKind::Resource, "table of " + std::to_string(type.limits.min) +
                                              " elements exceeds the limit of " +
                                              std::to_string(t->max_elems));
    return nullptr;
  }
  t->elems.assign(type.limits.min, init);
  return t;
}

// Limits subtyping for imports: the provided object's current size and max must fit the declaration.
bool LimitsMatch(uint64_t actual_min, const std::optional<uint64_t>& actual_max, const Limits& want) {
  if (actual_min < want.min) return false;
  if (want.max) return actual_max && *actual_max <= *want.max;
  return true;
}

}  // namespace

// ---- module -----------------------------------------------------------------------------------------

Result<std::shared_ptr<const Module>> Module::Compile(const Engine& engine, std::span<const uint8_t> bytes) {
  auto decoded = Decode(bytes);
  if (!decoded) return decoded.error();
  auto compiled = wasm::Compile(std::move(decoded).value());
  if (!compiled) return compiled.error();
  std::shared_ptr<CompiledModule> cm = std::move(compiled).value();
  if (engine.config().compile != CompileMode::kNever && !cm->funcs.empty()) {
    JitOptions options;
    cm->jit_guards = GuardsEnabled(engine.config());
    options.bounds_checks = !cm->jit_guards;  // guarded memories trap by faulting (guard.h)
    options.cache_dir = engine.config().compile_cache_dir;
    if (engine.config().compile == CompileMode::kAuto) {
      JitCompileInBackground(cm, options);  // the interpreter runs it meanwhile
    } else {
      auto jit = JitCompile(*cm, options);
      // Forced: a module the compiler cannot take is an error, not a silent fallback to the interpreter.
      if (!jit) return jit.error();
      cm->jit = std::move(jit).value();
      cm->jit_ready.store(cm->jit.get(), std::memory_order_release);
    }
  }
  return std::make_shared<const Module>(std::shared_ptr<const CompiledModule>(std::move(cm)));
}

Module::Tier Module::tier() const {
  if (impl_->jit_ready.load(std::memory_order_acquire) != nullptr) return Tier::kCompiled;
  return impl_->jit_pending.load(std::memory_order_acquire) ? Tier::kCompiling : Tier::kInterpreted;
}

std::vector<Module::ImportDesc> Module::imports() const {
  std::vector<ImportDesc> out;
  for (const Import& i : impl_->module.imports) {
    Limits limits;
    if (i.kind == ExternKind::Memory) limits = i.memory.limits;
    if (i.kind == ExternKind::Table) limits = i.table.limits;
    out.push_back({i.module, i.name, i.kind, limits});
  }
  return out;
}

std::vector<Module::ExportDesc> Module::exports() const {
  std::vector<ExportDesc> out;
  for (const Export& e : impl_->module.exports) out.push_back({e.name, e.kind});
  return out;
}

void Imports::Add(std::string module, std::string name, Extern ext) {
  for (Entry& e : entries_) {
    if (e.module == module && e.name == name) {
      e.ext = ext;
      return;
    }
  }
  entries_.push_back({std::move(module), std::move(name), ext});
}

void Imports::AddResolver(std::string module, Resolver resolve) {
  resolvers_.emplace_back(std::move(module), std::move(resolve));
}

const Extern* Imports::Find(std::string_view module, std::string_view name) const {
  for (const Entry& e : entries_)
    if (e.module == module && e.name == name) return &e.ext;
  for (auto it = resolvers_.rbegin(); it != resolvers_.rend(); ++it) {
    if (it->first != module) continue;
    Extern ext = it->second(name);
    if (ext.ptr == nullptr) continue;
    resolved_.push_back(ext);
    return &resolved_.back();
  }
  return nullptr;
}

// ---- instance ---------------------------------------------------------------------------------------

const Extern* Instance::GetExport(std::string_view name) const {
  for (const auto& [n, ext] : impl_->exports)
    if (n == name) return &ext;
  return nullptr;
}
FuncInst* Instance::GetFunc(std::string_view name) const {
  const Extern* e = GetExport(name);
  return e ? e->func() : nullptr;
}
MemInst* Instance::GetMemory(std::string_view name) const {
  const Extern* e = GetExport(name);
  return e ? e->memory() : nullptr;
}
GlobalInst* Instance::GetGlobal(std::string_view name) const {
  const Extern* e = GetExport(name);
  return e ? e->global() : nullptr;
}
std::vector<std::pair<std::string, Extern>> Instance::exports() const { return impl_->exports; }

// ---- store ------------------------------------------------------------------------------------------

struct Store::Impl {
  std::vector<std::unique_ptr<FuncInst>> funcs;
  std::vector<std::unique_ptr<TableInst>> tables;
  std::vector<std::unique_ptr<MemInst>> memories;
  std::vector<std::unique_ptr<GlobalInst>> globals;
  std::vector<std::unique_ptr<InstanceImpl>> instances;
};

Engine::Engine(EngineConfig config) : config_(std::move(config)), pool_(SlotPool::Create(config_)) {}

Store::Store(const Engine& engine)
    : engine_(engine),
      impl_(std::make_unique<Impl>()),
      thread_(std::make_unique<Thread>(engine.config(), engine.shared_pool())) {}
Store::~Store() = default;

FuncInst* Store::NewHostFunc(FuncType type, HostFunc fn, std::string debug_name) {
  auto f = std::make_unique<FuncInst>();
  f->owned_type = std::make_unique<FuncType>(std::move(type));
  f->type = f->owned_type.get();
  f->type_id = InternFuncType(*f->type);
  f->host = std::move(fn);
  f->debug_name = std::move(debug_name);
  impl_->funcs.push_back(std::move(f));
  return impl_->funcs.back().get();
}

HostFuncDef::HostFuncDef(FuncType t, Fn f, std::string name)
    : type(std::move(t)), type_id(InternFuncType(type)), fn(f), debug_name(std::move(name)) {}

FuncInst* Store::NewHostFunc(const HostFuncDef& def, void* data) {
  auto f = std::make_unique<FuncInst>();
  f->type = &def.type;
  f->type_id = def.type_id;
  f->def = &def;
  f->host_data = data;
  impl_->funcs.push_back(std::move(f));
  return impl_->funcs.back().get();
}

TableInst* Store::NewTable(TableType type, Value init) {
  Error err;
  auto t = NewTableInst(type, init.bits, engine_.config(), &err);
  if (!t) return nullptr;
  impl_->tables.push_back(std::move(t));
  return impl_->tables.back().get();
}

MemInst* Store::NewMemory(MemoryType type) {
  Error err;
  auto m = NewMemInst(type, engine_, &err);
  if (!m) return nullptr;
  impl_->memories.push_back(std::move(m));
  return impl_->memories.back().get();
}

GlobalInst* Store::NewGlobal(GlobalType type, Value value) {
  auto g = std::make_unique<GlobalInst>();
  g->type = type;
  g->value = value.bits;
  g->hi = value.hi;
  impl_->globals.push_back(std::move(g));
  return impl_->globals.back().get();
}

void Store::SetFuel(uint64_t fuel) {
  thread_->fuel_enabled = true;
  thread_->fuel = fuel;
}
uint64_t Store::fuel_remaining() const { return thread_->fuel; }
void Store::ClearFuel() { thread_->fuel_enabled = false; }
void Store::Interrupt() { thread_->interrupt.store(true, std::memory_order_relaxed); }
void Store::ResetInterrupt() { thread_->interrupt.store(false, std::memory_order_relaxed); }
const std::vector<BacktraceFrame>& Store::last_backtrace() const { return thread_->last_backtrace; }

namespace {

// The low 64 bits of the value; a v128's high bits go to *hi.
uint64_t EvalConst(const ConstExpr& e, const InstanceImpl& inst, uint64_t* hi = nullptr) {
  switch (e.op) {
    case ConstExpr::Op::V128Const:
      if (hi != nullptr) *hi = e.hi;
      return e.bits;
    case ConstExpr::Op::I32Const: return static_cast<uint32_t>(e.bits);
    case ConstExpr::Op::F32Const: return static_cast<uint32_t>(e.bits);
    case ConstExpr::Op::I64Const:
    case ConstExpr::Op::F64Const: return e.bits;
    case ConstExpr::Op::RefNull: return 0;
    case ConstExpr::Op::RefFunc: return reinterpret_cast<uint64_t>(inst.funcs[e.index]);
    case ConstExpr::Op::GlobalGet:
      if (hi != nullptr) *hi = inst.globals[e.index]->hi;
      return inst.globals[e.index]->value;
  }
  return 0;
}

Error Unlinkable(const Import& imp, const char* why) {
  return MakeError(ErrorKind::Unlinkable,
                   std::string(why) + ": " + imp.module + "." + imp.name + " (" + ExternKindName(imp.kind) + ")");
}

}  // namespace

Result<Instance> Store::Instantiate(const Module& module, const Imports& imports) {
  const CompiledModule& cm = module.impl();
  const ModuleInfo& m = cm.module;
  const EngineConfig& config = engine_.config();

  auto owned = std::make_unique<InstanceImpl>();
  InstanceImpl* inst = owned.get();
  inst->module = module.shared_impl();

  // 1. Imports, checked against their declared types.
  for (const Import& imp : m.imports) {
    const Extern* ext = imports.Find(imp.module, imp.name);
    if (!ext) return Unlinkable(imp, "unknown import");
    if (ext->kind != imp.kind || !ext->ptr) return Unlinkable(imp, "incompatible import type");
    switch (imp.kind) {
      case ExternKind::Func: {
        FuncInst* f = ext->func();
        if (f->type_id != cm.type_ids[imp.type_index]) return Unlinkable(imp, "incompatible import type");
        inst->funcs.push_back(f);
        break;
      }
      case ExternKind::Table: {
        TableInst* t = ext->table();
        if (t->type.elem != imp.table.elem || !LimitsMatch(t->elems.size(), t->type.limits.max, imp.table.limits))
          return Unlinkable(imp, "incompatible import type");
        inst->tables.push_back(t);
        break;
      }
      case ExternKind::Memory: {
        MemInst* mem = ext->memory();
        if (!LimitsMatch(mem->size / kPageSize, mem->type.limits.max, imp.memory.limits))
          return Unlinkable(imp, "incompatible import type");
        inst->memories.push_back(mem);
        break;
      }
      case ExternKind::Global: {
        GlobalInst* g = ext->global();
        if (g->type.type != imp.global.type || g->type.mut != imp.global.mut)
          return Unlinkable(imp, "incompatible import type");
        inst->globals.push_back(g);
        break;
      }
    }
  }

  const JitCode* jit = cm.jit_ready.load(std::memory_order_acquire);
  inst->jit_pending = jit == nullptr && cm.jit_pending.load(std::memory_order_relaxed);
  // 2. Allocation. Objects go into the store as they are made, so a later failure leaves no dangling
  // pointers behind (the store owns them until it dies).
  for (size_t i = 0; i < m.functions.size(); ++i) {
    auto f = std::make_unique<FuncInst>();
    f->type = &m.types[m.functions[i]];
    f->type_id = cm.type_ids[m.functions[i]];
    f->instance = inst;
    f->code = &cm.funcs[i];
    f->func_index = m.num_imported_funcs + static_cast<uint32_t>(i);
    if (jit != nullptr) f->jit_code = reinterpret_cast<void*>(jit->funcs[i]);
    inst->funcs.push_back(f.get());
    impl_->funcs.push_back(std::move(f));
  }
  Error err;
  for (const TableType& tt : m.tables) {
    auto t = NewTableInst(tt, 0, config, &err);
    if (!t) return err;
    inst->tables.push_back(t.get());
    impl_->tables.push_back(std::move(t));
  }
  // A prepared image (image.h) replaces copying the active data segments into memory 0 (not in a pooled
  // engine: the copy costs no mapping).
  const MemoryImage* image = m.memories.empty() || engine_.pool() != nullptr ? nullptr : cm.memory_image();
  for (const MemoryType& mt : m.memories) {
    auto mem = NewMemInst(mt, engine_, &err, inst->memories.empty() ? image : nullptr);
    if (!mem) return err;
    inst->memories.push_back(mem.get());
    impl_->memories.push_back(std::move(mem));
  }
  // Code compiled for guard pages must not run on an unguarded memory 0: that instance is interpreted.
  if (cm.jit_guards && !inst->memories.empty() && !inst->memories[0]->guarded) {
    inst->jit_blocked = true;
    inst->jit_pending = false;
    for (size_t i = m.num_imported_funcs; i < inst->funcs.size(); ++i) inst->funcs[i]->jit_code = nullptr;
  }
  for (const Global& g : m.globals) {
    auto gi = std::make_unique<GlobalInst>();
    gi->type = g.type;
    gi->value = EvalConst(g.init, *inst, &gi->hi);
    inst->globals.push_back(gi.get());
    impl_->globals.push_back(std::move(gi));
  }
  inst->jit_funcs = inst->funcs.data();
  inst->jit_globals = inst->globals.data();
  inst->jit_memory = inst->memories.empty() ? nullptr : inst->memories[0];
  for (const Export& e : m.exports) {
    void* ptr = nullptr;
    switch (e.kind) {
      case ExternKind::Func: ptr = inst->funcs[e.index]; break;
      case ExternKind::Table: ptr = inst->tables[e.index]; break;
      case ExternKind::Memory: ptr = inst->memories[e.index]; break;
      case ExternKind::Global: ptr = inst->globals[e.index]; break;
    }
    inst->exports.emplace_back(e.name, Extern{e.kind, ptr});
  }
  for (const ElemSegment& seg : m.elems) {
    ElemInst ei;
    ei.type = seg.type;
    if (seg.mode == SegmentMode::Passive)
      for (const ConstExpr& init : seg.inits) ei.refs.push_back(EvalConst(init, *inst));
    inst->elems.push_back(std::move(ei));
  }
  for (const DataSegment& seg : m.datas) {
    DataInst di;
    if (seg.mode == SegmentMode::Passive) {
      di.data = m.bytes.data() + seg.begin;
      di.size = seg.size;
    }
    inst->datas.push_back(di);
  }
  impl_->instances.push_back(std::move(owned));

  // 3. Active segments, in order; active and declarative segments are dropped (left empty) afterwards.
  for (const ElemSegment& seg : m.elems) {
    if (seg.mode != SegmentMode::Active) continue;
    TableInst* t = inst->tables[seg.table_index];
    uint64_t offset = static_cast<uint32_t>(EvalConst(seg.offset, *inst));
    if (offset + seg.inits.size() > t->elems.size()) {
      // The data segments were never applied: memory 0 must not show the image's bytes.
      if (image != nullptr && !MemoryImage::ZeroAt(inst->memories[0]->data, image->size()))
        return MakeError(ErrorKind::Resource, "cannot reset linear memory");
      return MakeError(ErrorKind::Trap, "out of bounds table access");
    }
    for (size_t i = 0; i < seg.inits.size(); ++i) t->elems[offset + i] = EvalConst(seg.inits[i], *inst);
  }
  for (const DataSegment& seg : m.datas) {
    if (seg.mode != SegmentMode::Active || image != nullptr) continue;
    MemInst* mem = inst->memories[seg.memory_index];
    uint64_t offset = static_cast<uint32_t>(EvalConst(seg.offset, *inst));
    if (offset + seg.size > mem->size) return MakeError(ErrorKind::Trap, "out of bounds memory access");
    if (seg.size == 0) continue;
#ifdef MADV_POPULATE_WRITE
    // A pooled slot's pages are not there yet: one call faults them all in instead of one fault a page.
    if (mem->pool != nullptr && seg.size >= 4 * 4096) {
      const uintptr_t begin = reinterpret_cast<uintptr_t>(mem->data + offset) & ~uintptr_t{4095};
      const uintptr_t end = reinterpret_cast<uintptr_t>(mem->data + offset + seg.size);
      madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);  // a hint: failure is fine
    }
#endif
    std::memcpy(mem->data + offset, m.bytes.data() + seg.begin, seg.size);
  }

  // 4. Start function.
  if (m.start) {
    if (auto r = Invoke(*thread_, inst->funcs[*m.start], nullptr, nullptr); !r) return r.error();
  }
  return Instance(inst);
}

Result<std::vector<Value>> Store::Call(FuncInst* func, std::span<const Value> args) {
  const FuncType& type = *func->type;
  if (args.size() != type.params.size())
    return MakeError(ErrorKind::Trap, "expected " + std::to_string(type.params.size()) + " arguments, got " +
                                          std::to_string(args.size()));
  std::vector<uint64_t> slots(std::max(SlotCount(type.params), SlotCount(type.results)) + 1);
  size_t k = 0;  // a v128 takes two slots (ops.h)
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].type != type.params[i])
      return MakeError(ErrorKind::Trap, "argument " + std::to_string(i) + " has type " +
                                            ValTypeName(args[i].type) + ", expected " +
                                            ValTypeName(type.params[i]));
    slots[k++] = args[i].bits;
    if (args[i].type == ValType::V128) slots[k++] = args[i].hi;
  }
  if (auto r = Invoke(*thread_, func, slots.data(), slots.data()); !r) return r.error();
  std::vector<Value> out;
  k = 0;
  for (size_t i = 0; i < type.results.size(); ++i) {
    uint64_t bits = slots[k++];
    if (type.results[i] == ValType::I32 || type.results[i] == ValType::F32) bits = static_cast<uint32_t>(bits);
    out.push_back(Value{type.results[i], bits, type.results[i] == ValType::V128 ? slots[k++] : 0});
  }
  return out;
}

// ---- accessors --------------------------------------------------------------------------------------

const FuncType& GetFuncType(const FuncInst* f) { return *f->type; }
ValType GetGlobalType(const GlobalInst* g, bool* mut) {
  if (mut) *mut = g->type.mut;
  return g->type.type;
}
Value GetGlobalValue(const GlobalInst* g) {
  uint64_t bits = g->value;
  if (g->type.type == ValType::I32 || g->type.type == ValType::F32) bits = static_cast<uint32_t>(bits);
  return Value{g->type.type, bits, g->type.type == ValType::V128 ? g->hi : 0};
}
Result<void> SetGlobalValue(GlobalInst* g, Value v) {
  if (!g->type.mut) return MakeError(ErrorKind::Trap, "global is immutable");
  if (v.type != g->type.type) return MakeError(ErrorKind::Trap, "global type mismatch");
  g->value = v.bits;
  g->hi = v.hi;
  return {};
}
uint8_t* MemoryData(MemInst* m) { return m->data; }
uint64_t MemorySize(const MemInst* m) { return m->size; }
int64_t MemoryGrow(MemInst* m, uint64_t delta_pages) {
  uint64_t old = m->size / kPageSize;
  return m->Grow(delta_pages) ? static_cast<int64_t>(old) : -1;
}

}  // namespace wasmq::wasm
