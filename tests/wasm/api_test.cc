// Tests of the public embedding API (wasm.h) on real modules: limits that must become traps (call depth,
// fuel, interruption, memory cap), trap backtraces with names, host functions and linking.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <thread>

#include "wasm/wasm.h"

namespace wasmq::wasm {
namespace {

std::vector<uint8_t> ReadModule(const std::string& name) {
  std::ifstream in(std::string(WASMQ_TEST_MODULES) + "/" + name + ".wasm", std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class ApiTest : public ::testing::Test {
 protected:
  explicit ApiTest(EngineConfig config = {}) : engine_(config), store_(engine_) {}

  Instance Load(const std::string& name, const Imports& imports) {
    auto module = Module::Compile(engine_, ReadModule(name));
    EXPECT_TRUE(module.ok()) << module.error().message;
    modules_.push_back(*module);
    auto inst = store_.Instantiate(*modules_.back(), imports);
    EXPECT_TRUE(inst.ok()) << inst.error().message;
    return *inst;
  }

  Instance LoadLimits() {
    Imports imports;
    imports.Add("host", "add",
                Extern{ExternKind::Func,
                       store_.NewHostFunc({{ValType::I32, ValType::I32}, {ValType::I32}},
                                          [](HostContext&, uint64_t* s) -> Result<void> {
                                            s[0] = static_cast<uint32_t>(s[0] + s[1]);
                                            return {};
                                          })});
    imports.Add("host", "fail",
                Extern{ExternKind::Func, store_.NewHostFunc({}, [](HostContext&, uint64_t*) -> Result<void> {
                         return MakeError(ErrorKind::Trap, "host says no");
                       }, "host_fail")});
    return Load("limits", imports);
  }

  Engine engine_;
  Store store_;
  std::vector<std::shared_ptr<const Module>> modules_;
};

TEST_F(ApiTest, RunsAndReturnsResults) {
  Instance inst = LoadLimits();
  auto r = store_.Call(inst.GetFunc("fib"), {Value::I32(20)});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].i64(), 6765);
}

TEST_F(ApiTest, InfiniteRecursionIsCallStackExhausted) {
  Instance inst = LoadLimits();
  auto r = store_.Call(inst.GetFunc("recurse"), {Value::I32(0)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Exhaustion);
  EXPECT_EQ(r.error().message, "call stack exhausted");
  // The store stays usable after exhaustion.
  auto again = store_.Call(inst.GetFunc("count"), {Value::I32(10)});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].i32(), 10);
}

TEST_F(ApiTest, FuelStopsAnInfiniteLoop) {
  Instance inst = LoadLimits();
  store_.SetFuel(10'000);
  auto r = store_.Call(inst.GetFunc("spin"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Interrupted);
  EXPECT_EQ(store_.fuel_remaining(), 0u);
  // With enough fuel a bounded loop finishes, and the fuel it used is accounted for.
  store_.SetFuel(1'000);
  auto ok = store_.Call(inst.GetFunc("count"), {Value::I32(100)});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_LT(store_.fuel_remaining(), 1'000u - 100u);
  store_.ClearFuel();
}

TEST_F(ApiTest, InterruptFromAnotherThreadStopsAnInfiniteLoop) {
  Instance inst = LoadLimits();
  std::thread stopper([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    store_.Interrupt();
  });
  auto r = store_.Call(inst.GetFunc("spin"), {});
  stopper.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Interrupted);
  store_.ResetInterrupt();
  EXPECT_TRUE(store_.Call(inst.GetFunc("count"), {Value::I32(5)}).ok());
}

TEST_F(ApiTest, TrapHasMessageAndNamedBacktrace) {
  Instance inst = LoadLimits();
  auto r = store_.Call(inst.GetFunc("outer"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Trap);
  EXPECT_EQ(r.error().message, "integer divide by zero");
  const auto& bt = store_.last_backtrace();
  ASSERT_GE(bt.size(), 2u);
  EXPECT_EQ(bt[0].function, "inner");
  EXPECT_EQ(bt[1].function, "outer");
}

TEST_F(ApiTest, HostFunctionsAreCalledAndTheirErrorsTrap) {
  Instance inst = LoadLimits();
  auto r = store_.Call(inst.GetFunc("call_host"), {Value::I32(40), Value::I32(2)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].i32(), 42);
  auto f = store_.Call(inst.GetFunc("call_fail"), {});
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().message, "host says no");
}

TEST_F(ApiTest, ArgumentsAreTypeChecked) {
  Instance inst = LoadLimits();
  EXPECT_FALSE(store_.Call(inst.GetFunc("count"), {Value::I64(1)}).ok());
  EXPECT_FALSE(store_.Call(inst.GetFunc("count"), {}).ok());
}

TEST_F(ApiTest, LinksExportsOfOneInstanceIntoAnother) {
  Instance limits = LoadLimits();
  Imports imports;
  for (const auto& [name, ext] : limits.exports()) imports.Add("limits", name, ext);
  Instance user = Load("user", imports);
  auto r = store_.Call(user.GetFunc("add_and_store"), {Value::I32(7), Value::I32(8)});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)[0].i32(), 15);
  EXPECT_EQ(MemoryData(limits.GetMemory("mem"))[0], 15);  // the memory is shared
}

TEST_F(ApiTest, MissingImportIsUnlinkableAndNamesIt) {
  auto module = Module::Compile(engine_, ReadModule("user"));
  ASSERT_TRUE(module.ok());
  auto inst = store_.Instantiate(**module, Imports{});
  ASSERT_FALSE(inst.ok());
  EXPECT_EQ(inst.error().kind, ErrorKind::Unlinkable);
  EXPECT_NE(inst.error().message.find("limits.call_host"), std::string::npos) << inst.error().message;
}

TEST_F(ApiTest, ImportsReportMemoryAndTableLimits) {
  auto module = Module::Compile(engine_, ReadModule("imported_memory"));
  ASSERT_TRUE(module.ok()) << module.error().message;
  auto imports = (*module)->imports();
  ASSERT_EQ(imports.size(), 2u);
  EXPECT_EQ(imports[0].kind, ExternKind::Memory);
  EXPECT_EQ(imports[0].limits.min, 2u);
  EXPECT_EQ(imports[0].limits.max, std::optional<uint64_t>(40));
  EXPECT_EQ(imports[1].kind, ExternKind::Table);
  EXPECT_EQ(imports[1].limits.min, 3u);
  EXPECT_FALSE(imports[1].limits.max.has_value());
  // A memory and a table made from the reported limits link.
  Imports links;
  links.Add("env", "memory", Extern{ExternKind::Memory, store_.NewMemory(MemoryType{imports[0].limits})});
  links.Add("env", "table",
            Extern{ExternKind::Table, store_.NewTable(TableType{ValType::FuncRef, imports[1].limits},
                                                      Value::NullRef(ValType::FuncRef))});
  auto inst = store_.Instantiate(**module, links);
  ASSERT_TRUE(inst.ok()) << inst.error().message;
  auto r = store_.Call(inst->GetFunc("size"), {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].i32(), 2);
}

TEST_F(ApiTest, MalformedBytesAreAnError) {
  std::vector<uint8_t> junk = {0x00, 0x61, 0x73, 0x6d, 0x02, 0x00, 0x00, 0x00};
  auto module = Module::Compile(engine_, junk);
  ASSERT_FALSE(module.ok());
  EXPECT_EQ(module.error().kind, ErrorKind::Malformed);
}

class CappedMemoryTest : public ApiTest {
 protected:
  CappedMemoryTest() : ApiTest(EngineConfig{.max_memory_bytes = 4 * kPageSize}) {}
};

TEST_F(CappedMemoryTest, GrowthStopsAtTheEngineCap) {
  Instance inst = LoadLimits();
  auto grow = [&](int32_t pages) { return (*store_.Call(inst.GetFunc("grow"), {Value::I32(pages)}))[0].i32(); };
  EXPECT_EQ(grow(2), 1);   // 1 -> 3 pages
  EXPECT_EQ(grow(2), -1);  // 5 pages would pass the 4-page cap
  EXPECT_EQ(grow(1), 3);   // exactly at the cap is fine
  EXPECT_EQ(grow(0), 4);
  EXPECT_EQ(MemorySize(inst.GetMemory("mem")), 4 * kPageSize);
}

TEST_F(CappedMemoryTest, InitialMemoryAboveTheCapIsRefused) {
  auto module = Module::Compile(engine_, ReadModule("bigmem"));
  ASSERT_TRUE(module.ok());
  auto inst = store_.Instantiate(**module, Imports{});
  ASSERT_FALSE(inst.ok());
  EXPECT_EQ(inst.error().kind, ErrorKind::Resource);
}

}  // namespace
}  // namespace wasmq::wasm
