// bigmem: 32 MiB of zero-initialised static data, so the module's memory starts above 32 MiB.
#include <stdio.h>
volatile char big[32 << 20];
int main(void) {
  big[sizeof big - 1] = 1;
  printf("%d\n", big[sizeof big - 1]);
  return 0;
}
