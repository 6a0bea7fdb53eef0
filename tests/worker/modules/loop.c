// Never ends on its own: only an interrupt (timeout, cancel, shutdown) stops it.
#include "wasmq.h"

int main(void) {
  wasmq_progress(1, "looping");
  volatile unsigned long n = 0;
  for (;;) n++;
}
