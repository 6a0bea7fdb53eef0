// File: src/wasi/fd.cc
//
// The fd_* imports: the guest's fd table (wasmq's own, never host numbers), stdio in its three modes, and
// regular files and directories opened beneath a preopen.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "wasi/impl.h"

namespace wasmq::wasi {

using namespace abi;

// ---------------------------------------------------------------------------------------------------------
// helpers

uint16_t WasiImpl::Get(uint32_t fd, uint64_t rights, FdEntry** out) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return kBadf;
  if ((it->second->rights_base & rights) != rights) return kNotcapable;
  *out = it->second.get();
  return kSuccess;
}

uint16_t WasiImpl::GetDir(uint32_t fd, uint64_t rights, FdEntry** out) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return kBadf;
  if (it->second->kind != FdKind::Dir) return kNotdir;
  if ((it->second->rights_base & rights) != rights) return kNotcapable;
  *out = it->second.get();
  return kSuccess;
}

uint16_t WasiImpl::Insert(std::unique_ptr<FdEntry> e, uint32_t* fd) {
  if (fds_.size() >= kMaxFds) return kMfile;
  uint32_t n = 0;
  for (const auto& [k, v] : fds_) {
    if (k != n) break;
    ++n;
  }
  fds_[n] = std::move(e);
  *fd = n;
  return kSuccess;
}

void WasiImpl::CaptureWrite(int stdio, const char* data, size_t n) {
  std::string& buf = stdio == 1 ? stdout_buf_ : stderr_buf_;
  uint64_t& dropped = stdio == 1 ? stdout_dropped_ : stderr_dropped_;
  const auto& cb = stdio == 1 ? config_.on_stdout : config_.on_stderr;
  if (cb) cb(std::string_view(data, n));
  size_t room = buf.size() < config_.max_capture_bytes ? config_.max_capture_bytes - buf.size() : 0;
  size_t keep = std::min(room, n);
  buf.append(data, keep);
  dropped += n - keep;
}

namespace {

// Where a write of `len` bytes at `offset` ends (offset <= INT64_MAX and len < 2^32: the sum fits in a u64),
// saturated to what a file size can be.
int64_t EndOf(uint64_t offset, uint64_t len) {
  return static_cast<int64_t>(std::min<uint64_t>(offset + len, static_cast<uint64_t>(INT64_MAX)));
}

// Maps the guest's iovec array onto host iovecs pointing into guest memory (all bounds-checked).
uint16_t GatherIovs(const GuestMemory& m, uint32_t iovs, uint32_t iovs_len, std::vector<iovec>* out) {
  if (!m.Check(iovs, uint64_t{iovs_len} * kIovecSize)) return kFault;
  uint64_t total = 0;
  for (uint32_t i = 0; i < iovs_len; ++i) {
    uint32_t buf = 0, len = 0;
    m.Load<uint32_t>(iovs + uint64_t{i} * kIovecSize, &buf);
    m.Load<uint32_t>(iovs + uint64_t{i} * kIovecSize + 4, &len);
    if (!m.Check(buf, len)) return kFault;
    if (len == 0 || out->size() >= kMaxIovs) continue;
    // A single call moves less than 4 GiB so that the u32 count cannot overflow (a short count is allowed).
    uint64_t take = std::min<uint64_t>(len, 0x7ffff000ull - std::min<uint64_t>(total, 0x7ffff000ull));
    if (take == 0) break;
    out->push_back({m.At(buf), static_cast<size_t>(take)});
    total += take;
  }
  return kSuccess;
}

}  // namespace

