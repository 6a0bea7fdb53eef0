// File: src/engines/face_module/loader.cc
#include "engines/face_module/loader.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

namespace wasmq::engines {

void* OpenFaceModule(const char* file_name, const char* env_var, const char* build_path, std::string* error) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv(env_var); env && *env) candidates.emplace_back(env);
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back((exe.parent_path() / file_name).string());
    candidates.push_back((exe.parent_path().parent_path() / "lib/wasmq" / file_name).string());
  }
  if (build_path && *build_path) candidates.emplace_back(build_path);
  std::string tried;
  for (const std::string& path : candidates) {
    if (!std::filesystem::is_regular_file(path, ec)) continue;
    if (void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) return library;
    tried += std::string(tried.empty() ? "" : "; ") + dlerror();
  }
  *error = std::string("cannot load ") + file_name +
           (tried.empty() ? std::string(" (not found next to the binary; set ") + env_var + ")" : " (" + tried + ")");
  return nullptr;
}

}  // namespace wasmq::engines
