// File: src/wasi/path.cc
//
// The path_* imports. Each resolves its path(s) with ResolvePath (fs.h) beneath a directory fd that holds
// the needed right, then finishes with one *at() call on (directory fd, final name) that never follows a
// final symlink.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "wasi/impl.h"

namespace wasmq::wasi {

using namespace abi;

namespace {

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

// For a call that creates a name which is no directory (a symlink, a hard link) at a path that ended in
// '/' (`r.must_be_dir`): the path can only name a directory, so it is EEXIST when something is there and
// ENOENT when nothing is, as on Linux. The *at() call gets the name without its slash and would otherwise
// create it.
uint16_t NoDirectoryAtTrailingSlash(const Resolved& r) {
  struct stat st;
  return fstatat(r.dirfd(), r.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 ? abi::kExist : abi::kNoent;
}

// When (dirfd, name) is a symlink, whether its target stays inside the sandbox once the link sits
// `depth` directories below the root (a link moved or hard-linked elsewhere keeps its relative target).
bool LinkStaysInside(int dirfd, const std::string& name, size_t depth) {
  struct stat st;
  if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode)) return true;
  std::string target(kMaxPathBytes, '\0');
  ssize_t n = readlinkat(dirfd, name.c_str(), target.data(), target.size());
  if (n < 0) return true;  // the *at() call that follows reports the problem
  target.resize(static_cast<size_t>(n));
  return SymlinkTargetStaysInside(target, depth);
}

}  // namespace

uint16_t WasiImpl::ReadPath(M m, uint32_t ptr, uint32_t len, std::string* out) {
  if (!m.Check(ptr, len)) return kFault;
  if (len > kMaxPathBytes) return kNametoolong;
  out->assign(reinterpret_cast<const char*>(m.At(ptr)), len);
  if (out->find('\0') != std::string::npos) return kInval;
  if (!ValidUtf8(*out)) return kIlseq;
  return kSuccess;
}

uint16_t WasiImpl::ResolveAt(M m, uint32_t fd, uint64_t rights, uint32_t path, uint32_t path_len, bool follow,
                             Resolved* out) {
  FdEntry* dir = nullptr;
  if (uint16_t err = GetDir(fd, rights, &dir)) return err;
  std::string p;
  if (uint16_t err = ReadPath(m, path, path_len, &p)) return err;
  return ResolvePath(dir->host.get(), p, follow, out);
}

