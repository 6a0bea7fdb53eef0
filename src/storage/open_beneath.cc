// File: src/storage/open_beneath.cc
//
// Opening what others wrote below a directory (a module's outputs, the dashboard's files) without leaving
// it, whatever links they planted.
#include <fcntl.h>
#include <sys/stat.h>

#include <string>

#include "storage/storage.h"

namespace wasmq::storage {

UniqueFd OpenBeneath(std::string_view root, std::string_view relative, uint64_t* size) {
  if (relative.empty() || relative.size() > 4096) return {};
  UniqueFd dir(::open(std::string(root).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return {};
  while (true) {
    size_t slash = relative.find('/');
    std::string part(relative.substr(0, slash));
    if (part.empty() || part == "." || part == ".." || part.find('\0') != std::string::npos) return {};
    bool last = slash == std::string_view::npos;
    int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (last ? O_NONBLOCK : O_DIRECTORY);
    UniqueFd next(::openat(dir.get(), part.c_str(), flags));
    if (!next) return {};
    if (last) {
      struct stat st;
      if (::fstat(next.get(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
      // O_NONBLOCK only kept a FIFO from blocking the open; reads of a regular file ignore it, but clear it.
      ::fcntl(next.get(), F_SETFL, ::fcntl(next.get(), F_GETFL) & ~O_NONBLOCK);
      *size = static_cast<uint64_t>(st.st_size);
      return next;
    }
    dir = std::move(next);
    relative.remove_prefix(slash + 1);
  }
}

}  // namespace wasmq::storage
