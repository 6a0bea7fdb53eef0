// File: src/wasi/impl.h  (internal)
//
// The state behind a Wasi context: the guest's fd table, captured stdio, and one member function per
// wasi_snapshot_preview1 import. Each import returns a WASI errno; the few that must stop the module
// (proc_exit, an interrupted wait) set `trap_` instead and the binding layer (wasi.cc) returns it as the
// host function's Error.
#pragma once

#include <poll.h>
#include <sys/stat.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wasi/abi.h"
#include "wasi/fs.h"
#include "wasi/wasi.h"

namespace wasmq::wasi {

// Bounds-checked view of the caller's linear memory. Every guest pointer goes through Check(); an access
// outside [0, size) is EFAULT and never touches host memory.
class GuestMemory {
 public:
  GuestMemory(uint8_t* data, uint64_t size) : data_(data), size_(data ? size : 0) {}
  bool Check(uint64_t ptr, uint64_t len) const { return ptr <= size_ && len <= size_ - ptr; }
  uint8_t* At(uint64_t ptr) const { return data_ + ptr; }  // only after Check
  template <typename T>
  bool Load(uint64_t ptr, T* out) const {
    if (!Check(ptr, sizeof(T))) return false;
    std::memcpy(out, data_ + ptr, sizeof(T));
    return true;
  }
  template <typename T>
  bool Store(uint64_t ptr, T v) const {
    if (!Check(ptr, sizeof(T))) return false;
    std::memcpy(data_ + ptr, &v, sizeof(T));
    return true;
  }
  uint64_t size() const { return size_; }

 private:
  uint8_t* data_;
  uint64_t size_;
};

enum class FdKind { Stdio, File, Dir };

struct DirEntryCache {
  uint64_t ino;
  uint8_t type;
  std::string name;
};

struct FdEntry {
  FdKind kind = FdKind::File;
  UniqueFd host;   // File/Dir; Stdio in Inherit mode uses host_stdio instead
  int stdio = -1;  // 0, 1, 2 for the standard streams
  StdioMode mode = StdioMode::Null;
  uint8_t filetype = abi::kFiletypeUnknown;
  uint16_t fdflags = 0;
  uint64_t rights_base = 0;
  uint64_t rights_inheriting = 0;
  std::optional<std::string> preopen;    // guest name of a preopened directory
  std::vector<DirEntryCache> dir_cache;  // fd_readdir's listing, refreshed at cookie 0
  bool dir_cache_valid = false;
  int HostFd() const {
    return kind == FdKind::Stdio ? (mode == StdioMode::Inherit ? stdio : -1) : host.get();
  }
};

class WasiImpl {
 public:
  explicit WasiImpl(WasiConfig config);
  ~WasiImpl();
  wasm::Result<void> Init();  // opens the preopens, creates the wake pipe

  void Interrupt();
  void ResetInterrupt();
  void AddToImports(wasm::Store& store, wasm::Imports& imports);

  WasiConfig config_;
  std::string stdout_buf_, stderr_buf_;
  uint64_t stdout_dropped_ = 0, stderr_dropped_ = 0;
  size_t stdin_pos_ = 0;
  std::optional<uint32_t> exit_code_;
  std::optional<wasm::Error> trap_;
  // Output quota (wasi.h): net growth since Create, and the first refusal.
  int64_t out_bytes_ = 0, out_files_ = 0;
  std::optional<std::string> quota_exceeded_;

