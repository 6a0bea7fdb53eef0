// File: tests/wasi/modules/check.h
//
// A tiny assertion kit for the WASI test modules. Each CHECK prints "FAIL file:line: ..." when it does not
// hold; main() ends with REPORT(), which prints "N checks, M failures" and makes the exit status 1 when
// anything failed. The host-side test (tests/wasi/*_test.cc) asserts on both.
#pragma once

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

static int g_checks, g_failures;

#define CHECK(cond)                                                                                 \
  do {                                                                                              \
    ++g_checks;                                                                                     \
    if (!(cond)) {                                                                                  \
      ++g_failures;                                                                                 \
      printf("FAIL %s:%d: %s (errno %d: %s)\n", __FILE__, __LINE__, #cond, errno, strerror(errno)); \
    }                                                                                               \
  } while (0)

// A raw WASI call must return exactly `want`.
#define CHECK_WASI(call, want)                                                                         \
  do {                                                                                                 \
    ++g_checks;                                                                                        \
    int got_ = (int)(call);                                                                            \
    if (got_ != (int)(want)) {                                                                         \
      ++g_failures;                                                                                    \
      printf("FAIL %s:%d: %s returned %d, expected %s (%d)\n", __FILE__, __LINE__, #call, got_, #want, \
             (int)(want));                                                                             \
    }                                                                                                  \
  } while (0)

// A libc call that must fail with errno `want`.
#define CHECK_FAILS(expr, want)                                                                              \
  do {                                                                                                       \
    ++g_checks;                                                                                              \
    errno = 0;                                                                                               \
    long r_ = (long)(expr);                                                                                  \
    if (r_ != -1 || errno != (want)) {                                                                       \
      ++g_failures;                                                                                          \
      printf("FAIL %s:%d: %s returned %ld errno %d (%s), expected -1 errno %s\n", __FILE__, __LINE__, #expr, \
             r_, errno, strerror(errno), #want);                                                             \
    }                                                                                                        \
  } while (0)

#define REPORT()                                              \
  do {                                                        \
    printf("%d checks, %d failures\n", g_checks, g_failures); \
    fflush(stdout);                                           \
    return g_failures ? 1 : 0;                                \
  } while (0)

// Reads the whole file `path` into buf (NUL-terminated); returns its length or -1.
static inline long slurp(const char* path, char* buf, size_t cap) {
  FILE* f = fopen(path, "rb");
  if (!f) return -1;
  size_t n = fread(buf, 1, cap - 1, f);
  fclose(f);
  buf[n] = 0;
  return (long)n;
}

static inline int spit(const char* path, const char* text) {
  FILE* f = fopen(path, "wb");
  if (!f) return -1;
  size_t n = strlen(text);
  int ok = fwrite(text, 1, n, f) == n;
  return (fclose(f) == 0 && ok) ? 0 : -1;
}
