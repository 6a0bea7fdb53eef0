// sandbox: attempts to get out of the preopened directory (fd 3, guest path argv[1]) or to see anything
// of the host that was not given. The host test prepares, next to and inside the preopen:
//   ../secret.txt            "TOP SECRET" (outside)
//   inside.txt               "inside"
//   link_abs     -> /etc     link_secret_abs -> <absolute path of ../secret.txt>
//   link_up      -> ../secret.txt            sub/link_upup -> ../../secret.txt
//   sub/ok_link  -> ../inside.txt            dirlink -> sub
//   loop1 -> loop2, loop2 -> loop1
// and runs it with exactly one environment variable, ONLY=this.
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "raw.h"

static const __wasi_rights_t R = __WASI_RIGHTS_FD_READ;
static char leaked[4096];
static const char* root;
static const char* root_path(void) { return root; }

// Opens `path` beneath fd 3 and returns the errno; on success reads the file and records its contents.
static int try_open(const char* path, int follow) {
  __wasi_fd_t fd;
  __wasi_errno_t e =
      __wasi_path_open(3, follow ? __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW : 0, path, 0, R, 0, 0, &fd);
  if (e == 0) {
    char buf[64] = {0};
    __wasi_iovec_t iov = {(uint8_t*)buf, sizeof buf - 1};
    __wasi_size_t n;
    if (__wasi_fd_read(fd, &iov, 1, &n) == 0) strncat(leaked, buf, sizeof leaked - strlen(leaked) - 1);
    CHECK_WASI(__wasi_fd_close(fd), 0);
  }
  return e;
}

