// Tests of src/sign/formats.cc: DSSE PAE (the specification's example), the statement and bundle wasmq
// writes, the bundle parser on truncated and wrong input, VerifyBundle's reasons (tampered payload, wrong
// key, swapped digest, wrong predicate), and cosign's simple-signing payload byte for byte.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "base/encoding.h"
#include "sign/sign.h"

namespace wasmq::sign {
namespace {

using json = nlohmann::json;

const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');

TEST(Formats, PaeMatchesTheDsseSpecificationExample) {
  EXPECT_EQ(Pae("http://example.com/HelloWorld", "hello world"),
            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  EXPECT_EQ(Pae("", ""), "DSSEv1 0  0 ");
}

TEST(Formats, StatementIsCosignsSignStatement) {
  json s = json::parse(CosignStatement("127.0.0.1:5000/formy/bg", kDigestA));
  EXPECT_EQ(s["_type"], "https://in-toto.io/Statement/v1");
  EXPECT_EQ(s["predicateType"], "https://sigstore.dev/cosign/sign/v1");
  EXPECT_EQ(s["subject"][0]["name"], "127.0.0.1:5000/formy/bg");
  EXPECT_EQ(s["subject"][0]["digest"]["sha256"], std::string(64, 'a'));
  EXPECT_TRUE(s["predicate"].is_object() && s["predicate"].empty());
}

TEST(Formats, BundleRoundTripAndShape) {
  auto key = PrivateKey::Generate();
  auto bundle = MakeBundle(*key, "r/x", kDigestA);
  ASSERT_TRUE(bundle) << bundle.error().message;
  json j = json::parse(*bundle);
  EXPECT_EQ(j["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
  EXPECT_EQ(j["verificationMaterial"]["publicKey"]["hint"], key->Public().Hint());
  EXPECT_TRUE(j["verificationMaterial"]["tlogEntries"].is_array());
  EXPECT_EQ(j["dsseEnvelope"]["payloadType"], "application/vnd.in-toto+json");
  ASSERT_EQ(j["dsseEnvelope"]["signatures"].size(), 1u);

  auto parsed = ParseBundle(*bundle);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->payload, CosignStatement("r/x", kDigestA));
  EXPECT_EQ(parsed->subject_sha256, std::vector<std::string>{std::string(64, 'a')});
  EXPECT_EQ(parsed->predicate_type, kCosignSignPredicate);
  // The signature is over the PAE, checked here with the public key alone.
  EXPECT_TRUE(key->Public().Verify(Pae(parsed->payload_type, parsed->payload), parsed->signatures[0].sig));

  std::vector<PublicKey> keys;
  keys.push_back(PrivateKey::Generate()->Public());
  keys.push_back(key->Public());
  auto which = VerifyBundle(*parsed, keys, kDigestA);
  ASSERT_TRUE(which) << which.error().message;
  EXPECT_EQ(*which, 1u);
}

TEST(Formats, VerifyBundleReasons) {
  auto key = PrivateKey::Generate();
  std::vector<PublicKey> keys;
  keys.push_back(key->Public());
  auto parsed = ParseBundle(*MakeBundle(*key, "r/x", kDigestA));
  ASSERT_TRUE(parsed);

  // Swapped digest: a good signature over another image.
  auto other = VerifyBundle(*parsed, keys, kDigestB);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().kind, ErrorKind::DigestMismatch);
  EXPECT_NE(other.error().message.find(kDigestA), std::string::npos);

  // Wrong key.
  std::vector<PublicKey> wrong;
  wrong.push_back(PrivateKey::Generate()->Public());
  EXPECT_EQ(VerifyBundle(*parsed, wrong, kDigestA).error().kind, ErrorKind::WrongKey);

  // Tampered payload: the statement says B now; the signature no longer verifies.
  ParsedBundle tampered = *parsed;
  tampered.payload = CosignStatement("r/x", kDigestB);
  tampered.subject_sha256 = {std::string(64, 'b')};
  EXPECT_EQ(VerifyBundle(tampered, keys, kDigestB).error().kind, ErrorKind::WrongKey);

  // Tampered payload type (the PAE covers it).
  ParsedBundle type = *parsed;
  type.payload_type = "application/json";
  EXPECT_FALSE(VerifyBundle(type, keys, kDigestA));

  // A validly signed statement of another predicate is not an image signature.
  const std::string payload =
      "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":\"r/x\","
      "\"digest\":{\"sha256\":\"" +
      std::string(64, 'a') + "\"}}],\"predicateType\":\"https://slsa.dev/provenance/v1\",\"predicate\":{}}";
  json b = json::parse(*MakeBundle(*key, "r/x", kDigestA));
  b["dsseEnvelope"]["payload"] = base::Base64Encode(payload);
  b["dsseEnvelope"]["signatures"][0]["sig"] =
      base::Base64Encode(*key->Sign(Pae(kInTotoPayloadType, payload)));
  auto slsa = ParseBundle(b.dump());
  ASSERT_TRUE(slsa);
  auto r = VerifyBundle(*slsa, keys, kDigestA);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::MalformedBundle);
  EXPECT_NE(r.error().message.find("predicateType"), std::string::npos);
}

// The bundle's key hint never decides anything: a hint naming the verifier's key does not make another
// key's signature pass, and a hint naming another key does not stop the right signature.
// Bundles, payloads and trust policies come from outside (a registry, a file): nesting past json/json.h's
// 64 levels is refused while reading, as every other JSON reader of wasmq does.
TEST(Formats, DeeplyNestedJsonIsRefusedWhileReading) {
  const std::string deep = std::string(70000, '[') + std::string(70000, ']');
  auto bundle = ParseBundle(deep);
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.error().kind, ErrorKind::MalformedBundle);
  EXPECT_FALSE(ParseSimpleSigning(deep).ok());
  EXPECT_FALSE(ParseTrustPolicy(deep, "/").ok());
  const std::string at_limit = std::string(64, '[') + std::string(64, ']');
  EXPECT_NE(ParseBundle(at_limit).error().message, bundle.error().message);  // valid JSON, just not a bundle
}

TEST(Formats, TheKeyHintIsIgnored) {
  auto signer = PrivateKey::Generate();
  auto other = PrivateKey::Generate();
  std::vector<PublicKey> signer_keys, other_keys;
  signer_keys.push_back(signer->Public());
  other_keys.push_back(other->Public());
  json b = json::parse(*MakeBundle(*signer, "r/x", kDigestA));
  b["verificationMaterial"]["publicKey"]["hint"] = other->Public().Hint();
  auto parsed = ParseBundle(b.dump());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->hint, other->Public().Hint());
  EXPECT_TRUE(VerifyBundle(*parsed, signer_keys, kDigestA));
  EXPECT_EQ(VerifyBundle(*parsed, other_keys, kDigestA).error().kind, ErrorKind::WrongKey);
}

