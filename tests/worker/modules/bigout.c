// Writes to /out until the output quota refuses (or 4 MiB), ignoring the error, and exits 0: the task must
// still fail with OUTPUT_TOO_LARGE and leave no partial output. Config {"stdout": N} instead prints N bytes
// to stdout (the task's result) and stderr, for the capture cap.
#include <fcntl.h>
#include <unistd.h>

#include "wasmq.h"

static char block[4096];

int main(void) {
  char* task = read_stdin();
  long n = json_int(task, "stdout", -1);
  memset(block, 'x', sizeof block);
  if (n >= 0) {
    for (long i = 0; i < n; i += (long)sizeof block) {
      size_t len = n - i < (long)sizeof block ? (size_t)(n - i) : sizeof block;
      fwrite(block, 1, len, stdout);
      fwrite(block, 1, len, stderr);
    }
    return 0;
  }
  int fd = open("/out/part.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 1;
  for (long total = 0; total < (4L << 20);) {
    ssize_t w = write(fd, block, sizeof block);
    if (w < 0) break;
    total += w;
  }
  close(fd);
  int other = open("/out/other.txt", O_WRONLY | O_CREAT, 0644);
  if (other >= 0) close(other);
  printf("{\"done\": true}\n");
  return 0;
}
