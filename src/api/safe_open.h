// File: src/api/safe_open.h
//
// Internal to the api part: opening a file by a relative path without leaving a directory. Used for what
// others wrote (a task's outputs, written by a module) and for the dashboard directory.
#pragma once

#include <cstdint>
#include <string_view>

#include "api/http_types.h"

namespace wasmq::api {

// Opens the regular file `relative` ("a/b.png") below `root` for reading. Walks the path one component at
// a time with O_NOFOLLOW, so no symlink anywhere on the way is followed, and refuses "", ".", ".." and
// empty components. An invalid fd when any of that fails or the file is not a regular file; `size` is set
// otherwise.
UniqueFd OpenBeneath(std::string_view root, std::string_view relative, uint64_t* size);

}  // namespace wasmq::api