  // ---- the imports (wasi.cc, fd.cc, path.cc). `m` is the caller's memory. ----
  using M = const GuestMemory&;
  uint16_t args_get(M m, uint32_t argv, uint32_t argv_buf);
  uint16_t args_sizes_get(M m, uint32_t argc_ptr, uint32_t size_ptr);
  uint16_t environ_get(M m, uint32_t environ, uint32_t environ_buf);
  uint16_t environ_sizes_get(M m, uint32_t count_ptr, uint32_t size_ptr);
  uint16_t clock_res_get(M m, uint32_t id, uint32_t res_ptr);
  uint16_t clock_time_get(M m, uint32_t id, uint64_t precision, uint32_t time_ptr);
  uint16_t fd_advise(M m, uint32_t fd, uint64_t offset, uint64_t len, uint32_t advice);
  uint16_t fd_allocate(M m, uint32_t fd, uint64_t offset, uint64_t len);
  uint16_t fd_close(M m, uint32_t fd);
  uint16_t fd_datasync(M m, uint32_t fd);
  uint16_t fd_fdstat_get(M m, uint32_t fd, uint32_t buf);
  uint16_t fd_fdstat_set_flags(M m, uint32_t fd, uint32_t flags);
  uint16_t fd_fdstat_set_rights(M m, uint32_t fd, uint64_t base, uint64_t inheriting);
  uint16_t fd_filestat_get(M m, uint32_t fd, uint32_t buf);
  uint16_t fd_filestat_set_size(M m, uint32_t fd, uint64_t size);
  uint16_t fd_filestat_set_times(M m, uint32_t fd, uint64_t atim, uint64_t mtim, uint32_t fst_flags);
  uint16_t fd_pread(M m, uint32_t fd, uint32_t iovs, uint32_t iovs_len, uint64_t offset, uint32_t nread_ptr);
  uint16_t fd_prestat_get(M m, uint32_t fd, uint32_t buf);
  uint16_t fd_prestat_dir_name(M m, uint32_t fd, uint32_t path, uint32_t path_len);
  uint16_t fd_pwrite(M m, uint32_t fd, uint32_t iovs, uint32_t iovs_len, uint64_t offset,
                     uint32_t nwritten_ptr);
  uint16_t fd_read(M m, uint32_t fd, uint32_t iovs, uint32_t iovs_len, uint32_t nread_ptr);
  uint16_t fd_readdir(M m, uint32_t fd, uint32_t buf, uint32_t buf_len, uint64_t cookie,
                      uint32_t bufused_ptr);
  uint16_t fd_renumber(M m, uint32_t fd, uint32_t to);
  uint16_t fd_seek(M m, uint32_t fd, uint64_t offset, uint32_t whence, uint32_t newoffset_ptr);
  uint16_t fd_sync(M m, uint32_t fd);
  uint16_t fd_tell(M m, uint32_t fd, uint32_t offset_ptr);
  uint16_t fd_write(M m, uint32_t fd, uint32_t iovs, uint32_t iovs_len, uint32_t nwritten_ptr);
  uint16_t path_create_directory(M m, uint32_t fd, uint32_t path, uint32_t path_len);
  uint16_t path_filestat_get(M m, uint32_t fd, uint32_t flags, uint32_t path, uint32_t path_len,
                             uint32_t buf);
  uint16_t path_filestat_set_times(M m, uint32_t fd, uint32_t flags, uint32_t path, uint32_t path_len,
                                   uint64_t atim, uint64_t mtim, uint32_t fst_flags);
  uint16_t path_link(M m, uint32_t old_fd, uint32_t old_flags, uint32_t old_path, uint32_t old_path_len,
                     uint32_t new_fd, uint32_t new_path, uint32_t new_path_len);
  uint16_t path_open(M m, uint32_t fd, uint32_t dirflags, uint32_t path, uint32_t path_len, uint32_t oflags,
                     uint64_t rights_base, uint64_t rights_inheriting, uint32_t fdflags, uint32_t fd_ptr);
  uint16_t path_readlink(M m, uint32_t fd, uint32_t path, uint32_t path_len, uint32_t buf, uint32_t buf_len,
                         uint32_t bufused_ptr);
  uint16_t path_remove_directory(M m, uint32_t fd, uint32_t path, uint32_t path_len);
  uint16_t path_rename(M m, uint32_t fd, uint32_t old_path, uint32_t old_path_len, uint32_t new_fd,
                       uint32_t new_path, uint32_t new_path_len);
  uint16_t path_symlink(M m, uint32_t old_path, uint32_t old_path_len, uint32_t fd, uint32_t new_path,
                        uint32_t new_path_len);
  uint16_t path_unlink_file(M m, uint32_t fd, uint32_t path, uint32_t path_len);
  uint16_t poll_oneoff(M m, uint32_t in, uint32_t out, uint32_t nsubscriptions, uint32_t nevents_ptr);
  void proc_exit(M m, uint32_t code);
  uint16_t proc_raise(M m, uint32_t sig);
  uint16_t sched_yield(M m);
  uint16_t random_get(M m, uint32_t buf, uint32_t buf_len);
  uint16_t sock_accept(M m, uint32_t fd, uint32_t flags, uint32_t fd_ptr);
  uint16_t sock_recv(M m, uint32_t fd, uint32_t ri_data, uint32_t ri_data_len, uint32_t ri_flags,
                     uint32_t ro_datalen_ptr, uint32_t ro_flags_ptr);
  uint16_t sock_send(M m, uint32_t fd, uint32_t si_data, uint32_t si_data_len, uint32_t si_flags,
                     uint32_t so_datalen_ptr);
  uint16_t sock_shutdown(M m, uint32_t fd, uint32_t how);