void WriteFilestat(const GuestMemory& m, uint32_t buf, const struct stat& st) {
  std::memset(m.At(buf), 0, kFilestatSize);
  m.Store<uint64_t>(buf + 0, static_cast<uint64_t>(st.st_dev));
  m.Store<uint64_t>(buf + 8, static_cast<uint64_t>(st.st_ino));
  m.Store<uint8_t>(buf + 16, FiletypeOfMode(st.st_mode));
  m.Store<uint64_t>(buf + 24, static_cast<uint64_t>(st.st_nlink));
  m.Store<uint64_t>(buf + 32, static_cast<uint64_t>(st.st_size));
  auto ns = [](const timespec& ts) {
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
  };
  m.Store<uint64_t>(buf + 40, ns(st.st_atim));
  m.Store<uint64_t>(buf + 48, ns(st.st_mtim));
  m.Store<uint64_t>(buf + 56, ns(st.st_ctim));
}

uint16_t MakeTimes(uint64_t atim, uint64_t mtim, uint32_t fst_flags, timespec ts[2]) {
  if (fst_flags & ~0xfu) return kInval;
  if ((fst_flags & kFstAtim) && (fst_flags & kFstAtimNow)) return kInval;
  if ((fst_flags & kFstMtim) && (fst_flags & kFstMtimNow)) return kInval;
  auto set = [](timespec* t, uint64_t v, bool given, bool now) {
    if (now) {
      t->tv_sec = 0;
      t->tv_nsec = UTIME_NOW;
    } else if (given) {
      t->tv_sec = static_cast<time_t>(v / 1'000'000'000ull);
      t->tv_nsec = static_cast<long>(v % 1'000'000'000ull);
    } else {
      t->tv_sec = 0;
      t->tv_nsec = UTIME_OMIT;
    }
  };
  set(&ts[0], atim, fst_flags & kFstAtim, fst_flags & kFstAtimNow);
  set(&ts[1], mtim, fst_flags & kFstMtim, fst_flags & kFstMtimNow);
  return kSuccess;
}

// ---------------------------------------------------------------------------------------------------------
// read / write

uint16_t WasiImpl::fd_read(M m, uint32_t fd, uint32_t iovs, uint32_t iovs_len, uint32_t nread_ptr) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return kBadf;
  if (it->second->kind == FdKind::Dir) return kIsdir;
  FdEntry* e = nullptr;
  if (uint16_t err = Get(fd, kRightFdRead, &e)) return err;
  std::vector<iovec> iov;
  if (uint16_t err = GatherIovs(m, iovs, iovs_len, &iov)) return err;
  if (!m.Check(nread_ptr, 4)) return kFault;

  size_t n = 0;
  if (e->kind == FdKind::Stdio && e->mode != StdioMode::Inherit) {
    if (e->mode == StdioMode::Capture && e->stdio == 0) {
      const std::string& data = config_.stdin_data;
      for (const iovec& v : iov) {
        size_t take = std::min(v.iov_len, data.size() - stdin_pos_);
        std::memcpy(v.iov_base, data.data() + stdin_pos_, take);
        stdin_pos_ += take;
        n += take;
        if (take < v.iov_len) break;
      }
    }
  } else {
    const int hfd = e->HostFd();
    if (e->kind == FdKind::Stdio) {
      // Wait for input in a way Interrupt() can cut short; honour the guest's own NONBLOCK flag.
      std::vector<pollfd> p{{hfd, POLLIN, 0}};
      if (e->fdflags & kFdflagNonblock) {
        if (poll(p.data(), 1, 0) == 0) return kAgain;
      } else {
        while (true) {
          if (!WaitInterruptible(p, 0, false)) return kSuccess;  // trap_ set
          if (p[0].revents) break;
        }
      }
    }
    ssize_t r;
    do {
      r = iov.empty() ? 0 : readv(hfd, iov.data(), static_cast<int>(iov.size()));
    } while (r < 0 && errno == EINTR);
    if (r < 0) return HostErrno(errno);
    n = static_cast<size_t>(r);
  }
  m.Store<uint32_t>(nread_ptr, static_cast<uint32_t>(n));
  return kSuccess;
}

uint16_t WasiImpl::fd_write(M m, uint32_t fd, uint32_t iovs, uint32_t iovs_len, uint32_t nwritten_ptr) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return kBadf;
  if (it->second->kind == FdKind::Dir) return kBadf;
  FdEntry* e = nullptr;
  if (uint16_t err = Get(fd, kRightFdWrite, &e)) return err;
  std::vector<iovec> iov;
  if (uint16_t err = GatherIovs(m, iovs, iovs_len, &iov)) return err;
  if (!m.Check(nwritten_ptr, 4)) return kFault;

  size_t n = 0;
  if (e->kind == FdKind::Stdio && e->mode != StdioMode::Inherit) {
    for (const iovec& v : iov) {
      if (e->mode == StdioMode::Capture)
        CaptureWrite(e->stdio, static_cast<const char*>(v.iov_base), v.iov_len);
      n += v.iov_len;
    }
  } else {
    uint64_t total = 0;
    for (const iovec& v : iov) total += v.iov_len;
    uint16_t err = kSuccess;
    const int64_t before = QuotaBefore(
        *e,
        [&](int64_t size) {
          if (e->fdflags & kFdflagAppend) return size + static_cast<int64_t>(total);
          const off_t pos = lseek(e->host.get(), 0, SEEK_CUR);
          return pos < 0 ? size : EndOf(static_cast<uint64_t>(pos), total);
        },
        &err);
    if (err) return err;
    ssize_t r;
    do {
      r = iov.empty() ? 0 : writev(e->HostFd(), iov.data(), static_cast<int>(iov.size()));
    } while (r < 0 && errno == EINTR);
    const int saved = errno;
    if (before >= 0) ChargeSince(e->host.get(), before);
    if (r < 0) return HostErrno(saved);
    n = static_cast<size_t>(r);
  }
  m.Store<uint32_t>(nwritten_ptr, static_cast<uint32_t>(n));
  return kSuccess;
}

