// all_imports: imports every wasi_snapshot_preview1 function with wasi-libc's (witx-generated) signature,
// so that instantiating it proves each one is provided with the right type. Nothing is called unless
// argv asks, since the calls here have no meaningful arguments.
#include <stdint.h>
#include <wasi/api.h>

#include "raw.h"

typedef void (*fn)(void);
#define F(name) (fn) & name
static fn volatile table[] = {
    F(__wasi_args_get),
    F(__wasi_args_sizes_get),
    F(__wasi_environ_get),
    F(__wasi_environ_sizes_get),
    F(__wasi_clock_res_get),
    F(__wasi_clock_time_get),
    F(__wasi_fd_advise),
    F(__wasi_fd_allocate),
    F(__wasi_fd_close),
    F(__wasi_fd_datasync),
    F(__wasi_fd_fdstat_get),
    F(__wasi_fd_fdstat_set_flags),
    F(__wasi_fd_fdstat_set_rights),
    F(__wasi_fd_filestat_get),
    F(__wasi_fd_filestat_set_size),
    F(__wasi_fd_filestat_set_times),
    F(__wasi_fd_pread),
    F(__wasi_fd_prestat_get),
    F(__wasi_fd_prestat_dir_name),
    F(__wasi_fd_pwrite),
    F(__wasi_fd_read),
    F(__wasi_fd_readdir),
    F(__wasi_fd_renumber),
    F(__wasi_fd_seek),
    F(__wasi_fd_sync),
    F(__wasi_fd_tell),
    F(__wasi_fd_write),
    F(__wasi_path_create_directory),
    F(__wasi_path_filestat_get),
    F(__wasi_path_filestat_set_times),
    F(__wasi_path_link),
    F(__wasi_path_open),
    F(__wasi_path_readlink),
    F(__wasi_path_remove_directory),
    F(__wasi_path_rename),
    F(__wasi_path_symlink),
    F(__wasi_path_unlink_file),
    F(__wasi_poll_oneoff),
    F(__wasi_proc_exit),
    F(raw_proc_raise),
    F(__wasi_sched_yield),
    F(__wasi_random_get),
    F(__wasi_sock_accept),
    F(__wasi_sock_recv),
    F(__wasi_sock_send),
    F(__wasi_sock_shutdown),
};

int main(int argc, char** argv) {
  (void)argv;
  if (argc > 100) table[argc % (sizeof table / sizeof table[0])]();
  return (int)(sizeof table / sizeof table[0]);
}
