// File: src/policy/policy.cc
//
// OPA's Wasm ABI (1.0 to 1.3) on wasmq's engine. A policy module imports its memory (`env.memory`), an
// abort hook, a print hook and the builtin dispatchers `opa_builtin0..4`, and exports an allocator,
// JSON/value (de)serialisers and either `opa_eval` (1.2+: input as raw JSON text, result set as JSON
// text, one call) or the `opa_eval_ctx_*` + `eval` sequence. We host it like OPA's SDKs do:
//
//   load:      instantiate (start / `_initialize`), read `builtins()` and `entrypoints()`, resolve every
//              builtin id to a host function (refusing the policy when one is missing), parse the data
//              document into the heap, remember the heap pointer above it (`data_heap`).
//   decision:  fast path: copy the input to `data_heap` and call opa_eval with heap_ptr just above it,
//              which resets the heap there; slow path: opa_heap_ptr_set(data_heap), opa_json_parse the
//              input, build an eval context, eval, opa_json_dump the result. Either way the heap goes
//              back to `data_heap` at the next decision, so an instance serves any number of them.
//
// Instances live in a pool (policy.h says why). An instance whose decision failed (abort, trap, fuel) is
// dropped rather than reused: its heap and stack are in whatever state the failure left.
#include "policy/policy.h"

#include <algorithm>
#include <cstring>
#include <iostream>
#include <thread>

#include "base/mutex.h"
#include "wasm/wasm.h"

namespace wasmq::policy {

namespace wasm = wasmq::wasm;
using nlohmann::json;
using wasm::ValType;
using wasm::Value;

static_assert(static_cast<wasm::CompileMode>(Compile::kNever) == wasm::CompileMode::kNever &&
              static_cast<wasm::CompileMode>(Compile::kAuto) == wasm::CompileMode::kAuto &&
              static_cast<wasm::CompileMode>(Compile::kAlways) == wasm::CompileMode::kAlways);

namespace {

Error MakeErr(Error::Kind kind, std::string message) { return Error{kind, std::move(message)}; }

struct Exports {
  wasm::FuncInst* opa_eval = nullptr;  // ABI 1.2+
  wasm::FuncInst* eval = nullptr;
  wasm::FuncInst* ctx_new = nullptr;
  wasm::FuncInst* ctx_set_input = nullptr;
  wasm::FuncInst* ctx_set_data = nullptr;
  wasm::FuncInst* ctx_set_entrypoint = nullptr;
  wasm::FuncInst* ctx_get_result = nullptr;
  wasm::FuncInst* json_parse = nullptr;
  wasm::FuncInst* value_parse = nullptr;
  wasm::FuncInst* json_dump = nullptr;
  wasm::FuncInst* malloc = nullptr;
  wasm::FuncInst* heap_ptr_get = nullptr;
  wasm::FuncInst* heap_ptr_set = nullptr;
  wasm::FuncInst* builtins = nullptr;
  wasm::FuncInst* entrypoints = nullptr;
};

}  // namespace

// One instantiation of the policy: a Store, its memory, and where the data document sits in its heap.
struct PolicyInstance {
  explicit PolicyInstance(const wasm::Engine& engine) : store(engine) {}
  wasm::Store store;
  wasm::MemInst* memory = nullptr;
  wasm::InstanceImpl* instance = nullptr;
  Exports x;
  const Policy::Impl* policy = nullptr;
  uint32_t base_heap = 0;  // the heap pointer after initialisation, below the data document
  uint32_t data_heap = 0;  // the heap pointer just above the data document: each decision starts here
  uint32_t data_addr = 0;
  uint64_t data_generation = ~0ull;
  // Set by the host functions when they stop the call, to tell an abort from other traps.
  bool aborted = false;
  std::string abort_message;
};

struct Policy::Impl {
  explicit Impl(Options o)
      : engine(wasm::EngineConfig{.compile = static_cast<wasm::CompileMode>(o.compile),
                                  .max_memory_bytes = o.max_memory_bytes,
                                  .compile_cache_dir = o.compile_cache_dir}),
        opts(std::move(o)) {}

  wasm::Engine engine;
  Options opts;
  std::shared_ptr<const wasm::Module> module;
  wasm::Limits memory_limits;
  bool has_println_import = false;
  std::vector<const Builtin*> builtin_by_id;  // builtins() id -> implementation
  std::vector<std::string> builtin_names;     // id -> name, for messages
  bool fast_path = false;