uint16_t WasiImpl::fd_pread(M m, uint32_t fd, uint32_t iovs, uint32_t iovs_len, uint64_t offset,
                            uint32_t nread_ptr) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return kBadf;
  if (it->second->kind == FdKind::Dir) return kIsdir;
  if (it->second->kind == FdKind::Stdio) return kSpipe;
  FdEntry* e = nullptr;
  if (uint16_t err = Get(fd, kRightFdRead | kRightFdSeek, &e)) return err;
  if (offset > static_cast<uint64_t>(INT64_MAX)) return kInval;
  std::vector<iovec> iov;
  if (uint16_t err = GatherIovs(m, iovs, iovs_len, &iov)) return err;
  if (!m.Check(nread_ptr, 4)) return kFault;
  ssize_t r;
  do {
    r = iov.empty()
            ? 0
            : preadv(e->host.get(), iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(offset));
  } while (r < 0 && errno == EINTR);
  if (r < 0) return HostErrno(errno);
  m.Store<uint32_t>(nread_ptr, static_cast<uint32_t>(r));
  return kSuccess;
}

uint16_t WasiImpl::fd_pwrite(M m, uint32_t fd, uint32_t iovs, uint32_t iovs_len, uint64_t offset,
                             uint32_t nwritten_ptr) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return kBadf;
  if (it->second->kind == FdKind::Dir) return kBadf;
  if (it->second->kind == FdKind::Stdio) return kSpipe;
  FdEntry* e = nullptr;
  if (uint16_t err = Get(fd, kRightFdWrite | kRightFdSeek, &e)) return err;
  if (offset > static_cast<uint64_t>(INT64_MAX)) return kInval;
  std::vector<iovec> iov;
  if (uint16_t err = GatherIovs(m, iovs, iovs_len, &iov)) return err;
  if (!m.Check(nwritten_ptr, 4)) return kFault;
  uint64_t total = 0;
  for (const iovec& v : iov) total += v.iov_len;
  uint16_t err = kSuccess;
  // On Linux a pwrite to an O_APPEND file appends, whatever the offset.
  const int64_t before = QuotaBefore(
      *e,
      [&](int64_t size) {
        return (e->fdflags & kFdflagAppend) ? EndOf(static_cast<uint64_t>(size), total)
                                            : EndOf(offset, total);
      },
      &err);
  if (err) return err;
  ssize_t r;
  do {
    r = iov.empty()
            ? 0
            : pwritev(e->host.get(), iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(offset));
  } while (r < 0 && errno == EINTR);
  const int saved = errno;
  if (before >= 0) ChargeSince(e->host.get(), before);
  if (r < 0) return HostErrno(saved);
  m.Store<uint32_t>(nwritten_ptr, static_cast<uint32_t>(r));
  return kSuccess;
}

