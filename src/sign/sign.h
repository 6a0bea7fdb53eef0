// File: src/sign/sign.h
//
// wasmq's signatures: cosign-compatible keys, Sigstore bundles and their places in an OCI registry, so that
// a module signed by `cosign sign --key` (or sigstore-js) verifies here and what wasmq signs verifies there.
// Key-based and offline only (like `cosign … --key K --insecure-ignore-tlog`): no Fulcio, no Rekor, no TUF.
//
// Layers, each usable on its own (the pure ones are fuzzed, fuzz/fuzz_sign.cc):
//   1. Keys: ECDSA P-256 key pairs; cosign's encrypted private-key PEM (`ENCRYPTED SIGSTORE PRIVATE KEY`,
//      JSON of scrypt parameters + nacl secretbox over PKCS#8 DER), public keys as SPKI `PUBLIC KEY` PEM.
//   2. Formats (pure): the DSSE pre-authentication encoding, the in-toto statement cosign v3 signs, the
//      Sigstore bundle v0.3 (make and parse), the older simple-signing payload.
//   3. Registry: SignImage writes an OCI 1.1 referrer plus the `sha256-<hex>` fallback index (or, legacy,
//      the `sha256-<hex>.sig` tag); VerifyImage looks through the Referrers API, the fallback tag and the
//      legacy tag and says why nothing verified.
//   4. Trust policy: which modules need whose signature (a glob per REGISTRY/REPO or file:PATH), and the
//      admission check `wasmq run --trust-policy` makes before it pulls the verified digest.
//
// Trust comes only from the keys a caller passes: a bundle's `publicKey.hint` or any key material in it is
// never used to verify it. All crypto is OpenSSL's EVP (ECDSA, SHA-256, scrypt, base64) and libsodium's
// crypto_secretbox; nothing here implements a primitive. No exception crosses this header.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "base/result.h"
#include "base/thread_annotations.h"
#include "oci/oci.h"

namespace wasmq::sign {

// ---------------------------------------------------------------------------------------------- errors

enum class ErrorKind {
  InvalidArgument,  // a bad reference, file or flag
  BadKey,           // a key that cannot be read (not PEM, not P-256, unknown label, bad parameters)
  BadPassword,      // the encrypted key did not open with this password (secretbox authentication failed)
  NoSignature,      // no signature in any place looked
  WrongKey,         // signatures found, none verifies with the given keys
  DigestMismatch,   // a signature verifies but covers another digest than the one the reference resolves to
  MalformedBundle,  // a signature artifact that cannot be parsed (bad JSON, base64, truncated, wrong types)
  Registry,         // the registry failed (Error::oci has the oci error)
  Io,
  Untrusted,  // a trust policy refuses the module (no rule matches; a local file where keys are required)
};
// "invalid-argument", "bad-key", "bad-password", "no-signature", "wrong-key", "digest-mismatch",
// "malformed-bundle", "registry", "io", "untrusted".
std::string_view KindName(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::InvalidArgument;
  std::string message;  // one line
  oci::Error oci;       // for ErrorKind::Registry
};

inline Error MakeError(ErrorKind kind, std::string message) { return Error{kind, std::move(message), {}}; }

template <typename T>
using Result = base::Result<T, Error>;

// ----------------------------------------------------------------------------------------------- keys

// scrypt parameters of an encrypted key. cosign writes N = 65536 (go-securesystemslib today), older
// versions 32768; 131072 is accepted too. Anything else is refused before scrypt runs: the parameters come
// from the file, and a huge N would be a denial of service.
struct ScryptParams {
  int64_t n = 65536;
  int64_t r = 8;
  int64_t p = 1;
};
bool AcceptedScryptParams(const ScryptParams& params);

inline constexpr std::string_view kSigstoreKeyLabel = "ENCRYPTED SIGSTORE PRIVATE KEY";
inline constexpr std::string_view kCosignKeyLabel = "ENCRYPTED COSIGN PRIVATE KEY";

// The parsed (still encrypted) private-key file.
struct EncryptedKey {
  std::string label;  // one of the two labels above
  ScryptParams scrypt;
  std::string salt;        // raw bytes (cosign: 32)
  std::string nonce;       // raw bytes (must be 24)
  std::string ciphertext;  // secretbox output: 16-byte tag + PKCS#8 DER
};
// Parses the PEM and its JSON body (`{"kdf":{"name":"scrypt","params":{"N","r","p"},"salt"},
// "cipher":{"name":"nacl/secretbox","nonce"},"ciphertext"}`). BadKey says what is wrong. Pure, fuzzed.
Result<EncryptedKey> ParseEncryptedKey(std::string_view pem);

class PublicKey;

// An ECDSA P-256 private key (the only algorithm cosign generates by default and the one wasmq signs with).
class PrivateKey {
 public:
  PrivateKey();
  ~PrivateKey();
  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;

