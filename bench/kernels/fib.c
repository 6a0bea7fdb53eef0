// fib: naive doubly-recursive Fibonacci — call/return and small-integer arithmetic.
#include "kernel.h"

__attribute__((noinline)) static uint32_t fib(uint32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

int main(int argc, char** argv) {
  int reps = kernel_arg(argc, argv, 1);
  uint64_t sum = 0;
  for (int r = 0; r < reps; r++) sum += fib(36);
  kernel_print("fib", sum);
  return 0;
}
