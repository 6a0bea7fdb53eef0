// Tests of the per-thread reservation caches (src/wasm/pool.h): a Store that reuses a value stack or a
// memory reservation given back by an earlier Store must behave exactly like one with fresh mappings --
// memory reads zero except for its data, growth works, deep recursion works.
#include "wasm/pool.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
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

// One task's worth: a new Store, checks its memory is pristine, dirties all of it (grown too), recurses.
void RunOnce(const Engine& engine, const Module& module, int round) {
  Store store(engine);
  auto inst = store.Instantiate(module, {});
  ASSERT_TRUE(inst.ok()) << inst.error().message;
  MemInst* mem = inst->GetMemory("memory");
  ASSERT_EQ(MemorySize(mem), kPageSize);
  const uint8_t* data = MemoryData(mem);
  ASSERT_EQ(std::memcmp(data, "abc", 3), 0) << "round " << round;
  for (uint64_t i = 3; i < kPageSize; ++i) ASSERT_EQ(data[i], 0) << "round " << round << " byte " << i;
  ASSERT_EQ(MemoryGrow(mem, 2), 1);
  for (uint64_t i = kPageSize; i < 3 * kPageSize; ++i) ASSERT_EQ(MemoryData(mem)[i], 0) << i;
  std::memset(MemoryData(mem), 0xFF, MemorySize(mem));
  // ~20 000 frames: well past the 64 KiB of stack a cached stack keeps resident.
  auto r = store.Call(inst->GetFunc("depth"), {Value::I32(10'000 + round)});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)[0].i32(), 10'000 + round);
}

TEST(ReservationPool, ReusedStacksAndMemoriesStartClean) {
  Engine engine;
  auto module = Module::Compile(engine, ReadModule("pool"));
  ASSERT_TRUE(module.ok()) << module.error().message;
  for (int round = 0; round < 20; ++round) RunOnce(engine, **module, round);
}

TEST(ReservationPool, ThreadsKeepTheirOwnCaches) {
  Engine engine;
  auto module = Module::Compile(engine, ReadModule("pool"));
  ASSERT_TRUE(module.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&] {
      for (int round = 0; round < 10; ++round) RunOnce(engine, **module, round);
    });
  for (auto& th : threads) th.join();
  // A Store made on one thread and destroyed on another gives its reservations to the second.
  auto store = std::make_unique<Store>(engine);
  ASSERT_TRUE(store->Instantiate(**module, {}).ok());
  std::thread([&] { store.reset(); }).join();
  RunOnce(engine, **module, 0);
}

// Pooled engines (SlotPool): memories and value stacks are slots of one mapping; a slot given back is
// clean for the next store, the pool's mapping count does not grow with the instances, and a full pool
// falls back to mappings of their own.
long MapCount() {
  std::ifstream f("/proc/self/maps");
  std::string line;
  long n = 0;
  while (std::getline(f, line)) n++;
  return n;
}

EngineConfig Pooled(uint32_t slots) {
  EngineConfig c;
  c.pool_slots = slots;
  c.pool_memory_bytes = 4 * kPageSize;
  return c;
}

TEST(SlotPoolTest, ReusedSlotsStartClean) {
  Engine engine(Pooled(2));
  ASSERT_NE(engine.pool(), nullptr);
  auto module = Module::Compile(engine, ReadModule("pool"));
  ASSERT_TRUE(module.ok());
  for (int round = 0; round < 10; ++round) RunOnce(engine, **module, round);
}

TEST(SlotPoolTest, InstancesCostNoMappingOfTheirOwn) {
  Engine engine(Pooled(200));
  auto module = Module::Compile(engine, ReadModule("pool"));
  ASSERT_TRUE(module.ok());
  std::vector<std::unique_ptr<Store>> stores;
  const long before = MapCount();
  for (int i = 0; i < 200; ++i) {
    stores.push_back(std::make_unique<Store>(engine));
    auto inst = stores.back()->Instantiate(**module, {});
    ASSERT_TRUE(inst.ok()) << inst.error().message;
    MemInst* mem = inst->GetMemory("memory");
    ASSERT_NE(mem->pool, nullptr);
    ASSERT_NE(stores.back()->thread().pool, nullptr);
    ASSERT_EQ(std::memcmp(MemoryData(mem), "abc", 3), 0);
    ASSERT_TRUE(stores.back()->Call(inst->GetFunc("depth"), {Value::I32(100)}).ok());
  }
  EXPECT_LE(MapCount() - before, 10);  // the heap may grow; no mapping per instance
  // The pool is full: the next store maps its own stack and memory, and still works.
  Store extra(engine);
  auto inst = extra.Instantiate(**module, {});
  ASSERT_TRUE(inst.ok());
  EXPECT_EQ(inst->GetMemory("memory")->pool, nullptr);
  EXPECT_EQ(extra.thread().pool, nullptr);
  EXPECT_TRUE(extra.Call(inst->GetFunc("depth"), {Value::I32(100)}).ok());
}

TEST(SlotPoolTest, MemoriesAreCappedAtTheSlot) {
  Engine engine(Pooled(1));
  Store store(engine);
  auto module = Module::Compile(engine, ReadModule("pool"));
  ASSERT_TRUE(module.ok());
  auto inst = store.Instantiate(**module, {});
  ASSERT_TRUE(inst.ok());
  MemInst* mem = inst->GetMemory("memory");
  EXPECT_EQ(MemoryGrow(mem, 3), 1);  // 4 pages: the declared max and the slot
  EXPECT_EQ(MemoryGrow(mem, 1), -1);
  MemoryData(mem)[4 * kPageSize - 1] = 7;  // the last byte of the slot is writable
  auto big = store.NewMemory({Limits{5, {}}});
  EXPECT_EQ(big, nullptr);  // 5 pages do not fit a 4-page slot
}

TEST(SlotPoolTest, CompiledCodeChecksBoundsInAPool) {
  EngineConfig config = Pooled(1);
  config.compile = CompileMode::kAlways;
  config.memory_guards = MemoryGuards::kOn;  // pooling wins: one protection for the whole pool
  Engine engine(config);
  auto module = Module::Compile(engine, ReadModule("pool"));
  ASSERT_TRUE(module.ok()) << module.error().message;
  EXPECT_FALSE((*module)->impl().jit_guards);
  Store store(engine);
  auto inst = store.Instantiate(**module, {});
  ASSERT_TRUE(inst.ok());
  EXPECT_FALSE(inst->GetMemory("memory")->guarded);
}

}  // namespace
}  // namespace wasmq::wasm
