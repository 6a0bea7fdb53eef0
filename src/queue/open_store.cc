// File: src/queue/open_store.cc
//
// OpenStore: a store URL to a backend.
#include <filesystem>
#include <system_error>

#include "queue/redis_store.h"
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
  if (url.starts_with("redis://") || url.starts_with("redis+sentinel://")) {
    auto address = detail::ParseRedisUrl(url);
    if (!address) return address.error();
    std::string prefix = address->prefix.empty() ? options.redis_prefix : address->prefix;
    auto s = RedisStore::Open(*address, prefix, std::move(options));
    if (!s) return s.error();
    return std::unique_ptr<Store>(std::move(*s));
  }
  return InvalidArgument("store: '" + std::string(url) +
                         "' is not a store URL (sqlite:PATH, redis://[user:pass@]HOST:PORT/DB or "
                         "redis+sentinel://HOST:PORT,HOST:PORT/MASTER/DB)");
}

}  // namespace wasmq::queue