  mutable base::Mutex mu;
  mutable base::CondVar cv;
  mutable std::vector<std::unique_ptr<PolicyInstance>> idle GUARDED_BY(mu);
  mutable size_t live GUARDED_BY(mu) = 0;
  mutable size_t created GUARDED_BY(mu) = 0;
  size_t max_instances = 1;
  std::shared_ptr<const std::string> data GUARDED_BY(mu);
  uint64_t data_generation GUARDED_BY(mu) = 0;

  Result<std::unique_ptr<PolicyInstance>> NewInstance() const;
  Result<bool> LoadData(PolicyInstance& in, const std::string& data_json) const;
  Result<std::string> Decide(PolicyInstance& in, std::string_view input, int32_t entrypoint) const;
  Result<std::unique_ptr<PolicyInstance>> Acquire() const EXCLUDES(mu);
  void Release(std::unique_ptr<PolicyInstance> in, bool reusable) const EXCLUDES(mu);
};

namespace {

// The NUL-terminated string at `addr` in the instance's memory, bounds-checked.
std::optional<std::string_view> CString(wasm::MemInst* mem, uint64_t addr) {
  const uint8_t* base = wasm::MemoryData(mem);
  uint64_t size = wasm::MemorySize(mem);
  if (addr >= size) return std::nullopt;
  const void* nul = std::memchr(base + addr, 0, size - addr);
  if (nul == nullptr) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(base + addr),
                          static_cast<const uint8_t*>(nul) - (base + addr));
}

// Turns an engine error into a policy error, telling aborts (opa_abort) from other failures.
Error FromWasm(const PolicyInstance& in, const wasm::Error& e, std::string_view what) {
  if (in.aborted) return MakeErr(Error::Kind::Abort, in.abort_message);
  return MakeErr(Error::Kind::Eval, std::string(what) + ": " + e.message);
}

Result<uint32_t> CallI32(PolicyInstance& in, wasm::FuncInst* fn, std::initializer_list<Value> args,
                         std::string_view what) {
  auto r = in.store.Call(fn, args);
  if (!r) return FromWasm(in, r.error(), what);
  if (r->size() != 1 || (*r)[0].type != ValType::I32)
    return MakeErr(Error::Kind::Load, std::string(what) + ": does not return one i32");
  return static_cast<uint32_t>((*r)[0].bits);
}

Result<bool> CallVoid(PolicyInstance& in, wasm::FuncInst* fn, std::initializer_list<Value> args,
                      std::string_view what) {
  auto r = in.store.Call(fn, args);
  if (!r) return FromWasm(in, r.error(), what);
  return true;
}

// Copies `text` into a fresh opa_malloc block and parses it with `parse` (opa_json_parse or
// opa_value_parse); the value's address, or 0 when the policy could not parse it.
Result<uint32_t> LoadText(PolicyInstance& in, std::string_view text, wasm::FuncInst* parse) {
  if (text.size() > UINT32_MAX / 2) return MakeErr(Error::Kind::Input, "document too large");
  auto addr = CallI32(in, in.x.malloc, {Value::I32(static_cast<int32_t>(text.size()))}, "opa_malloc");
  if (!addr) return addr.error();
  if (static_cast<uint64_t>(*addr) + text.size() > wasm::MemorySize(in.memory))
    return MakeErr(Error::Kind::Eval, "opa_malloc returned a block outside memory");
  std::memcpy(wasm::MemoryData(in.memory) + *addr, text.data(), text.size());
  return CallI32(in, parse,
                 {Value::I32(static_cast<int32_t>(*addr)), Value::I32(static_cast<int32_t>(text.size()))},
                 "opa_json_parse");
}

// opa_json_dump(value) read back as text.
Result<std::string> DumpValue(PolicyInstance& in, uint32_t value) {
  auto addr = CallI32(in, in.x.json_dump, {Value::I32(static_cast<int32_t>(value))}, "opa_json_dump");
  if (!addr) return addr.error();
  auto s = CString(in.memory, *addr);
  if (!s) return MakeErr(Error::Kind::Eval, "opa_json_dump returned an unterminated string");
  return std::string(*s);
}

PolicyInstance* Self(wasm::HostContext& ctx) { return static_cast<PolicyInstance*>(ctx.data()); }

wasm::Result<void> Abort(wasm::HostContext& ctx, uint64_t* slots) {
  PolicyInstance* in = Self(ctx);
  auto s = CString(in->memory, static_cast<uint32_t>(slots[0]));
  in->aborted = true;
  in->abort_message = s ? std::string(*s) : "opa_abort (message out of bounds)";
  return wasm::MakeError(wasm::ErrorKind::Trap, "opa_abort: " + in->abort_message);
}

wasm::Result<void> Println(wasm::HostContext& ctx, uint64_t* slots) {
  PolicyInstance* in = Self(ctx);
  auto s = CString(in->memory, static_cast<uint32_t>(slots[0]));
  std::string_view line = s ? *s : std::string_view("(out of bounds)");
  if (in->policy->opts.println)
    in->policy->opts.println(line);
  else
    std::cerr << line << "\n";
  return {};
}

// opa_builtinN(id, ctx, arg1..argN) -> value: each argument goes out as JSON (opa_json_dump), the
// builtin's answer comes back through opa_malloc + opa_json_parse; 0 is "undefined".
wasm::Result<void> CallBuiltin(wasm::HostContext& ctx, uint64_t* slots, int n) {
  PolicyInstance* in = Self(ctx);
  const Policy::Impl& p = *in->policy;
  uint32_t id = static_cast<uint32_t>(slots[0]);
  if (id >= p.builtin_by_id.size() || p.builtin_by_id[id] == nullptr)
    return wasm::MakeError(wasm::ErrorKind::Trap, "opa_builtin: unknown builtin id " + std::to_string(id));
  const std::string& name = p.builtin_names[id];
  std::vector<json> args;
  args.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto text = DumpValue(*in, static_cast<uint32_t>(slots[2 + i]));
    if (!text) return wasm::MakeError(wasm::ErrorKind::Trap, name + ": " + text.error().message);
    json arg = json::parse(*text, nullptr, false);
    if (arg.is_discarded()) return wasm::MakeError(wasm::ErrorKind::Trap, name + ": argument is not JSON");
    args.push_back(std::move(arg));
  }
  std::optional<json> result;
  try {
    result = (*p.builtin_by_id[id])(args);
  } catch (const std::exception& e) {
    return wasm::MakeError(wasm::ErrorKind::Trap, "builtin " + name + ": " + e.what());
  }
  if (!result) {
    slots[0] = 0;
    return {};
  }
  std::string text = result->dump(-1, ' ', false, json::error_handler_t::replace);
  auto addr = LoadText(*in, text, in->x.json_parse);
  if (!addr) return wasm::MakeError(wasm::ErrorKind::Trap, name + ": " + addr.error().message);
  slots[0] = *addr;
  return {};
}

