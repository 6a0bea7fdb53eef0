// invoke_reactor: a reactor module (no _start; _initialize runs the C constructors) whose exports are
// called with `wasmq run --invoke`.
#include <stdint.h>
#include <stdio.h>

static int initialized;
__attribute__((constructor)) static void init(void) { initialized = 1; }

__attribute__((export_name("add"))) int32_t add(int32_t a, int32_t b) { return a + b; }
__attribute__((export_name("mul64"))) int64_t mul64(int64_t a, int64_t b) { return a * b; }
__attribute__((export_name("half"))) double half(double x) { return x / 2; }
__attribute__((export_name("halff"))) float halff(float x) { return x / 2; }
__attribute__((export_name("greet"))) int32_t greet(void) {
  printf("hello from greet (initialized=%d)\n", initialized);
  fflush(stdout);
  return 7;
}
volatile int32_t zero;
__attribute__((export_name("div0"))) int32_t div0(int32_t a) { return a / zero; }