static void paths(void) {
  const int F = 1;
  CHECK_WASI(try_open("inside.txt", F), 0);
  CHECK_WASI(try_open("../secret.txt", F), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(try_open("..", F), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(try_open("sub/../../secret.txt", F), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(try_open("sub/../sub/../../secret.txt", F), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(try_open("./sub/./../inside.txt", F), 0);  // `..` that stays inside is fine
  CHECK_WASI(try_open("/etc/passwd", F), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(try_open("/", F), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(try_open("//etc/passwd", F), __WASI_ERRNO_NOTCAPABLE);
  // symlinks out, followed explicitly or as an intermediate component
  CHECK_WASI(try_open("link_abs", F), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(try_open("link_abs/passwd", F), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(try_open("link_abs/passwd", 0), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(try_open("link_secret_abs", F), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(try_open("link_up", F), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(try_open("link_up", 0), __WASI_ERRNO_LOOP);  // not followed: O_NOFOLLOW semantics
  CHECK_WASI(try_open("sub/link_upup", F), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(try_open("dirlink/link_upup", F), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(try_open("sub/ok_link", F), 0);
  CHECK_WASI(try_open("dirlink/ok_link", F), 0);
  CHECK_WASI(try_open("dirlink/../inside.txt", F), 0);
  CHECK_WASI(try_open("dirlink/../../secret.txt", F), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(try_open("loop1", F), __WASI_ERRNO_LOOP);
  CHECK_WASI(try_open("loop1/x", 0), __WASI_ERRNO_LOOP);

  // every path call refuses the same escapes
  __wasi_filestat_t st;
  CHECK_WASI(__wasi_path_filestat_get(3, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "link_up", &st),
             __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_filestat_get(3, 0, "link_up", &st), 0);  // the link itself is inside
  CHECK(st.filetype == __WASI_FILETYPE_SYMBOLIC_LINK);
  CHECK_WASI(__wasi_path_filestat_get(3, 0, "../secret.txt", &st), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_filestat_set_times(3, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "link_up", 0, 0,
                                            __WASI_FSTFLAGS_MTIM_NOW),
             __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_create_directory(3, "../newdir"), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_create_directory(3, "link_abs/newdir"), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_remove_directory(3, ".."), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_unlink_file(3, "../secret.txt"), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_unlink_file(3, "link_abs/passwd"), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_rename(3, "inside.txt", 3, "../moved.txt"), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_rename(3, "../secret.txt", 3, "stolen.txt"), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_link(3, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "link_up", 3, "hard"),
             __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_link(3, 0, "../secret.txt", 3, "hard"), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_link(3, 0, "inside.txt", 3, "../hard"), __WASI_ERRNO_NOTCAPABLE);
  char buf[256];
  __wasi_size_t n;
  CHECK_WASI(__wasi_path_readlink(3, "sub/../../x", (uint8_t*)buf, sizeof buf, &n), __WASI_ERRNO_NOTCAPABLE);
  // creating a symlink that points out is refused too (the host might follow it later)
  CHECK_WASI(__wasi_path_symlink("/etc/passwd", 3, "evil1"), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_symlink("../secret.txt", 3, "evil2"), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_symlink("../../secret.txt", 3, "sub/evil3"), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_symlink("x/../../secret.txt", 3, "evil4"), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_symlink("../inside.txt", 3, "sub/good"), 0);
  CHECK_WASI(try_open("sub/good", 1), 0);
  CHECK_WASI(__wasi_path_symlink("inside.txt", 3, "../evil5"), __WASI_ERRNO_NOTCAPABLE);
  // ... nor moved or hard-linked to where its relative target would climb out
  CHECK_WASI(__wasi_path_symlink("../inside.txt", 3, "sub/mover"), 0);
  CHECK_WASI(__wasi_path_rename(3, "sub/mover", 3, "mover"), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_link(3, 0, "sub/mover", 3, "mover_hard"), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_rename(3, "sub/mover", 3, "sub/mover2"), 0);  // same depth: fine

  // a directory fd opened beneath the preopen is a capability for that subtree only
  __wasi_fd_t sub;
  CHECK_WASI(__wasi_path_open(3, 0, "sub", __WASI_OFLAGS_DIRECTORY,
                              __WASI_RIGHTS_PATH_OPEN | __WASI_RIGHTS_FD_READDIR, R, 0, &sub),
             0);
  __wasi_fd_t fd;
  CHECK_WASI(__wasi_path_open(sub, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "../inside.txt", 0, R, 0, 0, &fd),
             __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_path_open(sub, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "ok_link", 0, R, 0, 0, &fd),
             __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_fd_close(sub), 0);

  // the same through wasi-libc's POSIX layer
  errno = 0;
  CHECK(open("/etc/passwd", O_RDONLY) == -1);
  CHECK(fopen("/etc/passwd", "r") == NULL);
  char p[512];
  snprintf(p, sizeof p, "%s/../secret.txt", root_path());
  CHECK(open(p, O_RDONLY) == -1 && errno == ENOTCAPABLE);
  snprintf(p, sizeof p, "%s/link_abs/passwd", root_path());
  CHECK(open(p, O_RDONLY) == -1 && errno == ENOTCAPABLE);
  snprintf(p, sizeof p, "%s/link_up", root_path());
  CHECK(open(p, O_RDONLY) == -1 && errno == ENOTCAPABLE);
  CHECK(opendir("/") == NULL);
  CHECK(opendir("/etc") == NULL);
  CHECK(chdir("/etc") == -1);
}

static void fds(void) {
  // The fd table is wasmq's: 0-2 and the one preopen, nothing else, whatever number is tried.
  int open_fds = 0, preopens = 0;
  for (uint32_t fd = 0; fd < 4096; ++fd) {
    __wasi_fdstat_t st;
    if (__wasi_fd_fdstat_get(fd, &st) == 0) ++open_fds;
    __wasi_prestat_t ps;
    if (__wasi_fd_prestat_get(fd, &ps) == 0) ++preopens;
  }
  CHECK(open_fds == 4);
  CHECK(preopens == 1);
  uint32_t probes[] = {4, 5, 10, 100, 255, 1023, 1024, 65535, 0x7fffffff, 0x80000000u, 0xffffffffu};
  for (unsigned i = 0; i < sizeof probes / sizeof probes[0]; ++i) {
    __wasi_fdstat_t st;
    CHECK_WASI(__wasi_fd_fdstat_get(probes[i], &st), __WASI_ERRNO_BADF);
    char c;
    __wasi_iovec_t iov = {(uint8_t*)&c, 1};
    __wasi_size_t n;
    CHECK_WASI(__wasi_fd_read(probes[i], &iov, 1, &n), __WASI_ERRNO_BADF);
  }
  // the preopen is a directory capability, not a file
  __wasi_fdstat_t st;
  CHECK_WASI(__wasi_fd_fdstat_get(3, &st), 0);
  CHECK(st.fs_filetype == __WASI_FILETYPE_DIRECTORY);
  CHECK(!(st.fs_rights_base & (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE)));
  // fds of closed files are gone, and never reach a host fd with the same number
  __wasi_fd_t fd;
  CHECK_WASI(__wasi_path_open(3, 0, "inside.txt", 0, R, 0, 0, &fd), 0);
  CHECK(fd == 4);
  CHECK_WASI(__wasi_fd_close(fd), 0);
  CHECK_WASI(__wasi_fd_fdstat_get(fd, &st), __WASI_ERRNO_BADF);
}

extern char** environ;

static void env(void) {
  int n = 0;
  for (char** e = environ; *e; ++e) ++n;
  CHECK(n == 1);
  CHECK(getenv("ONLY") && strcmp(getenv("ONLY"), "this") == 0);
  CHECK(getenv("PATH") == NULL);
  CHECK(getenv("HOME") == NULL);
  CHECK(getenv("WASMQ_HOST_SECRET") == NULL);
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  root = argv[1];
  paths();
  fds();
  env();
  CHECK(strstr(leaked, "TOP SECRET") == NULL);
  CHECK(strstr(leaked, "root:") == NULL);
  REPORT();
}
