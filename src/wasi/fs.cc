// File: src/wasi/fs.cc
//
// Sandboxed path resolution (see fs.h) and host <-> WASI translations.
#include "wasi/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <deque>

#include "wasi/abi.h"

namespace wasmq::wasi {

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

uint16_t HostErrno(int e) {
  using namespace abi;
  switch (e) {
    case 0:
      return kSuccess;
    case E2BIG:
      return k2big;
    case EACCES:
      return kAcces;
    case EADDRINUSE:
      return kAddrinuse;
    case EADDRNOTAVAIL:
      return kAddrnotavail;
    case EAFNOSUPPORT:
      return kAfnosupport;
    case EAGAIN:
      return kAgain;
    case EALREADY:
      return kAlready;
    case EBADF:
      return kBadf;
    case EBADMSG:
      return kBadmsg;
    case EBUSY:
      return kBusy;
    case ECANCELED:
      return kCanceled;
    case ECHILD:
      return kChild;
    case ECONNABORTED:
      return kConnaborted;
    case ECONNREFUSED:
      return kConnrefused;
    case ECONNRESET:
      return kConnreset;
    case EDEADLK:
      return kDeadlk;
    case EDESTADDRREQ:
      return kDestaddrreq;
    case EDOM:
      return kDom;
    case EDQUOT:
      return kDquot;
    case EEXIST:
      return kExist;
    case EFAULT:
      return kFault;
    case EFBIG:
      return kFbig;
    case EHOSTUNREACH:
      return kHostunreach;
    case EIDRM:
      return kIdrm;
    case EILSEQ:
      return kIlseq;
    case EINPROGRESS:
      return kInprogress;
    case EINTR:
      return kIntr;
    case EINVAL:
      return kInval;
    case EIO:
      return kIo;
    case EISCONN:
      return kIsconn;
    case EISDIR:
      return kIsdir;
    case ELOOP:
      return kLoop;
    case EMFILE:
      return kMfile;
    case EMLINK:
      return kMlink;
    case EMSGSIZE:
      return kMsgsize;
    case EMULTIHOP:
      return kMultihop;
    case ENAMETOOLONG:
      return kNametoolong;
    case ENETDOWN:
      return kNetdown;
    case ENETRESET:
      return kNetreset;
    case ENETUNREACH:
      return kNetunreach;
    case ENFILE:
      return kNfile;
    case ENOBUFS:
      return kNobufs;
    case ENODEV:
      return kNodev;
    case ENOENT:
      return kNoent;
    case ENOEXEC:
      return kNoexec;
    case ENOLCK:
      return kNolck;
    case ENOLINK:
      return kNolink;
    case ENOMEM:
      return kNomem;
    case ENOMSG:
      return kNomsg;
    case ENOPROTOOPT:
      return kNoprotoopt;
    case ENOSPC:
      return kNospc;
    case ENOSYS:
      return kNosys;
    case ENOTCONN:
      return kNotconn;
    case ENOTDIR:
      return kNotdir;
    case ENOTEMPTY:
      return kNotempty;
    case ENOTRECOVERABLE:
      return kNotrecoverable;
    case ENOTSOCK:
      return kNotsock;
    case EOPNOTSUPP:
      return kNotsup;  // == ENOTSUP on Linux
    case ENOTTY:
      return kNotty;
    case ENXIO:
      return kNxio;
    case EOVERFLOW:
      return kOverflow;
    case EOWNERDEAD:
      return kOwnerdead;
    case EPERM:
      return kPerm;
    case EPIPE:
      return kPipe;
    case EPROTO:
      return kProto;
    case EPROTONOSUPPORT:
      return kProtonosupport;
    case EPROTOTYPE:
      return kPrototype;
    case ERANGE:
      return kRange;
    case EROFS:
      return kRofs;
    case ESPIPE:
      return kSpipe;
    case ESRCH:
      return kSrch;
    case ESTALE:
      return kStale;
    case ETIMEDOUT:
      return kTimedout;
    case ETXTBSY:
      return kTxtbsy;
    case EXDEV:
      return kXdev;
    default:
      return kIo;
  }
}

uint8_t FiletypeOfMode(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return abi::kFiletypeRegularFile;
    case S_IFDIR:
      return abi::kFiletypeDirectory;
    case S_IFLNK:
      return abi::kFiletypeSymbolicLink;
    case S_IFCHR:
      return abi::kFiletypeCharacterDevice;
    case S_IFBLK:
      return abi::kFiletypeBlockDevice;
    case S_IFSOCK:
      return abi::kFiletypeSocketStream;
    default:
      return abi::kFiletypeUnknown;  // FIFOs have no WASI type
  }
}

