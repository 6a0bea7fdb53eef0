// File: bench/modules.h
//
// The test modules of bench/coldstart and bench/density, emitted as WebAssembly binary bytes directly
// (no toolchain needed at build time):
//
//   TinyModule()       one function `run: () -> i32` returning 42; no memory.
//   DataModule(bytes)  a memory of ceil((bytes + 1) / 64 KiB) pages, one active data segment of `bytes`
//                      pseudo-random bytes at offset 0, and `run: () -> i32` loading a word of it.
//   PipelineModule()   "pipeline-sized": memory of 32 pages (2 MiB) growable to 256 (or unbounded), a mutable
//   stack
//                      pointer global, 64 KiB of data (rodata), a table of 8 functions, and
//                      `work: (n: i32) -> i32` that writes n bytes of "heap" at 1 MiB, sums the data
//                      through call_indirect, and returns a checksum.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wasmq::bench {

using Bytes = std::vector<uint8_t>;

inline void Uleb(Bytes& b, uint64_t v) {
  do {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    if (v != 0) byte |= 0x80;
    b.push_back(byte);
  } while (v != 0);
}

inline void Sleb(Bytes& b, int64_t v) {
  for (;;) {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    bool done = (v == 0 && !(byte & 0x40)) || (v == -1 && (byte & 0x40));
    if (!done) byte |= 0x80;
    b.push_back(byte);
    if (done) return;
  }
}

inline void Name(Bytes& b, const std::string& s) {
  Uleb(b, s.size());
  b.insert(b.end(), s.begin(), s.end());
}

inline void Section(Bytes& module, uint8_t id, const Bytes& body) {
  module.push_back(id);
  Uleb(module, body.size());
  module.insert(module.end(), body.begin(), body.end());
}

inline Bytes Header() { return {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}; }

// A function body: locals declared as (count, type) groups, then the code (without the final `end`).
inline Bytes Body(const std::vector<std::pair<uint32_t, uint8_t>>& locals, const Bytes& code) {
  Bytes f;
  Uleb(f, locals.size());
  for (auto [n, t] : locals) {
    Uleb(f, n);
    f.push_back(t);
  }
  f.insert(f.end(), code.begin(), code.end());
  f.push_back(0x0b);
  Bytes sized;
  Uleb(sized, f.size());
  sized.insert(sized.end(), f.begin(), f.end());
  return sized;
}

constexpr uint8_t kI32 = 0x7f;

inline Bytes TinyModule() {
  Bytes m = Header();
  Section(m, 1, {0x01, 0x60, 0x00, 0x01, kI32});  // type 0: () -> i32
  Section(m, 3, {0x01, 0x00});                    // func 0: type 0
  Bytes exp = {0x01};
  Name(exp, "run");
  exp.insert(exp.end(), {0x00, 0x00});
  Section(m, 7, exp);
  Bytes code = {0x01};
  Bytes b = Body({}, {0x41, 42});  // i32.const 42
  code.insert(code.end(), b.begin(), b.end());
  Section(m, 10, code);
  return m;
}

inline Bytes PseudoRandom(size_t n, uint64_t seed) {
  Bytes out(n);
  uint64_t x = seed;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<uint8_t>(x);
  }
  return out;
}

inline Bytes DataModule(size_t data_bytes) {
  const uint64_t pages = (data_bytes + 1 + 65535) / 65536;
  Bytes m = Header();
  Section(m, 1, {0x01, 0x60, 0x00, 0x01, kI32});
  Section(m, 3, {0x01, 0x00});
  Bytes mem = {0x01, 0x01};  // one memory, min and max
  Uleb(mem, pages);
  Uleb(mem, pages);
  Section(m, 5, mem);
  Bytes exp = {0x02};
  Name(exp, "run");
  exp.insert(exp.end(), {0x00, 0x00});
  Name(exp, "memory");
  exp.insert(exp.end(), {0x02, 0x00});
  Section(m, 7, exp);
  Bytes code = {0x01};
  // i32.const 4096; i32.load align=2 offset=0
  Bytes b = Body({}, {0x41, 0x80, 0x20, 0x28, 0x02, 0x00});
  code.insert(code.end(), b.begin(), b.end());
  Section(m, 10, code);
  Bytes data = {0x01, 0x00, 0x41, 0x00, 0x0b};  // one active segment, memory 0, offset i32.const 0
  Uleb(data, data_bytes);
  Bytes payload = PseudoRandom(data_bytes, 0x1234567);
  data.insert(data.end(), payload.begin(), payload.end());
  Section(m, 11, data);
  return m;
}