template <int N>
wasm::Result<void> BuiltinN(wasm::HostContext& ctx, uint64_t* slots) {
  return CallBuiltin(ctx, slots, N);
}

wasm::FuncType BuiltinType(int n) {
  std::vector<ValType> params(2 + n, ValType::I32);
  return {params, {ValType::I32}};
}

const wasm::HostFuncDef& AbortDef() {
  static const auto* d = new wasm::HostFuncDef({{ValType::I32}, {}}, &Abort, "env.opa_abort");
  return *d;
}
const wasm::HostFuncDef& PrintlnDef() {
  static const auto* d = new wasm::HostFuncDef({{ValType::I32}, {}}, &Println, "env.opa_println");
  return *d;
}
const wasm::HostFuncDef& BuiltinDef(int n) {
  static const wasm::HostFuncDef* defs[5] = {
      new wasm::HostFuncDef(BuiltinType(0), &BuiltinN<0>, "env.opa_builtin0"),
      new wasm::HostFuncDef(BuiltinType(1), &BuiltinN<1>, "env.opa_builtin1"),
      new wasm::HostFuncDef(BuiltinType(2), &BuiltinN<2>, "env.opa_builtin2"),
      new wasm::HostFuncDef(BuiltinType(3), &BuiltinN<3>, "env.opa_builtin3"),
      new wasm::HostFuncDef(BuiltinType(4), &BuiltinN<4>, "env.opa_builtin4"),
  };
  return *defs[n];
}