uint16_t WasiImpl::path_open(M m, uint32_t fd, uint32_t dirflags, uint32_t path, uint32_t path_len,
                             uint32_t oflags, uint64_t rights_base, uint64_t rights_inheriting,
                             uint32_t fdflags, uint32_t fd_ptr) {
  if (oflags & ~uint32_t{kOflagsAll}) return kInval;
  if (fdflags & ~uint32_t{kFdflagsAll}) return kInval;
  uint64_t need = kRightPathOpen;
  if (oflags & kOflagCreat) need |= kRightPathCreateFile;
  if (oflags & kOflagTrunc) need |= kRightPathFilestatSetSize;
  FdEntry* dir = nullptr;
  if (uint16_t err = GetDir(fd, need, &dir)) return err;
  // Reading or writing is granted only if the directory passes it on.
  if (rights_base & (kRightFdRead | kRightFdWrite) & ~dir->rights_inheriting) return kNotcapable;
  // As preview1 specifies: DSYNC needs FD_DATASYNC, RSYNC and SYNC need FD_SYNC (a directory that passes
  // on only FD_SYNC still allows O_SYNC).
  if ((fdflags & kFdflagDsync) && !(dir->rights_inheriting & kRightFdDatasync)) return kNotcapable;
  if ((fdflags & (kFdflagRsync | kFdflagSync)) && !(dir->rights_inheriting & kRightFdSync))
    return kNotcapable;
  if (!m.Check(fd_ptr, 4)) return kFault;

  Resolved r;
  if (uint16_t err = ResolveAt(m, fd, need, path, path_len, dirflags & kLookupSymlinkFollow, &r)) return err;

  uint64_t base = rights_base & dir->rights_inheriting;
  uint64_t inheriting = rights_inheriting & dir->rights_inheriting;
  const bool read = base & (kRightFdRead | kRightFdReaddir);
  const bool write = base & (kRightFdWrite | kRightFdAllocate | kRightFdFilestatSetSize);
  int flags = O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
  flags |= write ? (read ? O_RDWR : O_WRONLY) : O_RDONLY;
  if ((oflags & kOflagDirectory) || r.must_be_dir) flags |= O_DIRECTORY;
  if (oflags & kOflagCreat) flags |= O_CREAT;
  if (oflags & kOflagExcl) flags |= O_EXCL;
  if (oflags & kOflagTrunc) flags |= O_TRUNC;
  if (fdflags & kFdflagAppend) flags |= O_APPEND;
  if (fdflags & kFdflagDsync) flags |= O_DSYNC;
  if (fdflags & kFdflagSync) flags |= O_SYNC;
  if (fdflags & kFdflagRsync) flags |= O_RSYNC;
  if (fdflags & kFdflagNonblock) flags |= O_NONBLOCK;

  // Output quota: a new name, and the bytes a truncation gives back.
  bool created = false;
  int64_t truncated = 0;
  if (QuotaOn() && (oflags & (kOflagCreat | kOflagTrunc))) {
    struct stat old;
    if (fstatat(r.dirfd(), r.name.c_str(), &old, AT_SYMLINK_NOFOLLOW) != 0) {
      if (oflags & kOflagCreat) {
        if (uint16_t err = QuotaAllows(0, 1)) return err;
        created = true;
      }
    } else if ((oflags & kOflagTrunc) && S_ISREG(old.st_mode)) {
      truncated = static_cast<int64_t>(old.st_size);
    }
  }

  // Opened non-blocking so that a FIFO in a preopened directory cannot hang the open itself; the flag is
  // cleared again unless the module asked for it.
  int hfd;
  do {
    hfd = openat(r.dirfd(), r.name.c_str(), flags | O_NONBLOCK, 0666);
  } while (hfd < 0 && errno == EINTR);
  if (hfd < 0) return HostErrno(errno);
  UniqueFd owned(hfd);
  out_files_ += created ? 1 : 0;
  out_bytes_ -= truncated;
  if (!(fdflags & kFdflagNonblock)) {
    int fl = fcntl(hfd, F_GETFL);
    if (fl >= 0) fcntl(hfd, F_SETFL, fl & ~O_NONBLOCK);
  }
  struct stat st;
  if (fstat(hfd, &st) != 0) return HostErrno(errno);

  auto e = std::make_unique<FdEntry>();
  e->filetype = FiletypeOfMode(st.st_mode);
  e->fdflags = static_cast<uint16_t>(fdflags);
  if (S_ISDIR(st.st_mode)) {
    e->kind = FdKind::Dir;
    e->rights_base = base & kDirRights;
    e->rights_inheriting = inheriting;
  } else {
    e->kind = FdKind::File;
    e->rights_base = base & kFileRights;
    if (!read) e->rights_base &= ~kRightFdRead;
    if (!write) e->rights_base &= ~(kRightFdWrite | kRightFdAllocate | kRightFdFilestatSetSize);
    e->rights_inheriting = 0;
  }
  e->host = std::move(owned);
  uint32_t newfd = 0;
  if (uint16_t err = Insert(std::move(e), &newfd)) return err;
  m.Store<uint32_t>(fd_ptr, newfd);
  return kSuccess;
}

