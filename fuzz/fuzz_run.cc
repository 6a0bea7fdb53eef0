// Fuzz target: compile, instantiate against stub imports of the declared types, then call every exported
// function with zero arguments under a fuel limit. Traps are expected; crashes, hangs and sanitizer
// reports are bugs. Small memory and table caps keep memory bombs cheap.
#include <cstddef>
#include <cstdint>

#include "wasm/runtime.h"
#include "wasm/wasm.h"

using namespace wasmq::wasm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Engine engine(EngineConfig{.max_memory_bytes = 16 << 20,
                                          .max_table_elements = 100'000,
                                          .max_call_depth = 2'000,
                                          .value_stack_slots = 1 << 16});
  auto module = Module::Compile(engine, std::span<const uint8_t>(data, size));
  if (!module) return 0;
  Store store(engine);
  Imports imports;
  const ModuleInfo& info = (*module)->impl().module;
  for (const Import& imp : info.imports) {
    Extern ext{imp.kind, nullptr};
    switch (imp.kind) {
      case ExternKind::Func: {
        const FuncType& type = info.types[imp.type_index];
        size_t results = type.results.size();
        ext.ptr = store.NewHostFunc(type, [results](HostContext&, uint64_t* slots) -> Result<void> {
          for (size_t i = 0; i < results; ++i) slots[i] = 0;
          return {};
        });
        break;
      }
      case ExternKind::Table: ext.ptr = store.NewTable(imp.table, Value::NullRef(imp.table.elem)); break;
      case ExternKind::Memory: ext.ptr = store.NewMemory(imp.memory); break;
      case ExternKind::Global: ext.ptr = store.NewGlobal(imp.global, Value{imp.global.type, 0}); break;
    }
    if (!ext.ptr) return 0;  // a declared size past the caps
    imports.Add(imp.module, imp.name, ext);
  }
  store.SetFuel(100'000);
  auto inst = store.Instantiate(**module, imports);
  if (!inst) return 0;
  for (const auto& [name, ext] : inst->exports()) {
    FuncInst* f = ext.func();
    if (!f) continue;
    std::vector<Value> args;
    for (ValType t : GetFuncType(f).params) args.push_back(Value{t, 0});
    store.SetFuel(100'000);
    auto r = store.Call(f, args);
    (void)r.ok();
  }
  return 0;
}
