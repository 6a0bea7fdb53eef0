// png_write.c — see png_write.h. PNG (ISO/IEC 15948), zlib (RFC 1950) and deflate (RFC 1951) as those
// documents specify them; the choices that make it fast are in png_write.h.
#include "png_write.h"

#include <stdlib.h>
#include <string.h>

enum {
  kBlockInput = 256 * 1024,  // filtered bytes per deflate block (its own Huffman codes)
  kLitLen = 286,             // literal/length alphabet: 0..255, 256 end of block, 257..285 lengths
  kMaxBits = 15,             // deflate's longest code
  kClenBits = 7,             // longest code of the code-length alphabet
};

// ---- output ------------------------------------------------------------------------------------------

typedef struct {
  uint8_t* data;
  size_t size, cap;
  int failed;
  uint64_t bits;  // deflate's bit buffer: bits leave from the least significant end
  int nbits;
} out_buf;

static int reserve(out_buf* o, size_t more) {
  if (o->failed) return 0;
  if (o->size + more <= o->cap) return 1;
  size_t cap = o->cap ? o->cap : 65536;
  while (cap < o->size + more) cap *= 2;
  uint8_t* d = realloc(o->data, cap);
  if (!d) {
    o->failed = 1;
    return 0;
  }
  o->data = d;
  o->cap = cap;
  return 1;
}

static void put_bytes(out_buf* o, const void* p, size_t n) {
  if (!reserve(o, n)) return;
  memcpy(o->data + o->size, p, n);
  o->size += n;
}

static void put_be32(out_buf* o, uint32_t v) {
  uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  put_bytes(o, b, 4);
}

// Appends n bits (n <= 32) of v, least significant first. Room for them was reserved by the caller.
static inline void put_bits(out_buf* o, uint32_t v, int n) {
  o->bits |= (uint64_t)v << o->nbits;
  o->nbits += n;
  if (o->nbits >= 32) {
    uint8_t* d = o->data + o->size;
    d[0] = (uint8_t)o->bits;
    d[1] = (uint8_t)(o->bits >> 8);
    d[2] = (uint8_t)(o->bits >> 16);
    d[3] = (uint8_t)(o->bits >> 24);
    o->size += 4;
    o->bits >>= 32;
    o->nbits -= 32;
  }
}

static void flush_bits(out_buf* o) {
  while (o->nbits > 0) {
    o->data[o->size++] = (uint8_t)o->bits;
    o->bits >>= 8;
    o->nbits -= 8;
  }
  o->bits = 0;
  o->nbits = 0;
}

// ---- checksums -----------------------------------------------------------------------------------------

static uint32_t crc_table[256];

static void crc_init(void) {
  if (crc_table[1]) return;
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[n] = c;
  }
}

