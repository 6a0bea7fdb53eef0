// The random module generator (gen/wasm_gen.h) and the differential harness (gen/diff_harness.h): every
// generated module validates (in our engine, and in wabt's wasm-validate as a second opinion), a fixed
// set of seeds runs alike in the interpreter and with the compiler forced, and the harness does report a
// difference when one is planted.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "../require_tool.h"
#include "gen/diff_harness.h"
#include "gen/wasm_gen.h"
#include "wasm/wasm.h"

namespace wasmq::wasm {
namespace {

// prefix + n + suffix (appending, not operator+ on a literal: GCC 12's -Wrestrict misfires on that at -O3).
std::string Numbered(const char* prefix, uint64_t n, const char* suffix = "") {
  std::string s(prefix);
  s += std::to_string(n);
  s += suffix;
  return s;
}

std::vector<uint8_t> ModuleOfSeed(uint64_t seed, const gen::GenOptions& options = {}) {
  auto bytes = gen::SeedBytes(seed);
  gen::Entropy in(bytes);
  return gen::GenerateModule(in, options);
}

// Where a failing seed's module goes, for wasm2wat and `wasmq spectest`-free debugging.
std::string SaveModule(const std::vector<uint8_t>& wasm, const std::string& name) {
  auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(wasm.data()),
                                              static_cast<std::streamsize>(wasm.size()));
  return path.string();
}

TEST(WasmGen, SameBytesSameModule) {
  EXPECT_EQ(ModuleOfSeed(7), ModuleOfSeed(7));
  EXPECT_NE(ModuleOfSeed(7), ModuleOfSeed(8));
}

TEST(WasmGen, EveryInputGivesAValidModule) {
  const Engine engine;
  // Short and empty inputs: every choice past the end is the smallest.
  for (size_t n : {0, 1, 7, 64}) {
    std::vector<uint8_t> bytes(n, 0xff);
    gen::Entropy in(bytes);
    auto wasm = gen::GenerateModule(in);
    auto m = Module::Compile(engine, wasm);
    EXPECT_TRUE(m.ok()) << n << " bytes of 0xff: " << m.error().message;
  }
  size_t total_bytes = 0;
  for (uint64_t seed = 0; seed < 3000; ++seed) {
    auto wasm = ModuleOfSeed(seed, gen::GenOptions{.canonicalize_nans = seed % 2 == 0});
    total_bytes += wasm.size();
    auto m = Module::Compile(engine, wasm);
    ASSERT_TRUE(m.ok()) << "seed " << seed << ": " << m.error().message << " (module saved to "
                        << SaveModule(wasm, Numbered("wasm_gen_seed_", seed, ".wasm")) << ")";
  }
  // Not trivially small: the generator reaches into bodies.
  EXPECT_GT(total_bytes / 3000, 500u);
}

TEST(WasmGen, WabtAgreesTheModulesAreValid) {
  WASMQ_REQUIRE(std::system("wasm-validate --help >/dev/null 2>&1") == 0, "wasm-validate (wabt) not found");
  auto dir =
      std::filesystem::temp_directory_path() / Numbered("wasm_gen_wabt.", static_cast<uint64_t>(getpid()));
  std::filesystem::create_directories(dir);
  for (uint64_t seed = 0; seed < 150; ++seed) {
    auto path = (dir / Numbered("seed_", seed, ".wasm")).string();
    auto wasm = ModuleOfSeed(seed * 7919);
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(wasm.data()),
                                                static_cast<std::streamsize>(wasm.size()));
    std::string cmd = "wasm-validate '";
    cmd += path;
    cmd += "' 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "wasm-validate rejects seed " << seed * 7919 << ": " << path;
    std::filesystem::remove(path);
  }
  std::filesystem::remove_all(dir);
}

