// Tests of the per-thread reservation caches (src/wasm/pool.h): a Store that reuses a value stack or a
// memory reservation given back by an earlier Store must behave exactly like one with fresh mappings --
// memory reads zero except for its data, growth works, deep recursion works.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

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

}  // namespace
}  // namespace wasmq::wasm