// ---------------------------------------------------------------------------------------------------------
// offsets

uint16_t WasiImpl::fd_seek(M m, uint32_t fd, uint64_t offset, uint32_t whence, uint32_t newoffset_ptr) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return kBadf;
  if (it->second->kind == FdKind::Stdio) return kSpipe;
  const bool tell_only = offset == 0 && whence == kWhenceCur;
  FdEntry* e = nullptr;
  uint16_t err = Get(fd, kRightFdSeek, &e);
  if (err == kNotcapable && tell_only) err = Get(fd, kRightFdTell, &e);
  if (err) return err;
  int w;
  switch (whence) {
    case kWhenceSet:
      w = SEEK_SET;
      break;
    case kWhenceCur:
      w = SEEK_CUR;
      break;
    case kWhenceEnd:
      w = SEEK_END;
      break;
    default:
      return kInval;
  }
  if (!m.Check(newoffset_ptr, 8)) return kFault;
  off_t r = lseek(e->host.get(), static_cast<off_t>(offset), w);
  if (r < 0) return HostErrno(errno);
  m.Store<uint64_t>(newoffset_ptr, static_cast<uint64_t>(r));
  return kSuccess;
}

uint16_t WasiImpl::fd_tell(M m, uint32_t fd, uint32_t offset_ptr) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return kBadf;
  if (it->second->kind == FdKind::Stdio) return kSpipe;
  FdEntry* e = nullptr;
  if (uint16_t err = Get(fd, kRightFdTell, &e)) return err;
  if (!m.Check(offset_ptr, 8)) return kFault;
  off_t r = lseek(e->host.get(), 0, SEEK_CUR);
  if (r < 0) return HostErrno(errno);
  m.Store<uint64_t>(offset_ptr, static_cast<uint64_t>(r));
  return kSuccess;
}

// ---------------------------------------------------------------------------------------------------------
// table management

void WasiImpl::Dropping(const FdEntry& e) {
  if (!QuotaOn() || e.kind != FdKind::File) return;
  struct stat st;
  if (fstat(e.host.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 0) return;
  // The last name went while this fd kept the data (Released did not count it back): unless another fd
  // still holds the file, closing this one frees it.
  for (const auto& [n, o] : fds_) {
    struct stat ost;
    if (o.get() != &e && o->kind == FdKind::File && fstat(o->host.get(), &ost) == 0 &&
        ost.st_dev == st.st_dev && ost.st_ino == st.st_ino)
      return;
  }
  out_bytes_ -= static_cast<int64_t>(st.st_size);
}

uint16_t WasiImpl::fd_close(M, uint32_t fd) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return kBadf;
  Dropping(*it->second);
  fds_.erase(it);
  return kSuccess;
}

uint16_t WasiImpl::fd_renumber(M, uint32_t fd, uint32_t to) {
  auto from_it = fds_.find(fd);
  if (from_it == fds_.end()) return kBadf;
  auto to_it = fds_.find(to);
  if (to_it == fds_.end()) return kBadf;
  if (fd == to) return kSuccess;
  Dropping(*to_it->second);
  to_it->second = std::move(from_it->second);
  fds_.erase(from_it);
  return kSuccess;
}

