// Fuzz target: differential execution. Each input becomes a module that runs in the interpreter (the
// reference) and with the compiler forced (EngineConfig::compile = kAlways), each in a fresh store with
// the same fuel; results, traps and the exported state must agree (tests/wasm/gen/diff_harness.h). A
// difference aborts, so libFuzzer keeps the input. Three modes, by the input's first bytes:
//   - "\0asm...": the input is a module as is; every exported function runs with zero arguments.
//   - first byte 0xff, with WASMQ_DIFF_SPEC_DIR set (scripts/test sets it to BUILD_DIR/spec, the spec
//     suite's modules after `ninja spec_json`): a module of the suite, picked and then mutated by the
//     input's bytes (overwrites, inserts, deletes); what still validates runs with zero arguments.
//   - anything else: a module from the generator (tests/wasm/gen/wasm_gen.h), driven by the input after
//     its first byte, and calls with arguments from what the generator left of it. Its NaNs are
//     canonicalised, so everything compares bit for bit.
// Modules of the first two modes may leave implementation-chosen NaN bits in memory or in integers
// (their NaN results compare by class only): check such a finding for that before calling it a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gen/diff_harness.h"
#include "gen/wasm_gen.h"
#include "wasm/wasm.h"

using namespace wasmq::wasm;

namespace {

std::vector<std::vector<uint8_t>>& SpecModules() {
  static std::vector<std::vector<uint8_t>> modules;
  return modules;
}

void LoadSpecModules() {
  const char* dir = std::getenv("WASMQ_DIFF_SPEC_DIR");
  if (dir == nullptr || !std::filesystem::is_directory(dir)) return;
  const Engine engine;
  std::vector<std::filesystem::path> paths;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".wasm") paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());  // the same input picks the same module on every run
  for (const auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
    if (Module::Compile(engine, bytes).ok()) SpecModules().push_back(std::move(bytes));
  }
  std::fprintf(stderr, "fuzz_diff: %zu valid spec modules from %s\n", SpecModules().size(), dir);
}

std::vector<uint8_t> MutateSpecModule(gen::Entropy& in) {
  const auto& all = SpecModules();
  std::vector<uint8_t> m = all[in.Below(static_cast<uint32_t>(all.size()))];
  for (uint32_t i = 0, n = in.Range(1, 8); i < n && !m.empty(); ++i) {
    uint32_t at = 8 + in.Below(static_cast<uint32_t>(m.size() > 8 ? m.size() - 8 : 1));  // keep the header
    if (at >= m.size()) continue;
    switch (in.Below(4)) {
      case 0: m.insert(m.begin() + at, in.Byte()); break;
      case 1: m.erase(m.begin() + at); break;
      case 2: m[at] ^= static_cast<uint8_t>(1u << in.Below(8)); break;
      default: m[at] = in.Byte(); break;
    }
  }
  return m;
}

[[noreturn]] void Mismatch(const diff::Report& r, const std::vector<uint8_t>& wasm) {
  std::fprintf(stderr, "fuzz_diff: %s\n", r.mismatch->c_str());
  std::ofstream("fuzz_diff_mismatch.wasm", std::ios::binary)
      .write(reinterpret_cast<const char*>(wasm.data()), static_cast<std::streamsize>(wasm.size()));
  std::fprintf(stderr, "fuzz_diff: module written to fuzz_diff_mismatch.wasm\n");
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  LoadSpecModules();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const diff::Differ exact{diff::Options{}};
  static const diff::Differ foreign{[] {
    diff::Options o;
    o.exact_nans = false;
    o.fuel = 100'000;  // modules not from the generator may loop forever
    return o;
  }()};
  std::span<const uint8_t> input(data, size);
  static constexpr uint8_t kMagic[] = {0x00, 0x61, 0x73, 0x6d};
  if (size >= 4 && std::equal(kMagic, kMagic + 4, data)) {
    auto calls = diff::PlanCalls(input, nullptr);
    diff::Report r = foreign.Run(input, calls);
    if (r.mismatch) Mismatch(r, {data, data + size});
    return 0;
  }
  gen::Entropy in(input.subspan(size > 0 ? 1 : 0));
  if (size > 0 && data[0] == 0xff && !SpecModules().empty()) {
    std::vector<uint8_t> wasm = MutateSpecModule(in);
    auto calls = diff::PlanCalls(wasm, nullptr);
    if (calls.empty()) return 0;  // no longer valid, or nothing to call
    diff::Report r = foreign.Run(wasm, calls);
    if (r.mismatch) Mismatch(r, wasm);
    return 0;
  }
  std::vector<uint8_t> wasm = gen::GenerateModule(in);
  auto calls = diff::PlanCalls(wasm, &in, 2);
  diff::Report r = exact.Run(wasm, calls);
  if (!r.compiled) {
    diff::Report invalid;
    invalid.mismatch = "the generator made a module that does not compile";
    Mismatch(invalid, wasm);
  }
  if (r.mismatch) Mismatch(r, wasm);
  return 0;
}
