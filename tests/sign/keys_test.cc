// Tests of src/sign/keys.cc: key pairs, cosign's encrypted key file (both labels, every accepted N, Go's
// case-insensitive JSON keys), plain PKCS#8 / SEC1 import, and signatures checked by the `openssl` CLI as a
// second implementation. Encrypted fixtures are assembled here field by field (JSON written by hand, scrypt
// and secretbox called directly) from reading go-securesystemslib's `encrypted` package, so they do not go
// through the code under test.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <string>

#include "base/encoding.h"
#include "registry_harness.h"
#include "sign/sign.h"

namespace wasmq::sign {
namespace {

using ocitest::RunCapture;
using ocitest::TempDir;

std::string Pem(const std::string& label, const std::string& body) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio(bio, label.c_str(), "", reinterpret_cast<const unsigned char*>(body.data()),
                static_cast<long>(body.size()));
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

// A PKCS#8 DER of a fresh key of `curve` ("P-256", "P-384") or RSA when curve is "RSA".
EVP_PKEY* NewKey(const std::string& curve) {
  if (curve == "RSA") return EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  return EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve.c_str());
}

std::string Pkcs8Der(EVP_PKEY* k) {
  PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(k);
  unsigned char* der = nullptr;
  int n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  PKCS8_PRIV_KEY_INFO_free(p8);
  return out;
}

// cosign's encrypted key file, built from its parts. `json_override` replaces the JSON when non-empty.
struct Fixture {
  std::string label = "ENCRYPTED SIGSTORE PRIVATE KEY";
  int64_t n = 65536, r = 8, p = 1;
  std::string n_key = "N";
  size_t nonce_len = 24;
  std::string password = "hunter2";
  std::string der;
  std::string Build() const {
    if (sodium_init() < 0) std::abort();
    std::string salt(32, 's'), nonce(nonce_len, 'n'), key(32, '\0');
    EXPECT_EQ(1, EVP_PBE_scrypt(password.data(), password.size(),
                                reinterpret_cast<const unsigned char*>(salt.data()), salt.size(),
                                static_cast<uint64_t>(n), static_cast<uint64_t>(r), static_cast<uint64_t>(p),
                                512ull << 20, reinterpret_cast<unsigned char*>(key.data()), key.size()));
    std::string ct(der.size() + crypto_secretbox_MACBYTES, '\0');
    std::string nonce24 = nonce;
    nonce24.resize(24, 'n');
    crypto_secretbox_easy(reinterpret_cast<unsigned char*>(ct.data()),
                          reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                          reinterpret_cast<const unsigned char*>(nonce24.data()),
                          reinterpret_cast<const unsigned char*>(key.data()));
    std::string json = "{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"" + n_key + "\":" + std::to_string(n) +
                       ",\"r\":" + std::to_string(r) + ",\"p\":" + std::to_string(p) + "},\"salt\":\"" +
                       base::Base64Encode(salt) + "\"},\"cipher\":{\"name\":\"nacl/secretbox\",\"nonce\":\"" +
                       base::Base64Encode(nonce) + "\"},\"ciphertext\":\"" + base::Base64Encode(ct) + "\"}";
    return Pem(label, json);
  }
};

TEST(Base64, BothAlphabetsWithAndWithoutPadding) {
  EXPECT_EQ(base::Base64Decode("aGn7/78="), "hi\xfb\xff\xbf");
  EXPECT_EQ(base::Base64Decode("aGn7_78"), "hi\xfb\xff\xbf");
  EXPECT_EQ(base::Base64Decode("QQ=="), "A");
  EXPECT_EQ(base::Base64Decode("QQ"), "A");
  EXPECT_EQ(base::Base64Decode(""), "");
  EXPECT_FALSE(base::Base64Decode("Q"));
  EXPECT_FALSE(base::Base64Decode("QQ=A"));
  EXPECT_FALSE(base::Base64Decode("QQ==="));
  EXPECT_FALSE(base::Base64Decode("QU JD"));
  EXPECT_EQ(base::Base64Encode("A"), "QQ==");
}

TEST(Keys, GenerateEncryptLoadSignVerify) {
  auto k = PrivateKey::Generate();
  ASSERT_TRUE(k) << k.error().message;
  auto pem = k->ToEncryptedPem("pw");
  ASSERT_TRUE(pem) << pem.error().message;
  EXPECT_TRUE(pem->starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
  auto parsed = ParseEncryptedKey(*pem);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->scrypt.n, 65536);
  EXPECT_EQ(parsed->scrypt.r, 8);
  EXPECT_EQ(parsed->scrypt.p, 1);
  EXPECT_EQ(parsed->salt.size(), 32u);
  EXPECT_EQ(parsed->nonce.size(), 24u);

  auto loaded = PrivateKey::LoadEncrypted(*pem, "pw");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->PublicPem(), k->PublicPem());
  auto sig = loaded->Sign("payload");
  ASSERT_TRUE(sig);
  auto pub = PublicKey::FromPem(k->PublicPem());
  ASSERT_TRUE(pub) << pub.error().message;
  EXPECT_TRUE(pub->Verify("payload", *sig));
  EXPECT_FALSE(pub->Verify("payloaD", *sig));
  auto other = PrivateKey::Generate();
  EXPECT_FALSE(other->Public().Verify("payload", *sig));
}