  static Result<PrivateKey> Generate();
  // cosign's encrypted PEM, either label. BadPassword when secretbox refuses the password.
  static Result<PrivateKey> LoadEncrypted(std::string_view pem, std::string_view password);
  // An unencrypted PEM: `PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY` (SEC1), P-256 only.
  static Result<PrivateKey> LoadPlain(std::string_view pem);

  // cosign's encrypted PEM of this key: scrypt(password, random 32-byte salt) → secretbox(PKCS#8 DER) with
  // a random 24-byte nonce, under `label` (kSigstoreKeyLabel unless re-writing an old cosign key).
  Result<std::string> ToEncryptedPem(std::string_view password, const ScryptParams& params = {},
                                     std::string_view label = kSigstoreKeyLabel) const;
  std::string PublicPem() const;  // `PUBLIC KEY` (SPKI)
  PublicKey Public() const;
  // ECDSA over SHA-256(data), ASN.1 DER (what cosign and sigstore-js write).
  Result<std::string> Sign(std::string_view data) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class PublicKey {
 public:
  PublicKey();
  ~PublicKey();
  PublicKey(PublicKey&&) noexcept;
  PublicKey& operator=(PublicKey&&) noexcept;
  PublicKey(const PublicKey&);
  PublicKey& operator=(const PublicKey&);

  // A `PUBLIC KEY` PEM (SPKI) of an ECDSA P-256 key.
  static Result<PublicKey> FromPem(std::string_view pem);
  // True when `signature` (ASN.1 DER) is ECDSA-SHA256 over `data` by this key.
  bool Verify(std::string_view data, std::string_view signature) const;
  std::string SpkiDer() const;
  std::string Pem() const;
  // base64(sha256(SPKI DER)): the bundle's `verificationMaterial.publicKey.hint` that cosign writes.
  std::string Hint() const;

 private:
  friend class PrivateKey;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// --------------------------------------------------------------------------------------------- formats

inline constexpr std::string_view kBundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json";
inline constexpr std::string_view kInTotoPayloadType = "application/vnd.in-toto+json";
inline constexpr std::string_view kStatementType = "https://in-toto.io/Statement/v1";
inline constexpr std::string_view kCosignSignPredicate = "https://sigstore.dev/cosign/sign/v1";
inline constexpr std::string_view kEmptyConfigMediaType = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kSimpleSigningMediaType =
    "application/vnd.dev.cosign.simplesigning.v1+json";
inline constexpr std::string_view kLegacySignatureAnnotation = "dev.cosignproject.cosign/signature";

// DSSE v1 pre-authentication encoding: "DSSEv1 <len(type)> <type> <len(body)> <body>".
std::string Pae(std::string_view payload_type, std::string_view payload);

// The in-toto v1 statement cosign v3 signs for an image: one subject (name, sha256 digest), predicate type
// https://sigstore.dev/cosign/sign/v1, an empty predicate. `digest` is "sha256:<hex>".
std::string CosignStatement(const std::string& name, const std::string& digest);

// A Sigstore bundle v0.3 with a DSSE envelope over CosignStatement(name, digest), signed by `key`, with
// `verificationMaterial.publicKey.hint` and an empty tlogEntries list.
Result<std::string> MakeBundle(const PrivateKey& key, const std::string& name, const std::string& digest);

struct DsseSignature {
  std::string keyid;
  std::string sig;  // raw bytes
};
struct ParsedBundle {
  std::string media_type;
  std::string hint;  // informational only: never used to pick or trust a key
  std::string payload_type;
  std::string payload;  // decoded
  std::vector<DsseSignature> signatures;
  // From the payload when it is an in-toto statement ("" / empty otherwise):
  std::string statement_type;
  std::string predicate_type;
  std::vector<std::string> subject_sha256;  // lowercase hex of every subject's sha256 digest
};
// Parses a bundle of media type v0.1–v0.3 carrying a DSSE envelope. MalformedBundle names the field (a
// message-signature bundle is refused as unsupported for images). Pure, fuzzed.
Result<ParsedBundle> ParseBundle(std::string_view json);

// Checks a parsed bundle against the keys and the digest: some envelope signature must verify over the
// PAE with one of `keys` (WrongKey otherwise), the payload must be an in-toto statement with the cosign sign
// predicate (MalformedBundle), and a subject must carry exactly `digest` (DigestMismatch naming what it
// covers). Returns the index of the key that verified.
Result<size_t> VerifyBundle(const ParsedBundle& bundle, const std::vector<PublicKey>& keys,
                            const std::string& digest);

// cosign's simple-signing payload (the legacy `.sig` tag's layer): {"critical":{"identity":
// {"docker-reference":REF},"image":{"docker-manifest-digest":DIGEST},"type":"cosign container image
// signature"},"optional":null}.
std::string SimpleSigningPayload(const std::string& docker_reference, const std::string& digest);
// The docker-manifest-digest of a simple-signing payload; MalformedBundle when it is not one. Pure, fuzzed.
Result<std::string> ParseSimpleSigning(std::string_view payload);

// ------------------------------------------------------------------------------------------- registry

// "sha256-<hex>": the OCI 1.1 referrers fallback tag for a digest; legacy adds ".sig".
std::string FallbackTag(const std::string& digest);
std::string LegacyTag(const std::string& digest);

struct SignOptions {
  oci::ClientOptions client;
  bool legacy = false;  // the `sha256-<hex>.sig` tag scheme instead of a referrer
};
struct SignResult {
  oci::Reference ref;
  std::string digest;           // what was signed: the manifest (or index) the reference resolves to
  std::string artifact_digest;  // the signature manifest
  std::string tag;              // the tag written: "sha256-<hex>" (fallback index) or "sha256-<hex>.sig"
};
// Resolves ref to a digest (hashing the manifest bytes served), signs it and stores the signature: a
// referrer manifest (artifactType = the bundle type, empty config, the bundle as the one layer, subject =
// the image) pushed by digest, and its descriptor added to the fallback index at `sha256-<hex>` (an index
// already there is kept and extended; the same referrer is not listed twice). Legacy: the simple-signing
// payload as a layer with the signature annotation, in a manifest at `sha256-<hex>.sig` (an existing one
// gains the layer).
Result<SignResult> SignImage(const std::string& ref_text, const PrivateKey& key, const SignOptions& options);

struct VerifyResult {
  oci::Reference ref;
  std::string digest;               // what the reference resolves to, and what the signature covers
  size_t key_index = 0;             // which of the keys verified it
  std::string source;               // "referrers-api", "fallback-tag" or "legacy-tag"
  std::string artifact_digest;      // the signature manifest that verified
  std::vector<std::string> looked;  // every place looked, with what was found, in order
};
// Resolves ref (hashing the manifest bytes served: a registry's Docker-Content-Digest is not trusted) and
// looks for a signature by one of `keys` over exactly that digest: the Referrers API
// (GET /v2/<repo>/referrers/<digest>, a 404 meaning "not supported"), then the fallback tag, then the legacy
// tag. Every referrer manifest is fetched by digest (verified) and its subject must be the image. On
// failure the error is the most telling of what was found — DigestMismatch, then WrongKey, then
// MalformedBundle, then NoSignature — and its message lists every place looked.
Result<VerifyResult> VerifyImage(const std::string& ref_text, const std::vector<PublicKey>& keys,
                                 const oci::ClientOptions& options);

// ---------------------------------------------------------------------------------------- trust policy

// Which modules may run, and signed by whom (`--trust-policy FILE`, WASMQ_TRUST_POLICY):
//
//   {"rules": [{"match": "127.0.0.1:5000/formy/*", "keys": ["/etc/wasmq/formy.pub"]},
//              {"match": "file:*", "keys": []}]}
//
// A module's subject is `REGISTRY/REPOSITORY` for an OCI reference and `file:ABSOLUTE-PATH` for a local
// file. The first rule whose glob (fnmatch, `*` crossing `/`) matches the subject wins; its `keys` (public
// key files, relative to the policy file's folder) must have signed the module — `[]` means no signature
// is required — and a subject no rule matches is refused. A local file cannot carry a signature, so only a
// rule without keys admits one.
struct TrustRule {
  std::string match;
  std::vector<std::string> key_files;  // as resolved
  std::vector<PublicKey> keys;
  std::string key_set;  // the keys' hints, sorted and joined: what a VerifiedCache entry is valid for
};
struct TrustPolicy {
  std::string path;  // the file it came from, for messages
  std::vector<TrustRule> rules;
  // The rule for a subject, or nullptr.
  const TrustRule* Find(const std::string& subject) const;
};
// Parses the JSON; `base_dir` resolves relative key paths. Every key file is read and parsed here, so a
// policy naming a missing or malformed key fails at load (InvalidArgument / BadKey), not at first use.
Result<TrustPolicy> ParseTrustPolicy(std::string_view json, const std::string& base_dir);
Result<TrustPolicy> LoadTrustPolicy(const std::string& path);

struct TrustDecision {
  std::string subject;  // what was matched
  std::string rule;     // the rule's glob
  bool signature_checked = false;
  bool from_cache = false;  // the signature was verified earlier for this digest and key set
  std::string pinned_ref;  // REGISTRY/REPOSITORY@DIGEST that verified: pull exactly this (OCI, with keys)
  std::string signer;      // the key file that verified, when checked
};

// Signatures already verified, by (manifest digest, key set): a module pulled again (a task naming a
// cached module, a restart of the registry's compiled-module cache) is not verified again. Only successes
// are kept — a signature added later is found on the next try — and an entry says which key verified, so
// the same digest under another rule's keys is verified afresh. Bounded (oldest out). Thread-safe.
class VerifiedCache {
 public:
  explicit VerifiedCache(size_t max_entries = 4096) : max_entries_(max_entries) {}
  // The index (into the rule's keys) of the key that verified `digest` for `key_set`, or -1.
  long Find(const std::string& digest, const std::string& key_set) const EXCLUDES(mu_);
  void Put(const std::string& digest, const std::string& key_set, size_t key_index) EXCLUDES(mu_);
  size_t size() const EXCLUDES(mu_);

 private:
  size_t max_entries_;
  mutable base::Mutex mu_;
  std::map<std::string, size_t> entries_ GUARDED_BY(mu_);  // digest + '\n' + key set → key index
  std::vector<std::string> order_ GUARDED_BY(mu_);          // insertion order, for eviction
};
// Decides whether `module` (a local file when is_file, else an OCI reference, `oci://` allowed) may run.
// Untrusted when no rule matches or a local file meets a rule with keys; otherwise VerifyImage's error
// (NoSignature: unsigned; WrongKey, DigestMismatch, MalformedBundle: a bad signature; Registry).
// With `cache`, a registry module is first resolved to its digest (no request when the reference names a
// digest) and a cached verification for that digest and the rule's keys is taken as is; a fresh one is
// made against the pinned digest and remembered.
Result<TrustDecision> CheckModuleTrust(const TrustPolicy& policy, const std::string& module, bool is_file,
                                       const oci::ClientOptions& options, VerifiedCache* cache = nullptr);
// A module compiled into the binary (a built-in pipeline): subject `builtin:MODE`. It carries no signature,
// so only a rule without keys admits it (`{"match": "builtin:*", "keys": []}`); Untrusted otherwise.
Result<TrustDecision> CheckBuiltinTrust(const TrustPolicy& policy, const std::string& mode);
// "unsigned" for NoSignature, "bad-signature" for WrongKey / DigestMismatch / MalformedBundle, else the
// kind's name: the word `doctor` and a task's MODULE_UNTRUSTED error use.
std::string_view TrustFailureName(ErrorKind kind);

}  // namespace wasmq::sign