uint16_t WasiImpl::path_create_directory(M m, uint32_t fd, uint32_t path, uint32_t path_len) {
  Resolved r;
  if (uint16_t err = ResolveAt(m, fd, kRightPathCreateDirectory, path, path_len, false, &r)) return err;
  if (r.name == ".") return kExist;
  if (QuotaOn()) {
    struct stat st;
    if (fstatat(r.dirfd(), r.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return kExist;
    if (uint16_t err = QuotaAllows(0, 1)) return err;
  }
  if (mkdirat(r.dirfd(), r.name.c_str(), 0777) != 0) return HostErrno(errno);
  if (QuotaOn()) ++out_files_;
  return kSuccess;
}

uint16_t WasiImpl::path_filestat_get(M m, uint32_t fd, uint32_t flags, uint32_t path, uint32_t path_len,
                                     uint32_t buf) {
  FdEntry* dir = nullptr;
  if (uint16_t err = GetDir(fd, kRightPathFilestatGet, &dir)) return err;
  if (!m.Check(buf, kFilestatSize)) return kFault;
  Resolved r;
  if (uint16_t err =
          ResolveAt(m, fd, kRightPathFilestatGet, path, path_len, flags & kLookupSymlinkFollow, &r))
    return err;
  struct stat st;
  if (fstatat(r.dirfd(), r.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return HostErrno(errno);
  if (r.must_be_dir && !S_ISDIR(st.st_mode)) return kNotdir;
  WriteFilestat(m, buf, st);
  return kSuccess;
}

uint16_t WasiImpl::path_filestat_set_times(M m, uint32_t fd, uint32_t flags, uint32_t path, uint32_t path_len,
                                           uint64_t atim, uint64_t mtim, uint32_t fst_flags) {
  timespec ts[2];
  if (uint16_t err = MakeTimes(atim, mtim, fst_flags, ts)) return err;
  Resolved r;
  if (uint16_t err =
          ResolveAt(m, fd, kRightPathFilestatSetTimes, path, path_len, flags & kLookupSymlinkFollow, &r))
    return err;
  if (utimensat(r.dirfd(), r.name.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) return HostErrno(errno);
  return kSuccess;
}

uint16_t WasiImpl::path_link(M m, uint32_t old_fd, uint32_t old_flags, uint32_t old_path,
                             uint32_t old_path_len, uint32_t new_fd, uint32_t new_path,
                             uint32_t new_path_len) {
  Resolved from, to;
  if (uint16_t err = ResolveAt(m, old_fd, kRightPathLinkSource, old_path, old_path_len,
                               old_flags & kLookupSymlinkFollow, &from))
    return err;
  if (uint16_t err = ResolveAt(m, new_fd, kRightPathLinkTarget, new_path, new_path_len, false, &to))
    return err;
  if (to.name == ".") return kExist;
  if (to.must_be_dir) return NoDirectoryAtTrailingSlash(to);
  if (!LinkStaysInside(from.dirfd(), from.name, to.depth())) return kNotcapable;
  if (QuotaOn()) {
    struct stat st;
    if (fstatat(to.dirfd(), to.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return kExist;
    if (uint16_t err = QuotaAllows(0, 1)) return err;
  }
  if (linkat(from.dirfd(), from.name.c_str(), to.dirfd(), to.name.c_str(), 0) != 0) return HostErrno(errno);
  if (QuotaOn()) ++out_files_;
  return kSuccess;
}

uint16_t WasiImpl::path_readlink(M m, uint32_t fd, uint32_t path, uint32_t path_len, uint32_t buf,
                                 uint32_t buf_len, uint32_t bufused_ptr) {
  FdEntry* dir = nullptr;
  if (uint16_t err = GetDir(fd, kRightPathReadlink, &dir)) return err;
  if (!m.Check(buf, buf_len) || !m.Check(bufused_ptr, 4)) return kFault;
  Resolved r;
  if (uint16_t err = ResolveAt(m, fd, kRightPathReadlink, path, path_len, false, &r)) return err;
  std::string target(kMaxPathBytes, '\0');
  ssize_t n = readlinkat(r.dirfd(), r.name.c_str(), target.data(), target.size());
  if (n < 0) return HostErrno(errno);
  // Like POSIX readlink: the contents, truncated to the buffer, no NUL.
  size_t take = std::min<size_t>(static_cast<size_t>(n), buf_len);
  std::memcpy(m.At(buf), target.data(), take);
  m.Store<uint32_t>(bufused_ptr, static_cast<uint32_t>(take));
  return kSuccess;
}

uint16_t WasiImpl::path_remove_directory(M m, uint32_t fd, uint32_t path, uint32_t path_len) {
  Resolved r;
  if (uint16_t err = ResolveAt(m, fd, kRightPathRemoveDirectory, path, path_len, false, &r)) return err;
  if (r.name == ".") return kInval;  // never the directory the path was resolved from (or a preopen)
  if (unlinkat(r.dirfd(), r.name.c_str(), AT_REMOVEDIR) != 0) {
    int e = errno;
    return e == EEXIST ? kNotempty : HostErrno(e);
  }
  if (QuotaOn()) --out_files_;
  return kSuccess;
}

uint16_t WasiImpl::path_rename(M m, uint32_t fd, uint32_t old_path, uint32_t old_path_len, uint32_t new_fd,
                               uint32_t new_path, uint32_t new_path_len) {
  Resolved from, to;
  if (uint16_t err = ResolveAt(m, fd, kRightPathRenameSource, old_path, old_path_len, false, &from))
    return err;
  if (uint16_t err = ResolveAt(m, new_fd, kRightPathRenameTarget, new_path, new_path_len, false, &to))
    return err;
  if (from.name == "." || to.name == ".") return kBusy;
  if (to.must_be_dir || from.must_be_dir) {
    struct stat st;
    if (fstatat(from.dirfd(), from.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return HostErrno(errno);
    if (!S_ISDIR(st.st_mode)) return kNotdir;
  }
  if (!LinkStaysInside(from.dirfd(), from.name, to.depth())) return kNotcapable;
  // Output quota: a rename over an existing name frees that name (and its data), unless both are one file.
  int64_t bytes = 0, files = 0;
  if (QuotaOn()) {
    struct stat a, b;
    if (fstatat(from.dirfd(), from.name.c_str(), &a, AT_SYMLINK_NOFOLLOW) == 0 &&
        fstatat(to.dirfd(), to.name.c_str(), &b, AT_SYMLINK_NOFOLLOW) == 0 &&
        (a.st_dev != b.st_dev || a.st_ino != b.st_ino))
      Released(to.dirfd(), to.name, &bytes, &files);
  }
  if (renameat(from.dirfd(), from.name.c_str(), to.dirfd(), to.name.c_str()) != 0) return HostErrno(errno);
  out_bytes_ -= bytes;
  out_files_ -= files;
  return kSuccess;
}

uint16_t WasiImpl::path_symlink(M m, uint32_t old_path, uint32_t old_path_len, uint32_t fd, uint32_t new_path,
                                uint32_t new_path_len) {
  FdEntry* dir = nullptr;
  if (uint16_t err = GetDir(fd, kRightPathSymlink, &dir)) return err;
  std::string target;
  if (uint16_t err = ReadPath(m, old_path, old_path_len, &target)) return err;
  Resolved r;
  if (uint16_t err = ResolveAt(m, fd, kRightPathSymlink, new_path, new_path_len, false, &r)) return err;
  if (r.name == ".") return kExist;
  if (r.must_be_dir) return NoDirectoryAtTrailingSlash(r);
  // A link that points outside could never be followed through WASI, but the host (a worker collecting
  // results) might follow it: refuse to create one.
  if (!SymlinkTargetStaysInside(target, r.depth())) return kNotcapable;
  if (QuotaOn()) {
    struct stat st;
    if (fstatat(r.dirfd(), r.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return kExist;
    if (uint16_t err = QuotaAllows(0, 1)) return err;
  }
  if (symlinkat(target.c_str(), r.dirfd(), r.name.c_str()) != 0) return HostErrno(errno);
  if (QuotaOn()) ++out_files_;
  return kSuccess;
}

uint16_t WasiImpl::path_unlink_file(M m, uint32_t fd, uint32_t path, uint32_t path_len) {
  Resolved r;
  if (uint16_t err = ResolveAt(m, fd, kRightPathUnlinkFile, path, path_len, false, &r)) return err;
  if (r.name == ".") return kIsdir;
  int64_t bytes = 0, files = 0;
  if (QuotaOn()) Released(r.dirfd(), r.name, &bytes, &files);
  if (unlinkat(r.dirfd(), r.name.c_str(), 0) != 0) return HostErrno(errno);
  out_bytes_ -= bytes;
  out_files_ -= files;
  return kSuccess;
}

}  // namespace wasmq::wasi
