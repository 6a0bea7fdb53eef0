// lz: an LZ77 compressor (hash-chain match finder) and decompressor run in a loop over generated,
// compressible text, checked by round trip — byte loads/stores, hashing, branchy match loops.
#include <string.h>

#include "kernel.h"

#define N (256 * 1024)
#define WINDOW 32768
#define HBITS 14
#define MIN_MATCH 4
#define MAX_MATCH 258
#define MAX_CHAIN 16

static uint8_t in[N], comp[N + N / 8 + 16], out[N];
static int32_t head[1 << HBITS], prev_[WINDOW];

static inline uint32_t hash4(const uint8_t* p) {
  uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  return (v * 2654435761u) >> (32 - HBITS);
}

// Format: a flag byte per 8 items; literal = 1 byte; match = 3 bytes (len-MIN_MATCH, 16-bit distance).
static size_t compress(const uint8_t* src, size_t n, uint8_t* dst) {
  for (int i = 0; i < (1 << HBITS); i++) head[i] = -1;
  size_t ip = 0, op = 0;
  while (ip < n) {
    size_t flag_pos = op++;
    uint8_t flags = 0;
    for (int bit = 0; bit < 8 && ip < n; bit++) {
      size_t best_len = 0, best_dist = 0;
      if (ip + MIN_MATCH <= n) {
        uint32_t h = hash4(src + ip);
        int32_t cand = head[h];
        int chain = MAX_CHAIN;
        size_t maxlen = n - ip < MAX_MATCH ? n - ip : MAX_MATCH;
        while (cand >= 0 && ip - (size_t)cand <= 65535 && ip - (size_t)cand < WINDOW && chain-- > 0) {
          const uint8_t* a = src + cand;
          const uint8_t* b = src + ip;
          size_t l = 0;
          while (l < maxlen && a[l] == b[l]) l++;
          if (l > best_len) { best_len = l; best_dist = ip - (size_t)cand; if (l == maxlen) break; }
          cand = prev_[cand & (WINDOW - 1)];
        }
        prev_[ip & (WINDOW - 1)] = head[h];
        head[h] = (int32_t)ip;
      }
      if (best_len >= MIN_MATCH) {
        flags |= (uint8_t)(1u << bit);
        dst[op++] = (uint8_t)(best_len - MIN_MATCH);
        dst[op++] = (uint8_t)best_dist;
        dst[op++] = (uint8_t)(best_dist >> 8);
        for (size_t k = 1; k < best_len; k++) {  // insert the skipped positions into the chains
          size_t q = ip + k;
          if (q + MIN_MATCH <= n) {
            uint32_t h = hash4(src + q);
            prev_[q & (WINDOW - 1)] = head[h];
            head[h] = (int32_t)q;
          }
        }
        ip += best_len;
      } else {
        dst[op++] = src[ip++];
      }
    }
    dst[flag_pos] = flags;
  }
  return op;
}

static size_t decompress(const uint8_t* src, size_t n, uint8_t* dst) {
  size_t ip = 0, op = 0;
  while (ip < n) {
    uint8_t flags = src[ip++];
    for (int bit = 0; bit < 8 && ip < n; bit++) {
      if (flags & (1u << bit)) {
        size_t len = (size_t)src[ip] + MIN_MATCH;
        size_t dist = (size_t)src[ip + 1] | (size_t)src[ip + 2] << 8;
        ip += 3;
        for (size_t k = 0; k < len; k++, op++) dst[op] = dst[op - dist];
      } else {
        dst[op++] = src[ip++];
      }
    }
  }
  return op;
}

static uint32_t adler32(const uint8_t* p, size_t n) {
  uint32_t a = 1, b = 0;
  for (size_t i = 0; i < n; i++) { a = (a + p[i]) % 65521; b = (b + a) % 65521; }
  return b << 16 | a;
}

static const char* words[32] = {
    "the ", "queue ", "worker ", "pipeline ", "module ", "task ", "pending ", "done ",
    "image ", "background ", "pose ", "head ", "swap ", "change ", "of ", "and ",
    "a ", "to ", "in ", "is ", "wasm ", "engine ", "memory ", "table ",
    "lease ", "retry ", "progress ", "store ", "redis ", "cache ", "policy ", "signature "};

int main(int argc, char** argv) {
  int reps = kernel_arg(argc, argv, 6);
  size_t n = 0;
  while (n < N) {  // text from a skewed vocabulary, with some random bytes mixed in
    uint64_t x = kernel_rand();
    if ((x & 31) == 0) { in[n++] = (uint8_t)(x >> 8); continue; }
    const char* w = words[(x >> 8) & ((x >> 20) & 1 ? 31 : 7)];
    size_t len = strlen(w);
    for (size_t k = 0; k < len && n < N; k++) in[n++] = (uint8_t)w[k];
  }
  uint64_t sum = 0;
  for (int r = 0; r < reps; r++) {
    in[(r * 7919) % N] ^= (uint8_t)r;  // vary the input
    size_t c = compress(in, N, comp);
    size_t d = decompress(comp, c, out);
    if (d != N || memcmp(in, out, N) != 0) { kernel_print("lz-roundtrip-failed", r); return 1; }
    sum = sum * 31 + c;
    sum = sum * 31 + adler32(comp, c);
  }
  kernel_print("lz", sum);
  return 0;
}
