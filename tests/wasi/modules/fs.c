// fs: every file and directory operation, through wasi-libc and through the raw WASI calls (to see the
// exact errno). argv[1] is the guest path of the preopened scratch directory, which is fd 3.
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "raw.h"

static const char* root;
static char pbuf[4][512];
static int pnext;
// root + "/" + name, in one of four rotating buffers.
static const char* P(const char* name) {
  char* b = pbuf[pnext++ & 3];
  snprintf(b, sizeof pbuf[0], "%s/%s", root, name);
  return b;
}

static void files(void) {
  char buf[256];
  CHECK(spit(P("a.txt"), "hello world\n") == 0);
  struct stat st;
  CHECK(stat(P("a.txt"), &st) == 0 && st.st_size == 12 && S_ISREG(st.st_mode));
  CHECK(slurp(P("a.txt"), buf, sizeof buf) == 12 && strcmp(buf, "hello world\n") == 0);

  int fd = open(P("a.txt"), O_RDWR);
  CHECK(fd >= 0);
  CHECK(read(fd, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0);
  CHECK(lseek(fd, 0, SEEK_CUR) == 5);
  CHECK(lseek(fd, -3, SEEK_END) == 9);
  CHECK(read(fd, buf, 10) == 3 && memcmp(buf, "ld\n", 3) == 0);
  CHECK(read(fd, buf, 10) == 0);  // EOF
  CHECK(lseek(fd, 6, SEEK_SET) == 6);
  CHECK(write(fd, "WORLD", 5) == 5);
  CHECK(pread(fd, buf, 4, 1) == 4 && memcmp(buf, "ello", 4) == 0);
  CHECK(pwrite(fd, "J", 1, 0) == 1);
  CHECK(lseek(fd, 0, SEEK_CUR) == 11);  // pread/pwrite leave the offset alone
  CHECK_FAILS(lseek(fd, -100, SEEK_CUR), EINVAL);
  __wasi_filesize_t off;
  CHECK_WASI(__wasi_fd_seek(fd, 0, 7, &off), __WASI_ERRNO_INVAL);  // bad whence
  CHECK_WASI(__wasi_fd_tell(fd, &off), 0);
  CHECK(off == 11);
  CHECK(close(fd) == 0);
  CHECK(slurp(P("a.txt"), buf, sizeof buf) == 12 && strcmp(buf, "Jello WORLD\n") == 0);

  // O_APPEND, O_EXCL, O_TRUNC, missing files
  fd = open(P("a.txt"), O_WRONLY | O_APPEND);
  CHECK(fd >= 0 && write(fd, "more\n", 5) == 5 && close(fd) == 0);
  CHECK(slurp(P("a.txt"), buf, sizeof buf) == 17 && strcmp(buf + 12, "more\n") == 0);
  CHECK_FAILS(open(P("a.txt"), O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
  CHECK_FAILS(open(P("missing.txt"), O_RDONLY), ENOENT);
  CHECK_FAILS(open(P("nodir/x.txt"), O_WRONLY | O_CREAT, 0644), ENOENT);
  CHECK_FAILS(open(P("a.txt/x"), O_RDONLY), ENOTDIR);
  CHECK_FAILS(open(P("a.txt/"), O_RDONLY), ENOTDIR);
  CHECK(spit(P("t.txt"), "0123456789") == 0);
  fd = open(P("t.txt"), O_WRONLY | O_TRUNC);
  CHECK(fd >= 0 && close(fd) == 0);
  CHECK(stat(P("t.txt"), &st) == 0 && st.st_size == 0);

  // Rights follow the open mode: a read-only fd cannot write or truncate.
  fd = open(P("a.txt"), O_RDONLY);
  CHECK(fd >= 0);
  __wasi_fdstat_t fs;
  CHECK_WASI(__wasi_fd_fdstat_get(fd, &fs), 0);
  CHECK(fs.fs_filetype == __WASI_FILETYPE_REGULAR_FILE);
  CHECK((fs.fs_rights_base & __WASI_RIGHTS_FD_READ) && !(fs.fs_rights_base & __WASI_RIGHTS_FD_WRITE));
  CHECK_FAILS(write(fd, "x", 1), EBADF);  // wasi-libc reports ENOTCAPABLE as POSIX's EBADF
  __wasi_ciovec_t civ = {(const uint8_t*)"x", 1};
  __wasi_size_t nw;
  CHECK_WASI(__wasi_fd_write(fd, &civ, 1, &nw), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_fd_filestat_set_size(fd, 0), __WASI_ERRNO_NOTCAPABLE);
  // Rights can be dropped, never regained.
  CHECK_WASI(__wasi_fd_fdstat_set_rights(fd, fs.fs_rights_base & ~__WASI_RIGHTS_FD_READ, 0), 0);
  CHECK_FAILS(read(fd, buf, 1), EBADF);
  __wasi_iovec_t iv = {(uint8_t*)buf, 1};
  CHECK_WASI(__wasi_fd_read(fd, &iv, 1, &nw), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_fd_fdstat_set_rights(fd, fs.fs_rights_base, 0), __WASI_ERRNO_NOTCAPABLE);
  CHECK(close(fd) == 0);
  CHECK_FAILS(close(fd), EBADF);

  // fdflags
  fd = open(P("a.txt"), O_WRONLY);
  CHECK(fd >= 0);
  CHECK_WASI(__wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_APPEND), 0);
  CHECK_WASI(__wasi_fd_fdstat_get(fd, &fs), 0);
  CHECK(fs.fs_flags == __WASI_FDFLAGS_APPEND);
  CHECK(write(fd, "end\n", 4) == 4);
  CHECK_WASI(__wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_SYNC), __WASI_ERRNO_NOTSUP);
  CHECK_WASI(__wasi_fd_fdstat_set_flags(fd, 0x100), __WASI_ERRNO_INVAL);
  CHECK_WASI(__wasi_fd_sync(fd), 0);
  CHECK_WASI(__wasi_fd_datasync(fd), 0);
  CHECK_WASI(__wasi_fd_advise(fd, 0, 0, __WASI_ADVICE_SEQUENTIAL), 0);
  CHECK_WASI(__wasi_fd_advise(fd, 0, 0, 9), __WASI_ERRNO_INVAL);
  CHECK(close(fd) == 0);
  CHECK(slurp(P("a.txt"), buf, sizeof buf) == 21 && strcmp(buf + 17, "end\n") == 0);

  // size: ftruncate, fd_allocate
  fd = open(P("a.txt"), O_RDWR);
  CHECK(ftruncate(fd, 5) == 0);
  CHECK(fstat(fd, &st) == 0 && st.st_size == 5);
  CHECK_WASI(__wasi_fd_allocate(fd, 0, 100), 0);
  CHECK(fstat(fd, &st) == 0 && st.st_size == 100);
  CHECK_WASI(__wasi_fd_allocate(fd, 0, 0), __WASI_ERRNO_INVAL);
  CHECK(ftruncate(fd, 5) == 0);
  CHECK(close(fd) == 0);
  CHECK(slurp(P("a.txt"), buf, sizeof buf) == 5 && strcmp(buf, "Jello") == 0);

  // fd_renumber
  int f1 = open(P("a.txt"), O_RDONLY), f2 = open(P("t.txt"), O_RDONLY);
  CHECK(f1 >= 0 && f2 >= 0);
  CHECK_WASI(__wasi_fd_renumber(f1, f2), 0);
  CHECK(read(f2, buf, 5) == 5 && memcmp(buf, "Jello", 5) == 0);
  CHECK_FAILS(close(f1), EBADF);
  CHECK_WASI(__wasi_fd_renumber(f2, 999), __WASI_ERRNO_BADF);
  CHECK_WASI(__wasi_fd_renumber(999, f2), __WASI_ERRNO_BADF);
  CHECK(close(f2) == 0);

  // The preopen itself.
  __wasi_prestat_t ps;
  CHECK_WASI(__wasi_fd_prestat_get(3, &ps), 0);
  CHECK(ps.tag == __WASI_PREOPENTYPE_DIR && ps.u.dir.pr_name_len == strlen(root));
  char name[256] = {0};
  CHECK_WASI(__wasi_fd_prestat_dir_name(3, (uint8_t*)name, sizeof name), 0);
  CHECK(strcmp(name, root) == 0);
  CHECK_WASI(__wasi_fd_prestat_dir_name(3, (uint8_t*)name, 1), __WASI_ERRNO_NAMETOOLONG);
  CHECK_WASI(__wasi_fd_prestat_get(0, &ps), __WASI_ERRNO_BADF);
  CHECK_WASI(__wasi_fd_prestat_get(4, &ps), __WASI_ERRNO_BADF);
  CHECK_WASI(__wasi_fd_fdstat_get(3, &fs), 0);
  CHECK(fs.fs_filetype == __WASI_FILETYPE_DIRECTORY && (fs.fs_rights_base & __WASI_RIGHTS_PATH_OPEN));
  CHECK_WASI(__wasi_fd_read(3, NULL, 0, (size_t*)buf), __WASI_ERRNO_ISDIR);
  CHECK_WASI(__wasi_fd_write(3, NULL, 0, (size_t*)buf), __WASI_ERRNO_BADF);
}

static void times(void) {
  struct stat st;
  struct timespec ts[2] = {{1000000000, 5}, {1200000000, 7}};
  CHECK(utimensat(AT_FDCWD, P("a.txt"), ts, 0) == 0);
  CHECK(stat(P("a.txt"), &st) == 0 && st.st_atim.tv_sec == 1000000000 && st.st_mtim.tv_sec == 1200000000 &&
        st.st_mtim.tv_nsec == 7);
  int fd = open(P("a.txt"), O_RDWR);
  struct timespec ts2[2] = {{0, UTIME_OMIT}, {1300000000, 0}};
  CHECK(futimens(fd, ts2) == 0);
  CHECK(fstat(fd, &st) == 0 && st.st_atim.tv_sec == 1000000000 && st.st_mtim.tv_sec == 1300000000);
  CHECK_WASI(__wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_MTIM_NOW), 0);
  CHECK(fstat(fd, &st) == 0 && st.st_mtim.tv_sec > 1600000000);
  CHECK_WASI(__wasi_fd_filestat_set_times(fd, 1, 0, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW),
             __WASI_ERRNO_INVAL);
  __wasi_filestat_t fst;
  CHECK_WASI(__wasi_fd_filestat_get(fd, &fst), 0);
  CHECK(fst.filetype == __WASI_FILETYPE_REGULAR_FILE && fst.size == 5 && fst.nlink == 1 &&
        fst.atim == 1000000000ull * 1000000000ull + 5);
  close(fd);
  CHECK_WASI(
      __wasi_path_filestat_set_times(3, 0, "a.txt", 0, 0, __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW),
      __WASI_ERRNO_INVAL);
  CHECK_WASI(
      __wasi_path_filestat_set_times(3, 0, "a.txt", 0, 2000000000ull * 1000000000ull, __WASI_FSTFLAGS_MTIM),
      0);
  CHECK_WASI(__wasi_path_filestat_get(3, 0, "a.txt", &fst), 0);
  CHECK(fst.mtim == 2000000000ull * 1000000000ull);
  CHECK_WASI(__wasi_path_filestat_get(3, 0, "nope", &fst), __WASI_ERRNO_NOENT);
  CHECK_WASI(__wasi_path_filestat_get(3, 0, "a.txt/", &fst), __WASI_ERRNO_NOTDIR);
}

