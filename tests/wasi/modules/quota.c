// quota: the output quota, run with --max-output 64KiB --max-output-files 8 on an empty directory
// (argv[1], its guest path). Every way of growing the directory must stop at the limit with EDQUOT and
// change nothing; shrinking and removing give the room back. With "fill" as argv[2] it only writes until
// refused and exits 0 (a module that ignores the error: the embedder must still see the quota was hit).
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#define LIMIT 65536
#define FILES 8

static const char* root;
static char pbuf[4][512];
static int pnext;
static const char* P(const char* name) {
  char* b = pbuf[pnext++ & 3];
  snprintf(b, sizeof pbuf[0], "%s/%s", root, name);
  return b;
}

static char block[LIMIT];

static long size_of(const char* path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void bytes(void) {
  int fd = open(P("a.bin"), O_WRONLY | O_CREAT | O_TRUNC, 0644);  // 1 name
  CHECK(fd >= 0);
  CHECK(write(fd, block, LIMIT / 2) == LIMIT / 2);
  CHECK_FAILS(write(fd, block, LIMIT / 2 + 1), EDQUOT);  // one byte too many: nothing is written
  CHECK(size_of(P("a.bin")) == LIMIT / 2);
  CHECK(write(fd, block, LIMIT / 2) == LIMIT / 2);  // exactly the limit is allowed
  CHECK_FAILS(write(fd, block, 1), EDQUOT);
  CHECK(pwrite(fd, block, 100, 10) == 100);  // overwriting adds nothing
  CHECK_FAILS(pwrite(fd, block, 1, LIMIT), EDQUOT);
  CHECK_FAILS(ftruncate(fd, LIMIT + 1), EDQUOT);
  CHECK(posix_fallocate(fd, LIMIT + 4096, 1) == EDQUOT);
  CHECK(size_of(P("a.bin")) == LIMIT);

  // Shrinking gives room back; a sparse write counts by the length it makes.
  CHECK(ftruncate(fd, 1000) == 0);
  CHECK(lseek(fd, LIMIT, SEEK_SET) == LIMIT);
  CHECK_FAILS(write(fd, block, 1), EDQUOT);  // would make the file LIMIT + 1 long
  CHECK(lseek(fd, 0, SEEK_END) == 1000);
  CHECK(write(fd, block, LIMIT - 1000) == LIMIT - 1000);
  CHECK(close(fd) == 0);

  // O_APPEND is charged from the end, whatever the offset.
  fd = open(P("a.bin"), O_WRONLY | O_APPEND);
  CHECK(fd >= 0);
  CHECK_FAILS(write(fd, block, 1), EDQUOT);
  CHECK_FAILS(pwrite(fd, block, 1, 0), EDQUOT);  // appends too (on Linux)
  CHECK(size_of(P("a.bin")) == LIMIT);
  CHECK(close(fd) == 0);

  // Truncating on open, and removing, give the bytes back.
  fd = open(P("a.bin"), O_WRONLY | O_TRUNC);
  CHECK(fd >= 0 && write(fd, block, LIMIT) == LIMIT && close(fd) == 0);
  CHECK(unlink(P("a.bin")) == 0);                            // 0 names
  fd = open(P("b.bin"), O_WRONLY | O_CREAT | O_EXCL, 0644);  // 1 name
  CHECK(fd >= 0 && write(fd, block, LIMIT) == LIMIT);

  // A file removed while open still holds its bytes: they come back only when it is gone for good.
  CHECK(unlink(P("b.bin")) == 0);                        // 0 names
  int fd2 = open(P("c.bin"), O_WRONLY | O_CREAT, 0644);  // 1 name
  CHECK(fd2 >= 0);
  CHECK_FAILS(write(fd2, block, 1), EDQUOT);
  CHECK(close(fd) == 0 && close(fd2) == 0);
  CHECK(unlink(P("c.bin")) == 0);  // 0 names
}

static void names(void) {
  char name[32];
  for (int i = 0; i < FILES - 2; ++i) {  // FILES - 2 names
    snprintf(name, sizeof name, "f%d", i);
    CHECK(spit(P(name), "x") == 0);
  }
  CHECK(mkdir(P("d"), 0755) == 0);      // FILES - 1
  CHECK(symlink("f0", P("d/l")) == 0);  // FILES
  CHECK_FAILS(open(P("one_more"), O_WRONLY | O_CREAT, 0644), EDQUOT);
  CHECK_FAILS(mkdir(P("d2"), 0755), EDQUOT);
  CHECK_FAILS(symlink("f0", P("l2")), EDQUOT);
  CHECK_FAILS(link(P("f0"), P("h")), EDQUOT);
  CHECK(size_of(P("one_more")) == -1 && size_of(P("d2")) == -1);
  int fd = open(P("f0"), O_WRONLY | O_CREAT, 0644);  // opening an existing file adds nothing
  CHECK(fd >= 0 && close(fd) == 0);
  CHECK(rename(P("f1"), P("f2")) == 0);  // replacing a file gives its name back
  CHECK(link(P("f0"), P("h")) == 0);
  CHECK(unlink(P("d/l")) == 0 && rmdir(P("d")) == 0);
  CHECK(mkdir(P("d"), 0755) == 0);
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  root = argv[1];
  if (argc > 2 && strcmp(argv[2], "fill") == 0) {
    int fd = open(P("big.bin"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    long total = 0;
    while (total < 16L * LIMIT) {
      ssize_t n = write(fd, block, 4096);
      if (n < 0) break;
      total += n;
    }
    printf("wrote %ld\n", total);
    return 0;
  }
  bytes();
  names();
  REPORT();
}
