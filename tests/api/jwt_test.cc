// HS256 JWTs: what is accepted, and every way a token is refused.
#include "api/jwt.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/encoding.h"

namespace wasmq::api {
namespace {

using Json = nlohmann::json;
const std::string kKey = "0123456789abcdef0123456789abcdef";
constexpr int64_t kNow = 1'700'000'000;

JwtResult<JwtClaims> Check(const std::string& token, JwtCheck c = {}) {
  if (c.secret.empty()) c.secret = kKey;
  if (c.now_s == 0) c.now_s = kNow;
  return VerifyJwt(token, c);
}

std::string Make(Json payload, const std::string& key = kKey) { return SignJwt(payload.dump(), key); }

TEST(Jwt, Base64UrlRoundTripsAndIsStrict) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", std::string("\xff\xfe\x00\x01", 4)}) {
    auto back = base::Base64UrlDecode(base::Base64UrlEncode(s));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(base::Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base::Base64UrlDecode("a"));      // impossible length
  EXPECT_FALSE(base::Base64UrlDecode("Zg=="));   // padding
  EXPECT_FALSE(base::Base64UrlDecode("a+b/"));   // base64, not base64url
  EXPECT_FALSE(base::Base64UrlDecode("Zh"));     // non-zero leftover bits: a second encoding of "f"
}

TEST(Jwt, AcceptsAValidToken) {
  auto c = Check(Make({{"sub", "user_1"}, {"exp", kNow + 60}}));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->subject, "user_1");
  EXPECT_EQ(c->expires_at, kNow + 60);
  EXPECT_TRUE(Check(Make({{"sub", "auth0|abc@x.io"}, {"exp", kNow + 60.5}})).ok());
}

TEST(Jwt, RefusesExpiredNotYetValidAndUnboundedTokens) {
  EXPECT_EQ(Check(Make({{"sub", "u"}, {"exp", kNow - 1}})).error().message, "token expired");
  EXPECT_TRUE(Check(Make({{"sub", "u"}, {"exp", kNow - 1}}), {.leeway_s = 30}).ok());
  EXPECT_EQ(Check(Make({{"sub", "u"}})).error().message, "token has no exp");
  EXPECT_FALSE(Check(Make({{"sub", "u"}, {"exp", "tomorrow"}})).ok());
  EXPECT_EQ(Check(Make({{"sub", "u"}, {"exp", kNow + 60}, {"nbf", kNow + 50}})).error().message,
            "token not valid yet");
}

TEST(Jwt, RefusesBadSignaturesAndOtherAlgorithms) {
  EXPECT_EQ(Check(Make({{"sub", "u"}, {"exp", kNow + 60}}, "another-key")).error().message, "bad token signature");
  std::string good = Make({{"sub", "u"}, {"exp", kNow + 60}});
  std::string tampered = good;
  tampered[tampered.find('.') + 2] ^= 1;
  EXPECT_FALSE(Check(tampered).ok());
  EXPECT_FALSE(Check(good.substr(0, good.rfind('.') + 1)).ok());  // no signature
  // alg "none" and RS256 headers with a valid-looking HS256 signature are refused on the header alone.
  for (std::string alg : {"none", "RS256", "HS512"}) {
    std::string input = base::Base64UrlEncode(R"({"alg":")" + alg + R"("})") + "." +
                        base::Base64UrlEncode(Json({{"sub", "u"}, {"exp", kNow + 60}}).dump());
    EXPECT_EQ(Check(input + ".").error().message, "token algorithm must be HS256") << alg;
  }
}

TEST(Jwt, RefusesMalformedTokensAndSubjects) {
  for (const std::string& t : std::vector<std::string>{"", "a", "a.b", "a.b.c.d", "!!.!!.!!", std::string(9000, 'a')}) EXPECT_FALSE(Check(t).ok()) << t;
  EXPECT_FALSE(Check(SignJwt("[1,2]", kKey)).ok());
  EXPECT_FALSE(Check(SignJwt("not json", kKey)).ok());
  for (Json sub : {Json(""), Json(42), Json("../etc"), Json("a b"), Json(std::string(129, 'a'))})
    EXPECT_FALSE(Check(Make({{"sub", sub}, {"exp", kNow + 60}})).ok()) << sub;
}

TEST(Jwt, ChecksIssuerAndAudienceWhenConfigured) {
  std::string t = Make({{"sub", "u"}, {"exp", kNow + 60}, {"iss", "formy"}, {"aud", Json::array({"x", "wasmq"})}});
  EXPECT_TRUE(Check(t, {.issuer = "formy", .audience = "wasmq"}).ok());
  EXPECT_FALSE(Check(t, {.issuer = "other"}).ok());
  EXPECT_FALSE(Check(t, {.audience = "other"}).ok());
  EXPECT_FALSE(Check(Make({{"sub", "u"}, {"exp", kNow + 60}}), {.issuer = "formy"}).ok());
}

}  // namespace
}  // namespace wasmq::api
