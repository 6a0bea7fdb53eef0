// File: bench/density.cc
//
// Density: keeps N live instances of a pipeline-sized module (bench/modules.h PipelineModule: 2 MiB
// memory, 64 KiB data segment, a table, 9 functions) and reports the resident memory they cost.
//
//   bench/density [N=10000] [--shared-store] [--no-max] [--no-pool] [--touch BYTES] [--json]
//
// Each instance gets its own Store (what a worker gives each task) unless --shared-store. The engine pools
// (EngineConfig::pool_slots = N: every memory and value stack a slot of one mapping, data segments copied
// in) unless --no-pool, which gives each instance its own mappings (memory, value stack, memory image). After
// instantiating all N, every instance runs `work(touch)` once, which writes `touch` bytes of heap
// (default 16 KiB) as a task would. VmRSS (and the mapping count) is read from /proc/self before, after
// instantiation and after the calls.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "bench/modules.h"
#include "wasm/wasm.h"

namespace {

namespace wasm = wasmq::wasm;
using Clock = std::chrono::steady_clock;

// kB values of VmRSS/VmSize from /proc/self/status.
long StatusKb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  size_t n = std::strlen(key);
  while (std::getline(f, line))
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':')
      return std::atol(line.c_str() + n + 1);
  return -1;
}