TEST(Keys, WrongPasswordIsBadPassword) {
  auto k = PrivateKey::Generate();
  auto pem = k->ToEncryptedPem("right", {32768, 8, 1});
  ASSERT_TRUE(pem);
  auto loaded = PrivateKey::LoadEncrypted(*pem, "wrong");
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().kind, ErrorKind::BadPassword);
  EXPECT_TRUE(PrivateKey::LoadEncrypted(*pem, "right"));
  // An empty password is a password (cosign accepts COSIGN_PASSWORD="").
  auto empty = k->ToEncryptedPem("", {32768, 8, 1});
  EXPECT_TRUE(PrivateKey::LoadEncrypted(*empty, ""));
  EXPECT_FALSE(PrivateKey::LoadEncrypted(*empty, " "));
}

TEST(Keys, ReadsHandBuiltCosignFilesForEveryAcceptedN) {
  EVP_PKEY* raw = NewKey("P-256");
  const std::string der = Pkcs8Der(raw);
  for (int64_t n : {32768, 65536, 131072}) {
    for (const char* label : {"ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY"}) {
      Fixture f;
      f.n = n;
      f.label = label;
      f.der = der;
      auto k = PrivateKey::LoadEncrypted(f.Build(), "hunter2");
      ASSERT_TRUE(k) << n << " " << label << ": " << k.error().message;
      // The public key is the fixture's.
      BIO* bio = BIO_new(BIO_s_mem());
      PEM_write_bio_PUBKEY(bio, raw);
      char* data = nullptr;
      long len = BIO_get_mem_data(bio, &data);
      EXPECT_EQ(k->PublicPem(), std::string(data, static_cast<size_t>(len)));
      BIO_free(bio);
    }
  }
  // Go's JSON decoder matches "n" to the field N: so does this reader.
  Fixture lower;
  lower.n_key = "n";
  lower.n = 32768;
  lower.der = der;
  EXPECT_TRUE(PrivateKey::LoadEncrypted(lower.Build(), "hunter2"));
  EVP_PKEY_free(raw);
}

TEST(Keys, RefusesBadParametersAndFiles) {
  EVP_PKEY* raw = NewKey("P-256");
  Fixture f;
  f.der = Pkcs8Der(raw);
  EVP_PKEY_free(raw);

  Fixture small = f;
  small.n = 1024;  // cheap to brute-force: refused, like cosign
  auto r = PrivateKey::LoadEncrypted(small.Build(), "hunter2");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::BadKey);
  EXPECT_NE(r.error().message.find("N=1024"), std::string::npos);

  Fixture p2 = f;
  p2.n = 32768;
  p2.p = 2;
  EXPECT_EQ(PrivateKey::LoadEncrypted(p2.Build(), "hunter2").error().kind, ErrorKind::BadKey);

  Fixture short_nonce = f;
  short_nonce.n = 32768;
  short_nonce.nonce_len = 12;
  auto sn = PrivateKey::LoadEncrypted(short_nonce.Build(), "hunter2");
  ASSERT_FALSE(sn);
  EXPECT_NE(sn.error().message.find("nonce"), std::string::npos);

  Fixture label = f;
  label.n = 32768;
  label.label = "ENCRYPTED PRIVATE KEY";
  EXPECT_EQ(PrivateKey::LoadEncrypted(label.Build(), "hunter2").error().kind, ErrorKind::BadKey);

  EXPECT_EQ(PrivateKey::LoadEncrypted("not a pem", "x").error().kind, ErrorKind::BadKey);
  EXPECT_EQ(PrivateKey::LoadEncrypted(Pem("ENCRYPTED SIGSTORE PRIVATE KEY", "{\"kdf\":1}"), "x").error().kind,
            ErrorKind::BadKey);

  // A flipped ciphertext byte fails secretbox's authentication.
  Fixture ok = f;
  ok.n = 32768;
  std::string pem = ok.Build();
  auto parsed = ParseEncryptedKey(pem);
  ASSERT_TRUE(parsed);
  std::string ct = parsed->ciphertext;
  ct[20] ^= 1;
  std::string body =
      "{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":32768,\"r\":8,\"p\":1},\"salt\":\"" +
      base::Base64Encode(parsed->salt) + "\"},\"cipher\":{\"name\":\"nacl/secretbox\",\"nonce\":\"" +
      base::Base64Encode(parsed->nonce) + "\"},\"ciphertext\":\"" + base::Base64Encode(ct) + "\"}";
  EXPECT_EQ(PrivateKey::LoadEncrypted(Pem("ENCRYPTED SIGSTORE PRIVATE KEY", body), "hunter2").error().kind,
            ErrorKind::BadPassword);
}

