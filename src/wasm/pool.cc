// File: src/wasm/pool.cc
//
// Per-thread reservation caches (see pool.h).
#include "wasm/pool.h"

#include <sys/mman.h>

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
    for (int i = 0; i < t_count; ++i) munmap(t_entries[i].p, t_entries[i].bytes);
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

}  // namespace wasmq::wasm
