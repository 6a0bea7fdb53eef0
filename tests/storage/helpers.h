// Helpers for the storage tests: a temporary directory, and an upload written the way the API writes it.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "queue/queue.h"

namespace wasmq::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wasmq-storage-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string str() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// An upload as the API writes it: the bytes at files/<id>, its metadata (with the owner) at files/<id>.json.
inline void WriteUpload(const std::string& files, const std::string& id, const std::string& owner,
                        const std::string& bytes) {
  std::filesystem::create_directories(files);
  std::ofstream(files + "/" + id) << bytes;
  queue::Json meta = {{"file_id", id},
                      {"user_id", owner.empty() ? queue::Json(nullptr) : queue::Json(owner)},
                      {"content_type", "image/png"},
                      {"size", bytes.size()}};
  std::ofstream(files + "/" + id + ".json") << meta.dump();
}

}  // namespace wasmq::testing
