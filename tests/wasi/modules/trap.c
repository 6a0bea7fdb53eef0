// trap: misbehaves as argv[1] says, each through a named function so that backtraces can be checked.
//   div | unreachable | abort | oob | stack | spin | sleep | grow | ok
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

volatile int zero = 0;

__attribute__((noinline)) int divide(int a, int b) { return a / b; }
__attribute__((noinline)) int compute(int a) { return divide(a, zero) + 1; }
__attribute__((noinline)) void reach_unreachable(void) { __builtin_trap(); }
__attribute__((noinline)) int load_far(void) { return *(volatile int*)(uintptr_t)0xFFFFFFF0u; }
volatile int stop = -1;
// Not a tail call, and not an accumulator LLVM can turn into a loop.
__attribute__((noinline)) int recurse(int n) { return n == stop ? 0 : recurse(n + 1) * 3 + n; }
__attribute__((noinline)) void spin(void) {
  volatile uint64_t x = 0;
  for (;;) x++;
}
__attribute__((noinline)) void sleep_forever(void) {
  struct timespec ts = {3600, 0};
  nanosleep(&ts, NULL);
}

int main(int argc, char** argv) {
  const char* what = argc > 1 ? argv[1] : "ok";
  if (!strcmp(what, "div")) return compute(7);
  if (!strcmp(what, "unreachable")) reach_unreachable();
  if (!strcmp(what, "abort")) abort();
  if (!strcmp(what, "oob")) return load_far();
  if (!strcmp(what, "stack")) return recurse(0);
  if (!strcmp(what, "spin")) spin();
  if (!strcmp(what, "sleep")) sleep_forever();
  if (!strcmp(what, "grow")) {  // allocate 1 MiB blocks until refused (at most 64)
    int mib = 0;
    for (; mib < 64; ++mib) {
      char* volatile p = malloc(1 << 20);
      if (p == NULL) break;
      p[(1 << 20) - 1] = 1;  // really used: the allocation cannot be optimised away
    }
    printf("allocated %d MiB\n", mib);
    return 0;
  }
  printf("ok\n");
  return 0;
}
