// File: bench/coldstart.cc
//
// Cold start of a cached module: the module is compiled once (decode + validate + compile, what a module
// cache keeps), then each iteration measures what starting a task costs:
//
//   new Store  ->  Instantiate (map the memory image or copy data segments, ...)  ->  first Call of `run`
//
// and, separately, a second call (no first-touch costs) and tearing the Store down. Prints p50/p99/max per
// phase and for the total, for a tiny module (one function, no memory) and a module with a 1 MiB data
// segment; with --wasi, also for a WASI command module run the way a worker runs a task.
//
// Then the compiling tier: each module compiled once into an empty code cache (compile ms, ms per 100 KiB
// of wasm code), and the cold start of the *cached compiled* module: Module::Compile with
// CompileMode::kAlways finding its machine code in the cache (decode + validate + SHA-256 + loading the
// object, no LLVM) + new Store + Instantiate + first call, p50/p99. --compiled MODULE.wasm adds a module
// (e.g. a built-in pipeline) for which only compile and cached Module::Compile are measured.
//
//   bench/coldstart [--iterations N] [--data-bytes B] [--wasi MODULE.wasm] [--compiled MODULE.wasm]... [--json]
//                   [--compile always --compile-cache DIR]   (the first tables on the compiling tier too)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "bench/modules.h"
#include "wasi/wasi.h"
#include "wasm/wasm.h"

namespace {

using Clock = std::chrono::steady_clock;
using wasmq::bench::Bytes;
namespace wasm = wasmq::wasm;

double Us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

struct Stats {
  double p50, p99, max, mean;
};

Stats Summarise(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) {
    size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  };
  double sum = 0;
  for (double x : v) sum += x;
  return {pct(0.50), pct(0.99), v.back(), sum / static_cast<double>(v.size())};
}

[[noreturn]] void Die(const std::string& what, const wasm::Error& e) {
  std::fprintf(stderr, "coldstart: %s: %s\n", what.c_str(), e.message.c_str());
  std::exit(1);
}

struct Row {
  std::string name;
  size_t module_bytes;
  double compile_us;
  Stats store, inst, call, call2, total, teardown;
};

wasm::EngineConfig g_engine_config;  // --compile, --compile-cache

Row Measure(const std::string& name, const Bytes& bytes, int iterations, int32_t expect) {
  wasm::Engine engine(g_engine_config);
  // The one-time cost a module cache saves: median of a few compiles (the first one in a process also
  // pays for first-touch allocations).
  std::shared_ptr<const wasm::Module> module;
  std::vector<double> compile_us;
  for (int i = 0; i < 11; i++) {
    auto t0 = Clock::now();
    auto compiled = wasm::Module::Compile(engine, bytes);
    auto t1 = Clock::now();
    if (!compiled.ok()) Die(name + ": compile", compiled.error());
    module = compiled.value();
    compile_us.push_back(Us(t1 - t0));
  }
  wasm::Imports imports;

  std::vector<double> store_us, inst_us, call_us, call2_us, total_us, teardown_us;
  const int warmup = std::max(10, iterations / 20);
  for (int it = -warmup; it < iterations; it++) {
    auto a = Clock::now();
    auto store = std::make_unique<wasm::Store>(engine);
    auto b = Clock::now();
    auto inst = store->Instantiate(*module, imports);
    auto c = Clock::now();
    if (!inst.ok()) Die(name + ": instantiate", inst.error());
    auto out = store->Call(inst->GetFunc("run"), {});
    auto d = Clock::now();
    if (!out.ok()) Die(name + ": call", out.error());
    auto out2 = store->Call(inst->GetFunc("run"), {});  // a second call: no first-touch costs
    auto d2 = Clock::now();
    if (!out2.ok()) Die(name + ": second call", out2.error());
    if (out->size() != 1 || (*out)[0].i32() != expect) {
      std::fprintf(stderr, "coldstart: %s: run returned %d, expected %d\n", name.c_str(),
                   out->empty() ? -1 : (*out)[0].i32(), expect);
      std::exit(1);
    }
    auto e0 = Clock::now();
    store.reset();
    auto e = Clock::now();
    if (it < 0) continue;
    store_us.push_back(Us(b - a));
    inst_us.push_back(Us(c - b));
    call_us.push_back(Us(d - c));
    call2_us.push_back(Us(d2 - d));
    total_us.push_back(Us(d - a));
    teardown_us.push_back(Us(e - e0));
  }
  return {name,
          bytes.size(),
          Summarise(compile_us).p50,
          Summarise(store_us),
          Summarise(inst_us),
          Summarise(call_us),
          Summarise(call2_us),
          Summarise(total_us),
          Summarise(teardown_us)};
}