Result<std::map<std::string, int32_t>> ReadIdMap(PolicyInstance& in, wasm::FuncInst* fn, const char* what) {
  std::map<std::string, int32_t> out;
  if (fn == nullptr) return out;
  auto addr = CallI32(in, fn, {}, what);
  if (!addr) return addr.error();
  auto text = DumpValue(in, *addr);
  if (!text) return text.error();
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object())
    return MakeErr(Error::Kind::Load, std::string(what) + "() is not a JSON object: " + *text);
  for (const auto& [k, v] : j.items()) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 1'000'000)
      return MakeErr(Error::Kind::Load, std::string(what) + "(): bad id for '" + k + "'");
    out[k] = static_cast<int32_t>(v.get<int64_t>());
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<PolicyInstance>> Policy::Impl::NewInstance() const {
  auto in = std::make_unique<PolicyInstance>(engine);
  in->policy = this;
  wasm::MemInst* mem = in->store.NewMemory(wasm::MemoryType{memory_limits});
  if (mem == nullptr)
    return MakeErr(Error::Kind::Load, "cannot create the policy's memory (" +
                                          std::to_string(memory_limits.min) + " pages; the cap is " +
                                          std::to_string(opts.max_memory_bytes) + " bytes)");
  in->memory = mem;
  wasm::Imports imports;
  imports.Add("env", "memory", wasm::Extern{wasm::ExternKind::Memory, mem});
  imports.Add("env", "opa_abort",
              wasm::Extern{wasm::ExternKind::Func, in->store.NewHostFunc(AbortDef(), in.get())});
  if (has_println_import)
    imports.Add("env", "opa_println",
                wasm::Extern{wasm::ExternKind::Func, in->store.NewHostFunc(PrintlnDef(), in.get())});
  for (int n = 0; n <= 4; ++n)
    imports.Add("env", "opa_builtin" + std::to_string(n),
                wasm::Extern{wasm::ExternKind::Func, in->store.NewHostFunc(BuiltinDef(n), in.get())});
  auto inst = in->store.Instantiate(*module, imports);
  if (inst) in->instance = inst->impl();
  if (!inst) {
    if (in->aborted) return MakeErr(Error::Kind::Abort, in->abort_message);
    return MakeErr(Error::Kind::Load, "instantiating the policy: " + inst.error().message);
  }
  if (wasm::FuncInst* init = inst->GetFunc("_initialize")) {
    auto r = CallVoid(*in, init, {}, "_initialize");
    if (!r) return r.error();
  }
  Exports& x = in->x;
  struct Want {
    const char* name;
    wasm::FuncInst** slot;
    bool required;
  };
  const Want wants[] = {
      {"opa_eval", &x.opa_eval, false},
      {"eval", &x.eval, false},
      {"opa_eval_ctx_new", &x.ctx_new, false},
      {"opa_eval_ctx_set_input", &x.ctx_set_input, false},
      {"opa_eval_ctx_set_data", &x.ctx_set_data, false},
      {"opa_eval_ctx_set_entrypoint", &x.ctx_set_entrypoint, false},
      {"opa_eval_ctx_get_result", &x.ctx_get_result, false},
      {"opa_json_parse", &x.json_parse, true},
      {"opa_value_parse", &x.value_parse, false},
      {"opa_json_dump", &x.json_dump, true},
      {"opa_malloc", &x.malloc, true},
      {"opa_heap_ptr_get", &x.heap_ptr_get, true},
      {"opa_heap_ptr_set", &x.heap_ptr_set, true},
      {"builtins", &x.builtins, true},
      {"entrypoints", &x.entrypoints, false},
  };
  for (const Want& w : wants) {
    *w.slot = inst->GetFunc(w.name);
    if (*w.slot == nullptr && w.required)
      return MakeErr(Error::Kind::Load,
                     std::string("not an OPA policy: no exported function '") + w.name + "'");
  }
  if (x.value_parse == nullptr) x.value_parse = x.json_parse;
  auto heap = CallI32(*in, x.heap_ptr_get, {}, "opa_heap_ptr_get");
  if (!heap) return heap.error();
  in->base_heap = *heap;
  return in;
}

Result<bool> Policy::Impl::LoadData(PolicyInstance& in, const std::string& data_json) const {
  auto r =
      CallVoid(in, in.x.heap_ptr_set, {Value::I32(static_cast<int32_t>(in.base_heap))}, "opa_heap_ptr_set");
  if (!r) return r.error();
  auto addr = LoadText(in, data_json, in.x.value_parse);
  if (!addr) return addr.error();
  if (*addr == 0) return MakeErr(Error::Kind::Input, "data is not valid JSON");
  auto heap = CallI32(in, in.x.heap_ptr_get, {}, "opa_heap_ptr_get");
  if (!heap) return heap.error();
  in.data_addr = *addr;
  in.data_heap = *heap;
  return true;
}