  // ---- helpers ----
  // The entry for `fd` if it has every right in `rights`: EBADF when there is no such fd, ENOTCAPABLE when
  // a right is missing.
  uint16_t Get(uint32_t fd, uint64_t rights, FdEntry** out);
  // Like Get, for a directory fd (ENOTDIR otherwise).
  uint16_t GetDir(uint32_t fd, uint64_t rights, FdEntry** out);
  // Copies a guest path out of memory: EFAULT out of bounds, EILSEQ not UTF-8, EINVAL with a NUL byte.
  uint16_t ReadPath(M m, uint32_t ptr, uint32_t len, std::string* out);
  // Resolves `path` beneath directory fd `fd` (which needs `rights`).
  uint16_t ResolveAt(M m, uint32_t fd, uint64_t rights, uint32_t path, uint32_t path_len, bool follow,
                     Resolved* out);
  // Installs `e` at the lowest free fd.
  uint16_t Insert(std::unique_ptr<FdEntry> e, uint32_t* fd);
  // Waits until a host fd is ready, `deadline_ns` (CLOCK_MONOTONIC, 0 = none) passes, or Interrupt().
  // Returns false when interrupted (trap_ set).
  bool WaitInterruptible(std::vector<struct pollfd>& fds, uint64_t deadline_ns, bool has_deadline);
  void CaptureWrite(int stdio, const char* data, size_t n);
  // ---- output quota (quota.cc) ----
  bool QuotaOn() const { return config_.max_output_bytes != 0 || config_.max_output_files != 0; }
  // kSuccess when the module may add `bytes` bytes / `files` names now; else kDquot, remembering why.
  uint16_t QuotaAllows(int64_t bytes, int64_t files);
  // The size of the regular file open as `hfd` (-1 when it is no regular file: not counted).
  static int64_t CountedSize(int hfd);
  // Charges the change of the file open as `hfd` since it was `before` bytes long.
  void ChargeSince(int hfd, int64_t before);
  // The size of a regular file open as `e` when the quota is on and it may grow, else -1; when it is
  // counted, kDquot in *err if growing it to `end` bytes (a function of that size) is not allowed.
  template <typename End>
  int64_t QuotaBefore(const FdEntry& e, End end, uint16_t* err) {
    *err = abi::kSuccess;
    if (!QuotaOn() || e.kind != FdKind::File) return -1;
    const int64_t before = CountedSize(e.host.get());
    if (before >= 0) *err = QuotaAllows(end(before) - before, 0);
    return before;
  }
  // Before (dirfd, name) is removed or replaced: the bytes and names that removal gives back (bytes only
  // when it is a regular file's last link and no fd of this context keeps it open).
  void Released(int dirfd, const std::string& name, int64_t* bytes, int64_t* files);
  // Before the fd entry `e` is closed: gives back the bytes of an unlinked file only it held.
  void Dropping(const FdEntry& e);
  void SetInterruptedTrap();

  std::map<uint32_t, std::unique_ptr<FdEntry>> fds_;
  int wake_pipe_[2] = {-1, -1};
  std::atomic<bool> interrupted_{false};
};

// Writes a WASI filestat for `st` at `buf` (bounds already checked).
void WriteFilestat(const GuestMemory& m, uint32_t buf, const struct stat& st);
// Builds utimensat/futimens times from WASI's (atim, mtim, fstflags): EINVAL for contradictory flags.
uint16_t MakeTimes(uint64_t atim, uint64_t mtim, uint32_t fst_flags, struct timespec ts[2]);

constexpr uint32_t kMaxFds = 1024;
constexpr uint32_t kMaxIovs = 1024;  // IOV_MAX

}  // namespace wasmq::wasi
