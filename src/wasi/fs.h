// File: src/wasi/fs.h  (internal)
//
// The sandbox's file-system half: host fd ownership, host errno -> WASI errno, and path resolution
// beneath a preopened directory.
//
// ResolvePath walks a guest path one component at a time with openat(O_PATH | O_NOFOLLOW), holding an fd
// for every directory on the way, so:
//  - `..` pops that stack; popping past the preopen root is ENOTCAPABLE (the kernel's own `..` is never
//    used, so a directory moved elsewhere meanwhile cannot lead outside);
//  - a symlink is read (readlinkat on the O_PATH fd of the link itself, so it cannot be swapped between the
//    check and the read) and its target spliced into the remaining path: an absolute target, or one whose
//    `..` climbs above the root, is ENOTCAPABLE; more than kMaxSymlinks expansions is ELOOP;
//  - the result is (directory fd, final name); callers finish with *at() calls that do not follow a final
//    symlink (O_NOFOLLOW / AT_SYMLINK_NOFOLLOW / unlinkat / renameat / mkdirat ...), so a symlink planted
//    after resolution is never followed by the kernel either.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wasmq::wasi {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = o.Release();
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Host errno -> WASI errno (EIO for anything without a counterpart).
uint16_t HostErrno(int e);
// st_mode -> WASI filetype.
uint8_t FiletypeOfMode(mode_t mode);

constexpr int kMaxSymlinks = 40;
constexpr size_t kMaxPathBytes = 4096;

struct Resolved {
  int root = -1;                // the preopen's (or opened directory's) host fd, not owned
  std::vector<UniqueFd> stack;  // directories entered below root, innermost last
  std::string name;             // final component: a plain name, or "." for the directory itself
  bool must_be_dir = false;     // the path ended with '/' (or "/." / "/..")
  int dirfd() const { return stack.empty() ? root : stack.back().get(); }
  size_t depth() const { return stack.size(); }  // directories below the root
};

// Resolves `path` beneath the directory `root`. `follow_final` follows a symlink in the last component
// (lookupflags SYMLINK_FOLLOW). Returns a WASI errno (0 on success). A final component that does not exist
// is not an error here (the caller may create it).
uint16_t ResolvePath(int root, std::string_view path, bool follow_final, Resolved* out);

// True when a symlink with contents `target`, created in a directory `depth` levels below the sandbox
// root, points inside the sandbox (relative, and never climbing above the root lexically).
bool SymlinkTargetStaysInside(std::string_view target, size_t depth);

}  // namespace wasmq::wasi