// kB of proportional set size (shared pages divided among their mappers) from /proc/self/smaps_rollup:
// what the instances really cost once memory images share their pages (VmRSS counts a shared page once
// per mapping).
long PssKb() {
  std::ifstream f("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(f, line))
    if (line.compare(0, 4, "Pss:") == 0) return std::atol(line.c_str() + 4);
  return -1;
}

long MapCount() {
  std::ifstream f("/proc/self/maps");
  std::string line;
  long n = 0;
  while (std::getline(f, line)) n++;
  return n;
}

long MaxMapCount() {
  std::ifstream f("/proc/sys/vm/max_map_count");
  long v = -1;
  f >> v;
  return v;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// CPU seconds (user + system) of the process: the wall time of a loaded machine says little.
double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  long n = 10000;
  bool shared_store = false, json = false, declare_max = true, pool = true;
  int32_t touch = 16 * 1024;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--shared-store") {
      shared_store = true;
    } else if (a == "--no-max") {
      declare_max = false;  // memory without a declared maximum: the engine reserves 4 GiB of address space
    } else if (a == "--no-pool") {
      pool = false;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--touch" && i + 1 < argc) {
      touch = std::atoi(argv[++i]);
    } else if (!a.empty() && a[0] != '-') {
      n = std::atol(a.c_str());
    } else {
      std::fprintf(stderr,
                   "usage: density [N] [--shared-store] [--no-max] [--no-pool] [--touch BYTES] [--json]\n");
      return 2;
    }
  }
  if (touch < 0 || touch > (1 << 20)) touch = 1 << 20;

  wasm::EngineConfig config;
  if (pool) config.pool_slots = static_cast<uint32_t>(n);
  wasm::Engine engine(config);
  if (pool && engine.pool() == nullptr) {
    std::fprintf(stderr, "density: cannot reserve a pool of %ld slots\n", n);
    return 1;
  }
  auto bytes = wasmq::bench::PipelineModule(declare_max);
  auto compiled = wasm::Module::Compile(engine, bytes);
  if (!compiled.ok()) {
    std::fprintf(stderr, "density: compile: %s\n", compiled.error().message.c_str());
    return 1;
  }
  std::shared_ptr<const wasm::Module> module = compiled.value();
  wasm::Imports imports;

  const long rss0 = StatusKb("VmRSS"), pss0 = PssKb(), vsz0 = StatusKb("VmSize"), maps0 = MapCount();
  std::vector<std::unique_ptr<wasm::Store>> stores;
  std::vector<std::pair<wasm::Store*, wasm::FuncInst*>> live;
  stores.reserve(shared_store ? 1 : static_cast<size_t>(n));
  live.reserve(static_cast<size_t>(n));
  if (shared_store) stores.push_back(std::make_unique<wasm::Store>(engine));

  const double cpu0 = CpuSeconds();
  auto t0 = Clock::now();
  long made = 0;
  std::string failure;
  for (; made < n; made++) {
    if (!shared_store) stores.push_back(std::make_unique<wasm::Store>(engine));
    wasm::Store* store = stores.back().get();
    auto inst = store->Instantiate(*module, imports);
    if (!inst.ok()) {
      failure = inst.error().message;
      if (!shared_store) stores.pop_back();
      break;
    }
    live.emplace_back(store, inst->GetFunc("work"));
  }
  auto t1 = Clock::now();
  const double cpu1 = CpuSeconds();
  const long rss1 = StatusKb("VmRSS"), pss1 = PssKb(), vsz1 = StatusKb("VmSize"), maps1 = MapCount();

  uint64_t checksum = 0;
  long called = 0;
  for (auto& [store, fn] : live) {
    auto out = store->Call(fn, {wasm::Value::I32(touch)});
    if (!out.ok()) {
      failure = "call: " + out.error().message;
      break;
    }
    checksum = checksum * 31 + static_cast<uint32_t>((*out)[0].i32());
    called++;
  }
  auto t2 = Clock::now();
  const long rss2 = StatusKb("VmRSS"), pss2 = PssKb(), vsz2 = StatusKb("VmSize"), maps2 = MapCount();

  auto per = [&](long after, long before) { return made > 0 ? double(after - before) / double(made) : 0.0; };
  if (json) {
    std::printf(
        "{\"requested\": %ld, \"live\": %ld, \"called\": %ld, \"shared_store\": %s, \"pooled\": %s, "
        "\"touch_bytes\": %d, "
        "\"rss_kib_per_instance\": %.1f, \"rss_kib_per_instance_after_call\": %.1f, "
        "\"pss_kib_per_instance\": %.1f, \"pss_kib_per_instance_after_call\": %.1f, "
        "\"vsz_kib_per_instance\": %.1f, \"maps_per_instance\": %.2f, \"instantiate_s\": %.3f, "
        "\"instantiate_cpu_s\": %.3f, \"call_s\": %.3f, \"error\": \"%s\"}\n",
        n, made, called, shared_store ? "true" : "false", pool ? "true" : "false", touch, per(rss1, rss0),
        per(rss2, rss0), per(pss1, pss0), per(pss2, pss0), per(vsz1, vsz0), per(maps1, maps0),
        Seconds(t1 - t0), cpu1 - cpu0, Seconds(t2 - t1), failure.c_str());
  } else {
    std::printf(
        "density: %ld live instances of a pipeline-sized module (%zu bytes; 2 MiB memory%s, 64 KiB data), "
        "%s, %s\n",
        made, bytes.size(), declare_max ? " max 16 MiB" : " no max",
        shared_store ? "one shared Store" : "one Store each", pool ? "pooled" : "not pooled");
    std::printf("  instantiate all: %.3f s (%.1f us each; CPU %.1f us each)\n", Seconds(t1 - t0),
                made ? Seconds(t1 - t0) * 1e6 / double(made) : 0.0,
                made ? (cpu1 - cpu0) * 1e6 / double(made) : 0.0);
    std::printf("  RSS  before %8.1f MiB   after instantiate %8.1f MiB   after work(%d) %8.1f MiB\n",
                rss0 / 1024.0, rss1 / 1024.0, touch, rss2 / 1024.0);
    std::printf(
        "  per instance: %.1f KiB resident after instantiate, %.1f KiB after one call "
        "(%.1f MiB virtual, %.2f mappings)\n",
        per(rss1, rss0), per(rss2, rss0), per(vsz1, vsz0) / 1024.0, per(maps1, maps0));
    std::printf("  proportional (PSS, shared pages split): %.1f KiB after instantiate, %.1f KiB after one call\n",
                per(pss1, pss0), per(pss2, pss0));
    std::printf("  mappings: %ld of vm.max_map_count %ld; calls: %ld ok, %.1f us each; checksum %016llx\n",
                maps2, MaxMapCount(), called, called ? Seconds(t2 - t1) * 1e6 / double(called) : 0.0,
                static_cast<unsigned long long>(checksum));
    (void)vsz2;
  }
  if (!failure.empty()) {
    std::fprintf(stderr, "density: stopped after %ld instances: %s\n", made, failure.c_str());
    return 1;
  }
  return 0;
}
