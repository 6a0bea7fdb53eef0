// File: src/storage/uploads.cc
//
// The directory upload store. In one directory,
//   <img_id>        the bytes, exactly as uploaded (a worker stages a task's inputs from here)
//   <img_id>.json   the metadata, as ToJson writes it (the API's FileInfo)
// A file exists once its .json exists: Put writes the bytes, then the metadata, each to a temporary name
// renamed into place, so a crash never leaves a visible half-written file. Every call works on its own
// files, so no lock is needed.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/digest.h"
#include "json/json.h"
#include "storage/internal.h"
#include "storage/storage.h"

namespace wasmq::storage {
namespace {

namespace fs = std::filesystem;
using queue::Json;

// A failure to store a file. The path goes to the log, for the operator; the error, which an API client
// reads, carries only what failed and why: a client has no business learning where the server keeps data.
queue::Error StoreFailed(std::string_view what, const fs::path& path, int err) {
  std::fprintf(stderr, "wasmq api: files: cannot %.*s %s: %s\n", static_cast<int>(what.size()), what.data(),
               path.c_str(), std::strerror(err));
  return queue::Unavailable("files: cannot " + std::string(what) + " the file: " + std::strerror(err));
}

// Writes `bytes` to `path` through a temporary file and a rename, with fsync, so readers see all or nothing.
queue::Result<void> WriteAtomically(const fs::path& path, std::string_view bytes) {
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return StoreFailed("create", tmp, errno);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return StoreFailed("write", tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return StoreFailed("store", path, err);
  }
  return {};
}

class LocalUploadStore final : public UploadStore {
 public:
  explicit LocalUploadStore(fs::path dir) : dir_(std::move(dir)) {}

  queue::Result<FileInfo> Put(FileInfo info, std::string_view bytes) override {
    info.created_at = queue::NowMs();
    info.file_id = queue::NewFileId(info.created_at);
    info.size = bytes.size();
    info.sha256 = base::Sha256Hex(bytes);
    // The client's file name need not be UTF-8 (nor stay so once cut at 255 bytes): replace bad bytes
    // rather than throw — and serialise before writing anything, so that no failure leaves bytes behind.
    std::string metadata = ToJson(info).dump(-1, ' ', false, Json::error_handler_t::replace);
    if (auto r = WriteAtomically(dir_ / info.file_id, bytes); !r) return r.error();
    if (auto r = WriteAtomically(dir_ / (info.file_id + ".json"), metadata); !r) {
      ::unlink((dir_ / info.file_id).c_str());
      return r.error();
    }
    return info;
  }

  queue::Result<FileInfo> Stat(std::string_view file_id) override {
    if (!IsFileIdShape(file_id)) return NotFound(file_id);
    std::ifstream in(dir_ / (std::string(file_id) + ".json"));
    if (!in) return NotFound(file_id);
    std::stringstream text;
    text << in.rdbuf();
    return ParseFileInfo(text.str(), file_id);
  }

  queue::Result<OpenFile> Open(std::string_view file_id) override {
    if (!IsFileIdShape(file_id)) return NotFound(file_id);
    // Not through a link, and never blocking on a FIFO someone put there: OpenBeneath's rules.
    OpenFile f;
    f.fd = OpenBeneath(dir_.string(), file_id, &f.size);
    if (!f.fd) return NotFound(file_id);
    return f;
  }

  queue::Result<void> CopyTo(std::string_view file_id, const std::string& target) override {
    if (!IsFileIdShape(file_id)) return NotFound(file_id);
    const fs::path upload = dir_ / std::string(file_id);
    std::error_code ec;
    if (!fs::is_regular_file(fs::symlink_status(upload, ec))) return NotFound(file_id);
    fs::create_hard_link(upload, target, ec);
    if (ec) fs::copy_file(upload, target, ec);
    if (ec) return queue::Unavailable("files: cannot copy the file: " + ec.message());
    return {};
  }

 private:
  static queue::Error NotFound(std::string_view id) {
    return queue::NotFound("file " + std::string(id.substr(0, 128)) + " not found");
  }
  fs::path dir_;
};

}  // namespace

queue::Result<FileInfo> ParseFileInfo(std::string_view text, std::string_view file_id) {
  Json j = wasmq::json::Parse(text);
  if (!j.is_object()) return queue::Internal("files: metadata of " + std::string(file_id) + " is corrupt");
  // The metadata is ours, but a disk can corrupt it: a wrong type is an error, never an exception.
  try {
    FileInfo f;
    if (!j.contains("file_id") || !j["file_id"].is_string() || j["file_id"] != file_id)
      return queue::Internal("files: metadata of " + std::string(file_id) + " is corrupt");
    f.file_id = j["file_id"].get<std::string>();
    if (auto u = j.find("user_id"); u != j.end() && u->is_string()) f.owner = u->get<std::string>();
    f.content_type = j.value("content_type", "application/octet-stream");
    f.size = j.value("size", uint64_t{0});
    f.sha256 = j.value("sha256", "");
    f.filename = j.value("filename", "");
    if (auto c = j.find("created_at"); c != j.end() && c->is_string())
      f.created_at = queue::ParseTime(c->get<std::string>()).value_or(0);
    return f;
  } catch (const Json::exception&) {
    return queue::Internal("files: metadata of " + std::string(file_id) + " is corrupt");
  }
}

queue::Result<std::string> UploadStore::ReadHead(std::string_view file_id, size_t n) {
  auto file = Open(file_id);
  if (!file) return file.error();
  std::string head(n, '\0');
  const ssize_t got = ::pread(file->fd.get(), head.data(), n, 0);
  head.resize(got > 0 ? static_cast<size_t>(got) : 0);
  return head;
}

Json ToJson(const FileInfo& f) {
  return {{"file_id", f.file_id},
          {"user_id", f.owner.empty() ? Json(nullptr) : Json(f.owner)},
          {"content_type", f.content_type},
          {"size", f.size},
          {"sha256", f.sha256},
          {"filename", f.filename},
          {"created_at", queue::FormatTime(f.created_at)},
          {"url", "/api/v1/files/" + f.file_id}};
}

bool IsFileIdShape(std::string_view id) {
  if (!id.starts_with("img_") || id.size() <= 4 || id.size() > queue::kMaxIdLength) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

std::unique_ptr<UploadStore> NewLocalUploadStore(std::string dir) {
  return std::make_unique<LocalUploadStore>(fs::path(std::move(dir)));
}

queue::Result<std::unique_ptr<UploadStore>> OpenLocalUploadStore(std::string dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return queue::Unavailable("files: cannot create directory " + dir + ": " + ec.message());
  return NewLocalUploadStore(std::move(dir));
}

}  // namespace wasmq::storage