static uint32_t crc_update(uint32_t crc, const uint8_t* p, size_t n) {
  uint32_t c = crc ^ 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

static uint32_t adler32(const uint8_t* p, size_t n) {
  uint32_t a = 1, b = 0;
  while (n > 0) {
    size_t chunk = n < 5552 ? n : 5552;  // the most bytes before b can overflow 32 bits
    n -= chunk;
    while (chunk--) {
      a += *p++;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return (b << 16) | a;
}

// ---- Huffman codes -----------------------------------------------------------------------------------

// Code lengths for `n` symbols of the given frequencies, none longer than max_bits; a symbol with frequency
// 0 gets length 0. Plain Huffman by repeatedly joining the two lightest trees; when a code comes out too
// long, the frequencies are flattened and it is built again (rare, and still a valid prefix code).
static void build_lengths(const uint32_t* freq_in, int n, int max_bits, uint8_t* len) {
  uint32_t freq[kLitLen];
  memcpy(freq, freq_in, sizeof(uint32_t) * (size_t)n);
  for (;;) {
    // Nodes 0..n-1 are symbols, n.. are joins; parent[] links each to its join.
    uint32_t weight[2 * kLitLen];
    int parent[2 * kLitLen], alive[2 * kLitLen];
    int count = 0, nodes = n;
    for (int i = 0; i < n; i++) {
      weight[i] = freq[i];
      parent[i] = -1;
      alive[i] = freq[i] > 0;
      count += alive[i];
      len[i] = 0;
    }
    if (count == 0) return;
    if (count == 1) {  // one symbol still needs a one-bit code
      for (int i = 0; i < n; i++)
        if (freq[i]) len[i] = 1;
      return;
    }
    while (count > 1) {
      int a = -1, b = -1;
      for (int i = 0; i < nodes; i++) {
        if (!alive[i]) continue;
        if (a < 0 || weight[i] < weight[a]) {
          b = a;
          a = i;
        } else if (b < 0 || weight[i] < weight[b]) {
          b = i;
        }
      }
      weight[nodes] = weight[a] + weight[b];
      parent[nodes] = -1;
      alive[nodes] = 1;
      parent[a] = parent[b] = nodes;
      alive[a] = alive[b] = 0;
      nodes++;
      count--;
    }
    int longest = 0;
    for (int i = 0; i < n; i++) {
      if (!freq[i]) continue;
      int depth = 0;
      for (int p = parent[i]; p >= 0; p = parent[p]) depth++;
      len[i] = (uint8_t)depth;
      if (depth > longest) longest = depth;
    }
    if (longest <= max_bits) return;
    for (int i = 0; i < n; i++)
      if (freq[i]) freq[i] = (freq[i] >> 1) | 1;
  }
}

// Canonical codes (RFC 1951 3.2.2), bit-reversed because deflate sends a code's first bit first.
static void build_codes(const uint8_t* len, int n, uint16_t* code) {
  uint16_t bl_count[kMaxBits + 1] = {0}, next[kMaxBits + 2] = {0};
  for (int i = 0; i < n; i++) bl_count[len[i]]++;
  bl_count[0] = 0;
  uint16_t c = 0;
  for (int bits = 1; bits <= kMaxBits; bits++) {
    c = (uint16_t)((c + bl_count[bits - 1]) << 1);
    next[bits] = c;
  }
  for (int i = 0; i < n; i++) {
    if (!len[i]) continue;
    uint16_t v = next[len[i]]++, r = 0;
    for (int k = 0; k < len[i]; k++) r = (uint16_t)((r << 1) | ((v >> k) & 1));
    code[i] = r;
  }
}

// ---- deflate -------------------------------------------------------------------------------------------

// Match lengths 3..258 → length symbol, extra bits, extra value.
static uint16_t len_sym[259];
static uint8_t len_extra_bits[259];
static uint8_t len_extra[259];

static void length_init(void) {
  if (len_sym[3]) return;
  static const uint16_t base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                    31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
  static const uint8_t extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                    2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
  for (int s = 0; s < 29; s++) {
    int end = s + 1 < 29 ? base[s + 1] : 259;
    if (s == 28) end = 259;
    for (int l = base[s]; l < end && l <= 258; l++) {
      len_sym[l] = (uint16_t)(257 + s);
      len_extra_bits[l] = extra[s];
      len_extra[l] = (uint8_t)(l - base[s]);
    }
  }
  // 258 has its own symbol (285, no extra bits), not 284 with extra 31.
  len_sym[258] = 285;
  len_extra_bits[258] = 0;
  len_extra[258] = 0;
}

// A token is a literal byte (< 256) or a run: 0x10000 | length, always at distance 1.
static size_t tokenize(const uint8_t* in, size_t start, size_t end, uint32_t* tokens, uint32_t* freq) {
  size_t n = 0, i = start;
  while (i < end) {
    if (i > 0 && in[i] == in[i - 1]) {
      const uint8_t b = in[i - 1];
      size_t run = 1;
      while (run < 258 && i + run < end && in[i + run] == b) run++;
      if (run >= 3) {
        tokens[n++] = 0x10000u | (uint32_t)run;
        freq[len_sym[run]]++;
        i += run;
        continue;
      }
    }
    tokens[n++] = in[i];
    freq[in[i]]++;
    i++;
  }
  return n;
}

// The lit/len and distance code lengths as the code-length alphabet codes them (with 16, 17, 18 runs).
typedef struct {
  uint8_t sym[kLitLen + 2];
  uint8_t extra[kLitLen + 2];
  int n;
} clen_seq;

static void rle_lengths(const uint8_t* lens, int total, clen_seq* s, uint32_t* freq) {
  s->n = 0;
  for (int i = 0; i < total;) {
    const uint8_t l = lens[i];
    int run = 1;
    while (i + run < total && lens[i + run] == l) run++;
    if (l == 0 && run >= 3) {
      int r = run > 138 ? 138 : run;
      if (r >= 11) {
        s->sym[s->n] = 18;
        s->extra[s->n++] = (uint8_t)(r - 11);
      } else {
        s->sym[s->n] = 17;
        s->extra[s->n++] = (uint8_t)(r - 3);
      }
      freq[s->sym[s->n - 1]]++;
      i += r;
    } else if (l != 0 && run >= 4) {
      s->sym[s->n] = l;
      s->extra[s->n++] = 0;
      freq[l]++;
      int r = run - 1 > 6 ? 6 : run - 1;
      s->sym[s->n] = 16;
      s->extra[s->n++] = (uint8_t)(r - 3);
      freq[16]++;
      i += 1 + r;
    } else {
      s->sym[s->n] = l;
      s->extra[s->n++] = 0;
      freq[l]++;
      i++;
    }
  }
}

static void write_block(out_buf* o, const uint32_t* tokens, size_t ntok, uint32_t* freq, int final) {
  freq[256] = 1;
  uint8_t lens[kLitLen + 2];
  uint16_t codes[kLitLen] = {0};
  build_lengths(freq, kLitLen, kMaxBits, lens);
  build_codes(lens, kLitLen, codes);
  int nlit = kLitLen;
  while (nlit > 257 && lens[nlit - 1] == 0) nlit--;
  // Only distance 1 (code 0) is used; two one-bit distance codes keep the tree complete for every decoder.
  lens[nlit] = 1;
  lens[nlit + 1] = 1;
  const int ndist = 2;

  uint32_t cfreq[19] = {0};
  clen_seq seq;
  rle_lengths(lens, nlit + ndist, &seq, cfreq);
  // zlib refuses an incomplete code-length code: with a single symbol in use, a second one gets a code too.
  int used = 0;
  for (int i = 0; i < 19; i++) used += cfreq[i] > 0;
  if (used == 1) cfreq[cfreq[0] ? 1 : 0] = 1;
  uint8_t clens[19];
  uint16_t ccodes[19] = {0};
  build_lengths(cfreq, 19, kClenBits, clens);
  build_codes(clens, 19, ccodes);
  static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
  int nclen = 19;
  while (nclen > 4 && clens[order[nclen - 1]] == 0) nclen--;

  // Every token costs at most 15 + 5 (length extra) + 1 (distance) bits; the header well under 4 KiB.
  if (!reserve(o, ntok * 3 + 4096)) return;
  put_bits(o, (uint32_t)final, 1);
  put_bits(o, 2, 2);  // dynamic Huffman codes
  put_bits(o, (uint32_t)(nlit - 257), 5);
  put_bits(o, (uint32_t)(ndist - 1), 5);
  put_bits(o, (uint32_t)(nclen - 4), 4);
  for (int i = 0; i < nclen; i++) put_bits(o, clens[order[i]], 3);
  static const uint8_t extra_bits[19] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7};
  for (int i = 0; i < seq.n; i++) {
    const uint8_t s = seq.sym[i];
    put_bits(o, ccodes[s], clens[s]);
    if (extra_bits[s]) put_bits(o, seq.extra[i], extra_bits[s]);
  }
  for (size_t i = 0; i < ntok; i++) {
    const uint32_t t = tokens[i];
    if (t < 256) {
      put_bits(o, codes[t], lens[t]);
    } else {
      const uint32_t run = t & 0xFFFF;
      const uint16_t s = len_sym[run];
      put_bits(o, codes[s], lens[s]);
      if (len_extra_bits[run]) put_bits(o, len_extra[run], len_extra_bits[run]);
      put_bits(o, 0, 1);  // distance code 0: distance 1
    }
  }
  put_bits(o, codes[256], lens[256]);
}

static void write_zlib(out_buf* o, const uint8_t* in, size_t n) {
  const uint8_t header[2] = {0x78, 0x01};  // deflate, 32 KiB window, no dictionary; (0x7801 % 31) == 0
  put_bytes(o, header, 2);
  uint32_t* tokens = malloc(sizeof(uint32_t) * (n < kBlockInput ? n + 1 : kBlockInput));
  if (!tokens) {
    o->failed = 1;
    return;
  }
  size_t start = 0;
  do {
    size_t end = n - start > kBlockInput ? start + kBlockInput : n;
    uint32_t freq[kLitLen] = {0};
    size_t ntok = tokenize(in, start, end, tokens, freq);
    write_block(o, tokens, ntok, freq, end == n);
    if (o->failed) break;
    start = end;
  } while (start < n);
  free(tokens);
  if (o->failed || !reserve(o, 8)) return;
  flush_bits(o);
  put_be32(o, adler32(in, n));
}

// ---- PNG ---------------------------------------------------------------------------------------------

static void put_chunk(out_buf* o, const char type[4], const uint8_t* data, size_t n) {
  put_be32(o, (uint32_t)n);
  put_bytes(o, type, 4);
  if (n) put_bytes(o, data, n);
  uint32_t crc = crc_update(0, (const uint8_t*)type, 4);
  put_be32(o, crc_update(crc, data, n));
}

// Sub on the first row (nothing above it), Average on the others: one add and a shift a byte, and a flat
// area or a smooth gradient becomes runs of small values.
static void filter_rows(const uint8_t* px, int w, int h, int bpp, size_t stride, uint8_t* f) {
  const size_t row = (size_t)w * (size_t)bpp;
  for (int y = 0; y < h; y++) {
    const uint8_t* cur = px + (size_t)y * stride;
    uint8_t* d = f + (size_t)y * (row + 1);
    if (y == 0) {
      d[0] = 1;
      for (size_t i = 0; i < row; i++) d[1 + i] = (uint8_t)(cur[i] - (i >= (size_t)bpp ? cur[i - bpp] : 0));
      continue;
    }
    const uint8_t* up = cur - stride;
    d[0] = 3;
    for (size_t i = 0; i < (size_t)bpp; i++) d[1 + i] = (uint8_t)(cur[i] - (up[i] >> 1));
    for (size_t i = bpp; i < row; i++) d[1 + i] = (uint8_t)(cur[i] - ((cur[i - bpp] + up[i]) >> 1));
  }
}

int wq_png_write(const uint8_t* px, int w, int h, int channels, size_t stride, uint8_t** out, size_t* size,
                 size_t* cap) {
  if (!px || w <= 0 || h <= 0 || !out || !size || !cap) return 0;
  if (channels != 1 && channels != 3 && channels != 4) return 0;
  const size_t row = (size_t)w * (size_t)channels;
  if (stride < row || (size_t)h > ((size_t)-1 >> 2) / (row + 1)) return 0;
  crc_init();
  length_init();

  const size_t filtered_size = (size_t)h * (row + 1);
  uint8_t* filtered = malloc(filtered_size);
  if (!filtered) {
    free(*out);
    *out = NULL;
    return 0;
  }
  filter_rows(px, w, h, channels, stride, filtered);

  out_buf o = {*out, *size, *cap, 0, 0, 0};
  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  put_bytes(&o, signature, 8);
  uint8_t ihdr[13] = {(uint8_t)(w >> 24), (uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w,
                      (uint8_t)(h >> 24), (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h,
                      8, (uint8_t)(channels == 1 ? 0 : channels == 3 ? 2 : 6), 0, 0, 0};
  put_chunk(&o, "IHDR", ihdr, sizeof ihdr);

  // The IDAT's data is the zlib stream; it is written in place after a length field filled in afterwards.
  const size_t length_at = o.size;
  put_be32(&o, 0);
  put_bytes(&o, "IDAT", 4);
  const size_t data_at = o.size;
  write_zlib(&o, filtered, filtered_size);
  free(filtered);
  if (!o.failed) {
    const size_t n = o.size - data_at;
    o.data[length_at] = (uint8_t)(n >> 24);
    o.data[length_at + 1] = (uint8_t)(n >> 16);
    o.data[length_at + 2] = (uint8_t)(n >> 8);
    o.data[length_at + 3] = (uint8_t)n;
    put_be32(&o, crc_update(0, o.data + length_at + 4, n + 4));
    put_chunk(&o, "IEND", NULL, 0);
  }
  if (o.failed) {
    free(o.data);
    *out = NULL;
    *size = *cap = 0;
    return 0;
  }
  *out = o.data;
  *size = o.size;
  *cap = o.cap;
  return 1;
}
