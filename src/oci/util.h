// File: src/oci/util.h
//
// Internal helpers of the oci part: files written atomically, the home directory, the clock. Hashing,
// base64 and string tools are base's (base/digest.h, base/encoding.h, base/strings.h).
#pragma once

#include <string>
#include <string_view>

#include "oci/oci.h"

namespace wasmq::oci::internal {

// Whole-file helpers. WriteFileAtomic writes <path>.tmp.<pid>.<n> then renames it over path.
bool ReadFile(const std::string& path, std::string* out);
Result<void> WriteFileAtomic(const std::string& path, std::string_view bytes, int mode = 0644);
std::string HomeDir();
int64_t NowSeconds();

}  // namespace wasmq::oci::internal
