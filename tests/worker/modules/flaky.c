// Fails its first attempt (exit 1), succeeds from the second on: WASMQ_ATTEMPT tells which it is.
#include "wasmq.h"

int main(void) {
  const char* attempt = getenv("WASMQ_ATTEMPT");
  if (!attempt || atoi(attempt) < 2) return 1;
  puts("{\"recovered\":true}");
  return 0;
}
