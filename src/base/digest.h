// SHA-256 on OpenSSL's EVP: one-shot for what is already in memory, incremental for what streams (blobs
// pulled from a registry, uploads).
#ifndef WASMQ_BASE_DIGEST_H_
#define WASMQ_BASE_DIGEST_H_

#include <memory>
#include <string>
#include <string_view>

namespace wasmq::base {

// The raw 32-byte digest, and its lowercase hex.
std::string Sha256(std::string_view bytes);
std::string Sha256Hex(std::string_view bytes);

// HMAC-SHA-256 (RFC 2104) of `data` under `key`: the raw 32 bytes. For AWS SigV4 presigned URLs, whose
// signing key is a chain of these.
std::string HmacSha256(std::string_view key, std::string_view data);

// Incremental: Update() any number of times, then Finish() or FinishHex() once.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  void Update(std::string_view bytes);
  std::string Finish();     // raw 32 bytes
  std::string FinishHex();  // lowercase hex

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace wasmq::base

#endif  // WASMQ_BASE_DIGEST_H_
