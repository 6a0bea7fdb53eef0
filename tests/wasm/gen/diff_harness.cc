// File: tests/wasm/gen/diff_harness.cc
#include "gen/diff_harness.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <sstream>
#include <string_view>

#include "wasm/runtime.h"

namespace wasmq::wasm::diff {

namespace {

// Concatenation by appending: GCC 12 misreports `"literal" + std::string` as -Wrestrict at -O3.
template <typename... Parts>
std::string Cat(const Parts&... parts) {
  std::string s;
  (s.append(std::string_view(parts)), ...);
  return s;
}

const char* KindName(ErrorKind k) {
  switch (k) {
    case ErrorKind::Malformed: return "malformed";
    case ErrorKind::Invalid: return "invalid";
    case ErrorKind::Unlinkable: return "unlinkable";
    case ErrorKind::Trap: return "trap";
    case ErrorKind::Exhaustion: return "exhaustion";
    case ErrorKind::Interrupted: return "interrupted";
    case ErrorKind::Exit: return "exit";
    case ErrorKind::Resource: return "resource";
  }
  return "?";
}

std::string DescribeError(const Error& e) { return Cat(KindName(e.kind), " \"", e.message, "\""); }

// Runs out of fuel or stack: limits whose exact point of use may differ between tiers.
bool IsLimit(const Error& e) { return e.kind == ErrorKind::Interrupted || e.kind == ErrorKind::Exhaustion; }

uint64_t HashBytes(const uint8_t* p, uint64_t n) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over 8-byte words, then the tail
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

const FuncType* ExportedFuncType(const ModuleInfo& m, uint32_t func_index) {
  if (func_index < m.num_imported_funcs) {
    uint32_t k = 0;
    for (const Import& imp : m.imports) {
      if (imp.kind != ExternKind::Func) continue;
      if (k++ == func_index) return &m.types[imp.type_index];
    }
    return nullptr;
  }
  uint32_t defined = func_index - m.num_imported_funcs;
  return defined < m.functions.size() ? &m.types[m.functions[defined]] : nullptr;
}

// Stubs for a module's imports, created in `store`: the same in every tier.
bool StubImports(Store& store, const ModuleInfo& info, Imports& imports) {
  for (const Import& imp : info.imports) {
    Extern ext{imp.kind, nullptr};
    switch (imp.kind) {
      case ExternKind::Func: {
        size_t results = info.types[imp.type_index].results.size();
        ext.ptr = store.NewHostFunc(info.types[imp.type_index],
                                    [results](HostContext&, uint64_t* slots) -> Result<void> {
                                      for (size_t i = 0; i < results; ++i) slots[i] = 0;
                                      return {};
                                    });
        break;
      }
      case ExternKind::Table: ext.ptr = store.NewTable(imp.table, Value::NullRef(imp.table.elem)); break;
      case ExternKind::Memory: ext.ptr = store.NewMemory(imp.memory); break;
      case ExternKind::Global: ext.ptr = store.NewGlobal(imp.global, Value{imp.global.type, 0}); break;
    }
    if (ext.ptr == nullptr) return false;  // a declared size past the caps
    imports.Add(imp.module, imp.name, ext);
  }
  return true;
}

}  // namespace

struct Differ::TierRun {
  bool compiled = false;
  Error compile_error;
  bool instantiated = false;
  Error instantiate_error;
  std::vector<std::string> init_state;
  std::vector<CallOutcome> calls;
};

std::vector<Call> PlanCalls(std::span<const uint8_t> wasm, gen::Entropy* in, int rounds) {
  static const Engine engine;
  auto module = Module::Compile(engine, wasm);
  if (!module) return {};
  const ModuleInfo& info = (*module)->impl().module;
  std::vector<Call> calls;
  for (int r = 0; r < rounds; ++r) {
    for (const Export& e : info.exports) {
      if (e.kind != ExternKind::Func) continue;
      const FuncType* type = ExportedFuncType(info, e.index);
      if (type == nullptr) continue;
      Call c{e.name, {}};
      for (ValType t : type->params) {
        c.args.push_back(IsRef(t) || in == nullptr ? Value{t, 0} : Value{t, gen::InterestingBits(*in, t)});
      }
      calls.push_back(std::move(c));
    }
  }
  return calls;
}

Differ::Differ(Options options)
    : options_(std::move(options)),
      reference_([&] {
        EngineConfig c = options_.limits;
        c.compile = options_.reference;
        return c;
      }()),
      candidate_([&] {
        EngineConfig c = options_.limits;
        c.compile = options_.candidate;
        return c;
      }()) {}

std::string Differ::Describe(const Value& v) const {
  if (v.type == ValType::FuncRef) {
    if (v.bits == 0) return "funcref:null";
    const auto* f = reinterpret_cast<const FuncInst*>(v.bits);
    if (f->code == nullptr) return "funcref:host";
    return Cat("funcref:func[", std::to_string(f->func_index), "]");
  }
  if (!options_.exact_nans) {
    if (v.type == ValType::F32 && std::isnan(v.f32())) return "f32:nan";
    if (v.type == ValType::F64 && std::isnan(v.f64())) return "f64:nan";
  }
  return v.ToString();
}

Differ::TierRun Differ::RunTier(const Engine& engine, std::span<const uint8_t> wasm,
                                const std::vector<Call>& calls, bool candidate) const {
  TierRun run;
  auto module = Module::Compile(engine, wasm);
  if (!module) {
    run.compile_error = module.error();
    return run;
  }
  run.compiled = true;
  Store store(engine);
  Imports imports;
  if (!StubImports(store, (*module)->impl().module, imports)) {
    run.instantiate_error = MakeError(ErrorKind::Resource, "an import's declared size is past the limits");
    return run;
  }
  store.SetFuel(options_.fuel);
  auto inst = store.Instantiate(**module, imports);
  if (!inst) {
    run.instantiate_error = inst.error();
    return run;
  }
  run.instantiated = true;

  auto snapshot = [&] {
    std::vector<std::string> lines;
    for (const auto& [name, ext] : inst->exports()) {
      std::ostringstream line;
      line << name << ": ";
      if (MemInst* m = ext.memory()) {
        line << "memory of " << MemorySize(m) / kPageSize << " pages, hash " << std::hex
             << HashBytes(MemoryData(m), MemorySize(m));
      } else if (GlobalInst* g = ext.global()) {
        line << "global " << Describe(GetGlobalValue(g));
      } else if (TableInst* t = ext.table()) {
        line << "table of " << t->elems.size() << ":";
        for (uint64_t e : t->elems) line << ' ' << Describe(Value{t->type.elem, e});
      } else {
        continue;
      }
      lines.push_back(line.str());
    }
    return lines;
  };
  run.init_state = snapshot();

  for (size_t i = 0; i < calls.size(); ++i) {
    CallOutcome out;
    FuncInst* f = inst->GetFunc(calls[i].name);
    if (f == nullptr) {
      out.error = MakeError(ErrorKind::Unlinkable, Cat("no exported function ", calls[i].name));
    } else {
      store.SetFuel(options_.fuel);
      auto r = store.Call(f, calls[i].args);
      if (r.ok()) {
        out.ok = true;
        out.results = std::move(r).value();
      } else {
        out.error = r.error();
      }
    }
    if (options_.tamper) options_.tamper(candidate, i, *inst, out);
    out.state = snapshot();
    bool limit = !out.ok && IsLimit(out.error);
    run.calls.push_back(std::move(out));
    if (limit) break;  // the store may be mid-way through a call: nothing after is comparable
  }
  return run;
}

Report Differ::Run(std::span<const uint8_t> wasm, const std::vector<Call>& calls) const {
  Report report;
  TierRun ref = RunTier(reference_, wasm, calls, false);
  TierRun cand = RunTier(candidate_, wasm, calls, true);
  report.compiled = ref.compiled;
  auto mismatch = [&](const std::string& what, const std::string& a, const std::string& b) {
    report.mismatch = Cat(what, "\n  reference: ", a, "\n  candidate: ", b);
    return report;
  };
  if (ref.compiled != cand.compiled) {
    return mismatch("module compiles in one tier only",
                    ref.compiled ? "compiled" : DescribeError(ref.compile_error),
                    cand.compiled ? "compiled" : DescribeError(cand.compile_error));
  }
  if (!ref.compiled) return report;
  if (ref.instantiated != cand.instantiated ||
      (!ref.instantiated && ref.instantiate_error.message != cand.instantiate_error.message)) {
    return mismatch("instantiation", ref.instantiated ? "ok" : DescribeError(ref.instantiate_error),
                    cand.instantiated ? "ok" : DescribeError(cand.instantiate_error));
  }
  report.instantiated = ref.instantiated;
  if (!ref.instantiated) return report;
  auto state_diff = [&](const std::string& where, const std::vector<std::string>& a,
                        const std::vector<std::string>& b) -> bool {
    for (size_t k = 0; k < std::max(a.size(), b.size()); ++k) {
      std::string x = k < a.size() ? a[k] : "(none)", y = k < b.size() ? b[k] : "(none)";
      if (x != y) {
        mismatch(Cat("state ", where), x, y);
        return true;
      }
    }
    return false;
  };
  if (state_diff("after instantiation", ref.init_state, cand.init_state)) return report;

  for (size_t i = 0; i < ref.calls.size(); ++i) {
    const CallOutcome& a = ref.calls[i];
    std::string where = Cat("call ", std::to_string(i), " ", calls[i].name, "(");
    for (size_t k = 0; k < calls[i].args.size(); ++k)
      where += Cat(k ? ", " : "", calls[i].args[k].ToString());
    where += ")";
    if (!a.ok && IsLimit(a.error)) {  // where a limit bites is not specified: stop comparing here
      report.stopped_early = true;
      return report;
    }
    if (i >= cand.calls.size()) return mismatch(where, "ran", "not run (stopped at a limit)");
    const CallOutcome& b = cand.calls[i];
    auto outcome = [&](const CallOutcome& o) {
      if (!o.ok) return DescribeError(o.error);
      std::string s = "returned";
      for (const Value& v : o.results) s += Cat(" ", Describe(v));
      return s;
    };
    std::string oa = outcome(a), ob = outcome(b);
    if (oa != ob) return mismatch(where, oa, ob);
    if (state_diff(Cat("after ", where), a.state, b.state)) return report;
    ++report.calls_compared;
  }
  return report;
}

}  // namespace wasmq::wasm::diff