// Every non-SIMD instruction, and SIMD instructions of every shape, appear in the generated code (read
// back with wabt's disassembler).
TEST(WasmGen, CoversEveryInstruction) {
  WASMQ_REQUIRE(std::system("wasm-objdump --help >/dev/null 2>&1") == 0, "wasm-objdump (wabt) not found");
  static const char* const kExpected[] = {
      "unreachable", "nop", "block", "loop", "if", "else", "br", "br_if", "br_table", "return", "call",
      "call_indirect", "drop", "select", "local.get", "local.set", "local.tee", "global.get", "global.set",
      "table.get", "table.set", "table.size", "table.grow", "table.fill", "table.copy", "table.init",
      "elem.drop", "memory.size", "memory.grow", "memory.fill", "memory.copy", "memory.init", "data.drop",
      "ref.null", "ref.is_null", "ref.func", "i32.const", "i64.const", "f32.const", "f64.const",
      "i32.load", "i64.load", "f32.load", "f64.load", "i32.load8_s", "i32.load8_u", "i32.load16_s",
      "i32.load16_u", "i64.load8_s", "i64.load8_u", "i64.load16_s", "i64.load16_u", "i64.load32_s",
      "i64.load32_u", "i32.store", "i64.store", "f32.store", "f64.store", "i32.store8", "i32.store16",
      "i64.store8", "i64.store16", "i64.store32",
      "i32.eqz", "i32.eq", "i32.ne", "i32.lt_s", "i32.lt_u", "i32.gt_s", "i32.gt_u", "i32.le_s", "i32.le_u",
      "i32.ge_s", "i32.ge_u", "i64.eqz", "i64.eq", "i64.ne", "i64.lt_s", "i64.lt_u", "i64.gt_s", "i64.gt_u",
      "i64.le_s", "i64.le_u", "i64.ge_s", "i64.ge_u", "f32.eq", "f32.ne", "f32.lt", "f32.gt", "f32.le",
      "f32.ge", "f64.eq", "f64.ne", "f64.lt", "f64.gt", "f64.le", "f64.ge",
      "i32.clz", "i32.ctz", "i32.popcnt", "i32.add", "i32.sub", "i32.mul", "i32.div_s", "i32.div_u",
      "i32.rem_s", "i32.rem_u", "i32.and", "i32.or", "i32.xor", "i32.shl", "i32.shr_s", "i32.shr_u",
      "i32.rotl", "i32.rotr", "i64.clz", "i64.ctz", "i64.popcnt", "i64.add", "i64.sub", "i64.mul",
      "i64.div_s", "i64.div_u", "i64.rem_s", "i64.rem_u", "i64.and", "i64.or", "i64.xor", "i64.shl",
      "i64.shr_s", "i64.shr_u", "i64.rotl", "i64.rotr",
      "f32.abs", "f32.neg", "f32.ceil", "f32.floor", "f32.trunc", "f32.nearest", "f32.sqrt", "f32.add",
      "f32.sub", "f32.mul", "f32.div", "f32.min", "f32.max", "f32.copysign", "f64.abs", "f64.neg",
      "f64.ceil", "f64.floor", "f64.trunc", "f64.nearest", "f64.sqrt", "f64.add", "f64.sub", "f64.mul",
      "f64.div", "f64.min", "f64.max", "f64.copysign",
      "i32.wrap_i64", "i32.trunc_f32_s", "i32.trunc_f32_u", "i32.trunc_f64_s", "i32.trunc_f64_u",
      "i64.extend_i32_s", "i64.extend_i32_u", "i64.trunc_f32_s", "i64.trunc_f32_u", "i64.trunc_f64_s",
      "i64.trunc_f64_u", "f32.convert_i32_s", "f32.convert_i32_u", "f32.convert_i64_s", "f32.convert_i64_u",
      "f32.demote_f64", "f64.convert_i32_s", "f64.convert_i32_u", "f64.convert_i64_s", "f64.convert_i64_u",
      "f64.promote_f32", "i32.reinterpret_f32", "i64.reinterpret_f64", "f32.reinterpret_i32",
      "f64.reinterpret_i64", "i32.extend8_s", "i32.extend16_s", "i64.extend8_s", "i64.extend16_s",
      "i64.extend32_s", "i32.trunc_sat_f32_s", "i32.trunc_sat_f32_u", "i32.trunc_sat_f64_s",
      "i32.trunc_sat_f64_u", "i64.trunc_sat_f32_s", "i64.trunc_sat_f32_u", "i64.trunc_sat_f64_s",
      "i64.trunc_sat_f64_u",
      // SIMD: one of each shape (constants, splats, lanes, shuffles, loads/stores and their lane forms,
      // unary/binary/ternary ops, shifts, tests, float arithmetic)
      "v128.const", "i8x16.splat", "f64x2.splat", "i8x16.extract_lane_s", "i64x2.extract_lane",
      "f32x4.replace_lane", "i8x16.shuffle", "i8x16.swizzle", "v128.load", "v128.load8x8_s",
      "v128.load32_splat", "v128.load64_zero", "v128.load16_lane", "v128.store", "v128.store32_lane",
      "v128.bitselect", "v128.any_true", "i16x8.all_true", "i32x4.bitmask", "i8x16.shl",
      "i64x2.shr_s", "i32x4.dot_i16x8_s", "i8x16.narrow_i16x8_u",
      "f32x4.add", "f64x2.sqrt", "f32x4.nearest", "f64x2.promote_low_f32x4"};
  auto dir =
      std::filesystem::temp_directory_path() / Numbered("wasm_gen_objdump.", static_cast<uint64_t>(getpid()));
  std::filesystem::create_directories(dir);
  std::set<std::string> seen;
  for (uint64_t seed = 0; seed < 120; ++seed) {
    auto wasm = ModuleOfSeed(seed);
    std::string path = (dir / "m.wasm").string(), listing = (dir / "m.txt").string();
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(wasm.data()),
                                                static_cast<std::streamsize>(wasm.size()));
    std::string cmd = "wasm-objdump -d '";
    cmd += path;
    cmd += "' > '";
    cmd += listing;
    cmd += "' 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "seed " << seed;
    std::ifstream in(listing);
    for (std::string line; std::getline(in, line);) {
      size_t bar = line.find("| ");
      if (bar == std::string::npos) continue;
      size_t start = line.find_first_not_of(' ', bar + 1);  // nested code is indented
      if (start == std::string::npos) continue;
      std::string op = line.substr(start);
      seen.insert(op.substr(0, op.find(' ')));
    }
  }
  std::filesystem::remove_all(dir);
  std::string missing;
  for (const char* op : kExpected)
    if (!seen.count(op)) missing += std::string(" ") + op;
  EXPECT_TRUE(missing.empty()) << "never generated:" << missing;
}