static int cmpstr(const void* a, const void* b) { return strcmp(*(char* const*)a, *(char* const*)b); }

static void dirs(void) {
  CHECK(mkdir(P("d"), 0755) == 0);
  CHECK_FAILS(mkdir(P("d"), 0755), EEXIST);
  CHECK(spit(P("d/x"), "x") == 0 && spit(P("d/y"), "yy") == 0 && mkdir(P("d/sub"), 0755) == 0);
  CHECK_FAILS(rmdir(P("d")), ENOTEMPTY);
  CHECK_FAILS(unlink(P("d")), EISDIR);
  CHECK_FAILS(rmdir(P("d/x")), ENOTDIR);

  // readdir through wasi-libc
  DIR* dir = opendir(P("d"));
  CHECK(dir != NULL);
  char* names[16];
  int n = 0;
  struct dirent* de;
  while (dir && (de = readdir(dir)) && n < 16) {
    names[n++] = strdup(de->d_name);
    if (strcmp(de->d_name, "sub") == 0) CHECK(de->d_type == DT_DIR);
    if (strcmp(de->d_name, "x") == 0) CHECK(de->d_type == DT_REG);
  }
  if (dir) closedir(dir);
  qsort(names, n, sizeof names[0], cmpstr);
  CHECK(n == 5);
  if (n == 5)
    CHECK(!strcmp(names[0], ".") && !strcmp(names[1], "..") && !strcmp(names[2], "sub") &&
          !strcmp(names[3], "x") && !strcmp(names[4], "y"));

  // raw fd_readdir with a tiny buffer: cookies must let us walk every entry, one truncated record at a time
  __wasi_fd_t dfd;
  CHECK_WASI(__wasi_path_open(3, 0, "d", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READDIR, 0, 0, &dfd), 0);
  __wasi_dircookie_t cookie = 0;
  int seen = 0;
  for (int guard = 0; guard < 20; ++guard) {
    uint8_t b[26];  // a 24-byte header plus at most 2 name bytes
    __wasi_size_t used = 0;
    CHECK_WASI(__wasi_fd_readdir(dfd, b, sizeof b, cookie, &used), 0);
    if (used < 24) break;
    __wasi_dirent_t d;
    memcpy(&d, b, sizeof d);
    CHECK(d.d_next == cookie + 1);
    cookie = d.d_next;
    ++seen;
  }
  CHECK(seen == 5);
  __wasi_size_t used = 99;
  uint8_t big[1024];
  CHECK_WASI(__wasi_fd_readdir(dfd, big, sizeof big, 1000, &used), 0);
  CHECK(used == 0);
  CHECK_WASI(__wasi_fd_readdir(dfd, big, sizeof big, 0, &used), 0);
  CHECK(used > 5 * 24 && used < sizeof big);
  CHECK_WASI(__wasi_fd_prestat_get(dfd, &(__wasi_prestat_t){0}), __WASI_ERRNO_BADF);
  // a directory opened with only FD_READDIR cannot open files beneath it
  __wasi_fd_t tmp;
  CHECK_WASI(__wasi_path_open(dfd, 0, "x", 0, __WASI_RIGHTS_FD_READ, 0, 0, &tmp), __WASI_ERRNO_NOTCAPABLE);
  CHECK_WASI(__wasi_fd_close(dfd), 0);
  __wasi_fd_t ffd;
  CHECK_WASI(__wasi_path_open(3, 0, "d/x", 0, __WASI_RIGHTS_FD_READ, 0, 0, &ffd), 0);
  CHECK_WASI(__wasi_fd_readdir(ffd, big, sizeof big, 0, &used), __WASI_ERRNO_NOTDIR);
  CHECK_WASI(__wasi_path_open(ffd, 0, "y", 0, __WASI_RIGHTS_FD_READ, 0, 0, &tmp), __WASI_ERRNO_NOTDIR);
  CHECK_WASI(__wasi_fd_close(ffd), 0);
  CHECK_WASI(__wasi_path_open(3, 0, "d/x", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READ, 0, 0, &tmp),
             __WASI_ERRNO_NOTDIR);
  CHECK_WASI(__wasi_path_open(3, 0, "a.txt", 0x10, 0, 0, 0, &tmp), __WASI_ERRNO_INVAL);  // bad oflags

  // rename, unlink, rmdir
  CHECK(rename(P("d/x"), P("d/x2")) == 0);
  CHECK_FAILS(open(P("d/x"), O_RDONLY), ENOENT);
  CHECK(rename(P("d/x2"), P("d/y")) == 0);  // replaces y
  char buf[16];
  CHECK(slurp(P("d/y"), buf, sizeof buf) == 1 && buf[0] == 'x');
  CHECK(rename(P("d/sub"), P("d/sub2")) == 0);
  CHECK_WASI(__wasi_path_rename(3, "d/y", 3, "d/sub2/"), __WASI_ERRNO_NOTDIR);
  CHECK(unlink(P("d/y")) == 0);
  CHECK_FAILS(unlink(P("d/y")), ENOENT);
  CHECK(rmdir(P("d/sub2")) == 0);
  CHECK(rmdir(P("d")) == 0);
  CHECK_WASI(__wasi_path_remove_directory(3, "."), __WASI_ERRNO_INVAL);
  CHECK_WASI(__wasi_path_create_directory(3, "."), __WASI_ERRNO_EXIST);
  CHECK_WASI(__wasi_path_create_directory(3, "nd/"), 0);
  CHECK_WASI(__wasi_path_remove_directory(3, "nd/"), 0);
}

