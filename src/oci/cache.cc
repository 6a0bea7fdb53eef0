// File: src/oci/cache.cc
//
// The content-addressed cache. Blobs land only after their sha256 is checked, by rename from a temporary
// file, so a reader never sees a partial blob. index.json is rewritten whole (tmp + rename) under an
// advisory lock (index.lock), so concurrent pulls in several processes do not lose each other's entries.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "json/json.h"
#include "oci/util.h"

namespace wasmq::oci {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class IndexLock {
 public:
  explicit IndexLock(const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    fd_ = ::open((dir + "/index.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~IndexLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }
  IndexLock(const IndexLock&) = delete;
  IndexLock& operator=(const IndexLock&) = delete;

 private:
  int fd_ = -1;
};

json ReadIndex(const std::string& dir) {
  std::string text;
  if (!internal::ReadFile(dir + "/index.json", &text)) return json{{"refs", json::object()}};
  json j = wasmq::json::Parse(text);
  if (!j.is_object() || !j.contains("refs") || !j["refs"].is_object()) return json{{"refs", json::object()}};
  return j;
}

CacheEntry FromJson(const std::string& ref, const json& e) {
  CacheEntry c;
  c.ref = ref;
  c.manifest_digest = e.value("digest", "");
  c.module_digest = e.value("module", "");
  c.size = e.value("size", int64_t{0});
  c.layout = e.value("layout", "");
  c.last_used = e.value("last_used", int64_t{0});
  c.entry_func = e.value("entry_func", "");
  return c;
}

json ToJson(const CacheEntry& c) {
  return json{{"digest", c.manifest_digest}, {"module", c.module_digest}, {"size", c.size},
              {"layout", c.layout},          {"last_used", c.last_used},   {"entry_func", c.entry_func}};
}

std::string Hex(const std::string& digest) { return digest.size() > 7 ? digest.substr(7) : digest; }

}  // namespace

Cache::Cache(std::string dir) : dir_(dir.empty() ? DefaultDir() : std::move(dir)) {}

std::string Cache::DefaultDir() {
  if (const char* d = std::getenv("WASMQ_CACHE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/wasmq";
  return internal::HomeDir() + "/.cache/wasmq";
}

std::string Cache::BlobPath(const std::string& digest) const { return dir_ + "/blobs/sha256/" + Hex(digest); }
std::string Cache::PartialPath(const std::string& digest) const { return dir_ + "/tmp/" + Hex(digest) + ".partial"; }

bool Cache::HasBlob(const std::string& digest) const {
  std::error_code ec;
  return IsDigest(digest) && fs::is_regular_file(BlobPath(digest), ec);
}

Result<std::string> Cache::ReadBlob(const std::string& digest) const {
  if (!IsDigest(digest)) return MakeError(ErrorKind::InvalidArgument, "not a sha256 digest: " + digest);
  std::string bytes;
  if (!internal::ReadFile(BlobPath(digest), &bytes)) return MakeError(ErrorKind::NotCached, digest + " is not cached");
  std::string got = Sha256Digest(bytes);
  if (got != digest) {
    std::error_code ec;
    fs::remove(BlobPath(digest), ec);  // never serve it again; the next online pull re-fetches it
    return MakeError(ErrorKind::DigestMismatch, "cached blob " + digest + " is corrupt (its content has digest " + got +
                                                    "); removed it from the cache");
  }
  return bytes;
}

Result<void> Cache::PutBlob(const std::string& digest, std::string_view bytes) {
  if (!IsDigest(digest)) return MakeError(ErrorKind::InvalidArgument, "not a sha256 digest: " + digest);
  std::string got = Sha256Digest(bytes);
  if (got != digest) return MakeError(ErrorKind::DigestMismatch, "content has digest " + got + ", not " + digest);
  return internal::WriteFileAtomic(BlobPath(digest), bytes);
}

Result<void> Cache::AdoptBlob(const std::string& digest, const std::string& verified_file) {
  std::error_code ec;
  fs::create_directories(fs::path(BlobPath(digest)).parent_path(), ec);
  fs::rename(verified_file, BlobPath(digest), ec);
  if (ec) return MakeError(ErrorKind::Io, "cannot move " + verified_file + " into the cache: " + ec.message());
  return {};
}

std::optional<CacheEntry> Cache::Lookup(const std::string& ref) const {
  json j = ReadIndex(dir_);
  auto it = j["refs"].find(ref);
  if (it == j["refs"].end() || !it->is_object()) return std::nullopt;
  return FromJson(ref, *it);
}

Result<void> Cache::Record(const CacheEntry& entry) {
  IndexLock lock(dir_);
  json j = ReadIndex(dir_);
  CacheEntry e = entry;
  e.last_used = internal::NowSeconds();
  j["refs"][e.ref] = ToJson(e);
  return internal::WriteFileAtomic(dir_ + "/index.json", j.dump(2) + "\n");
}

Result<void> Cache::Touch(const std::string& ref) {
  IndexLock lock(dir_);
  json j = ReadIndex(dir_);
  auto it = j["refs"].find(ref);
  if (it == j["refs"].end() || !it->is_object()) return {};
  (*it)["last_used"] = internal::NowSeconds();
  return internal::WriteFileAtomic(dir_ + "/index.json", j.dump(2) + "\n");
}

std::vector<CacheEntry> Cache::List() const {
  std::vector<CacheEntry> out;
  json j = ReadIndex(dir_);
  for (const auto& [ref, e] : j["refs"].items())
    if (e.is_object()) out.push_back(FromJson(ref, e));
  return out;
}

Result<GcReport> Cache::Gc(const GcOptions& o) {
  IndexLock lock(dir_);
  json j = ReadIndex(dir_);
  GcReport report;
  int64_t now = internal::NowSeconds();
  json kept = json::object();
  std::set<std::string> live;
  std::error_code ec;
  for (const auto& [ref, e] : j["refs"].items()) {
    if (!e.is_object()) continue;
    CacheEntry c = FromJson(ref, e);
    if (o.older_than_seconds >= 0 && now - c.last_used > o.older_than_seconds) {
      report.removed_refs.push_back(ref);
      continue;
    }
    kept[ref] = e;
    live.insert(Hex(c.module_digest));
    live.insert(Hex(c.manifest_digest));  // artifacts keep their manifest as a blob (artifact.cc)
  }
  // The models index (`wasmq models`, docs/models.md) names blobs that no ref may name: keep them.
  if (fs::is_directory(dir_ + "/models", ec))
    for (const auto& f : fs::directory_iterator(dir_ + "/models", ec)) {
      std::string text;
      if (f.path().extension() != ".json" || !internal::ReadFile(f.path().string(), &text)) continue;
      json m = wasmq::json::Parse(text);
      if (m.is_object() && m.contains("digest") && m["digest"].is_string()) live.insert(Hex(m["digest"].get<std::string>()));
    }
  for (const auto& dir : {dir_ + "/blobs/sha256", dir_ + "/tmp"}) {
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& f : fs::directory_iterator(dir, ec)) {
      std::string name = f.path().filename().string();
      bool is_blob = dir.back() != 'p' && name.size() == 64;
      if (is_blob && live.count(name)) continue;
      report.removed_blobs.push_back(is_blob ? "sha256:" + name : f.path().string());
      report.bytes_freed += static_cast<int64_t>(f.is_regular_file(ec) ? f.file_size(ec) : 0);
      if (!o.dry_run) fs::remove(f.path(), ec);
    }
  }
  if (!o.dry_run) {
    j["refs"] = kept;
    auto w = internal::WriteFileAtomic(dir_ + "/index.json", j.dump(2) + "\n");
    if (!w) return w.error();
  }
  return report;
}

}  // namespace wasmq::oci
