// File: src/sign/keys.cc
//
// ECDSA P-256 keys and cosign's encrypted private-key file. The file is a PEM block whose body is the JSON
// that go-securesystemslib's `encrypted` package writes (read in its source; no code taken):
//
//   {"kdf": {"name": "scrypt", "params": {"N": 65536, "r": 8, "p": 1}, "salt": base64(32 bytes)},
//    "cipher": {"name": "nacl/secretbox", "nonce": base64(24 bytes)},
//    "ciphertext": base64(secretbox(PKCS#8 DER, nonce, scrypt(password, salt, N, r, p, 32)))}
//
// under the label `ENCRYPTED SIGSTORE PRIVATE KEY` (cosign ≥ 2.x) or `ENCRYPTED COSIGN PRIVATE KEY` (older).
// Go's JSON decoder matches keys case-insensitively, so this reader does too. scrypt is OpenSSL's
// EVP_PBE_scrypt; secretbox (XSalsa20-Poly1305, tag first — the same layout as Go's secretbox.Seal) is
// libsodium's crypto_secretbox_easy.
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <cctype>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/digest.h"
#include "base/encoding.h"
#include "json/json.h"
#include "sign/sign.h"

namespace wasmq::sign {
namespace {

using json = nlohmann::json;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string OpensslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// P-256 only: cosign's default, the curve sigstore-js and every Sigstore client verify.
bool IsP256(EVP_PKEY* key) {
  if (!key || !EVP_PKEY_is_a(key, "EC")) return false;
  char group[64] = {0};
  size_t len = 0;
  if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len))
    return false;
  const std::string_view g(group, len);
  return g == "prime256v1" || g == "P-256" || g == "secp256r1";
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

// A PEM block of any label: label and decoded body. False when there is none.
bool ReadPemBlock(std::string_view pem, std::string* label, std::string* body) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  const int ok = PEM_read_bio(bio.get(), &name, &header, &data, &len);
  if (ok == 1) {
    *label = name;
    body->assign(reinterpret_cast<const char*>(data), static_cast<size_t>(len));
  }
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(data);
  ERR_clear_error();
  return ok == 1;
}

std::string WritePemBlock(std::string_view label, std::string_view body) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  const std::string name(label);
  PEM_write_bio(bio.get(), name.c_str(), "", reinterpret_cast<const unsigned char*>(body.data()),
                static_cast<long>(body.size()));
  return BioString(bio.get());
}

// Go's encoding/json: an exact key first, else the first key equal ignoring case.
const json* FindKey(const json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  if (auto it = obj.find(std::string(key)); it != obj.end()) return &*it;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& k = it.key();
    if (k.size() != key.size()) continue;
    bool same = true;
    for (size_t i = 0; i < k.size() && same; ++i)
      same =
          std::tolower(static_cast<unsigned char>(k[i])) == std::tolower(static_cast<unsigned char>(key[i]));
    if (same) return &*it;
  }
  return nullptr;
}

Result<std::string> B64Field(const json& obj, std::string_view key, std::string_view where) {
  const json* v = FindKey(obj, key);
  if (!v || !v->is_string())
    return MakeError(ErrorKind::BadKey,
                     "encrypted key: " + std::string(where) + " is missing or not a string");
  std::optional<std::string> out = base::Base64Decode(v->get_ref<const std::string&>());
  if (!out) return MakeError(ErrorKind::BadKey, "encrypted key: " + std::string(where) + " is not base64");
  return std::move(*out);
}

Result<int64_t> IntField(const json& obj, std::string_view key) {
  const json* v = FindKey(obj, key);
  if (!v || !(v->is_number_integer() || v->is_number_unsigned()))
    return MakeError(ErrorKind::BadKey,
                     "encrypted key: kdf.params." + std::string(key) + " is not an integer");
  return v->get<int64_t>();
}

