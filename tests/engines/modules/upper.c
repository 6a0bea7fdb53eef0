// A wasm engine for the tests: upper-cases /in/data into /out/data and answers {"bytes": N, "request": ...}.
// A request containing "refuse" exits 2 (bad request); "spin" loops forever; "crash" traps.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  char request[4096];
  size_t n = fread(request, 1, sizeof request - 1, stdin);
  request[n] = 0;
  if (strstr(request, "refuse")) {
    fprintf(stderr, "refusing: %s\n", request);
    return 2;
  }
  if (strstr(request, "crash")) __builtin_trap();
  if (strstr(request, "spin")) {
    volatile unsigned long i = 0;
    for (;;) ++i;
  }
  size_t bytes = 0;
  FILE* in = fopen("/in/data", "rb");
  if (in) {
    FILE* out = fopen("/out/data", "wb");
    int c;
    while ((c = fgetc(in)) != EOF) {
      fputc(toupper(c), out);
      ++bytes;
    }
    fclose(out);
    fclose(in);
  }
  printf("{\"bytes\":%zu,\"request\":%s}\n", bytes, n ? request : "{}");
  return 0;
}
