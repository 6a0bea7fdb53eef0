// Fuzz target: the sign part's parsers of what a registry or a key file hands us, in one binary. The first
// byte picks the parser ('0' + n, so seeds stay readable); the rest is its input:
//
//   '0' bundle          Sigstore bundle JSON          ParseBundle; a parsed bundle has signatures and a
//                                                     payload, and VerifyBundle with a fresh key says no
//   '1' encrypted key   cosign's encrypted PEM        ParseEncryptedKey; what parses has accepted scrypt
//                                                     parameters (so no huge N reaches scrypt) and a 24-byte
//                                                     nonce; LoadEncrypted is not run (scrypt per input
//                                                     would make the fuzzer crawl)
//   '2' simple signing  legacy payload JSON           ParseSimpleSigning
//   '3' base64          text                          Base64Decode; decoded bytes re-encode to a string that
//                                                     decodes to the same bytes
//
// Besides crashes, sanitizer reports and exceptions (none may cross sign.h), broken promises abort.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "base/encoding.h"
#include "sign/sign.h"

namespace {

using namespace wasmq::sign;

#define FUZZ_CHECK(cond)                                                                       \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "fuzz_sign: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

const PublicKey& SomeKey() {
  static const PublicKey key = PrivateKey::Generate()->Public();
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0]) {
    case '0': {
      auto b = ParseBundle(in);
      if (b) {
        FUZZ_CHECK(!b->signatures.empty());
        FUZZ_CHECK(!b->payload.empty());
        std::vector<PublicKey> keys{SomeKey()};
        auto v = VerifyBundle(*b, keys, "sha256:" + std::string(64, 'a'));
        FUZZ_CHECK(!v);  // nobody holds the fresh key's private half
      } else {
        FUZZ_CHECK(b.error().kind == ErrorKind::MalformedBundle);
      }
      break;
    }
    case '1': {
      auto k = ParseEncryptedKey(in);
      if (k) {
        FUZZ_CHECK(AcceptedScryptParams(k->scrypt));
        FUZZ_CHECK(k->nonce.size() == 24);
      } else {
        FUZZ_CHECK(k.error().kind == ErrorKind::BadKey);
      }
      break;
    }
    case '2': {
      auto d = ParseSimpleSigning(in);
      if (!d) FUZZ_CHECK(d.error().kind == ErrorKind::MalformedBundle);
      break;
    }
    case '3': {
      if (auto out = wasmq::base::Base64Decode(in)) {
        auto again = wasmq::base::Base64Decode(wasmq::base::Base64Encode(*out));
        FUZZ_CHECK(again);
        FUZZ_CHECK(*again == *out);
      }
      break;
    }
    default:
      break;
  }
  return 0;
}