namespace {

// Splits `path` into its components, dropping empty ones and ".". `trailing` tells whether the path ends
// in '/' or "/." (the last component must then be a directory).
void Split(std::string_view path, std::deque<std::string>* out, bool* trailing) {
  size_t i = 0;
  *trailing = false;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view c = path.substr(i, j - i);
    if (!c.empty() && c != ".") out->emplace_back(c);
    i = j + 1;
  }
  if (!path.empty()) {
    std::string_view last = path;
    if (last.back() == '/') *trailing = true;
    size_t s = last.rfind('/');
    std::string_view tail = s == std::string_view::npos ? last : last.substr(s + 1);
    if (tail == "." || tail == "..") *trailing = true;
  }
}

// The contents of the symlink opened (O_PATH | O_NOFOLLOW) as `fd`.
bool ReadLinkFd(int fd, std::string* target, int* err) {
  std::string buf(256, '\0');
  while (true) {
    ssize_t n = readlinkat(fd, "", buf.data(), buf.size());
    if (n < 0) {
      *err = errno;
      return false;
    }
    if (static_cast<size_t>(n) < buf.size()) {
      buf.resize(static_cast<size_t>(n));
      *target = std::move(buf);
      return true;
    }
    if (buf.size() >= kMaxPathBytes * 4) {
      *err = ENAMETOOLONG;
      return false;
    }
    buf.resize(buf.size() * 2);
  }
}

}  // namespace

uint16_t ResolvePath(int root, std::string_view path, bool follow_final, Resolved* out) {
  out->root = root;
  out->stack.clear();
  out->name.clear();
  out->must_be_dir = false;
  if (path.empty()) return abi::kNoent;
  if (path.size() > kMaxPathBytes) return abi::kNametoolong;
  if (path.front() == '/') return abi::kNotcapable;

  std::deque<std::string> comps;
  bool trailing = false;
  Split(path, &comps, &trailing);
  int links = 0;
  while (true) {
    if (comps.empty()) {  // the path names the current directory ("." or "a/..")
      out->name.assign(1, '.');
      out->must_be_dir = true;
      return abi::kSuccess;
    }
    std::string c = std::move(comps.front());
    comps.pop_front();
    const bool last = comps.empty();
    if (c == "..") {
      if (out->stack.empty()) return abi::kNotcapable;
      out->stack.pop_back();
      continue;
    }
    if (last && !trailing && !follow_final) {
      out->name = std::move(c);
      return abi::kSuccess;
    }
    int fd = openat(out->dirfd(), c.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (last && e == ENOENT) {  // may be created by the caller
        out->name = std::move(c);
        out->must_be_dir = trailing;
        return abi::kSuccess;
      }
      return HostErrno(e);
    }
    UniqueFd f(fd);
    struct stat st;
    if (fstat(fd, &st) != 0) return HostErrno(errno);
    if (S_ISLNK(st.st_mode)) {
      if (++links > kMaxSymlinks) return abi::kLoop;
      std::string target;
      int err = 0;
      if (!ReadLinkFd(fd, &target, &err)) return HostErrno(err);
      if (target.empty()) return abi::kNoent;
      if (target.front() == '/') return abi::kNotcapable;
      std::deque<std::string> tcomps;
      bool ttrailing = false;
      Split(target, &tcomps, &ttrailing);
      if (last) trailing = trailing || ttrailing;
      comps.insert(comps.begin(), tcomps.begin(), tcomps.end());
      continue;
    }
    if (last) {
      if (trailing && !S_ISDIR(st.st_mode)) return abi::kNotdir;
      out->name = std::move(c);
      out->must_be_dir = trailing;
      return abi::kSuccess;
    }
    if (!S_ISDIR(st.st_mode)) return abi::kNotdir;
    out->stack.push_back(std::move(f));
  }
}

bool SymlinkTargetStaysInside(std::string_view target, size_t depth) {
  if (target.empty()) return true;
  if (target.front() == '/') return false;
  std::deque<std::string> comps;
  bool trailing = false;
  Split(target, &comps, &trailing);
  int64_t d = static_cast<int64_t>(depth);
  for (const std::string& c : comps) {
    if (c == "..") {
      if (--d < 0) return false;
    } else {
      ++d;
    }
  }
  return true;
}

}  // namespace wasmq::wasi
