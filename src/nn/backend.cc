// File: src/nn/backend.cc
//
// Opens wasmq-nn-opencv.so on the first WASI-NN load, never at start-up (nn_module.h says why).
#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>

#include "nn/internal.h"

namespace wasmq::nn {

namespace {

// Where wasmq-nn-opencv.so is looked for, in order: $WASMQ_NN_OPENCV_LIB; next to the running binary;
// ../lib/wasmq/ from it (an installed layout); the build tree (tests run from other folders).
std::vector<std::string> ModuleCandidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("WASMQ_NN_OPENCV_LIB"); env && *env) out.emplace_back(env);
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back((exe.parent_path() / "wasmq-nn-opencv.so").string());
    out.push_back((exe.parent_path().parent_path() / "lib/wasmq/wasmq-nn-opencv.so").string());
  }
#ifdef WASMQ_NN_OPENCV_BUILD_PATH
  out.emplace_back(WASMQ_NN_OPENCV_BUILD_PATH);
#endif
  return out;
}

Outcome<const Backend*> Open() {
  void* library = nullptr;
  std::string tried;
  for (const std::string& path : ModuleCandidates()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) continue;
    library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library) break;
    tried += std::string(tried.empty() ? "" : "; ") + dlerror();
  }
  if (!library)
    return Failure{Errno::RuntimeError,
                   "WASI-NN is not available: cannot load wasmq-nn-opencv.so" +
                       (tried.empty() ? std::string(" (not found next to the binary; set WASMQ_NN_OPENCV_LIB)")
                                      : " (" + tried + ")")};
  static Backend backend;  // the library stays open for the life of the process
  backend.read_onnx = reinterpret_cast<decltype(&wasmq_nn_read_onnx)>(dlsym(library, WASMQ_NN_READ_ONNX_SYMBOL));
  backend.forward = reinterpret_cast<decltype(&wasmq_nn_forward)>(dlsym(library, WASMQ_NN_FORWARD_SYMBOL));
  backend.free_net = reinterpret_cast<decltype(&wasmq_nn_free)>(dlsym(library, WASMQ_NN_FREE_SYMBOL));
  if (!backend.read_onnx || !backend.forward || !backend.free_net)
    return Failure{Errno::RuntimeError, "WASI-NN is not available: wasmq-nn-opencv.so lacks its functions"};
  return static_cast<const Backend*>(&backend);
}

}  // namespace

Outcome<const Backend*> LoadBackend() {
  static const Outcome<const Backend*> once = Open();  // thread-safe initialisation, tried once
  return once;
}

}  // namespace wasmq::nn
