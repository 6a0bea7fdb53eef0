// Traps (unreachable) after saying why on stderr.
#include "wasmq.h"

int main(void) {
  fprintf(stderr, "about to trap\n");
  fflush(stderr);
  __builtin_trap();
}
