// race: symlinks planted by someone else while the module runs. The module creates the directories
// race_abs/ and race_rel/ in its preopen (fd 3, guest path argv[1]), opens race_abs/ as a directory fd,
// writes `ready` and waits for `go`. Meanwhile the host test replaces race_abs with a symlink to the
// (absolute) directory holding secret.txt, outside the preopen, and race_rel with a symlink to "..".
// Nothing planted may lead out.
#include <stdlib.h>
#include <time.h>

#include "check.h"

static int exists(const char* name) {
  __wasi_filestat_t st;
  return __wasi_path_filestat_get(3, 0, name, &st) == 0;
}

int main(void) {
  const __wasi_rights_t R = __WASI_RIGHTS_FD_READ;
  const __wasi_lookupflags_t F = __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW;
  CHECK_WASI(__wasi_path_create_directory(3, "race_abs"), 0);
  CHECK_WASI(__wasi_path_create_directory(3, "race_rel"), 0);
  __wasi_fd_t held;
  CHECK_WASI(
      __wasi_path_open(3, 0, "race_abs", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_PATH_OPEN, R, 0, &held), 0);
  __wasi_fd_t fd;
  CHECK_WASI(__wasi_path_open(3, 0, "ready", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, 0, &fd), 0);
  CHECK_WASI(__wasi_fd_close(fd), 0);
  int waited = 0;
  while (!exists("go") && waited < 20000) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
    waited += 10;
  }
  CHECK(exists("go"));
  __wasi_filestat_t st;
  CHECK_WASI(__wasi_path_filestat_get(3, 0, "race_abs", &st), 0);
  CHECK(st.filetype == __WASI_FILETYPE_SYMBOLIC_LINK);  // the swap really happened
  CHECK_WASI(__wasi_path_open(3, F, "race_abs/secret.txt", 0, R, 0, 0, &fd), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_open(3, 0, "race_abs/secret.txt", 0, R, 0, 0, &fd), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_open(3, F, "race_abs", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd),
             __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_filestat_get(3, F, "race_abs/secret.txt", &st), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_open(3, F, "race_rel/secret.txt", 0, R, 0, 0, &fd), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_open(3, F, "race_rel/box/race_rel/secret.txt", 0, R, 0, 0, &fd),
             __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_create_directory(3, "race_rel/planted"), __WASI_ERRNO_NOTCAPABLE);
  // The directory fd opened before the swap still means the old (now removed) directory, nothing else.
  CHECK_WASI(__wasi_path_open(held, F, "secret.txt", 0, R, 0, 0, &fd), __WASI_ERRNO_NOENT);
  CHECK_WASI(__wasi_path_open(held, F, "../secret.txt", 0, R, 0, 0, &fd), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_fd_close(held), 0);
  REPORT();
}