Result<std::string> Policy::Impl::Decide(PolicyInstance& in, std::string_view input,
                                         int32_t entrypoint) const {
  if (opts.fuel != 0) in.store.SetFuel(opts.fuel);
  if (fast_path) {
    // The input's JSON text goes right above the data; opa_eval parses it and allocates above it.
    uint64_t end = static_cast<uint64_t>(in.data_heap) + input.size();
    if (end > UINT32_MAX) return MakeErr(Error::Kind::Input, "input too large");
    uint64_t size = wasm::MemorySize(in.memory);
    if (end > size) {
      uint64_t pages = (end - size + wasm::kPageSize - 1) / wasm::kPageSize;
      if (wasm::MemoryGrow(in.memory, pages) < 0)
        return MakeErr(Error::Kind::Eval, "input does not fit in the policy's memory");
    }
    if (!input.empty()) std::memcpy(wasm::MemoryData(in.memory) + in.data_heap, input.data(), input.size());
    auto i32 = [](uint64_t v) { return Value::I32(static_cast<int32_t>(static_cast<uint32_t>(v))); };
    auto r = CallI32(in, in.x.opa_eval,
                     {i32(0), i32(static_cast<uint32_t>(entrypoint)), i32(in.data_addr), i32(in.data_heap),
                      i32(input.size()), i32(end), i32(0)},
                     "opa_eval");
    if (!r) return r.error();
    auto s = CString(in.memory, *r);
    if (!s) return MakeErr(Error::Kind::Eval, "opa_eval returned an unterminated string");
    return std::string(*s);
  }
  auto i32 = [](uint32_t v) { return Value::I32(static_cast<int32_t>(v)); };
  auto r = CallVoid(in, in.x.heap_ptr_set, {i32(in.data_heap)}, "opa_heap_ptr_set");
  if (!r) return r.error();
  uint32_t input_addr = 0;
  if (!input.empty()) {
    auto a = LoadText(in, input, in.x.json_parse);
    if (!a) return a.error();
    if (*a == 0) return MakeErr(Error::Kind::Input, "input is not valid JSON");
    input_addr = *a;
  }
  auto ctx = CallI32(in, in.x.ctx_new, {}, "opa_eval_ctx_new");
  if (!ctx) return ctx.error();
  if (input_addr != 0) {
    r = CallVoid(in, in.x.ctx_set_input, {i32(*ctx), i32(input_addr)}, "opa_eval_ctx_set_input");
    if (!r) return r.error();
  }
  r = CallVoid(in, in.x.ctx_set_data, {i32(*ctx), i32(in.data_addr)}, "opa_eval_ctx_set_data");
  if (!r) return r.error();
  if (entrypoint != 0) {
    if (in.x.ctx_set_entrypoint == nullptr)
      return MakeErr(Error::Kind::Entrypoint, "this policy (ABI 1.0) has only entrypoint 0");
    r = CallVoid(in, in.x.ctx_set_entrypoint, {i32(*ctx), i32(static_cast<uint32_t>(entrypoint))},
                 "opa_eval_ctx_set_entrypoint");
    if (!r) return r.error();
  }
  auto rc = CallI32(in, in.x.eval, {i32(*ctx)}, "eval");
  if (!rc) return rc.error();
  auto result = CallI32(in, in.x.ctx_get_result, {i32(*ctx)}, "opa_eval_ctx_get_result");
  if (!result) return result.error();
  return DumpValue(in, *result);
}

Result<std::unique_ptr<PolicyInstance>> Policy::Impl::Acquire() const {
  std::shared_ptr<const std::string> want_data;
  uint64_t want_generation = 0;
  std::unique_ptr<PolicyInstance> in;
  {
    base::MutexLock lock(mu);
    cv.Wait(lock, [&]() REQUIRES(mu) { return !idle.empty() || live < max_instances; });
    want_data = data;
    want_generation = data_generation;
    if (!idle.empty()) {
      in = std::move(idle.back());
      idle.pop_back();
    } else {
      ++live;
      ++created;
    }
  }
  if (in == nullptr) {
    auto made = NewInstance();
    if (!made) {
      Release(nullptr, false);
      return made.error();
    }
    in = std::move(made).value();
  }
  if (in->data_generation != want_generation) {
    auto r = LoadData(*in, *want_data);
    if (!r) {
      Release(nullptr, false);
      return r.error();
    }
    in->data_generation = want_generation;
  }
  return in;
}

