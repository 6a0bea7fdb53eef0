// File: src/storage/layout.cc
//
// Where things are under the data directory (the table in storage.h), for those that read them without
// the workspace: the API's downloads and `wasmq task output` on the local store.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "storage/internal.h"
#include "storage/storage.h"

namespace wasmq::storage {

std::string UploadsDir(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "files").string();
}
std::string TasksDir(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "tasks").string();
}

UniqueFd CreateSpoolFile(const std::string& uploads_dir) {
  std::string name = uploads_dir + "/.upload-XXXXXX";
  UniqueFd fd(::mkostemp(name.data(), O_CLOEXEC));
  if (fd) ::unlink(name.c_str());
  return fd;
}

bool IsPlainName(std::string_view s) {
  if (s.empty() || s == "." || s == ".." || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

UniqueFd OpenTaskOutput(const std::string& tasks_dir, const std::string& task_id,
                        const std::string& output_dir, std::string_view name, uint64_t* size) {
  // "" is a result recorded before outputs were kept per attempt, in out/.
  const std::string dir = output_dir.empty() ? "out" : output_dir;
  if (!IsPlainName(task_id) || !IsPlainName(dir)) return {};
  return OpenBeneath((std::filesystem::path(tasks_dir) / task_id / dir).string(), name, size);
}

}  // namespace wasmq::storage
