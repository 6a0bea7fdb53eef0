// crc32: table-driven CRC-32 (IEEE) and a bitwise CRC-32C over a 1 MiB buffer — table loads, shifts, xors.
#include "kernel.h"

#define BUF (1024 * 1024)
static uint8_t data[BUF];
static uint32_t table[256];

static uint32_t crc32_table(const uint8_t* p, size_t n, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

static uint32_t crc32c_bitwise(const uint8_t* p, size_t n, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
  }
  return ~crc;
}

int main(int argc, char** argv) {
  int reps = kernel_arg(argc, argv, 24);
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  for (int i = 0; i < BUF; i++) data[i] = (uint8_t)kernel_rand();
  uint32_t a = 0, b = 0;
  for (int r = 0; r < reps; r++) {
    a = crc32_table(data, BUF, a);
    if (r % 4 == 0) b = crc32c_bitwise(data, BUF / 4, b);
    data[r] ^= (uint8_t)a;
  }
  kernel_print("crc32", (uint64_t)a << 32 | b);
  return 0;
}