Result<std::string> Scrypt(std::string_view password, std::string_view salt, const ScryptParams& p) {
  if (!AcceptedScryptParams(p))
    return MakeError(ErrorKind::BadKey, "encrypted key: scrypt parameters N=" + std::to_string(p.n) +
                                            " r=" + std::to_string(p.r) + " p=" + std::to_string(p.p) +
                                            " are not cosign's (N 32768, 65536 or 131072, r 8, p 1)");
  std::string key(crypto_secretbox_KEYBYTES, '\0');
  // scrypt needs 128·r·N bytes (plus 128·r·p); OpenSSL refuses above maxmem, whose default is 32 MiB.
  const uint64_t maxmem = 128ull * static_cast<uint64_t>(p.r) * static_cast<uint64_t>(p.n + p.p) + (1u << 20);
  if (EVP_PBE_scrypt(password.data(), password.size(), reinterpret_cast<const unsigned char*>(salt.data()),
                     salt.size(), static_cast<uint64_t>(p.n), static_cast<uint64_t>(p.r),
                     static_cast<uint64_t>(p.p), maxmem, reinterpret_cast<unsigned char*>(key.data()),
                     key.size()) != 1)
    return MakeError(ErrorKind::BadKey, "scrypt failed: " + OpensslError());
  return key;
}

bool SodiumReady() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

std::string Pkcs8Der(EVP_PKEY* key) {
  PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(key);
  if (!p8) return "";
  unsigned char* der = nullptr;
  const int n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
  std::string out = n > 0 ? std::string(reinterpret_cast<const char*>(der), static_cast<size_t>(n)) : "";
  OPENSSL_free(der);
  PKCS8_PRIV_KEY_INFO_free(p8);
  return out;
}

// A password callback that refuses: a passphrase-protected traditional PEM is not what `import` reads.
int NoPassword(char*, int, int, void*) { return 0; }

}  // namespace

bool AcceptedScryptParams(const ScryptParams& params) {
  return (params.n == 32768 || params.n == 65536 || params.n == 131072) && params.r == 8 && params.p == 1;
}

Result<EncryptedKey> ParseEncryptedKey(std::string_view pem) {
  std::string label, body;
  if (!ReadPemBlock(pem, &label, &body)) return MakeError(ErrorKind::BadKey, "not a PEM file");
  if (label != kSigstoreKeyLabel && label != kCosignKeyLabel)
    return MakeError(ErrorKind::BadKey, "PEM label '" + label + "' is not '" +
                                            std::string(kSigstoreKeyLabel) + "' or '" +
                                            std::string(kCosignKeyLabel) + "'");
  json j = ::wasmq::json::Parse(body);
  if (!j.is_object()) return MakeError(ErrorKind::BadKey, "encrypted key: the PEM body is not a JSON object");
  EncryptedKey out;
  out.label = label;
  const json* kdf = FindKey(j, "kdf");
  const json* cipher = FindKey(j, "cipher");
  if (!kdf || !kdf->is_object() || !cipher || !cipher->is_object())
    return MakeError(ErrorKind::BadKey, "encrypted key: kdf or cipher missing");
  const json* kdf_name = FindKey(*kdf, "name");
  if (!kdf_name || !kdf_name->is_string() || *kdf_name != "scrypt")
    return MakeError(ErrorKind::BadKey, "encrypted key: kdf.name is not \"scrypt\"");
  const json* cipher_name = FindKey(*cipher, "name");
  if (!cipher_name || !cipher_name->is_string() || *cipher_name != "nacl/secretbox")
    return MakeError(ErrorKind::BadKey, "encrypted key: cipher.name is not \"nacl/secretbox\"");
  const json* params = FindKey(*kdf, "params");
  if (!params || !params->is_object())
    return MakeError(ErrorKind::BadKey, "encrypted key: kdf.params missing");
  auto n = IntField(*params, "N");
  if (!n) return n.error();
  auto r = IntField(*params, "r");
  if (!r) return r.error();
  auto p = IntField(*params, "p");
  if (!p) return p.error();
  out.scrypt = {*n, *r, *p};
  auto salt = B64Field(*kdf, "salt", "kdf.salt");
  if (!salt) return salt.error();
  out.salt = std::move(*salt);
  auto nonce = B64Field(*cipher, "nonce", "cipher.nonce");
  if (!nonce) return nonce.error();
  out.nonce = std::move(*nonce);
  if (out.nonce.size() != crypto_secretbox_NONCEBYTES)
    return MakeError(ErrorKind::BadKey,
                     "encrypted key: the nonce has " + std::to_string(out.nonce.size()) + " bytes, not 24");
  auto ct = B64Field(j, "ciphertext", "ciphertext");
  if (!ct) return ct.error();
  out.ciphertext = std::move(*ct);
  if (out.ciphertext.size() < crypto_secretbox_MACBYTES)
    return MakeError(ErrorKind::BadKey, "encrypted key: the ciphertext is shorter than its tag");
  if (!AcceptedScryptParams(out.scrypt))
    return MakeError(ErrorKind::BadKey, "encrypted key: scrypt parameters N=" + std::to_string(out.scrypt.n) +
                                            " r=" + std::to_string(out.scrypt.r) +
                                            " p=" + std::to_string(out.scrypt.p) +
                                            " are not cosign's (N 32768, 65536 or 131072, r 8, p 1)");
  return out;
}

