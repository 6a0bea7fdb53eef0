// File: src/wasi/quota.cc
//
// The output quota (wasi.h): what the module adds beneath its preopens, counted where it happens. Each
// growing call asks QuotaAllows() for its worst case before it touches anything, then charges what really
// changed (sizes measured with fstat before and after), so a short write or a failed call costs nothing.
// Counting in the calls instead of walking the directories keeps the cost at one fstat per write; it is
// exact because the module is the only writer of its preopens while it runs (a worker's /out).
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

#include "wasi/impl.h"

namespace wasmq::wasi {

using namespace abi;

uint16_t WasiImpl::QuotaAllows(int64_t bytes, int64_t files) {
  const uint64_t max_bytes = config_.max_output_bytes, max_files = config_.max_output_files;
  // Compared as "more than the room left" so that nothing overflows: `bytes` is at most INT64_MAX (file
  // sizes are), and the running total stays within the limit.
  const int64_t limit = static_cast<int64_t>(std::min<uint64_t>(max_bytes, INT64_MAX));
  const bool over_bytes = max_bytes != 0 && bytes > 0 && bytes > limit - out_bytes_;
  const bool over_files = max_files != 0 && files > 0 && out_files_ + files > static_cast<int64_t>(max_files);
  if (!over_bytes && !over_files) return kSuccess;
  if (!quota_exceeded_) {
    quota_exceeded_ = over_bytes ? "more than " + std::to_string(max_bytes) + " bytes of output"
                                 : "more than " + std::to_string(max_files) + " output files";
  }
  return kDquot;
}

int64_t WasiImpl::CountedSize(int hfd) {
  struct stat st;
  if (hfd < 0 || fstat(hfd, &st) != 0 || !S_ISREG(st.st_mode)) return -1;
  return static_cast<int64_t>(st.st_size);
}

void WasiImpl::ChargeSince(int hfd, int64_t before) {
  const int64_t after = CountedSize(hfd);
  if (after >= 0) out_bytes_ += after - before;
}

void WasiImpl::Released(int dirfd, const std::string& name, int64_t* bytes, int64_t* files) {
  *bytes = *files = 0;
  struct stat st;
  if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  *files = 1;
  if (!S_ISREG(st.st_mode) || st.st_nlink > 1) return;
  // An fd the module still holds keeps the data on disk; fd_close gives it back then.
  for (const auto& [n, e] : fds_) {
    struct stat o;
    if (e->kind == FdKind::File && fstat(e->host.get(), &o) == 0 && o.st_dev == st.st_dev &&
        o.st_ino == st.st_ino)
      return;
  }
  *bytes = static_cast<int64_t>(st.st_size);
}

}  // namespace wasmq::wasi