TEST(Formats, TruncatedBundlesAreMalformedAtEveryLength) {
  auto key = PrivateKey::Generate();
  const std::string bundle = *MakeBundle(*key, "r/x", kDigestA);
  for (size_t n = 0; n < bundle.size(); ++n) {
    auto r = ParseBundle(bundle.substr(0, n));
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error().kind, ErrorKind::MalformedBundle) << n;
  }
  EXPECT_TRUE(ParseBundle(bundle));
}

TEST(Formats, BundleParserNamesTheBadField) {
  auto key = PrivateKey::Generate();
  const json good = json::parse(*MakeBundle(*key, "r/x", kDigestA));
  auto msg = [](const json& j) {
    auto r = ParseBundle(j.dump());
    return r ? std::string("ok") : r.error().message;
  };
  json j = good;
  j["mediaType"] = "application/json";
  EXPECT_NE(msg(j).find("mediaType"), std::string::npos);
  j = good;
  j.erase("verificationMaterial");
  EXPECT_NE(msg(j).find("verificationMaterial"), std::string::npos);
  j = good;
  j["dsseEnvelope"]["payload"] = "!!!";
  EXPECT_NE(msg(j).find("payload"), std::string::npos);
  j = good;
  j["dsseEnvelope"]["signatures"] = json::array();
  EXPECT_NE(msg(j).find("signatures"), std::string::npos);
  j = good;
  j.erase("dsseEnvelope");
  j["messageSignature"] = {{"signature", "AA=="}};
  EXPECT_NE(msg(j).find("message-signature"), std::string::npos);
  // Older bundle media types parse (v0.1 / v0.2 spellings).
  j = good;
  j["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2";
  EXPECT_EQ(msg(j), "ok");
}

// The exact bytes cosign's payload struct marshals to (field order and `"optional":null` from reading its
// source: sigstore/sigstore pkg/signature/payload, a nil map).
TEST(Formats, SimpleSigningPayloadByteForByte) {
  EXPECT_EQ(
      SimpleSigningPayload("127.0.0.1:5000/formy/bg", kDigestA),
      "{\"critical\":{\"identity\":{\"docker-reference\":\"127.0.0.1:5000/formy/bg\"},\"image\":{\"docker-"
      "manifest-digest\":\"" +
          kDigestA + "\"},\"type\":\"cosign container image signature\"},\"optional\":null}");
  auto d = ParseSimpleSigning(SimpleSigningPayload("x/y", kDigestB));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, kDigestB);
  EXPECT_EQ(ParseSimpleSigning("{\"critical\":{\"type\":\"other\"}}").error().kind,
            ErrorKind::MalformedBundle);
  EXPECT_EQ(ParseSimpleSigning("{\"critical\":").error().kind, ErrorKind::MalformedBundle);
}

TEST(Formats, Tags) {
  EXPECT_EQ(FallbackTag(kDigestA), "sha256-" + std::string(64, 'a'));
  EXPECT_EQ(LegacyTag(kDigestA), "sha256-" + std::string(64, 'a') + ".sig");
}

}  // namespace
}  // namespace wasmq::sign
