// File: tests/wasi/modules/raw.h
//
// Direct imports of wasi_snapshot_preview1 functions with plain integer parameters, for what wasi-libc's
// typed wrappers cannot express: bogus pointers, explicit path lengths (embedded NUL, invalid UTF-8), and
// proc_raise (which this wasi-libc no longer declares).
#pragma once

#include <stdint.h>

#define WASI_IMPORT(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))

WASI_IMPORT(path_open)
int32_t raw_path_open(int32_t fd, int32_t dirflags, int32_t path, int32_t path_len, int32_t oflags,
                      int64_t base, int64_t inheriting, int32_t fdflags, int32_t fd_out);
WASI_IMPORT(path_filestat_get)
int32_t raw_path_filestat_get(int32_t fd, int32_t flags, int32_t path, int32_t path_len, int32_t buf);
WASI_IMPORT(fd_write)
int32_t raw_fd_write(int32_t fd, int32_t iovs, int32_t iovs_len, int32_t nwritten);
WASI_IMPORT(fd_read)
int32_t raw_fd_read(int32_t fd, int32_t iovs, int32_t iovs_len, int32_t nread);
WASI_IMPORT(args_get)
int32_t raw_args_get(int32_t argv, int32_t argv_buf);
WASI_IMPORT(environ_sizes_get)
int32_t raw_environ_sizes_get(int32_t count, int32_t size);
WASI_IMPORT(proc_raise)
int32_t raw_proc_raise(int32_t sig);
WASI_IMPORT(random_get)
int32_t raw_random_get(int32_t buf, int32_t len);
WASI_IMPORT(clock_time_get)
int32_t raw_clock_time_get(int32_t id, int64_t precision, int32_t out);
WASI_IMPORT(poll_oneoff)
int32_t raw_poll_oneoff(int32_t in, int32_t out, int32_t n, int32_t nevents);

#define PTR(p) ((int32_t)(uintptr_t)(p))
// An address past the end of any memory these modules have (they are far below 4 GiB).
#define BAD_PTR ((int32_t)0xFFFFFF00)
