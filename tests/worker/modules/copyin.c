// Copies the task's staged input /in/source.png to /out/copy.png and a 6 MiB /out/big.bin (a multipart
// upload when published to a bucket with 5 MiB parts), then prints {"copied": N}: the object storage
// fleet test's task.
#include <fcntl.h>
#include <unistd.h>

#include "wasmq.h"

static char block[65536];

int main(void) {
  free(read_stdin());
  int in = open("/in/source.png", O_RDONLY);
  if (in < 0) return 2;
  int out = open("/out/copy.png", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0) return 3;
  long copied = 0;
  ssize_t n;
  while ((n = read(in, block, sizeof block)) > 0) {
    if (write(out, block, (size_t)n) != n) return 4;
    copied += n;
  }
  close(in);
  close(out);
  int big = open("/out/big.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (big < 0) return 5;
  for (int i = 0; i < (6 << 20) / (int)sizeof block; ++i) {
    memset(block, 'a' + i % 26, sizeof block);
    if (write(big, block, sizeof block) != (ssize_t)sizeof block) return 6;
  }
  close(big);
  printf("{\"copied\": %ld}\n", copied);
  return 0;
}