uint16_t WasiImpl::fd_fdstat_get(M m, uint32_t fd, uint32_t buf) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return kBadf;
  if (!m.Check(buf, kFdstatSize)) return kFault;
  const FdEntry& e = *it->second;
  std::memset(m.At(buf), 0, kFdstatSize);
  m.Store<uint8_t>(buf, e.filetype);
  m.Store<uint16_t>(buf + 2, e.fdflags);
  m.Store<uint64_t>(buf + 8, e.rights_base);
  m.Store<uint64_t>(buf + 16, e.rights_inheriting);
  return kSuccess;
}

uint16_t WasiImpl::fd_fdstat_set_flags(M, uint32_t fd, uint32_t flags) {
  FdEntry* e = nullptr;
  if (uint16_t err = Get(fd, kRightFdFdstatSetFlags, &e)) return err;
  if (flags & ~uint32_t{kFdflagsAll}) return kInval;
  const uint16_t sync_bits = kFdflagDsync | kFdflagRsync | kFdflagSync;
  if ((flags & sync_bits) != (e->fdflags & sync_bits)) return kNotsup;  // fixed when the file is opened
  if (e->kind != FdKind::Stdio) {
    int fl = fcntl(e->host.get(), F_GETFL);
    if (fl < 0) return HostErrno(errno);
    fl &= ~(O_APPEND | O_NONBLOCK);
    if (flags & kFdflagAppend) fl |= O_APPEND;
    if (flags & kFdflagNonblock) fl |= O_NONBLOCK;
    if (fcntl(e->host.get(), F_SETFL, fl) != 0) return HostErrno(errno);
  }
  // Inherited stdio: the flags are the guest's view only; the host process's own fds are never changed.
  e->fdflags = static_cast<uint16_t>(flags);
  return kSuccess;
}

uint16_t WasiImpl::fd_fdstat_set_rights(M, uint32_t fd, uint64_t base, uint64_t inheriting) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return kBadf;
  FdEntry& e = *it->second;
  if ((base & ~e.rights_base) || (inheriting & ~e.rights_inheriting)) return kNotcapable;  // only drops
  e.rights_base = base;
  e.rights_inheriting = inheriting;
  return kSuccess;
}

uint16_t WasiImpl::fd_prestat_get(M m, uint32_t fd, uint32_t buf) {
  auto it = fds_.find(fd);
  if (it == fds_.end() || !it->second->preopen) return kBadf;
  if (!m.Check(buf, kPrestatSize)) return kFault;
  std::memset(m.At(buf), 0, kPrestatSize);
  m.Store<uint8_t>(buf, kPreopentypeDir);
  m.Store<uint32_t>(buf + 4, static_cast<uint32_t>(it->second->preopen->size()));
  return kSuccess;
}

uint16_t WasiImpl::fd_prestat_dir_name(M m, uint32_t fd, uint32_t path, uint32_t path_len) {
  auto it = fds_.find(fd);
  if (it == fds_.end() || !it->second->preopen) return kBadf;
  const std::string& name = *it->second->preopen;
  if (path_len < name.size()) return kNametoolong;
  if (!m.Check(path, name.size())) return kFault;
  std::memcpy(m.At(path), name.data(), name.size());
  return kSuccess;
}

// ---------------------------------------------------------------------------------------------------------
// metadata

uint16_t WasiImpl::fd_filestat_get(M m, uint32_t fd, uint32_t buf) {
  FdEntry* e = nullptr;
  if (uint16_t err = Get(fd, kRightFdFilestatGet, &e)) return err;
  if (!m.Check(buf, kFilestatSize)) return kFault;
  const int hfd = e->HostFd();
  if (hfd < 0) {  // captured or null stdio: a stream with no metadata
    std::memset(m.At(buf), 0, kFilestatSize);
    m.Store<uint8_t>(buf + 16, e->filetype);
    return kSuccess;
  }
  struct stat st;
  if (fstat(hfd, &st) != 0) return HostErrno(errno);
  WriteFilestat(m, buf, st);
  if (e->kind == FdKind::Stdio) m.Store<uint8_t>(buf + 16, e->filetype);
  return kSuccess;
}

