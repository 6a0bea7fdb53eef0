// File: src/storage/internal.h
//
// Internal to the storage part: what its files share.
#pragma once

#include <memory>
#include <string>

#include "storage/storage.h"

namespace wasmq::storage {

// The directory upload store on `dir`, without creating it (a worker's staging only reads it).
std::unique_ptr<UploadStore> NewLocalUploadStore(std::string dir);

// Ids and config keys that become file names: letters, digits, '_', '-', '.' only, at most 128, and not "."
// or "..", so no path made of them can leave the data directory.
bool IsPlainName(std::string_view s);

// An upload's metadata (ToJson(FileInfo)) read back; Internal when it is corrupt or names another id.
queue::Result<FileInfo> ParseFileInfo(std::string_view text, std::string_view file_id);

}  // namespace wasmq::storage
