// The real photos the tests use (tests/photos/fetch: from Debian's opencv-doc and python3-skimage, checked
// by SHA-256). A test binary that includes this defines WASMQ_PHOTOS_DIR (the build's photos folder) and
// WASMQ_PHOTOS_FETCH (the fetch script); the folder is filled once per binary when it lacks them.
#ifndef WASMQ_TESTS_PHOTOS_H_
#define WASMQ_TESTS_PHOTOS_H_

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace wasmq::testing {

// The photos' folder; "" when they cannot be had (no Debian mirror).
inline std::string PhotosDir() {
  static const std::string dir = [] {
    const std::string d = WASMQ_PHOTOS_DIR;
    auto complete = [&] {
      return std::filesystem::exists(d + "/messi5.jpg") && std::filesystem::exists(d + "/astronaut.png");
    };
    if (!complete()) {
      std::string cmd = "'";  // appended piece by piece: gcc 12 warns (-Wrestrict) on a chain of + here
      cmd.append(WASMQ_PHOTOS_FETCH).append("' '").append(d).append("' >/dev/null 2>&1");
      (void)std::system(cmd.c_str());
    }
    return complete() ? d : "";
  }();
  return dir;
}

// A photo's bytes; "" without the photos.
inline std::string Photo(const std::string& name) {
  const std::string dir = PhotosDir();
  if (dir.empty()) return "";
  std::ifstream f(dir + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace wasmq::testing

#endif  // WASMQ_TESTS_PHOTOS_H_