void Policy::Impl::Release(std::unique_ptr<PolicyInstance> in, bool reusable) const {
  {
    base::MutexLock lock(mu);
    if (in != nullptr && reusable) {
      idle.push_back(std::move(in));
    } else {
      --live;
    }
  }
  cv.NotifyOne();
  // A dropped instance (if any) is destroyed here, outside the lock.
}

Result<std::shared_ptr<Policy>> Policy::Load(std::span<const uint8_t> bytes, Options options) {
  std::shared_ptr<Policy> policy(new Policy());
  policy->impl_ = std::make_unique<Impl>(std::move(options));
  Impl& impl = *policy->impl_;
  impl.max_instances = impl.opts.max_instances != 0 ? impl.opts.max_instances
                                                    : std::max(1u, std::thread::hardware_concurrency());

  auto module = wasm::Module::Compile(impl.engine, bytes);
  if (!module) return MakeErr(Error::Kind::Load, "not a WebAssembly module: " + module.error().message);
  impl.module = *module;
  bool has_memory = false;
  for (const auto& imp : impl.module->imports()) {
    std::string full = imp.module + "." + imp.name;
    bool known = imp.module == "env" && ((imp.name == "memory" && imp.kind == wasm::ExternKind::Memory) ||
                                         (imp.kind == wasm::ExternKind::Func &&
                                          (imp.name == "opa_abort" || imp.name == "opa_println" ||
                                           (imp.name.size() == 12 && imp.name.rfind("opa_builtin", 0) == 0 &&
                                            imp.name[11] >= '0' && imp.name[11] <= '4'))));
    if (!known) return MakeErr(Error::Kind::Load, "not an OPA policy: it imports " + full);
    if (imp.name == "memory") {
      has_memory = true;
      impl.memory_limits = imp.limits;
    }
    if (imp.name == "opa_println") impl.has_println_import = true;
  }
  if (!has_memory) return MakeErr(Error::Kind::Load, "not an OPA policy: it does not import env.memory");

  // A first instance: the ABI version, the builtins it needs and its entrypoints.
  auto first = impl.NewInstance();
  if (!first) return first.error();
  PolicyInstance& in = **first;
  wasm::Instance exports(in.instance);
  auto version = [&](const char* name, int absent) -> int {
    wasm::GlobalInst* g = exports.GetGlobal(name);
    if (g == nullptr || wasm::GetGlobalType(g) != ValType::I32) return absent;
    return wasm::GetGlobalValue(g).i32();
  };
  policy->abi_major_ = version("opa_wasm_abi_version", 1);
  policy->abi_minor_ = version("opa_wasm_abi_minor_version", 0);
  if (policy->abi_major_ != 1)
    return MakeErr(Error::Kind::Load, "unsupported OPA Wasm ABI version " +
                                          std::to_string(policy->abi_major_) + " (wasmq runs 1.x)");
  impl.fast_path = policy->abi_minor_ >= 2 && in.x.opa_eval != nullptr && !impl.opts.ctx_path;
  policy->fast_path_ = impl.fast_path;
  if (!impl.fast_path) {
    const std::pair<const char*, wasm::FuncInst*> needed[] = {
        {"eval", in.x.eval},
        {"opa_eval_ctx_new", in.x.ctx_new},
        {"opa_eval_ctx_set_input", in.x.ctx_set_input},
        {"opa_eval_ctx_set_data", in.x.ctx_set_data},
        {"opa_eval_ctx_get_result", in.x.ctx_get_result},
    };
    for (const auto& [name, fn] : needed)
      if (fn == nullptr)
        return MakeErr(Error::Kind::Load,
                       std::string("not an OPA policy: no exported function '") + name + "'");
  }

  auto builtins = ReadIdMap(in, in.x.builtins, "builtins");
  if (!builtins) return builtins.error();
  auto entrypoints = ReadIdMap(in, in.x.entrypoints, "entrypoints");
  if (!entrypoints) return entrypoints.error();
  policy->builtins_ = *builtins;
  policy->entrypoints_ = *entrypoints;
  if (policy->entrypoints_.empty()) policy->entrypoints_[""] = 0;  // before ABI 1.1: one, unnamed

  // Every builtin the policy calls must be ours or the caller's: refuse it now rather than fail a
  // decision later.
  for (const auto& [name, id] : policy->builtins_) {
    const Builtin* fn = nullptr;
    if (auto it = impl.opts.custom_builtins.find(name); it != impl.opts.custom_builtins.end())
      fn = &it->second;
    else
      fn = FindHostBuiltin(name);
    if (fn == nullptr) {
      std::string have;
      for (const std::string& n : HostBuiltinNames()) have += (have.empty() ? "" : ", ") + n;
      return MakeErr(Error::Kind::Load, "the policy needs the builtin '" + name +
                                            "', which wasmq does not implement (it has: " + have + ")");
    }
    if (impl.builtin_by_id.size() <= static_cast<size_t>(id)) {
      impl.builtin_by_id.resize(id + 1, nullptr);
      impl.builtin_names.resize(id + 1);
    }
    impl.builtin_by_id[id] = fn;
    impl.builtin_names[id] = name;
  }

  // The first instance's base heap: above what builtins() and entrypoints() allocated.
  auto heap = CallI32(in, in.x.heap_ptr_get, {}, "opa_heap_ptr_get");
  if (!heap) return heap.error();
  in.base_heap = *heap;
  auto data = std::make_shared<const std::string>(impl.opts.data_json.empty() ? "{}" : impl.opts.data_json);
  // As for inputs: the policy's parser may abort on what is not JSON; say what is wrong instead.
  if (!json::accept(*data)) return MakeErr(Error::Kind::Input, "data is not valid JSON");
  auto loaded = impl.LoadData(in, *data);
  if (!loaded) return loaded.error();
  in.data_generation = 0;
  // No other thread can see the policy yet; the lock costs nothing and lets the compiler check the pool.
  base::MutexLock lock(impl.mu);
  impl.data = std::move(data);
  impl.live = 1;
  impl.created = 1;
  impl.idle.push_back(std::move(first).value());
  return policy;
}

