// File: src/wasm/pool.h  (internal)
//
// Per-thread caches of address-space reservations, so that a short-lived Store (one per task) does not
// pay for mmap + munmap of its value stack and of its linear memories every time. munmap in a
// multi-threaded process also interrupts every other CPU the process runs on (TLB shootdown); handing a
// reservation to the next Store on the same thread avoids that entirely for the value stack and replaces
// reserve + unmap by one re-mapping for a memory.
//
// The caches are small (a few entries per thread) and never shared between threads: no locking. A
// reservation given back on another thread than the one that took it simply joins that thread's cache.
//
// SlotPool (EngineConfig::pool_slots) is the other way to save mappings: one read-write anonymous
// reservation cut into memory slots and value-stack slots. The whole pool stays one protection, so it is
// one VMA however many instances live in it (vm.max_map_count caps mappings, not bytes); a released slot
// gives its pages back with madvise(MADV_DONTNEED), which neither splits the VMA nor leaves stale bytes
// (the next user reads zeros). Memories in it have no guard pages: accesses are checked explicitly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "wasm/wasm.h"

namespace wasmq::wasm {

enum class ReservationKind {
  ValueStack,     // readable and writable; contents are garbage when reused
  Memory,         // PROT_NONE throughout, no pages committed
  GuardedMemory,  // as Memory, kGuardedBytes registered with guard.h (unregistered when unmapped)
};

// A cached reservation of exactly `bytes` of this kind, or nullptr (the caller maps a new one).
void* TakeReservation(ReservationKind kind, size_t bytes);

// Offers a reservation in the state its kind describes. True when the cache kept it; false when the
// caller must munmap it (cache full, or the thread is exiting).
bool GiveReservation(ReservationKind kind, void* p, size_t bytes);

class SlotPool {
 public:
  enum Kind { kMemory = 0, kStack = 1 };

  // The pool `config` asks for; null when pool_slots is 0 or the reservation cannot be made.
  static std::shared_ptr<SlotPool> Create(const EngineConfig& config);
  ~SlotPool();
  SlotPool(const SlotPool&) = delete;
  SlotPool& operator=(const SlotPool&) = delete;

  // A free slot of `kind`, all zeros (memory) or garbage-free but unspecified (stack); null when full.
  uint8_t* Take(Kind kind) EXCLUDES(mu_);
  // Drops the first `used` bytes' pages and makes the slot free again.
  void Give(Kind kind, uint8_t* slot, size_t used) EXCLUDES(mu_);

  size_t slot_bytes(Kind kind) const { return bytes_[kind]; }

 private:
  SlotPool(uint8_t* base, size_t total, uint32_t slots, size_t memory_bytes, size_t stack_bytes);

  uint8_t* const base_;
  const size_t total_;
  const uint32_t slots_;
  const size_t bytes_[2];
  uint8_t* region_[2];  // memories first, then stacks

  base::Mutex mu_;
  uint32_t never_used_[2] GUARDED_BY(mu_) = {0, 0};  // slots [never_used, slots) were never handed out
  std::vector<uint32_t> free_[2] GUARDED_BY(mu_);    // given back, reused first (LIFO)
};

}  // namespace wasmq::wasm
