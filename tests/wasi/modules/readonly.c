// readonly: run with /in preopened read-only (holding data.txt = "input") and /out writable.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

int main(void) {
  char buf[64];
  CHECK(slurp("/in/data.txt", buf, sizeof buf) == 5 && strcmp(buf, "input") == 0);
  // wasi-libc asks only for the rights the directory passes on, so O_WRONLY yields an fd without FD_WRITE
  int fd = open("/in/data.txt", O_WRONLY);
  CHECK(fd < 0 || (write(fd, "x", 1) == -1 && errno == EBADF));
  if (fd >= 0) close(fd);
  CHECK_FAILS(open("/in/data.txt", O_WRONLY | O_TRUNC), ENOTCAPABLE);
  __wasi_fd_t wfd;
  CHECK_WASI(__wasi_path_open(3, 0, "data.txt", 0, __WASI_RIGHTS_FD_WRITE, 0, 0, &wfd),
             __WASI_ERRNO_NOTCAPABLE);
  CHECK_FAILS(open("/in/new.txt", O_WRONLY | O_CREAT, 0644), ENOTCAPABLE);
  CHECK_FAILS(unlink("/in/data.txt"), ENOTCAPABLE);
  CHECK_FAILS(mkdir("/in/d", 0755), ENOTCAPABLE);
  CHECK_FAILS(rename("/in/data.txt", "/in/x"), ENOTCAPABLE);
  CHECK_FAILS(symlink("data.txt", "/in/l"), ENOTCAPABLE);
  __wasi_fdstat_t st;
  CHECK_WASI(__wasi_fd_fdstat_get(3, &st), 0);
  CHECK(!(st.fs_rights_inheriting & __WASI_RIGHTS_FD_WRITE));
  CHECK(spit("/out/result.txt", "done") == 0);
  REPORT();
}
