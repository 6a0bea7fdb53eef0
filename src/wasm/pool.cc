// File: src/wasm/pool.cc
//
// Per-thread reservation caches (see pool.h).
#include "wasm/pool.h"

#include <sys/mman.h>

#include <algorithm>

#include "wasm/guard.h"

namespace wasmq::wasm {

namespace {

// Enough for a worker thread's Store at a time (its stack and a memory or two) plus some slack; more
// cached reservations would only hold address space (and, for stacks, a few resident pages) idle.
constexpr int kMaxEntries = 8;

struct Entry {
  void* p;
  size_t bytes;
  ReservationKind kind;
};

// Plain data, never destroyed: safe to read even while the thread's other thread_locals are being torn
// down (t_closed says the cache is gone).
thread_local Entry t_entries[kMaxEntries];
thread_local int t_count = 0;
thread_local bool t_closed = false;

struct Closer {
  ~Closer() {
    t_closed = true;
    for (int i = 0; i < t_count; ++i) {
      if (t_entries[i].kind == ReservationKind::GuardedMemory)
        UnmapGuarded(t_entries[i].p);
      else
        munmap(t_entries[i].p, t_entries[i].bytes);
    }
    t_count = 0;
  }
};
thread_local Closer t_closer;

}  // namespace

void* TakeReservation(ReservationKind kind, size_t bytes) {
  for (int i = t_count - 1; i >= 0; --i) {
    if (t_entries[i].kind == kind && t_entries[i].bytes == bytes) {
      void* p = t_entries[i].p;
      t_entries[i] = t_entries[--t_count];
      return p;
    }
  }
  return nullptr;
}

bool GiveReservation(ReservationKind kind, void* p, size_t bytes) {
  if (t_closed || t_count == kMaxEntries) return false;
  (void)&t_closer;  // constructs it on this thread, so that the cache is unmapped when the thread exits
  t_entries[t_count++] = Entry{p, bytes, kind};
  return true;
}

// ---- SlotPool -------------------------------------------------------------------------------------------

std::shared_ptr<SlotPool> SlotPool::Create(const EngineConfig& config) {
  if (config.pool_slots == 0) return nullptr;
  const size_t page = 64 * 1024;  // slots stay Wasm-page aligned
  auto round = [&](uint64_t b) {
    return static_cast<size_t>((std::max<uint64_t>(b, 1) + page - 1) / page * page);
  };
  const size_t memory_bytes = round(std::min<uint64_t>(config.pool_memory_bytes, config.max_memory_bytes));
  const size_t stack_bytes = round(uint64_t{config.value_stack_slots} * sizeof(uint64_t));
  const size_t total = (memory_bytes + stack_bytes) * config.pool_slots;
  void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  return std::shared_ptr<SlotPool>(
      new SlotPool(static_cast<uint8_t*>(p), total, config.pool_slots, memory_bytes, stack_bytes));
}

SlotPool::SlotPool(uint8_t* base, size_t total, uint32_t slots, size_t memory_bytes, size_t stack_bytes)
    : base_(base), total_(total), slots_(slots), bytes_{memory_bytes, stack_bytes} {
  region_[kMemory] = base_;
  region_[kStack] = base_ + memory_bytes * slots;
}

SlotPool::~SlotPool() { munmap(base_, total_); }

uint8_t* SlotPool::Take(Kind kind) {
  base::MutexLock lock(mu_);
  uint32_t index;
  if (!free_[kind].empty()) {
    index = free_[kind].back();
    free_[kind].pop_back();
  } else if (never_used_[kind] < slots_) {
    index = never_used_[kind]++;
  } else {
    return nullptr;
  }
  return region_[kind] + size_t{index} * bytes_[kind];
}

void SlotPool::Give(Kind kind, uint8_t* slot, size_t used) {
  // Outside the lock: dropping pages is the slow part. The slot is not reachable until pushed below.
  used = std::min(used, bytes_[kind]);
  if (used != 0) madvise(slot, used, MADV_DONTNEED);
  const auto index = static_cast<uint32_t>(static_cast<size_t>(slot - region_[kind]) / bytes_[kind]);
  base::MutexLock lock(mu_);
  free_[kind].push_back(index);
}

}  // namespace wasmq::wasm
