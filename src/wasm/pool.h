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
#pragma once

#include <cstddef>

namespace wasmq::wasm {

enum class ReservationKind {
  ValueStack,  // readable and writable; contents are garbage when reused
  Memory,      // PROT_NONE throughout, no pages committed
};

// A cached reservation of exactly `bytes` of this kind, or nullptr (the caller maps a new one).
void* TakeReservation(ReservationKind kind, size_t bytes);

// Offers a reservation in the state its kind describes. True when the cache kept it; false when the
// caller must munmap it (cache full, or the thread is exiting).
bool GiveReservation(ReservationKind kind, void* p, size_t bytes);

}  // namespace wasmq::wasm