Result<int32_t> Policy::ResolveEntrypoint(std::string_view name_or_id) const {
  if (auto it = entrypoints_.find(std::string(name_or_id)); it != entrypoints_.end()) return it->second;
  if (!name_or_id.empty() && name_or_id.size() < 8 &&
      std::all_of(name_or_id.begin(), name_or_id.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int32_t id = std::stoi(std::string(name_or_id));
    for (const auto& [name, eid] : entrypoints_)
      if (eid == id) return id;
  }
  std::string names;
  for (const auto& [name, id] : entrypoints_)
    names += (names.empty() ? "" : ", ") + name + " (" + std::to_string(id) + ")";
  return MakeErr(Error::Kind::Entrypoint,
                 "no entrypoint '" + std::string(name_or_id) + "' (the policy has: " + names + ")");
}

Result<std::string> Policy::Eval(std::string_view input_json, std::string_view entrypoint) const {
  auto id = ResolveEntrypoint(entrypoint);
  if (!id) return id.error();
  return Eval(input_json, *id);
}

Result<std::string> Policy::Eval(std::string_view input_json, int32_t entrypoint) const {
  bool known = false;
  for (const auto& [name, id] : entrypoints_) known = known || id == entrypoint;
  if (!known) return MakeErr(Error::Kind::Entrypoint, "no entrypoint " + std::to_string(entrypoint));
  // The policy's own parser would read bad JSON as an undefined input; say what is wrong instead.
  if (!input_json.empty() && !json::accept(input_json))
    return MakeErr(Error::Kind::Input, "input is not valid JSON");
  auto in = impl_->Acquire();
  if (!in) return in.error();
  auto r = impl_->Decide(**in, input_json, entrypoint);
  impl_->Release(std::move(in).value(), r.ok());
  return r;
}

Result<bool> Policy::SetData(std::string_view data_json) {
  if (!json::accept(data_json)) return MakeErr(Error::Kind::Input, "data is not valid JSON");
  base::MutexLock lock(impl_->mu);
  impl_->data = std::make_shared<const std::string>(data_json);
  ++impl_->data_generation;
  return true;
}

Policy::~Policy() = default;

size_t Policy::instances_created() const {
  base::MutexLock lock(impl_->mu);
  return impl_->created;
}

}  // namespace wasmq::policy