static void links(void) {
  char buf[64];
  CHECK(spit(P("target.txt"), "via link") == 0);
  CHECK(symlink("target.txt", P("link")) == 0);
  CHECK_FAILS(symlink("target.txt", P("link")), EEXIST);
  ssize_t n = readlink(P("link"), buf, sizeof buf);
  CHECK(n == 10 && memcmp(buf, "target.txt", 10) == 0);
  CHECK(readlink(P("link"), buf, 3) == 3 && memcmp(buf, "tar", 3) == 0);  // truncated, like POSIX
  CHECK_FAILS(readlink(P("target.txt"), buf, sizeof buf), EINVAL);
  CHECK(slurp(P("link"), buf, sizeof buf) == 8 && strcmp(buf, "via link") == 0);
  struct stat st;
  CHECK(lstat(P("link"), &st) == 0 && S_ISLNK(st.st_mode));
  CHECK(stat(P("link"), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 8);
  CHECK_FAILS(open(P("link"), O_RDONLY | O_NOFOLLOW), ELOOP);
  // symlinks to directories, and relative ones from a subdirectory
  CHECK(mkdir(P("ld"), 0755) == 0);
  CHECK(symlink("../target.txt", P("ld/up")) == 0);
  CHECK(symlink("ld", P("ldlink")) == 0);
  CHECK(slurp(P("ldlink/up"), buf, sizeof buf) == 8);
  CHECK(unlink(P("ldlink")) == 0);  // removes the link, not the directory
  CHECK(stat(P("ld"), &st) == 0 && S_ISDIR(st.st_mode));
  CHECK(unlink(P("ld/up")) == 0 && rmdir(P("ld")) == 0);
  // a dangling symlink: O_CREAT through it creates the target (inside the sandbox)
  CHECK(symlink("created.txt", P("dangling")) == 0);
  int fd = open(P("dangling"), O_WRONLY | O_CREAT, 0644);
  CHECK(fd >= 0 && close(fd) == 0);
  CHECK(stat(P("created.txt"), &st) == 0);
  // hard links
  CHECK(link(P("target.txt"), P("hard")) == 0);
  CHECK(stat(P("target.txt"), &st) == 0 && st.st_nlink == 2);
  CHECK_FAILS(link(P("target.txt"), P("hard")), EEXIST);
  CHECK(unlink(P("hard")) == 0);
  CHECK(stat(P("target.txt"), &st) == 0 && st.st_nlink == 1);
  // path_link through a symlink with and without SYMLINK_FOLLOW
  CHECK_WASI(__wasi_path_link(3, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "link", 3, "hard2"), 0);
  CHECK(lstat(P("hard2"), &st) == 0 && S_ISREG(st.st_mode));
  CHECK_WASI(__wasi_path_link(3, 0, "link", 3, "hard3"), 0);
  CHECK(lstat(P("hard3"), &st) == 0 && S_ISLNK(st.st_mode));
  __wasi_filestat_t fst;
  CHECK_WASI(__wasi_path_filestat_get(3, 0, "link", &fst), 0);
  CHECK(fst.filetype == __WASI_FILETYPE_SYMBOLIC_LINK);
  CHECK_WASI(__wasi_path_filestat_get(3, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "link", &fst), 0);
  CHECK(fst.filetype == __WASI_FILETYPE_REGULAR_FILE && fst.size == 8);
  unlink(P("hard2"));
  unlink(P("hard3"));
  unlink(P("dangling"));
  unlink(P("created.txt"));
  CHECK(unlink(P("link")) == 0 && unlink(P("target.txt")) == 0);
}

static void faults(void) {
  // Every pointer is checked against the memory: EFAULT, never a host crash.
  CHECK_WASI(raw_fd_write(1, BAD_PTR, 1, PTR(&g_checks)), __WASI_ERRNO_FAULT);
  uint32_t iov[2] = {(uint32_t)BAD_PTR, 100};
  CHECK_WASI(raw_fd_write(1, PTR(iov), 1, PTR(&g_checks)), __WASI_ERRNO_FAULT);
  iov[0] = 0xFFFFFFF0u;
  iov[1] = 0x20;
  CHECK_WASI(raw_fd_write(1, PTR(iov), 1, PTR(&g_checks)), __WASI_ERRNO_FAULT);
  char c;
  uint32_t good[2] = {(uint32_t)PTR(&c), 1};
  CHECK_WASI(raw_fd_write(1, PTR(good), 1, BAD_PTR), __WASI_ERRNO_FAULT);
  CHECK_WASI(raw_args_get(BAD_PTR, BAD_PTR), __WASI_ERRNO_FAULT);
  CHECK_WASI(raw_environ_sizes_get(BAD_PTR, PTR(&g_checks)), __WASI_ERRNO_FAULT);
  CHECK_WASI(raw_path_filestat_get(3, 0, BAD_PTR, 5, PTR(&g_checks)), __WASI_ERRNO_FAULT);
  uint8_t st[64];
  CHECK_WASI(raw_path_filestat_get(3, 0, PTR("a.txt"), 5, BAD_PTR), __WASI_ERRNO_FAULT);
  // Path bytes: an embedded NUL is EINVAL, invalid UTF-8 is EILSEQ, an empty path ENOENT.
  CHECK_WASI(raw_path_filestat_get(3, 0, PTR("a.txt\0zz"), 8, PTR(st)), __WASI_ERRNO_INVAL);
  CHECK_WASI(raw_path_filestat_get(3, 0, PTR("\xff\xfe"), 2, PTR(st)), __WASI_ERRNO_ILSEQ);
  CHECK_WASI(raw_path_filestat_get(3, 0, PTR("a.txt"), 0, PTR(st)), __WASI_ERRNO_NOENT);
  CHECK_WASI(raw_path_filestat_get(3, 0, PTR("a.txt"), 5, PTR(st)), 0);  // explicit length, no NUL needed
  static char longname[300];
  memset(longname, 'n', 299);
  CHECK_WASI(__wasi_path_filestat_get(3, 0, longname, (__wasi_filestat_t*)st), __WASI_ERRNO_NAMETOOLONG);
  // Unknown fds
  CHECK_WASI(__wasi_fd_close(77), __WASI_ERRNO_BADF);
  CHECK_WASI(__wasi_fd_fdstat_get(77, (__wasi_fdstat_t*)st), __WASI_ERRNO_BADF);
  CHECK_WASI(__wasi_path_create_directory(77, "x"), __WASI_ERRNO_BADF);
  CHECK_WASI(__wasi_path_create_directory(1, "x"), __WASI_ERRNO_NOTDIR);
  // stdio is a stream
  __wasi_filesize_t off;
  CHECK_WASI(__wasi_fd_seek(1, 0, __WASI_WHENCE_CUR, &off), __WASI_ERRNO_SPIPE);
  CHECK_WASI(__wasi_fd_tell(0, &off), __WASI_ERRNO_SPIPE);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    printf("usage: fs.wasm GUEST_DIR\n");
    return 2;
  }
  root = argv[1];
  files();
  times();
  dirs();
  links();
  faults();
  CHECK(spit(P("from_wasm.txt"), "written by wasm\n") == 0);
  REPORT();
}
