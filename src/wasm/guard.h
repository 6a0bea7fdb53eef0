// File: src/wasm/guard.h  (internal)
//
// Guarded linear-memory reservations for the compiling tier. A guarded memory reserves kGuardedBytes of
// address space: any 32-bit index plus any 32-bit offset plus the widest access (16 bytes) stays inside
// it, so compiled loads and stores need no bounds check. Pages up to the memory's size are readable and
// writable, the rest PROT_NONE; an access past the size faults, and the fault handler (jit/entry.cc)
// turns a fault in compiled code at an address inside a registered reservation into the Wasm trap.
//
// The registry is a fixed table of reservation starts read lock-free by the signal handler. 16384 slots
// of 8 GiB fill the whole 47-bit user address space, so the table never limits what mmap would allow.
#pragma once

#include <cstddef>
#include <cstdint>

#include "wasm/wasm.h"

namespace wasmq::wasm {

// 4 GiB of index + 4 GiB of offset + 16 bytes of access, rounded up to a Wasm page.
inline constexpr uint64_t kGuardedBytes = (uint64_t{8} << 30) + (64 << 10);

// True when memories made under `config` are guarded and its compiled code skips bounds checks:
// a compiling engine, not pooled, memory_guards kOn, or kAuto and the address space is not limited
// (RLIMIT_AS), since 8 GiB per memory would exhaust a limited one after a few instances.
bool GuardsEnabled(const EngineConfig& config);

// A PROT_NONE reservation of kGuardedBytes, registered; null when mmap fails or the registry is full.
// (pool.h's per-thread cache keeps released ones registered for the next memory.)
void* ReserveGuarded();
// Unregisters and unmaps a reservation made by ReserveGuarded.
void UnmapGuarded(void* p);

// Whether `addr` lies in a registered reservation. Async-signal-safe (atomic loads only).
bool IsGuardedAddress(uintptr_t addr);

}  // namespace wasmq::wasm
