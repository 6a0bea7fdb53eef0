// sieve: Sieve of Eratosthenes over a byte array — tight loops of byte loads/stores.
#include "kernel.h"

#define N 2000000
static uint8_t composite[N + 1];

int main(int argc, char** argv) {
  int reps = kernel_arg(argc, argv, 12);
  uint64_t sum = 0;
  for (int r = 0; r < reps; r++) {
    for (int i = 0; i <= N; i++) composite[i] = 0;
    uint32_t count = 0;
    for (uint32_t i = 2; i <= N; i++) {
      if (composite[i]) continue;
      count++;
      for (uint32_t j = i + i; j <= N; j += i) composite[j] = 1;
    }
    sum = sum * 31 + count;
  }
  kernel_print("sieve", sum);
  return 0;
}
