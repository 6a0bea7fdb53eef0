// bench/kernels/kernel.h — shared helpers for the compute kernels (built to wasm32-wasi and native).
// Every kernel is deterministic, takes an optional repeat count as argv[1] and prints one line
// "<name> <checksum>" that the runner compares across engines.
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline int kernel_arg(int argc, char** argv, int def) {
  if (argc > 1) {
    int v = atoi(argv[1]);
    if (v > 0) return v;
  }
  return def;
}

// xorshift64*: deterministic pseudo-random input, identical on every engine.
static uint64_t kernel_rng_state = 0x9E3779B97F4A7C15ull;
static inline uint64_t kernel_rand(void) {
  uint64_t x = kernel_rng_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  kernel_rng_state = x;
  return x * 0x2545F4914F6CDD1Dull;
}

static inline void kernel_print(const char* name, uint64_t checksum) {
  printf("%s %016llx\n", name, (unsigned long long)checksum);
}