// A WASI command (e.g. bench/queue's no-op pipeline): what a worker does per task, minus the store and
// the task's directories -- a Wasi context (Capture stdio, no preopens), a Store, the WASI imports,
// Instantiate, and `_start` (RunCommand). "store" covers Wasi::Create + Store + AddToImports; there is no
// second call (a command runs once).
Row MeasureWasi(const std::string& path, int iterations) {
  std::ifstream in(path, std::ios::binary);
  Bytes bytes{std::istreambuf_iterator<char>(in), {}};
  if (bytes.empty()) {
    std::fprintf(stderr, "coldstart: cannot read %s\n", path.c_str());
    std::exit(1);
  }
  wasm::Engine engine(g_engine_config);
  auto t0 = Clock::now();
  auto compiled = wasm::Module::Compile(engine, bytes);
  double compile_us = Us(Clock::now() - t0);
  if (!compiled.ok()) Die(path + ": compile", compiled.error());
  std::shared_ptr<const wasm::Module> module = compiled.value();

  std::vector<double> store_us, inst_us, call_us, call2_us, total_us, teardown_us;
  const int warmup = std::max(10, iterations / 20);
  for (int it = -warmup; it < iterations; it++) {
    auto a = Clock::now();
    wasmq::wasi::WasiConfig config;
    config.args = {"noop"};
    auto wasi = wasmq::wasi::Wasi::Create(std::move(config));
    if (!wasi.ok()) Die("wasi", wasi.error());
    auto store = std::make_unique<wasm::Store>(engine);
    wasm::Imports imports;
    (*wasi)->AddToImports(*store, imports);
    auto b = Clock::now();
    auto inst = store->Instantiate(*module, imports);
    auto c = Clock::now();
    if (!inst.ok()) Die(path + ": instantiate", inst.error());
    auto code = wasmq::wasi::RunCommand(*store, *inst);
    auto d = Clock::now();
    if (!code.ok()) Die(path + ": _start", code.error());
    store.reset();
    wasi->reset();
    auto e = Clock::now();
    if (it < 0) continue;
    store_us.push_back(Us(b - a));
    inst_us.push_back(Us(c - b));
    call_us.push_back(Us(d - c));
    call2_us.push_back(0);
    total_us.push_back(Us(d - a));
    teardown_us.push_back(Us(e - d));
  }
  std::string name = "wasi:" + path.substr(path.find_last_of('/') + 1);
  return {name,           bytes.size(),         compile_us,           Summarise(store_us),
          Summarise(inst_us), Summarise(call_us), Summarise(call2_us), Summarise(total_us),
          Summarise(teardown_us)};
}

// The compiling tier on `bytes`: compile into an empty cache once, then cold starts from the cache.
struct CompiledRow {
  std::string name;
  size_t wasm_code_bytes = 0, machine_code_bytes = 0;
  double compile_ms = 0;
  Stats load, module_compile, total;  // cache load alone; Module::Compile (cache hit); + Store + Inst + call
  bool ran = false;
};

