// hashmap: word counting with an open-addressing string hash map — string hashing, strcmp/memcpy,
// byte loads, unpredictable branches and malloc.
#include <string.h>

#include "kernel.h"

typedef struct {
  char* key;
  uint32_t hash;
  uint32_t count;
} entry;

static entry* table;
static uint32_t cap, used;

static uint32_t fnv1a(const char* s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
  return h;
}

static void grow(void);

static void add(const char* w, size_t n) {
  uint32_t h = fnv1a(w, n);
  uint32_t i = h & (cap - 1);
  for (;;) {
    entry* e = &table[i];
    if (!e->key) {
      e->key = malloc(n + 1);
      memcpy(e->key, w, n);
      e->key[n] = 0;
      e->hash = h;
      e->count = 1;
      if (++used * 4 > cap * 3) grow();
      return;
    }
    if (e->hash == h && strncmp(e->key, w, n) == 0 && e->key[n] == 0) { e->count++; return; }
    i = (i + 1) & (cap - 1);
  }
}

static void grow(void) {
  entry* old = table;
  uint32_t oldcap = cap;
  cap *= 2;
  table = calloc(cap, sizeof(entry));
  for (uint32_t k = 0; k < oldcap; k++) {
    if (!old[k].key) continue;
    uint32_t i = old[k].hash & (cap - 1);
    while (table[i].key) i = (i + 1) & (cap - 1);
    table[i] = old[k];
  }
  free(old);
}

static const char* syll[16] = {"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo",
                               "qua", "zen", "pho", "xi", "bre", "dun", "gal", "yst"};

int main(int argc, char** argv) {
  int reps = kernel_arg(argc, argv, 4);
  uint64_t sum = 0;
  char text[64];
  for (int r = 0; r < reps; r++) {
    cap = 1024; used = 0;
    table = calloc(cap, sizeof(entry));
    for (int w = 0; w < 300000; w++) {
      // A Zipf-ish word: 1-4 syllables, skewed towards short common words.
      uint64_t x = kernel_rand();
      int nsyl = 1 + (int)((x & 3) * (x >> 2 & 3) / 3);
      size_t n = 0;
      for (int s = 0; s < nsyl; s++) {
        const char* p = syll[(x >> (8 + 4 * s)) & 15 & ((x >> 40) & 1 ? 15 : 7)];
        size_t len = strlen(p);
        memcpy(text + n, p, len);
        n += len;
      }
      add(text, n);
    }
    uint64_t s = 0;
    for (uint32_t k = 0; k < cap; k++)
      if (table[k].key) s += (uint64_t)table[k].count * fnv1a(table[k].key, strlen(table[k].key));
    sum = sum * 31 + s + used;
    for (uint32_t k = 0; k < cap; k++) free(table[k].key);
    free(table);
  }
  kernel_print("hashmap", sum);
  return 0;
}