inline Bytes PipelineModule(bool declare_max = true) {
  constexpr uint32_t kRodata = 1024, kRodataSize = 64 * 1024, kHeap = 1 << 20;
  Bytes m = Header();
  // types: 0 () -> i32, 1 (i32) -> i32
  Section(m, 1, {0x02, 0x60, 0x00, 0x01, kI32, 0x60, 0x01, kI32, 0x01, kI32});
  // functions: 8 x type 0 (table targets), then work: type 1
  Bytes funcs = {9};
  for (int i = 0; i < 8; i++) funcs.push_back(0x00);
  funcs.push_back(0x01);
  Section(m, 3, funcs);
  Section(m, 4, {0x01, 0x70, 0x01, 0x08, 0x08});  // table funcref min 8 max 8
  if (declare_max)
    Section(m, 5, {0x01, 0x01, 32, 0x80, 0x02});  // memory min 32 pages, max 256
  else
    Section(m, 5, {0x01, 0x00, 32});      // memory min 32 pages, no max (as clang emits by default)
  Bytes glob = {0x01, kI32, 0x01, 0x41};  // mut i32 stack pointer = 1 MiB
  Sleb(glob, kHeap);
  glob.push_back(0x0b);
  Section(m, 6, glob);
  Bytes exp = {0x02};
  Name(exp, "work");
  exp.insert(exp.end(), {0x00, 0x08});
  Name(exp, "memory");
  exp.insert(exp.end(), {0x02, 0x00});
  Section(m, 7, exp);
  Bytes elem = {0x01, 0x00, 0x41, 0x00, 0x0b, 0x08};  // active, table 0, offset 0, funcs 0..7
  for (int i = 0; i < 8; i++) elem.push_back(static_cast<uint8_t>(i));
  Section(m, 9, elem);

  Bytes code = {9};
  for (int i = 0; i < 8; i++) {  // f_i: () -> i32 { return i32.load(rodata + 4*i) + i }
    Bytes c = {0x41};
    Sleb(c, static_cast<int64_t>(kRodata + 4 * i));
    c.insert(c.end(), {0x28, 0x02, 0x00, 0x41, static_cast<uint8_t>(i), 0x6a});
    Bytes b = Body({}, c);
    code.insert(code.end(), b.begin(), b.end());
  }
  // work(n): locals i (1), acc (2)
  //   block loop
  //     i >= n -> br_if 1
  //     store8(heap + i, i)
  //     acc += call_indirect (i & 7)
  //     i += 1; br 0
  //   end end
  //   acc + load(heap + n/2)
  Bytes w = {0x02, 0x40, 0x03, 0x40,                    // block, loop
             0x20, 0x01, 0x20, 0x00, 0x4f, 0x0d, 0x01,  // local.get i, local.get n, i32.ge_u, br_if 1
             0x20, 0x01, 0x20, 0x01, 0x3a, 0x00};       // local.get i (addr), local.get i, i32.store8 align0
  Uleb(w, kHeap);                                       //   offset = heap
  w.insert(w.end(), {0x20, 0x02, 0x20, 0x01, 0x41, 0x07, 0x71, 0x11, 0x00, 0x00,  // acc, i&7, call_indirect
                     0x6a, 0x21, 0x02,                                            // i32.add, local.set acc
                     0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01,                    // i += 1
                     0x0c, 0x00, 0x0b, 0x0b,                                      // br 0, end, end
                     0x20, 0x02, 0x20, 0x00, 0x41, 0x01, 0x76, 0x2d, 0x00});      // acc, n>>1, load8_u
  Uleb(w, kHeap);
  w.push_back(0x6a);
  Bytes b = Body({{2, kI32}}, w);
  code.insert(code.end(), b.begin(), b.end());
  Section(m, 10, code);

  Bytes data = {0x01, 0x00, 0x41};
  Sleb(data, kRodata);
  data.push_back(0x0b);
  Uleb(data, kRodataSize);
  Bytes payload = PseudoRandom(kRodataSize, 0xfeedbeef);
  data.insert(data.end(), payload.begin(), payload.end());
  Section(m, 11, data);
  return m;
}

}  // namespace wasmq::bench
