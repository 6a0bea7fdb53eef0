// stdio: reads all of stdin and writes "stdin:<bytes>:<uppercased>" to stdout and "to-stderr" to stderr.
// `big N` writes N bytes of 'x' to stdout instead. Checks how the streams look from inside.
#include <ctype.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "big") == 0) {
    long n = atol(argv[2]);
    static char chunk[4096];
    memset(chunk, 'x', sizeof chunk);
    while (n > 0) {
      long k = n < (long)sizeof chunk ? n : (long)sizeof chunk;
      if (write(1, chunk, (size_t)k) != k) return 3;
      n -= k;
    }
    return 0;
  }
  static char in[1 << 16];
  size_t len = 0;
  ssize_t r;
  while ((r = read(0, in + len, sizeof in - len - 1)) > 0) len += (size_t)r;
  if (r < 0) return 4;
  for (size_t i = 0; i < len; ++i) in[i] = (char)toupper((unsigned char)in[i]);
  in[len] = 0;
  printf("stdin:%zu:%s", len, in);
  fflush(stdout);
  fprintf(stderr, "to-stderr\n");
  // stdio are streams: no seeking, and fds 0-2 exist whatever the host connects them to
  __wasi_filesize_t off;
  if (__wasi_fd_seek(1, 0, __WASI_WHENCE_SET, &off) != __WASI_ERRNO_SPIPE) return 5;
  __wasi_fdstat_t st;
  for (int fd = 0; fd < 3; ++fd)
    if (__wasi_fd_fdstat_get(fd, &st) != 0) return 6;
  if (__wasi_fd_fdstat_get(0, &st) != 0 || (st.fs_rights_base & __WASI_RIGHTS_FD_WRITE)) return 7;
  if (__wasi_fd_fdstat_get(1, &st) != 0 || !(st.fs_rights_base & __WASI_RIGHTS_FD_WRITE)) return 8;
  return 0;
}