// fuzz_diff's seed corpus, findings included, read the way fuzz_diff reads an input (first byte: mode).
TEST(Differential, FuzzCorpusRunsAlike) {
  const Engine engine;
  const diff::Differ exact{diff::Options{}};
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(WASMQ_FUZZ_DIFF_CORPUS)) {
    std::ifstream f(e.path(), std::ios::binary);
    std::vector<uint8_t> input{std::istreambuf_iterator<char>(f), {}};
    bool raw = input.size() >= 4 && std::memcmp(input.data(), "\0asm", 4) == 0;
    if (input.empty() || raw || input[0] == 0xff) continue;  // raw modules, spec-mutation inputs
    gen::Entropy in(std::span<const uint8_t>(input).subspan(1));
    auto wasm = gen::GenerateModule(in);
    auto m = Module::Compile(engine, wasm);
    ASSERT_TRUE(m.ok()) << e.path() << ": " << m.error().message;
    diff::Report r = exact.Run(wasm, diff::PlanCalls(wasm, &in, 2));
    EXPECT_FALSE(r.mismatch) << e.path() << ": " << *r.mismatch;
    ++n;
  }
  EXPECT_GT(n, 5u);
}

// The fixed seeds of the differential suite: the interpreter against the engine with the compiler
// forced (the interpreter too until the compiling tier lands; then this is its correctness net).
// 500 seeds by default: each module is really compiled by LLVM (several ms each), and fuzz_diff explores
// further in the fuzz stage; WASMQ_DIFF_SEEDS=N runs more.
uint64_t DifferentialSeeds() {
  const char* env = std::getenv("WASMQ_DIFF_SEEDS");
  return env != nullptr && *env != '\0' ? std::strtoull(env, nullptr, 10) : 500;
}

