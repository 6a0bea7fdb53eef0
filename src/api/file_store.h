// File: src/api/file_store.h
//
// Internal to the api part: where uploaded files live, behind a small interface so that another backend
// (object storage) can replace the local directory.
//
// LocalFileStore keeps, in one directory,
//   <img_id>        the bytes, exactly as uploaded (a worker stages a task's source_image from here)
//   <img_id>.json   the metadata, as ToJson writes it (the API's FileInfo)
// A file exists once its .json exists: Put writes the bytes, then the metadata, each to a temporary name
// renamed into place, so a crash never leaves a visible half-written file. Files are immutable.
// Thread-safe (every call works on its own files).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "queue/queue.h"

namespace wasmq::api {

struct FileInfo {
  std::string file_id;       // img_YYYYMMDD_…
  std::string owner;         // the uploader's user id ("" = the anonymous user)
  std::string content_type;  // as sniffed from the bytes
  uint64_t size = 0;
  std::string sha256;        // lower-case hex
  std::string filename;      // as the client named it, for Content-Disposition; may be empty
  int64_t created_at = 0;    // ms since the epoch
};
// {"file_id", "user_id" (null for anonymous), "content_type", "size", "sha256", "filename", "created_at"
// (ISO 8601), "url"}: what the API answers and what the metadata file holds.
queue::Json ToJson(const FileInfo& f);

class FileStore {
 public:
  virtual ~FileStore() = default;
  // Stores `bytes` as a new file. `info` gives owner, content_type and filename; the store fills the rest.
  virtual queue::Result<FileInfo> Put(FileInfo info, std::string_view bytes) = 0;
  // NotFound for an unknown or malformed id.
  virtual queue::Result<FileInfo> Stat(std::string_view file_id) = 0;
  // A path the bytes can be read from (for the HTTP session to stream).
  virtual queue::Result<std::string> PathOf(std::string_view file_id) = 0;
};

// Whether `id` has the shape of a file id (img_ and [A-Za-z0-9_-], at most 128 characters): anything else
// cannot name a file, so it never reaches the filesystem.
bool IsFileIdShape(std::string_view id);

// Creates `dir` if needed. Unavailable when it cannot.
queue::Result<std::unique_ptr<FileStore>> OpenLocalFileStore(std::string dir);

}  // namespace wasmq::api
