// SHA-256 against the NIST FIPS 180-2 examples, one-shot and fed in pieces.
#include "base/digest.h"

#include <gtest/gtest.h>

#include <string>

namespace wasmq::base {
namespace {

constexpr const char* kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr const char* kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* kTwoBlocks = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr const char* kMillionA = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
constexpr const char* kTwoBlockInput = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

TEST(Sha256, NistVectors) {
  EXPECT_EQ(Sha256Hex("abc"), kAbc);
  EXPECT_EQ(Sha256Hex(""), kEmpty);
  EXPECT_EQ(Sha256Hex(kTwoBlockInput), kTwoBlocks);
  EXPECT_EQ(Sha256Hex(std::string(1'000'000, 'a')), kMillionA);
  EXPECT_EQ(Sha256("abc").size(), 32u);
}

TEST(Sha256, IncrementalMatchesOneShot) {
  Sha256Hasher h;
  for (int i = 0; i < 1000; ++i) h.Update(std::string(1000, 'a'));
  EXPECT_EQ(h.FinishHex(), kMillionA);

  const std::string input = kTwoBlockInput;
  for (size_t cut = 0; cut <= input.size(); cut += 5) {
    Sha256Hasher parts;
    parts.Update(input.substr(0, cut));
    parts.Update(input.substr(cut));
    EXPECT_EQ(parts.Finish(), Sha256(input)) << cut;
  }
}

}  // namespace
}  // namespace wasmq::base