// ------------------------------------------------------------------------------------------ PublicKey

struct PublicKey::Impl {
  PkeyPtr key;
};

PublicKey::PublicKey() : impl_(std::make_unique<Impl>()) {}
PublicKey::~PublicKey() = default;
PublicKey::PublicKey(PublicKey&&) noexcept = default;
PublicKey& PublicKey::operator=(PublicKey&&) noexcept = default;
PublicKey::PublicKey(const PublicKey& other) : impl_(std::make_unique<Impl>()) {
  if (other.impl_ && other.impl_->key) {
    EVP_PKEY_up_ref(other.impl_->key.get());
    impl_->key.reset(other.impl_->key.get());
  }
}
PublicKey& PublicKey::operator=(const PublicKey& other) {
  if (this != &other) *this = PublicKey(other);
  return *this;
}

Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  std::string label, body;
  if (!ReadPemBlock(pem, &label, &body)) return MakeError(ErrorKind::BadKey, "not a PEM file");
  if (label != "PUBLIC KEY")
    return MakeError(ErrorKind::BadKey, "PEM label '" + label + "' is not 'PUBLIC KEY'");
  const unsigned char* p = reinterpret_cast<const unsigned char*>(body.data());
  PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(body.size())));
  if (!key) return MakeError(ErrorKind::BadKey, "public key: " + OpensslError());
  if (!IsP256(key.get())) return MakeError(ErrorKind::BadKey, "public key is not ECDSA P-256");
  PublicKey out;
  out.impl_->key = std::move(key);
  return out;
}

bool PublicKey::Verify(std::string_view data, std::string_view signature) const {
  if (!impl_ || !impl_->key) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, impl_->key.get()) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

std::string PublicKey::SpkiDer() const {
  if (!impl_ || !impl_->key) return "";
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(impl_->key.get(), &der);
  std::string out = n > 0 ? std::string(reinterpret_cast<const char*>(der), static_cast<size_t>(n)) : "";
  OPENSSL_free(der);
  return out;
}

std::string PublicKey::Pem() const { return WritePemBlock("PUBLIC KEY", SpkiDer()); }

std::string PublicKey::Hint() const { return base::Base64Encode(base::Sha256(SpkiDer())); }

// ----------------------------------------------------------------------------------------- PrivateKey

struct PrivateKey::Impl {
  PkeyPtr key;
};

PrivateKey::PrivateKey() : impl_(std::make_unique<Impl>()) {}
PrivateKey::~PrivateKey() = default;
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;

Result<PrivateKey> PrivateKey::Generate() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return MakeError(ErrorKind::BadKey, "key generation failed: " + OpensslError());
  PrivateKey out;
  out.impl_->key = std::move(key);
  return out;
}

