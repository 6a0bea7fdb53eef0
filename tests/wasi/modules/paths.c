// paths: the rules the public WASI testsuite (wasi-testsuite, tests/rust path_link,
// path_symlink_trailing_slashes, path_filestat) checks and wasmq once got wrong, as raw WASI calls on the
// preopened scratch directory (fd 3, empty; argv[1] is its guest path).
//  - A new name ending in '/' names a directory: path_symlink and path_link refuse it with ENOENT when
//    nothing is there (a symlink or a hard link is never a directory), EEXIST (or ENOTDIR) when something
//    is; they must never create the name without its slash.
//  - path_open's fdflags need rights the directory passes on: DSYNC needs FD_DATASYNC, RSYNC and SYNC need
//    FD_SYNC (as in the preview1 spec), not FD_DATASYNC for all three.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#define DIR_FD 3

static int exists(const char* name) {
  __wasi_filestat_t st;
  return __wasi_path_filestat_get(DIR_FD, 0, name, &st) == 0;
}

static void make_file(const char* name) {
  __wasi_fd_t fd;
  CHECK_WASI(__wasi_path_open(DIR_FD, 0, name, __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, 0, &fd), 0);
  CHECK_WASI(__wasi_fd_close(fd), 0);
}

static void symlink_trailing_slash(void) {
  CHECK_WASI(__wasi_path_symlink("source", DIR_FD, "target/"), __WASI_ERRNO_NOENT);
  CHECK(!exists("target"));  // not created without its slash either
  CHECK_WASI(__wasi_path_create_directory(DIR_FD, "target"), 0);
  CHECK_WASI(__wasi_path_symlink("source", DIR_FD, "target/"), __WASI_ERRNO_EXIST);
  CHECK_WASI(__wasi_path_symlink("source", DIR_FD, "target"), __WASI_ERRNO_EXIST);
  CHECK_WASI(__wasi_path_remove_directory(DIR_FD, "target"), 0);
  make_file("target");
  CHECK_WASI(__wasi_path_symlink("source", DIR_FD, "target/"), __WASI_ERRNO_NOTDIR);
  CHECK_WASI(__wasi_path_symlink("source", DIR_FD, "target"), __WASI_ERRNO_EXIST);
  CHECK_WASI(__wasi_path_unlink_file(DIR_FD, "target"), 0);
  CHECK_WASI(__wasi_path_symlink("source", DIR_FD, "target"), 0);  // without the slash: a dangling link
  CHECK_WASI(__wasi_path_unlink_file(DIR_FD, "target"), 0);
}

static void link_trailing_slash(void) {
  make_file("file");
  CHECK_WASI(__wasi_path_link(DIR_FD, 0, "file", DIR_FD, "link/"), __WASI_ERRNO_NOENT);
  CHECK(!exists("link"));
  CHECK_WASI(__wasi_path_create_directory(DIR_FD, "dir"), 0);
  CHECK_WASI(__wasi_path_link(DIR_FD, 0, "file", DIR_FD, "dir/"), __WASI_ERRNO_EXIST);
  CHECK_WASI(__wasi_path_link(DIR_FD, 0, "file", DIR_FD, "dir"), __WASI_ERRNO_EXIST);
  CHECK_WASI(__wasi_path_link(DIR_FD, 0, "file/", DIR_FD, "link"), __WASI_ERRNO_NOTDIR);
  CHECK_WASI(__wasi_path_link(DIR_FD, 0, "file", DIR_FD, "link"), 0);
  CHECK_WASI(__wasi_path_unlink_file(DIR_FD, "link"), 0);
  CHECK_WASI(__wasi_path_remove_directory(DIR_FD, "dir"), 0);
}

// Opens "sub" with `inheriting` as the rights it passes on, then "file" beneath it with `fdflags`.
static __wasi_errno_t open_with(__wasi_rights_t inheriting, __wasi_fdflags_t fdflags) {
  __wasi_fd_t sub, fd;
  __wasi_errno_t e =
      __wasi_path_open(DIR_FD, 0, "sub", __WASI_OFLAGS_DIRECTORY,
                       __WASI_RIGHTS_PATH_OPEN | __WASI_RIGHTS_PATH_CREATE_FILE, inheriting, 0, &sub);
  if (e != 0) return 1000 + e;
  e = __wasi_path_open(sub, 0, "file", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE, 0,
                       fdflags, &fd);
  if (e == 0) CHECK_WASI(__wasi_fd_close(fd), 0);
  CHECK_WASI(__wasi_fd_close(sub), 0);
  return e;
}

static void sync_flags_rights(void) {
  const __wasi_rights_t rw = __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE;
  CHECK_WASI(__wasi_path_create_directory(DIR_FD, "sub"), 0);
  // What wasi-testsuite's directories pass on: FD_SYNC, no FD_DATASYNC.
  CHECK_WASI(open_with(rw | __WASI_RIGHTS_FD_SYNC, __WASI_FDFLAGS_SYNC | __WASI_FDFLAGS_APPEND), 0);
  CHECK_WASI(open_with(rw | __WASI_RIGHTS_FD_SYNC, __WASI_FDFLAGS_RSYNC), 0);
  CHECK_WASI(open_with(rw | __WASI_RIGHTS_FD_SYNC, __WASI_FDFLAGS_DSYNC), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(open_with(rw | __WASI_RIGHTS_FD_DATASYNC, __WASI_FDFLAGS_DSYNC), 0);
  CHECK_WASI(open_with(rw | __WASI_RIGHTS_FD_DATASYNC, __WASI_FDFLAGS_SYNC), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(open_with(rw, __WASI_FDFLAGS_APPEND), 0);
  CHECK_WASI(__wasi_path_unlink_file(DIR_FD, "sub/file"), 0);
  CHECK_WASI(__wasi_path_remove_directory(DIR_FD, "sub"), 0);
}

int main(void) {
  symlink_trailing_slash();
  link_trailing_slash();
  sync_flags_rights();
  CHECK_WASI(__wasi_path_unlink_file(DIR_FD, "file"), 0);
  REPORT();
}