TEST(Differential, GeneratedModulesRunAlikeInBothTiers) {
  const diff::Differ differ{diff::Options{}};
  size_t calls = 0, ok = 0, traps = 0, instantiated = 0;
  const uint64_t seeds = DifferentialSeeds();
  for (uint64_t seed = 0; seed < seeds; ++seed) {
    auto bytes = gen::SeedBytes(seed);
    gen::Entropy in(bytes);
    auto wasm = gen::GenerateModule(in);
    auto plan = diff::PlanCalls(wasm, &in, 2);
    diff::Report r = differ.Run(wasm, plan);
    ASSERT_TRUE(r.compiled) << "seed " << seed;
    ASSERT_FALSE(r.mismatch) << "seed " << seed << ": " << *r.mismatch << "\n(module saved to "
                             << SaveModule(wasm, Numbered("diff_seed_", seed, ".wasm")) << ")";
    EXPECT_FALSE(r.stopped_early) << "seed " << seed << ": generated modules must not need the fuel limit";
    instantiated += r.instantiated;
    calls += r.calls_compared;
  }
  // The generated code does something, and not only trap: count outcomes in the reference alone.
  const Engine engine;
  std::map<std::string, size_t> trap_messages;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    auto wasm = ModuleOfSeed(seed);
    auto m = Module::Compile(engine, wasm);
    ASSERT_TRUE(m.ok());
    Store store(engine);
    auto inst = store.Instantiate(**m, Imports{});
    if (!inst) continue;
    for (const auto& [name, ext] : inst->exports()) {
      FuncInst* f = ext.func();
      if (f == nullptr) continue;
      std::vector<Value> args;
      for (ValType t : GetFuncType(f).params) args.push_back(Value{t, 0});
      auto r = store.Call(f, args);
      (r.ok() ? ok : traps) += 1;
      if (!r.ok()) ++trap_messages[r.error().message];
    }
  }
  std::printf(
      "%zu modules instantiated, %zu calls compared; with zero arguments: %zu returned, %zu trapped:\n",
      instantiated, calls, ok, traps);
  for (const auto& [message, n] : trap_messages) std::printf("  %5zu %s\n", n, message.c_str());
  // About 97% of the generated modules instantiate and ~7 calls are compared per module (3 000 seeds: 2 900+
  // instances, 20 900 calls).
  EXPECT_GT(instantiated, seeds * 29 / 30);
  EXPECT_GT(calls, seeds * 10 / 3);
  EXPECT_GT(ok, 150u) << "calls that return";
  EXPECT_GT(traps, 50u) << "calls that trap";
}

