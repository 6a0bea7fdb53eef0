// File: src/engines/face_module/loader.h
//
// Finding and opening the face engines' dlopen'd modules (wasmq-face-detect.so, wasmq-face-landmarks.so),
// which keep OpenCV and dlib out of wasmq's start-up. Internal to the engines part.
#pragma once

#include <string>

namespace wasmq::engines {

// dlopen()s `file_name`, looked for in order at: $`env_var`; next to the running binary; ../lib/wasmq/
// from it (an installed layout); `build_path` (the build tree: tests run from other folders). nullptr
// with the reason in *error when none loads.
void* OpenFaceModule(const char* file_name, const char* env_var, const char* build_path, std::string* error);

}  // namespace wasmq::engines
