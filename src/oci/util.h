// File: src/oci/util.h
//
// Internal helpers of the oci part: streaming sha256, base64, files written atomically, small string tools.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "oci/oci.h"

namespace wasmq::oci::internal {

// Incremental sha256 (OpenSSL EVP); Digest() returns "sha256:<hex>" and may be called once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view bytes);
  std::string Digest();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

std::string Base64Encode(std::string_view bytes);
// Tolerates missing padding and whitespace; nullopt-like empty + false on bad input.
bool Base64Decode(std::string_view text, std::string* out);

std::string Lower(std::string s);
std::string Trim(std::string_view s);
bool IEquals(std::string_view a, std::string_view b);

// Whole-file helpers. WriteFileAtomic writes <path>.tmp.<pid>.<n> then renames it over path.
bool ReadFile(const std::string& path, std::string* out);
Result<void> WriteFileAtomic(const std::string& path, std::string_view bytes, int mode = 0644);
std::string HomeDir();
int64_t NowSeconds();

}  // namespace wasmq::oci::internal