// The reference itself against an independent one: wabt's wasm-interp runs the same generated modules'
// exports without parameters, in order, in one instance. Floats are compared as wasm-interp prints them
// (%f), trap messages up to wasm-interp's detail, in our words.
TEST(Differential, InterpreterAgreesWithWabt) {
  WASMQ_REQUIRE(std::system("wasm-interp --help >/dev/null 2>&1") == 0, "wasm-interp (wabt) not found");
  auto format = [](const Value& v) {
    char b[400];  // %f of the largest double: 309 digits and the decimals
    switch (v.type) {
      case ValType::I32: std::snprintf(b, sizeof b, "i32:%u", static_cast<uint32_t>(v.bits)); break;
      case ValType::I64:
        std::snprintf(b, sizeof b, "i64:%llu", static_cast<unsigned long long>(v.bits));
        break;
      case ValType::F32: std::snprintf(b, sizeof b, "f32:%f", static_cast<double>(v.f32())); break;
      default: std::snprintf(b, sizeof b, "f64:%f", v.f64()); break;
    }
    return std::string(b);
  };
  // wasm-interp's trap messages, cut at their detail (": access at ..."), in the spec's words.
  auto theirs_in_our_words = [](std::string text) {
    static const char* const kWords[][2] = {
        {"uninitialized table element", "uninitialized element"},
        {"undefined table index", "undefined element"},
        {"indirect call signature mismatch", "indirect call type mismatch"},
        {"unreachable executed", "unreachable"}};
    std::istringstream lines(text);
    std::string out;
    for (std::string line; std::getline(lines, line);) {
      if (size_t e = line.find("error: "); e != std::string::npos)
        line = line.substr(0, line.find(':', e + 7));
      for (const auto& [from, to] : kWords)
        if (size_t k = line.find(from); k != std::string::npos) line.replace(k, std::strlen(from), to);
      out += line;
      out += '\n';
    }
    return out;
  };
  const Engine engine;
  auto path = (std::filesystem::temp_directory_path() /
               Numbered("wasm_gen_interp.", static_cast<uint64_t>(getpid()), ".wasm"))
                  .string();
  for (uint64_t seed = 0; seed < 200; ++seed) {
    auto wasm = ModuleOfSeed(seed);
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(wasm.data()), static_cast<std::streamsize>(wasm.size()));
    std::string ours;
    auto m = Module::Compile(engine, wasm);
    ASSERT_TRUE(m.ok());
    Store store(engine);
    auto inst = store.Instantiate(**m, Imports{});
    ASSERT_TRUE(inst.ok()) << "seed " << seed;
    for (const auto& [name, ext] : inst->exports()) {
      FuncInst* f = ext.func();
      if (f == nullptr || !GetFuncType(f).params.empty()) continue;
      auto r = store.Call(f, {});
      ours += name;
      ours += "() =>";
      if (!r.ok()) {
        ours += " error: ";
        ours += r.error().message;
      } else {
        for (size_t i = 0; i < r->size(); ++i) ours += (i ? ", " : " ") + format((*r)[i]);
      }
      ours += '\n';
    }
    std::string cmd = "wasm-interp --run-all-exports '";
    cmd += path;
    cmd += "' 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string theirs;
    char buf[4096];
    while (std::fgets(buf, sizeof buf, p) != nullptr) theirs += buf;
    pclose(p);
    ASSERT_EQ(ours, theirs_in_our_words(theirs))
        << "seed " << seed << " (module saved to "
        << SaveModule(wasm, Numbered("wasm_gen_seed_", seed, ".wasm")) << ")";
  }
  std::filesystem::remove(path);
}

// A seed whose first call returns a value of type `t`.
// (With need_memory: and whose memory is not empty.)
std::optional<std::pair<std::vector<uint8_t>, std::vector<diff::Call>>> FindReturning(
    ValType t, bool need_memory = false) {
  for (uint64_t seed = 0; seed < 500; ++seed) {
    auto bytes = gen::SeedBytes(seed);
    gen::Entropy in(bytes);
    auto wasm = gen::GenerateModule(in);
    auto plan = diff::PlanCalls(wasm, &in, 1);
    bool found = false;
    diff::Options probe;
    probe.tamper = [&](bool, size_t call, Instance& inst, diff::CallOutcome& out) {
      if (call == 0 && out.ok && !out.results.empty() && out.results[0].type == t &&
          (!need_memory || MemorySize(inst.GetMemory("mem")) > 0))
        found = true;
    };
    if (diff::Differ(probe).Run(wasm, plan).mismatch) continue;
    if (found) return std::make_pair(wasm, plan);
  }
  return std::nullopt;
}