uint16_t WasiImpl::fd_filestat_set_size(M, uint32_t fd, uint64_t size) {
  FdEntry* e = nullptr;
  if (uint16_t err = Get(fd, kRightFdFilestatSetSize, &e)) return err;
  if (e->kind != FdKind::File) return kInval;
  if (size > static_cast<uint64_t>(INT64_MAX)) return kInval;
  uint16_t err = kSuccess;
  const int64_t before = QuotaBefore(
      *e, [&](int64_t) { return static_cast<int64_t>(size); }, &err);
  if (err) return err;
  const int r = ftruncate(e->host.get(), static_cast<off_t>(size));
  const int saved = errno;
  if (before >= 0) ChargeSince(e->host.get(), before);
  if (r != 0) return HostErrno(saved);
  return kSuccess;
}

uint16_t WasiImpl::fd_filestat_set_times(M, uint32_t fd, uint64_t atim, uint64_t mtim, uint32_t fst_flags) {
  FdEntry* e = nullptr;
  if (uint16_t err = Get(fd, kRightFdFilestatSetTimes, &e)) return err;
  if (e->kind == FdKind::Stdio) return kInval;
  timespec ts[2];
  if (uint16_t err = MakeTimes(atim, mtim, fst_flags, ts)) return err;
  if (futimens(e->host.get(), ts) != 0) return HostErrno(errno);
  return kSuccess;
}

uint16_t WasiImpl::fd_advise(M, uint32_t fd, uint64_t offset, uint64_t len, uint32_t advice) {
  FdEntry* e = nullptr;
  if (uint16_t err = Get(fd, kRightFdAdvise, &e)) return err;
  int a;
  switch (advice) {
    case kAdviceNormal:
      a = POSIX_FADV_NORMAL;
      break;
    case kAdviceSequential:
      a = POSIX_FADV_SEQUENTIAL;
      break;
    case kAdviceRandom:
      a = POSIX_FADV_RANDOM;
      break;
    case kAdviceWillneed:
      a = POSIX_FADV_WILLNEED;
      break;
    case kAdviceDontneed:
      a = POSIX_FADV_DONTNEED;
      break;
    case kAdviceNoreuse:
      a = POSIX_FADV_NOREUSE;
      break;
    default:
      return kInval;
  }
  if (e->kind == FdKind::Stdio) return kSpipe;
  if (offset > static_cast<uint64_t>(INT64_MAX) || len > static_cast<uint64_t>(INT64_MAX)) return kInval;
  int r = posix_fadvise(e->host.get(), static_cast<off_t>(offset), static_cast<off_t>(len), a);
  return r == 0 ? kSuccess : HostErrno(r);
}

uint16_t WasiImpl::fd_allocate(M, uint32_t fd, uint64_t offset, uint64_t len) {
  FdEntry* e = nullptr;
  if (uint16_t err = Get(fd, kRightFdAllocate, &e)) return err;
  if (e->kind != FdKind::File) return kBadf;
  if (len == 0 || offset > static_cast<uint64_t>(INT64_MAX) ||
      len > static_cast<uint64_t>(INT64_MAX) - offset)
    return kInval;
  uint16_t err = kSuccess;
  const int64_t before = QuotaBefore(
      *e, [&](int64_t size) { return std::max(size, static_cast<int64_t>(offset + len)); }, &err);
  if (err) return err;
  int r = posix_fallocate(e->host.get(), static_cast<off_t>(offset), static_cast<off_t>(len));
  if (before >= 0) ChargeSince(e->host.get(), before);
  return r == 0 ? kSuccess : HostErrno(r);
}

