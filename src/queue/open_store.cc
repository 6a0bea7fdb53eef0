// File: src/queue/open_store.cc
//
// OpenStore: a store URL to a backend.
#include <filesystem>
#include <system_error>

#include "queue/sqlite_store.h"

namespace wasmq::queue {

Result<std::unique_ptr<Store>> OpenStore(std::string_view url, StoreOptions options) {
  if (url.starts_with("sqlite:")) {
    std::string path(url.substr(7));
    if (path.empty())
      return InvalidArgument("store: 'sqlite:' needs a file path, e.g. sqlite:/var/lib/wasmq/tasks.db");
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(parent, ec);
      if (ec) return Unavailable("store: cannot create directory " + parent.string() + ": " + ec.message());
    }
    auto s = SqliteStore::Open(path, std::move(options));
    if (!s) return s.error();
    return std::unique_ptr<Store>(std::move(*s));
  }
  if (url.starts_with("redis://"))
    return Unavailable("store: the Redis backend is not built yet; use sqlite:PATH");
  return InvalidArgument("store: '" + std::string(url) +
                         "' is not a store URL (sqlite:PATH or redis://HOST:PORT/DB)");
}

}  // namespace wasmq::queue