Result<PrivateKey> PrivateKey::LoadEncrypted(std::string_view pem, std::string_view password) {
  auto parsed = ParseEncryptedKey(pem);
  if (!parsed) return parsed.error();
  if (!SodiumReady()) return MakeError(ErrorKind::BadKey, "libsodium failed to initialise");
  auto box_key = Scrypt(password, parsed->salt, parsed->scrypt);
  if (!box_key) return box_key.error();
  std::string der(parsed->ciphertext.size() - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(der.data()),
                                 reinterpret_cast<const unsigned char*>(parsed->ciphertext.data()),
                                 parsed->ciphertext.size(),
                                 reinterpret_cast<const unsigned char*>(parsed->nonce.data()),
                                 reinterpret_cast<const unsigned char*>(box_key->data())) != 0)
    return MakeError(ErrorKind::BadPassword,
                     "the private key did not decrypt: wrong password (or a damaged file)");
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  PKCS8_PRIV_KEY_INFO* p8 = d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size()));
  PkeyPtr key(p8 ? EVP_PKCS82PKEY(p8) : nullptr);
  PKCS8_PRIV_KEY_INFO_free(p8);
  sodium_memzero(der.data(), der.size());
  if (!key) return MakeError(ErrorKind::BadKey, "the decrypted key is not PKCS#8: " + OpensslError());
  if (!IsP256(key.get())) return MakeError(ErrorKind::BadKey, "the private key is not ECDSA P-256");
  PrivateKey out;
  out.impl_->key = std::move(key);
  return out;
}

Result<PrivateKey> PrivateKey::LoadPlain(std::string_view pem) {
  std::string label, body;
  if (!ReadPemBlock(pem, &label, &body)) return MakeError(ErrorKind::BadKey, "not a PEM file");
  if (label != "PRIVATE KEY" && label != "EC PRIVATE KEY")
    return MakeError(ErrorKind::BadKey,
                     "PEM label '" + label + "' is not 'PRIVATE KEY' (PKCS#8) or 'EC PRIVATE KEY'");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  if (!key) return MakeError(ErrorKind::BadKey, "private key: " + OpensslError());
  if (!IsP256(key.get())) return MakeError(ErrorKind::BadKey, "the private key is not ECDSA P-256");
  PrivateKey out;
  out.impl_->key = std::move(key);
  return out;
}

Result<std::string> PrivateKey::ToEncryptedPem(std::string_view password, const ScryptParams& params,
                                               std::string_view label) const {
  if (!SodiumReady()) return MakeError(ErrorKind::BadKey, "libsodium failed to initialise");
  std::string salt(32, '\0'), nonce(crypto_secretbox_NONCEBYTES, '\0');
  randombytes_buf(salt.data(), salt.size());
  randombytes_buf(nonce.data(), nonce.size());
  auto box_key = Scrypt(password, salt, params);
  if (!box_key) return box_key.error();
  std::string der = Pkcs8Der(impl_->key.get());
  if (der.empty()) return MakeError(ErrorKind::BadKey, "PKCS#8 encoding failed: " + OpensslError());
  std::string ct(der.size() + crypto_secretbox_MACBYTES, '\0');
  crypto_secretbox_easy(reinterpret_cast<unsigned char*>(ct.data()),
                        reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                        reinterpret_cast<const unsigned char*>(nonce.data()),
                        reinterpret_cast<const unsigned char*>(box_key->data()));
  sodium_memzero(der.data(), der.size());
  // Key order as Go's encoding/json writes the struct (kdf, cipher, ciphertext; name, params, salt).
  const std::string body =
      "{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":" + std::to_string(params.n) +
      ",\"r\":" + std::to_string(params.r) + ",\"p\":" + std::to_string(params.p) + "},\"salt\":\"" +
      base::Base64Encode(salt) + "\"},\"cipher\":{\"name\":\"nacl/secretbox\",\"nonce\":\"" +
      base::Base64Encode(nonce) + "\"},\"ciphertext\":\"" + base::Base64Encode(ct) + "\"}";
  return WritePemBlock(label, body);
}

PublicKey PrivateKey::Public() const {
  PublicKey out;
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(impl_->key.get(), &der);
  if (n > 0) {
    const unsigned char* p = der;
    out.impl_->key.reset(d2i_PUBKEY(nullptr, &p, n));
  }
  OPENSSL_free(der);
  return out;
}

std::string PrivateKey::PublicPem() const { return Public().Pem(); }

Result<std::string> PrivateKey::Sign(std::string_view data) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  std::string sig;
  bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, impl_->key.get()) == 1 &&
            EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                           data.size()) == 1;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                        reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) return MakeError(ErrorKind::BadKey, "signing failed: " + OpensslError());
  return sig;
}

}  // namespace wasmq::sign
