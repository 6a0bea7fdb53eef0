// Tests of prepared memory images (src/wasm/image.h): a module's initial memory is built once and mapped
// copy-on-write into every instance. The observable memory must be exactly what copying the data
// segments would give, in every case the spec distinguishes: overlapping segments, writes that must not
// leak between instances, growth past the image, and instantiations that fail after the memory exists.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "wasm/runtime.h"
#include "wasm/wasm.h"

namespace wasmq::wasm {
namespace {

using Bytes = std::vector<uint8_t>;

void Uleb(Bytes& b, uint64_t v) {
  do {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    if (v != 0) byte |= 0x80;
    b.push_back(byte);
  } while (v != 0);
}

void Sleb(Bytes& b, int64_t v) {
  for (;;) {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    bool done = (v == 0 && !(byte & 0x40)) || (v == -1 && (byte & 0x40));
    if (!done) byte |= 0x80;
    b.push_back(byte);
    if (done) return;
  }
}

void Name(Bytes& b, const std::string& s) {
  Uleb(b, s.size());
  b.insert(b.end(), s.begin(), s.end());
}

void Section(Bytes& m, uint8_t id, const Bytes& body) {
  m.push_back(id);
  Uleb(m, body.size());
  m.insert(m.end(), body.begin(), body.end());
}

struct Segment {
  uint32_t offset;
  Bytes bytes;
};

Bytes Pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 8));
  return b;
}

// A module with memory (min 1, max 2 pages) exported as "memory", a function `peek: () -> i32` that
// returns the byte at address 0, the given active data segments, and -- when `elems` is not empty --
// an imported table host.table (funcref, min 1) with active element segments writing `peek` at each
// offset in `elems` (an offset past the table traps at instantiation).
Bytes MemoryModule(const std::vector<Segment>& datas, const std::vector<uint32_t>& elems = {}) {
  Bytes m = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  Section(m, 1, {0x01, 0x60, 0x00, 0x01, 0x7f});  // type 0: () -> i32
  if (!elems.empty()) {
    Bytes imp = {0x01};
    Name(imp, "host");
    Name(imp, "table");
    imp.insert(imp.end(), {0x01, 0x70, 0x00, 0x01});  // table funcref min 1
    Section(m, 2, imp);
  }
  Section(m, 3, {0x01, 0x00});
  Section(m, 5, {0x01, 0x01, 0x01, 0x02});  // memory min 1 max 2
  Bytes exp = {0x02};
  Name(exp, "memory");
  exp.insert(exp.end(), {0x02, 0x00});
  Name(exp, "peek");
  exp.insert(exp.end(), {0x00, 0x00});
  Section(m, 7, exp);
  if (!elems.empty()) {
    Bytes el;
    Uleb(el, elems.size());
    for (uint32_t off : elems) {
      el.insert(el.end(), {0x00, 0x41});
      Sleb(el, off);
      el.insert(el.end(), {0x0b, 0x01, 0x00});  // end, one function: peek
    }
    Section(m, 9, el);
  }
  Section(m, 10, {0x01, 0x07, 0x00, 0x41, 0x00, 0x2d, 0x00, 0x00, 0x0b});  // i32.load8_u (i32.const 0)
  Bytes data;
  Uleb(data, datas.size());
  for (const Segment& s : datas) {
    data.insert(data.end(), {0x00, 0x41});
    Sleb(data, static_cast<int32_t>(s.offset));
    data.push_back(0x0b);
    Uleb(data, s.bytes.size());
    data.insert(data.end(), s.bytes.begin(), s.bytes.end());
  }
  Section(m, 11, data);
  return m;
}

// The initial memory that copying `datas` in order into one zeroed page gives.
Bytes Expected(const std::vector<Segment>& datas) {
  Bytes mem(kPageSize, 0);
  for (const Segment& s : datas) std::memcpy(mem.data() + s.offset, s.bytes.data(), s.bytes.size());
  return mem;
}

Bytes Contents(MemInst* mem) { return Bytes(MemoryData(mem), MemoryData(mem) + MemorySize(mem)); }

class ImageTest : public ::testing::Test {
 protected:
  std::shared_ptr<const Module> Compile(const Bytes& bytes) {
    auto m = Module::Compile(engine_, bytes);
    EXPECT_TRUE(m.ok()) << m.error().message;
    return m.ok() ? *m : nullptr;
  }
  Engine engine_;
};

TEST_F(ImageTest, LargeConstantSegmentsGetAnImageSmallOnesDoNot) {
  auto big = Compile(MemoryModule({{0, Pattern(20000, 1)}}));
  EXPECT_NE(big->impl().memory_image(), nullptr);
  auto small = Compile(MemoryModule({{0, Pattern(100, 1)}}));
  EXPECT_EQ(small->impl().memory_image(), nullptr);
  // Past the initial memory: instantiation must trap, so no image.
  auto oob = Compile(MemoryModule({{0, Pattern(20000, 1)}, {65530, Pattern(10, 2)}}));
  EXPECT_EQ(oob->impl().memory_image(), nullptr);
}

