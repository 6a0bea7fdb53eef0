// Tests of guarded memories (src/wasm/guard.h) and the fault handler (src/wasm/jit/entry.cc): compiled
// code without bounds checks must trap exactly where the interpreter does, at every access width, at the
// largest offsets, after memory.grow and on several threads at once; a fault that is not compiled code's
// must still kill the process.
#include "wasm/guard.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "wasm/runtime.h"
#include "wasm/wasm.h"

namespace wasmq::wasm {
namespace {

std::vector<uint8_t> ReadModule(const std::string& name) {
  std::ifstream in(std::string(WASMQ_TEST_MODULES) + "/" + name + ".wasm", std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

struct Access {
  const char* name;
  uint32_t width;
  bool store;
};
constexpr Access kAccesses[] = {
    {"i32_load", 4, false},     {"i32_load8_s", 1, false},  {"i32_load8_u", 1, false},
    {"i32_load16_s", 2, false}, {"i32_load16_u", 2, false}, {"i64_load", 8, false},
    {"i64_load8_s", 1, false},  {"i64_load8_u", 1, false},  {"i64_load16_s", 2, false},
    {"i64_load16_u", 2, false}, {"i64_load32_s", 4, false}, {"i64_load32_u", 4, false},
    {"f32_load", 4, false},     {"f64_load", 8, false},     {"i32_store", 4, true},
    {"i32_store8", 1, true},    {"i32_store16", 2, true},   {"i64_store", 8, true},
    {"i64_store8", 1, true},    {"i64_store16", 2, true},   {"i64_store32", 4, true},
    {"f32_store", 4, true},     {"f64_store", 8, true},
};

// One instance of guard.wat in its own store. `poke` is the host function the module imports: by default
// it writes one byte at the given address of the memory (bounds-checked against the current size).
struct Guarded {
  explicit Guarded(const Engine& engine, HostFunc poke = nullptr) : store(engine) {
    auto m = Module::Compile(engine, ReadModule("guard"));
    EXPECT_TRUE(m.ok()) << m.error().message;
    module = *m;
    if (!poke)
      poke = [this](HostContext&, uint64_t* s) -> Result<void> {
        if (s[0] < MemorySize(mem)) MemoryData(mem)[s[0]] = 1;
        return {};
      };
    Imports imports;
    imports.Add("host", "poke",
                Extern{ExternKind::Func, store.NewHostFunc({{ValType::I32}, {}}, poke, "poke")});
    auto i = store.Instantiate(*module, imports);
    EXPECT_TRUE(i.ok()) << i.error().message;
    inst = *i;
    mem = inst.GetMemory("mem");
  }
  // "ok" or the error's message.
  std::string Run(const std::string& fn, uint32_t addr) {
    auto r = store.Call(inst.GetFunc(fn), {Value::I32(static_cast<int32_t>(addr))});
    return r.ok() ? "ok" : r.error().message;
  }

  Store store;
  std::shared_ptr<const Module> module;
  Instance inst{nullptr};
  MemInst* mem = nullptr;
};

EngineConfig Compiling(MemoryGuards guards) {
  EngineConfig c;
  c.compile = CompileMode::kAlways;
  c.memory_guards = guards;
  return c;
}

TEST(GuardTest, CompiledEnginesGuardTheirMemoriesAndDropTheChecks) {
  Engine on(Compiling(MemoryGuards::kOn)), off(Compiling(MemoryGuards::kOff));
  Engine interp;  // kNever: no guards, whatever the setting
  Guarded g(on), c(off), i(interp);
  EXPECT_TRUE(g.mem->guarded);
  EXPECT_EQ(g.mem->reserved, kGuardedBytes);
  EXPECT_TRUE(g.module->impl().jit_guards);
  EXPECT_TRUE(IsGuardedAddress(reinterpret_cast<uintptr_t>(MemoryData(g.mem)) + kGuardedBytes - 1));
  EXPECT_FALSE(c.mem->guarded);
  EXPECT_FALSE(c.module->impl().jit_guards);
  EXPECT_FALSE(i.mem->guarded);
  EXPECT_EQ(g.module->tier(), Module::Tier::kCompiled);
}

// Each access at the last in-bounds address, one past it, straddling the end, and with the largest
// offset: the compiled tiers (guards and checks) answer as the interpreter.
TEST(GuardTest, EveryAccessWidthTrapsWhereTheInterpreterDoes) {
  Engine on(Compiling(MemoryGuards::kOn)), off(Compiling(MemoryGuards::kOff)), interp;
  Guarded g(on), c(off), i(interp);
  const uint32_t size = 65536;
  for (const Access& a : kAccesses) {
    const std::string far = std::string(a.name) + "_far";
    struct Case {
      std::string fn;
      uint32_t addr;
    };
    const Case cases[] = {{a.name, size - a.width},
                          {a.name, size - a.width + 1},
                          {a.name, size},
                          {a.name, 0xFFFFFFFFu},
                          {a.name, 0x80000000u},
                          {far, 0},
                          {far, 1},
                          {far, 0xFFFFFFFFu}};
    for (const Case& k : cases) {
      const std::string want = i.Run(k.fn, k.addr);
      EXPECT_EQ(g.Run(k.fn, k.addr), want) << k.fn << "(" << k.addr << ") guarded";
      EXPECT_EQ(c.Run(k.fn, k.addr), want) << k.fn << "(" << k.addr << ") checked";
    }
    EXPECT_EQ(i.Run(a.name, size - a.width), "ok") << a.name;
    EXPECT_EQ(i.Run(a.name, size - a.width + 1), "out of bounds memory access") << a.name;
  }
}

TEST(GuardTest, TrapHasTheInterpretersBacktraceAndTheStoreStaysUsable) {
  Engine on(Compiling(MemoryGuards::kOn)), interp;
  Guarded g(on), i(interp);
  ASSERT_EQ(g.Run("i64_load_far", 7), "out of bounds memory access");
  ASSERT_EQ(i.Run("i64_load_far", 7), "out of bounds memory access");
  ASSERT_EQ(g.store.last_backtrace().size(), i.store.last_backtrace().size());
  for (size_t k = 0; k < g.store.last_backtrace().size(); ++k)
    EXPECT_EQ(g.store.last_backtrace()[k].function, i.store.last_backtrace()[k].function);
  EXPECT_EQ(g.Run("i32_store", 100), "ok");
  EXPECT_EQ(g.Run("i32_store", 65536), "out of bounds memory access");  // and again: the signal is unblocked
}

TEST(GuardTest, GrownPagesBecomeAccessibleAndTheNewEndTraps) {
  Engine on(Compiling(MemoryGuards::kOn));
  Guarded g(on);
  EXPECT_EQ(g.Run("i32_load", 65536), "out of bounds memory access");
  auto r = g.store.Call(g.inst.GetFunc("grow"), {Value::I32(2)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].i32(), 1);
  EXPECT_EQ(g.Run("i32_store", 65536), "ok");
  EXPECT_EQ(g.Run("f64_load", 3 * 65536 - 8), "ok");
  EXPECT_EQ(g.Run("f64_load", 3 * 65536 - 7), "out of bounds memory access");
  // Past the declared maximum (4 pages) the grow fails and the bound stays.
  r = g.store.Call(g.inst.GetFunc("grow"), {Value::I32(2)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].i32(), -1);
  EXPECT_EQ(g.Run("i32_load8_u", 3 * 65536), "out of bounds memory access");
}

TEST(GuardTest, TrapsOnSeveralThreadsAtOnce) {
  Engine on(Compiling(MemoryGuards::kOn));
  std::vector<std::thread> threads;
  std::vector<int> traps(4, 0), oks(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      Guarded g(on);
      for (int k = 0; k < 300; ++k) {
        if (g.Run("i64_load", 65536 - 4 + static_cast<uint32_t>(k % 4)) == "out of bounds memory access")
          traps[t]++;
        if (g.Run("i32_store16", static_cast<uint32_t>(k * 8)) == "ok") oks[t]++;
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(traps[t], 300) << "thread " << t;
    EXPECT_EQ(oks[t], 300) << "thread " << t;
  }
}

// Code compiled for guard pages never runs on a memory without them: an instance whose memory 0 is
// imported from an interpreting engine (a plain reservation) stays interpreted.
TEST(GuardTest, UnguardedImportedMemoryKeepsItsInstanceInterpreted) {
  Engine on(Compiling(MemoryGuards::kOn)), interp;
  auto module = Module::Compile(on, ReadModule("imported_memory"));
  ASSERT_TRUE(module.ok()) << module.error().message;
  ASSERT_TRUE((*module)->impl().jit_guards);
  auto instantiate = [&](Store& store, Store& owner) {
    Imports imports;
    imports.Add("env", "memory", Extern{ExternKind::Memory, owner.NewMemory({Limits{2, 40}})});
    imports.Add("env", "table",
                Extern{ExternKind::Table,
                       store.NewTable({ValType::FuncRef, Limits{3, {}}}, Value::NullRef(ValType::FuncRef))});
    auto inst = store.Instantiate(**module, imports);
    EXPECT_TRUE(inst.ok()) << inst.error().message;
    return *inst;
  };
  Store plain_owner(interp), store(on);
  Instance blocked = instantiate(store, plain_owner);
  EXPECT_TRUE(blocked.GetFunc("size")->instance->jit_blocked);
  EXPECT_EQ(blocked.GetFunc("size")->jit_code, nullptr);
  auto r = store.Call(blocked.GetFunc("size"), {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)[0].i32(), 2);

  Store guarded_store(on);
  Instance compiled = instantiate(guarded_store, guarded_store);
  EXPECT_FALSE(compiled.GetFunc("size")->instance->jit_blocked);
  EXPECT_NE(compiled.GetFunc("size")->jit_code, nullptr);
}

// The process died of the fault rather than going on: killed by SIGSEGV, or, in a sanitizer build, ended by
// the sanitizer's own report (exit status 1). A fault taken for a Wasm trap would reach std::exit(0).
bool CrashedOnTheFault(int status) {
  return (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
}

TEST(GuardDeathTest, AFaultInHostCodeStillCrashes) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Engine on(Compiling(MemoryGuards::kOn));
  // The host function writes past the memory's size, into the guard region, while called from
  // compiled code: that is a host bug, not a Wasm trap.
  EXPECT_EXIT(
      {
        MemInst* mem = nullptr;
        Guarded g(on, [&mem](HostContext&, uint64_t* s) -> Result<void> {
          MemoryData(mem)[MemorySize(mem) + s[0]] = 1;
          return {};
        });
        mem = g.mem;
        (void)g.Run("call_poke", 4096);
        std::exit(0);
      },
      CrashedOnTheFault, "");
  // And a plain crash outside any wasm is untouched by the installed handler.
  Guarded g(on);
  ASSERT_EQ(g.Run("i32_load", 70000), "out of bounds memory access");  // the handler is installed
  EXPECT_EXIT(
      {
        volatile int* p = nullptr;
        *p = 1;
        std::exit(0);
      },
      CrashedOnTheFault, "");
}

}  // namespace
}  // namespace wasmq::wasm