CompiledRow MeasureCompiled(const std::string& name, const Bytes& bytes, int iterations, bool run, int32_t expect) {
  const std::string dir = std::filesystem::temp_directory_path().string() + "/wasmq-coldstart-" +
                          std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  wasm::EngineConfig config;
  config.compile = wasm::CompileMode::kAlways;
  config.compile_cache_dir = dir;
  wasm::Engine engine(config);
  CompiledRow row;
  row.name = name;
  row.ran = run;
  {
    auto first = wasm::Module::Compile(engine, bytes);
    if (!first.ok()) Die(name + ": compile", first.error());
    auto stats = (*first)->compile_stats();
    if (!stats || stats->from_cache) {
      std::fprintf(stderr, "coldstart: %s: expected a fresh compile\n", name.c_str());
      std::exit(1);
    }
    row.compile_ms = stats->ms;
    row.wasm_code_bytes = stats->wasm_code_bytes;
    row.machine_code_bytes = stats->machine_code_bytes;
  }
  std::vector<double> load_us, compile_us, total_us;
  const int warmup = std::max(10, iterations / 20);
  wasm::Imports imports;
  for (int it = -warmup; it < iterations; it++) {
    auto a = Clock::now();
    auto module = wasm::Module::Compile(engine, bytes);
    auto b = Clock::now();
    if (!module.ok()) Die(name + ": cached compile", module.error());
    auto stats = (*module)->compile_stats();
    if (!stats || !stats->from_cache) {
      std::fprintf(stderr, "coldstart: %s: expected the cached code\n", name.c_str());
      std::exit(1);
    }
    double total = Us(b - a);
    if (run) {
      wasm::Store store(engine);
      auto inst = store.Instantiate(**module, imports);
      if (!inst.ok()) Die(name + ": instantiate", inst.error());
      auto out = store.Call(inst->GetFunc("run"), {});
      if (!out.ok()) Die(name + ": call", out.error());
      total = Us(Clock::now() - a);
      if (out->size() != 1 || (*out)[0].i32() != expect) {
        std::fprintf(stderr, "coldstart: %s: compiled run returned a wrong value\n", name.c_str());
        std::exit(1);
      }
    }
    if (it < 0) continue;
    load_us.push_back(stats->ms * 1000.0);
    compile_us.push_back(Us(b - a));
    total_us.push_back(total);
  }
  std::filesystem::remove_all(dir);
  row.load = Summarise(load_us);
  row.module_compile = Summarise(compile_us);
  row.total = Summarise(total_us);
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 2000;
  size_t data_bytes = 1 << 20;
  bool json = false;
  std::string wasi_module;
  std::vector<std::string> compiled_modules;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if ((a == "--iterations" || a == "-n") && i + 1 < argc) {
      iterations = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--data-bytes" && i + 1 < argc) {
      data_bytes = static_cast<size_t>(std::strtoull(argv[++i], nullptr, 10));
    } else if (a == "--wasi" && i + 1 < argc) {
      wasi_module = argv[++i];
    } else if (a == "--compiled" && i + 1 < argc) {
      compiled_modules.push_back(argv[++i]);
    } else if (a == "--json") {
      json = true;
    } else if (a == "--compile" && i + 1 < argc) {
      std::string m = argv[++i];
      g_engine_config.compile = m == "always" ? wasm::CompileMode::kAlways
                                : m == "auto" ? wasm::CompileMode::kAuto
                                              : wasm::CompileMode::kNever;
    } else if (a == "--compile-cache" && i + 1 < argc) {
      g_engine_config.compile_cache_dir = argv[++i];
    } else {
      std::fprintf(stderr, "usage: coldstart [--iterations N] [--data-bytes B] [--wasi MODULE.wasm] "
                           "[--compiled MODULE.wasm]... [--json] [--compile never|auto|always] [--compile-cache DIR]\n");
      return 2;
    }
  }

  Bytes data_module = wasmq::bench::DataModule(data_bytes);
  int32_t data_expect;
  {
    Bytes payload = wasmq::bench::PseudoRandom(data_bytes, 0x1234567);
    uint32_t w = 0;
    if (data_bytes >= 4100) std::memcpy(&w, payload.data() + 4096, 4);
    data_expect = static_cast<int32_t>(w);
  }
  std::vector<Row> rows;
  rows.push_back(Measure("tiny", wasmq::bench::TinyModule(), iterations, 42));
  rows.push_back(
      Measure(std::to_string(data_bytes >> 10) + "KiB-data", data_module, iterations, data_expect));
  if (!wasi_module.empty()) rows.push_back(MeasureWasi(wasi_module, iterations));
  std::vector<CompiledRow> crows;
  crows.push_back(MeasureCompiled("tiny", wasmq::bench::TinyModule(), iterations, true, 42));
  crows.push_back(MeasureCompiled(std::to_string(data_bytes >> 10) + "KiB-data", data_module, iterations, true,
                                  data_expect));
  for (const std::string& path : compiled_modules) {
    std::ifstream in(path, std::ios::binary);
    Bytes bytes{std::istreambuf_iterator<char>(in), {}};
    if (bytes.empty()) {
      std::fprintf(stderr, "coldstart: cannot read %s\n", path.c_str());
      return 1;
    }
    crows.push_back(MeasureCompiled(path.substr(path.find_last_of('/') + 1), bytes,
                                    std::max(1, iterations / 10), false, 0));
  }
  auto per100k = [](const CompiledRow& r) {
    return r.wasm_code_bytes ? r.compile_ms * 100.0 * 1024.0 / static_cast<double>(r.wasm_code_bytes) : 0.0;
  };

  if (json) {
    std::printf("[\n");
    for (size_t i = 0; i < rows.size(); i++) {
      const Row& r = rows[i];
      std::printf(
          "  {\"module\": \"%s\", \"module_bytes\": %zu, \"compile_us\": %.1f, \"iterations\": %d, "
          "\"store_p50_us\": %.2f, \"instantiate_p50_us\": %.2f, \"call_p50_us\": %.2f, \"call2_p50_us\": "
          "%.2f, "
          "\"total_p50_us\": %.2f, \"total_p99_us\": %.2f, \"total_max_us\": %.2f, \"teardown_p50_us\": "
          "%.2f}%s\n",
          r.name.c_str(), r.module_bytes, r.compile_us, iterations, r.store.p50, r.inst.p50, r.call.p50,
          r.call2.p50, r.total.p50, r.total.p99, r.total.max, r.teardown.p50, ",");
    }
    for (size_t i = 0; i < crows.size(); i++) {
      const CompiledRow& r = crows[i];
      std::printf(
          "  {\"module\": \"%s\", \"tier\": \"compiled\", \"wasm_code_bytes\": %zu, \"machine_code_bytes\": %zu, "
          "\"compile_ms\": %.2f, \"compile_ms_per_100kib\": %.2f, \"cache_load_p50_us\": %.2f, "
          "\"cached_module_compile_p50_us\": %.2f, \"cached_module_compile_p99_us\": %.2f, "
          "\"cached_total_p50_us\": %.2f, \"cached_total_p99_us\": %.2f}%s\n",
          r.name.c_str(), r.wasm_code_bytes, r.machine_code_bytes, r.compile_ms, per100k(r), r.load.p50,
          r.module_compile.p50, r.module_compile.p99, r.total.p50, r.total.p99, i + 1 < crows.size() ? "," : "");
    }
    std::printf("]\n");
    return 0;
  }
  std::printf("cold start of a cached module: new Store + Instantiate + first call, %d iterations (us)\n",
              iterations);
  std::printf("%-14s %8s %8s | %7s %8s %7s | %9s %8s %8s | %7s %8s\n", "module", "bytes", "compile", "store",
              "inst", "call", "total p50", "p99", "max", "call2", "teardown");
  for (const Row& r : rows)
    std::printf("%-14s %8zu %8.1f | %7.2f %8.2f %7.2f | %9.2f %8.2f %8.2f | %7.2f %8.2f\n", r.name.c_str(),
                r.module_bytes, r.compile_us, r.store.p50, r.inst.p50, r.call.p50, r.total.p50, r.total.p99,
                r.total.max, r.call2.p50, r.teardown.p50);
  std::printf(
      "total = store + inst + call (new Store, Instantiate, first call); store/inst/call/call2/teardown are "
      "p50s;\n"
      "call2 = a second call on the same instance; compile = median Module::Compile, what the cache saves\n");
  std::printf("\ncompiling tier: compile into an empty cache, then cold start of the cached compiled module (us)\n");
  std::printf("%-22s %9s %9s %10s %11s | %9s %9s %9s | %9s %9s\n", "module", "wasm code", "x86 code",
              "compile ms", "ms/100KiB", "load p50", "Mod p50", "Mod p99", "total p50", "total p99");
  for (const CompiledRow& r : crows) {
    std::printf("%-22s %9zu %9zu %10.1f %11.1f | %9.2f %9.2f %9.2f | ", r.name.c_str(), r.wasm_code_bytes,
                r.machine_code_bytes, r.compile_ms, per100k(r), r.load.p50, r.module_compile.p50,
                r.module_compile.p99);
    if (r.ran) std::printf("%9.2f %9.2f\n", r.total.p50, r.total.p99);
    else std::printf("%9s %9s\n", "-", "-");
  }
  std::printf(
      "load = finding and loading the cached object (SHA-256 of the module, read, relocate, mprotect; no LLVM);\n"
      "Mod = Module::Compile with the code cached (decode, validate, internal code, load); total = Mod + new "
      "Store + Instantiate + first call\n");
  return 0;
}