TEST(Keys, ImportsPkcs8AndSec1P256Only) {
  EVP_PKEY* k = NewKey("P-256");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  const std::string pkcs8(data, static_cast<size_t>(n));
  BIO_free(bio);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey_traditional(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  n = BIO_get_mem_data(bio, &data);
  const std::string sec1(data, static_cast<size_t>(n));
  BIO_free(bio);
  EXPECT_TRUE(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
  EXPECT_TRUE(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"));
  auto a = PrivateKey::LoadPlain(pkcs8);
  auto b = PrivateKey::LoadPlain(sec1);
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(a->PublicPem(), b->PublicPem());
  // Imported, it round-trips through the encrypted format.
  auto enc = a->ToEncryptedPem("pw", {32768, 8, 1});
  EXPECT_EQ(PrivateKey::LoadEncrypted(*enc, "pw")->PublicPem(), a->PublicPem());
  EVP_PKEY_free(k);

  for (const char* other : {"P-384", "RSA"}) {
    EVP_PKEY* o = NewKey(other);
    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, o, nullptr, nullptr, 0, nullptr, nullptr);
    n = BIO_get_mem_data(bio, &data);
    auto r = PrivateKey::LoadPlain(std::string(data, static_cast<size_t>(n)));
    BIO_free(bio);
    EVP_PKEY_free(o);
    ASSERT_FALSE(r) << other;
    EXPECT_EQ(r.error().kind, ErrorKind::BadKey);
  }
}

TEST(Keys, HintIsBase64OfSha256OfSpki) {
  auto k = PrivateKey::Generate();
  PublicKey pub = k->Public();
  const std::string der = pub.SpkiDer();
  ASSERT_FALSE(der.empty());
  unsigned char md[32];
  unsigned int len = 0;
  EVP_Digest(der.data(), der.size(), md, &len, EVP_sha256(), nullptr);
  EXPECT_EQ(pub.Hint(), base::Base64Encode(std::string(reinterpret_cast<char*>(md), len)));
}

// The `openssl` CLI, a second implementation, verifies what PrivateKey::Sign writes.
TEST(Keys, OpensslCliVerifiesSignatures) {
  TempDir dir("wasmq-sign");
  auto k = PrivateKey::Generate();
  auto sig = k->Sign("the data");
  ASSERT_TRUE(sig);
  const std::string pub = dir.Write("k.pub", k->PublicPem());
  const std::string data = dir.Write("data", "the data");
  const std::string sigf = dir.Write("sig", *sig);
  int status = -1;
  std::string out =
      RunCapture({"openssl", "dgst", "-sha256", "-verify", pub, "-signature", sigf, data}, &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("Verified OK"), std::string::npos);
  const std::string other = dir.Write("other", "other data");
  RunCapture({"openssl", "dgst", "-sha256", "-verify", pub, "-signature", sigf, other}, &status);
  EXPECT_NE(status, 0);
}

TEST(Keys, PublicKeyPemErrors) {
  EXPECT_EQ(PublicKey::FromPem("junk").error().kind, ErrorKind::BadKey);
  auto k = PrivateKey::Generate();
  auto enc = k->ToEncryptedPem("x", {32768, 8, 1});
  EXPECT_EQ(PublicKey::FromPem(*enc).error().kind, ErrorKind::BadKey);  // a private key file
  EVP_PKEY* rsa = NewKey("RSA");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, rsa);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  auto r = PublicKey::FromPem(std::string(data, static_cast<size_t>(n)));
  BIO_free(bio);
  EVP_PKEY_free(rsa);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("P-256"), std::string::npos);
}

}  // namespace
}  // namespace wasmq::sign
