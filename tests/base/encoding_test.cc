// Base64 (RFC 4648's own test vectors, §10) and hex.
#include "base/encoding.h"

#include <gtest/gtest.h>

#include <string>

namespace wasmq::base {
namespace {

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (auto [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    EXPECT_EQ(Base64Decode(encoded), plain) << encoded;
    std::string unpadded(encoded);
    while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
    EXPECT_EQ(Base64UrlEncode(plain), unpadded);
    EXPECT_EQ(Base64Decode(unpadded), plain) << unpadded;
    EXPECT_EQ(Base64UrlDecode(unpadded), plain) << unpadded;
  }
}

TEST(Base64, AlphabetsAndRoundTrips) {
  // Bytes whose encodings use the two characters the alphabets disagree on.
  EXPECT_EQ(Base64Encode("\xfb\xff"), "+/8=");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64Decode("+/8="), "\xfb\xff");
  EXPECT_EQ(Base64Decode("-_8"), "\xfb\xff");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); n += 7) {
    const std::string s = all.substr(0, n);
    EXPECT_EQ(Base64Decode(Base64Encode(s)), s) << n;
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(s)), s) << n;
  }
}

TEST(Base64, DecodeRefuses) {
  for (const char* bad : {"Q", "QQ=A", "QQ===", "QU JD", "Zg=", "Zm9v\n", "Zm9v!", "=Zg", "Zg==Zg=="})
    EXPECT_FALSE(Base64Decode(bad)) << bad;
  // JWT's form: URL alphabet only, no padding, canonical.
  for (const char* bad : {"a", "Zg==", "a+b/", "Zh", "Zm9=", "Zm8 "})
    EXPECT_FALSE(Base64UrlDecode(bad)) << bad;
}

TEST(Hex, RoundTripsAndRefuses) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(HexDecode("0001abff"), std::string("\x00\x01\xab\xff", 4));
  EXPECT_EQ(HexDecode("0001ABFF"), std::string("\x00\x01\xab\xff", 4));
  EXPECT_FALSE(HexDecode("abc"));
  EXPECT_FALSE(HexDecode("zz"));
}

}  // namespace
TEST(Percent, EncodesAllButUnreservedAndDecodesBack) {
  EXPECT_EQ(PercentEncode("a b/c~d_e.f-g"), "a%20b%2Fc~d_e.f-g");
  EXPECT_EQ(PercentEncode("p@ss:w%rd\xff"), "p%40ss%3Aw%25rd%FF");
  EXPECT_EQ(PercentDecode("p%40ss%3aw%25rd%FF", false), "p@ss:w%rd\xff");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
}

TEST(Percent, DecodeRefusesBadEscapesAndNul) {
  EXPECT_FALSE(PercentDecode("%", false));
  EXPECT_FALSE(PercentDecode("%4", false));
  EXPECT_FALSE(PercentDecode("%4g", false));
  EXPECT_FALSE(PercentDecode("a%00b", false));
}

}  // namespace wasmq::base