TEST_F(ImageTest, InstancesSeeTheSegmentsInOrderAndWriteOnlyTheirOwnCopy) {
  const std::vector<Segment> datas = {{0, Pattern(20000, 1)}, {100, Pattern(10, 9)}, {40000, Pattern(3000, 5)}};
  auto module = Compile(MemoryModule(datas));
  ASSERT_NE(module->impl().memory_image(), nullptr);
  const Bytes want = Expected(datas);

  Store a(engine_), b(engine_);
  auto ia = a.Instantiate(*module, {});
  auto ib = b.Instantiate(*module, {});
  auto ib2 = b.Instantiate(*module, {});
  ASSERT_TRUE(ia.ok() && ib.ok() && ib2.ok());
  MemInst* ma = ia->GetMemory("memory");
  MemInst* mb = ib->GetMemory("memory");
  MemInst* mb2 = ib2->GetMemory("memory");
  EXPECT_EQ(Contents(ma), want);
  EXPECT_EQ(Contents(mb), want);

  MemoryData(ma)[0] = 0xAB;
  MemoryData(ma)[30000] = 0xCD;  // a page past the data, inside the image's range or not
  MemoryData(mb2)[65535] = 0xEF;
  EXPECT_EQ(Contents(mb), want);
  auto peek_a = a.Call(ia->GetFunc("peek"), {});
  auto peek_b = b.Call(ib->GetFunc("peek"), {});
  ASSERT_TRUE(peek_a.ok() && peek_b.ok());
  EXPECT_EQ((*peek_a)[0].i32(), 0xAB);
  EXPECT_EQ((*peek_b)[0].i32(), want[0]);

  // A store made after those writes still gets the pristine image.
  Store c(engine_);
  auto ic = c.Instantiate(*module, {});
  ASSERT_TRUE(ic.ok());
  EXPECT_EQ(Contents(ic->GetMemory("memory")), want);

  // Growing maps fresh zero pages after the image.
  ASSERT_EQ(MemoryGrow(ma, 1), 1);
  ASSERT_EQ(MemorySize(ma), 2 * kPageSize);
  for (uint64_t i = kPageSize; i < 2 * kPageSize; ++i) ASSERT_EQ(MemoryData(ma)[i], 0) << i;
  EXPECT_EQ(MemoryData(ma)[1], want[1]);
}

TEST_F(ImageTest, ConcurrentFirstInstantiationsBuildOneImage) {
  const std::vector<Segment> datas = {{1024, Pattern(30000, 3)}};
  auto module = Compile(MemoryModule(datas));
  const Bytes want = Expected(datas);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Store s(engine_);
      auto inst = s.Instantiate(*module, {});
      ok[t] = inst.ok() && Contents(inst->GetMemory("memory")) == want;
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_TRUE(ok[t]) << t;
}

// Runs the function a failed instantiation left in the imported table (WebAssembly 2.0 keeps element
// writes made before the trap), which reads the failed instance's memory.
int32_t PeekThroughTable(Store& store, TableInst* table) {
  auto* f = reinterpret_cast<FuncInst*>(table->elems.at(0));
  if (f == nullptr) return -1;
  auto r = store.Call(f, {});
  return r.ok() ? (*r)[0].i32() : -2;
}

TEST_F(ImageTest, ElementTrapLeavesTheDataUnwritten) {
  // Element segments are applied before data segments: when one traps, no data may be visible.
  const std::vector<Segment> datas = {{0, Pattern(20000, 0x41)}};
  auto module = Compile(MemoryModule(datas, {0, 5}));
  ASSERT_NE(module->impl().memory_image(), nullptr);
  Store store(engine_);
  TableInst* table = store.NewTable(TableType{ValType::FuncRef, Limits{1, std::nullopt}}, Value::NullRef(ValType::FuncRef));
  ASSERT_NE(table, nullptr);
  Imports imports;
  imports.Add("host", "table", Extern{ExternKind::Table, table});
  auto inst = store.Instantiate(*module, imports);
  ASSERT_FALSE(inst.ok());
  EXPECT_EQ(inst.error().message, "out of bounds table access");
  EXPECT_EQ(PeekThroughTable(store, table), 0);
}

TEST_F(ImageTest, DataTrapKeepsTheEarlierSegments) {
  // The copying path: the first segment is written, the second is out of bounds and traps.
  const std::vector<Segment> datas = {{0, Pattern(20000, 0x41)}, {65530, Pattern(10, 2)}};
  auto module = Compile(MemoryModule(datas, {0}));
  Store store(engine_);
  TableInst* table = store.NewTable(TableType{ValType::FuncRef, Limits{1, std::nullopt}}, Value::NullRef(ValType::FuncRef));
  Imports imports;
  imports.Add("host", "table", Extern{ExternKind::Table, table});
  auto inst = store.Instantiate(*module, imports);
  ASSERT_FALSE(inst.ok());
  EXPECT_EQ(inst.error().message, "out of bounds memory access");
  EXPECT_EQ(PeekThroughTable(store, table), 0x41);
}

}  // namespace
}  // namespace wasmq::wasm
