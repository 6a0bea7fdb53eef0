// File: src/wasm/guard.cc
//
// The registry of guarded reservations (see guard.h).
#include "wasm/guard.h"

#include <sys/mman.h>

#include <atomic>

namespace wasmq::wasm {

namespace {

constexpr size_t kMaxGuarded = 16384;
std::atomic<uintptr_t> g_starts[kMaxGuarded];
// One past the highest slot ever used: the handler and Register scan no further.
std::atomic<size_t> g_used{0};

bool Register(uintptr_t start) {
  for (size_t i = 0; i < kMaxGuarded; ++i) {
    uintptr_t expected = 0;
    if (g_starts[i].load(std::memory_order_relaxed) == 0 &&
        g_starts[i].compare_exchange_strong(expected, start, std::memory_order_release)) {
      size_t used = g_used.load(std::memory_order_relaxed);
      while (used < i + 1 && !g_used.compare_exchange_weak(used, i + 1, std::memory_order_release)) {
      }
      return true;
    }
  }
  return false;
}

void Unregister(uintptr_t start) {
  const size_t used = g_used.load(std::memory_order_acquire);
  for (size_t i = 0; i < used; ++i) {
    if (g_starts[i].load(std::memory_order_relaxed) == start) {
      g_starts[i].store(0, std::memory_order_release);
      return;
    }
  }
}


}  // namespace

bool GuardsEnabled(const EngineConfig& config) {
  if (config.compile == CompileMode::kNever || config.pool_slots != 0) return false;
  switch (config.memory_guards) {
    case MemoryGuards::kOff:
      return false;
    case MemoryGuards::kOn:
      return true;
    case MemoryGuards::kAuto:
      // Explicit checks for now: with guards, optimised code can raise a later trap before an earlier
      // out-of-bounds access faults (LLVM may order the volatile access after another trap's branch; found by
      // the differential test, seed 404: "integer divide by zero" where the interpreter says "out of bounds
      // memory access"). `on` keeps guards for those who accept that; auto returns to them once fixed.
      return false;
  }
  return false;
}

void* ReserveGuarded() {
  void* p = mmap(nullptr, kGuardedBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  if (!Register(reinterpret_cast<uintptr_t>(p))) {
    munmap(p, kGuardedBytes);
    return nullptr;
  }
  return p;
}

void UnmapGuarded(void* p) {
  Unregister(reinterpret_cast<uintptr_t>(p));
  munmap(p, kGuardedBytes);
}

bool IsGuardedAddress(uintptr_t addr) {
  const size_t used = g_used.load(std::memory_order_acquire);
  for (size_t i = 0; i < used; ++i) {
    const uintptr_t start = g_starts[i].load(std::memory_order_acquire);
    if (start != 0 && addr >= start && addr - start < kGuardedBytes) return true;
  }
  return false;
}

}  // namespace wasmq::wasm
