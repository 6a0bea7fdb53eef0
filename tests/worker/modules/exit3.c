// Exits with status 3.
#include "wasmq.h"

int main(void) {
  fprintf(stderr, "giving up\n");
  return 3;
}