// The hooks below change only the candidate's run (the reference is left as it ran).
TEST(Differential, ReportsAFlippedResult) {
  auto c = FindReturning(ValType::I32);
  ASSERT_TRUE(c);
  diff::Options o;
  o.tamper = [](bool candidate, size_t call, Instance&, diff::CallOutcome& out) {
    if (candidate && call == 0) out.results[0].bits ^= 1;
  };
  diff::Report r = diff::Differ(o).Run(c->first, c->second);
  ASSERT_TRUE(r.mismatch);
  EXPECT_NE(r.mismatch->find("call 0"), std::string::npos) << *r.mismatch;
}

TEST(Differential, ReportsAChangedMemory) {
  auto c = FindReturning(ValType::I32, /*need_memory=*/true);
  ASSERT_TRUE(c);
  diff::Options o;
  o.tamper = [](bool candidate, size_t call, Instance& inst, diff::CallOutcome&) {
    MemInst* m = inst.GetMemory("mem");
    if (candidate && call == 0) MemoryData(m)[MemorySize(m) - 1] ^= 0x5a;
  };
  diff::Report r = diff::Differ(o).Run(c->first, c->second);
  ASSERT_TRUE(r.mismatch);
  EXPECT_NE(r.mismatch->find("mem: memory of"), std::string::npos) << *r.mismatch;
}

TEST(Differential, ReportsAChangedGlobal) {
  auto c = FindReturning(ValType::I32);
  ASSERT_TRUE(c);
  diff::Options o;
  o.tamper = [](bool candidate, size_t call, Instance& inst, diff::CallOutcome&) {
    // g<last> is the generator's call budget: always there and mutable.
    for (int g = 6; g >= 0; --g) {
      if (GlobalInst* gi = inst.GetGlobal(Numbered("g", static_cast<uint64_t>(g)));
          gi && candidate && call == 0) {
        ASSERT_TRUE(SetGlobalValue(gi, Value::I32(GetGlobalValue(gi).i32() + 1)).ok());
        return;
      }
    }
  };
  diff::Report r = diff::Differ(o).Run(c->first, c->second);
  ASSERT_TRUE(r.mismatch);
  EXPECT_NE(r.mismatch->find("global i32:"), std::string::npos) << *r.mismatch;
}

TEST(Differential, ReportsADifferentTrap) {
  auto c = FindReturning(ValType::I32);
  ASSERT_TRUE(c);
  diff::Options o;
  o.tamper = [](bool candidate, size_t call, Instance&, diff::CallOutcome& out) {
    if (!candidate || call != 0) return;
    out.ok = false;
    out.error = MakeError(ErrorKind::Trap, "integer divide by zero");
  };
  diff::Report r = diff::Differ(o).Run(c->first, c->second);
  ASSERT_TRUE(r.mismatch);
  EXPECT_NE(r.mismatch->find("integer divide by zero"), std::string::npos) << *r.mismatch;
}

TEST(Differential, NaNsCompareByClassUnlessExact) {
  auto c = FindReturning(ValType::F32);
  ASSERT_TRUE(c);
  auto run = [&](bool exact, uint32_t ref_bits, uint32_t cand_bits) {
    diff::Options o;
    o.exact_nans = exact;
    o.tamper = [=](bool candidate, size_t call, Instance&, diff::CallOutcome& out) {
      if (call == 0) out.results[0].bits = candidate ? cand_bits : ref_bits;
    };
    return diff::Differ(o).Run(c->first, c->second).mismatch.has_value();
  };
  EXPECT_FALSE(run(false, 0x7fc00000, 0xffc00123)) << "two NaNs: equal by class";
  EXPECT_TRUE(run(true, 0x7fc00000, 0xffc00123)) << "two NaNs: different bits";
  EXPECT_TRUE(run(false, 0x7fc00000, 0x3f800000)) << "a NaN and 1.0";
  EXPECT_FALSE(run(true, 0x3f800000, 0x3f800000));
}

}  // namespace
}  // namespace wasmq::wasm