uint16_t WasiImpl::fd_datasync(M, uint32_t fd) {
  FdEntry* e = nullptr;
  if (uint16_t err = Get(fd, kRightFdDatasync, &e)) return err;
  if (e->kind == FdKind::Stdio) return kSuccess;  // nothing to make durable
  if (fdatasync(e->host.get()) != 0) return HostErrno(errno);
  return kSuccess;
}

uint16_t WasiImpl::fd_sync(M, uint32_t fd) {
  FdEntry* e = nullptr;
  if (uint16_t err = Get(fd, kRightFdSync, &e)) return err;
  if (e->kind == FdKind::Stdio) return kSuccess;
  if (fsync(e->host.get()) != 0) return HostErrno(errno);
  return kSuccess;
}

// ---------------------------------------------------------------------------------------------------------
// fd_readdir: entries in the kernel's order, including "." and ".."; the cookie of an entry is its index + 1
// in the listing taken when the guest starts over at cookie 0.

uint16_t WasiImpl::fd_readdir(M m, uint32_t fd, uint32_t buf, uint32_t buf_len, uint64_t cookie,
                              uint32_t bufused_ptr) {
  FdEntry* e = nullptr;
  if (uint16_t err = GetDir(fd, kRightFdReaddir, &e)) return err;
  if (!m.Check(buf, buf_len) || !m.Check(bufused_ptr, 4)) return kFault;

  if (cookie == 0 || !e->dir_cache_valid) {
    int dfd = openat(e->host.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return HostErrno(errno);
    DIR* dir = fdopendir(dfd);
    if (!dir) {
      int err = errno;
      close(dfd);
      return HostErrno(err);
    }
    e->dir_cache.clear();
    errno = 0;
    while (dirent* d = readdir(dir)) {
      uint8_t type;
      switch (d->d_type) {
        case DT_REG:
          type = kFiletypeRegularFile;
          break;
        case DT_DIR:
          type = kFiletypeDirectory;
          break;
        case DT_LNK:
          type = kFiletypeSymbolicLink;
          break;
        case DT_CHR:
          type = kFiletypeCharacterDevice;
          break;
        case DT_BLK:
          type = kFiletypeBlockDevice;
          break;
        case DT_SOCK:
          type = kFiletypeSocketStream;
          break;
        case DT_FIFO:
          type = kFiletypeUnknown;
          break;
        default: {
          struct stat st;
          type = fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? FiletypeOfMode(st.st_mode)
                                                                               : kFiletypeUnknown;
        }
      }
      e->dir_cache.push_back({static_cast<uint64_t>(d->d_ino), type, d->d_name});
    }
    int err = errno;
    closedir(dir);
    if (err != 0) return HostErrno(err);
    e->dir_cache_valid = true;
  }

  uint64_t used = 0;
  uint8_t header[kDirentSize];
  for (uint64_t i = cookie; i < e->dir_cache.size() && used < buf_len; ++i) {
    const DirEntryCache& d = e->dir_cache[i];
    std::memset(header, 0, sizeof header);
    uint64_t next = i + 1;
    uint32_t namlen = static_cast<uint32_t>(d.name.size());
    std::memcpy(header + 0, &next, 8);
    std::memcpy(header + 8, &d.ino, 8);
    std::memcpy(header + 16, &namlen, 4);
    header[20] = d.type;
    // Copy the header then the name, truncated at the end of the buffer (the guest sees a full buffer
    // and asks again with a bigger one or the same cookie).
    uint64_t take = std::min<uint64_t>(kDirentSize, buf_len - used);
    std::memcpy(m.At(buf + used), header, take);
    used += take;
    take = std::min<uint64_t>(d.name.size(), buf_len - used);
    std::memcpy(m.At(buf + used), d.name.data(), take);
    used += take;
  }
  m.Store<uint32_t>(bufused_ptr, static_cast<uint32_t>(used));
  return kSuccess;
}

}  // namespace wasmq::wasi
