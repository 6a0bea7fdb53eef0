// File: src/sign/formats.cc
//
// The pure formats of a signature (no I/O, fuzzed): DSSE's pre-authentication encoding, the in-toto
// statement cosign v3 signs for an image, the Sigstore bundle v0.3 that carries it, and the simple-signing
// payload of cosign's older `.sig` tags. Field names follow the protobuf JSON mapping of
// sigstore/protobuf-specs (camelCase; bytes as base64, either alphabet). A bundle is only parsed here;
// whether it is trusted is VerifyBundle's decision, against keys the caller brought.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/encoding.h"
#include "json/json.h"
#include "sign/sign.h"

namespace wasmq::sign {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr std::string_view kSimpleSigningType = "cosign container image signature";

Error Malformed(const std::string& what) { return MakeError(ErrorKind::MalformedBundle, "bundle: " + what); }

bool IsBundleMediaType(const std::string& t) {
  // v0.1 and v0.2 as "application/vnd.dev.sigstore.bundle+json;version=0.N"; v0.3 both ways.
  return t.starts_with("application/vnd.dev.sigstore.bundle+json;version=0.") ||
         (t.starts_with("application/vnd.dev.sigstore.bundle.v0.") && t.ends_with("+json"));
}

const json* Field(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

}  // namespace

std::string Pae(std::string_view payload_type, std::string_view payload) {
  std::string out = "DSSEv1 ";
  out += std::to_string(payload_type.size());
  out += ' ';
  out += payload_type;
  out += ' ';
  out += std::to_string(payload.size());
  out += ' ';
  out += payload;
  return out;
}

std::string CosignStatement(const std::string& name, const std::string& digest) {
  const std::string hex = digest.starts_with("sha256:") ? digest.substr(7) : digest;
  ordered_json s;
  s["_type"] = std::string(kStatementType);
  s["subject"] = ordered_json::array({{{"name", name}, {"digest", {{"sha256", hex}}}}});
  s["predicateType"] = std::string(kCosignSignPredicate);
  s["predicate"] = ordered_json::object();
  return s.dump();
}

Result<std::string> MakeBundle(const PrivateKey& key, const std::string& name, const std::string& digest) {
  const std::string payload = CosignStatement(name, digest);
  auto sig = key.Sign(Pae(kInTotoPayloadType, payload));
  if (!sig) return sig.error();
  ordered_json b;
  b["mediaType"] = std::string(kBundleMediaType);
  b["verificationMaterial"] = {{"publicKey", {{"hint", key.Public().Hint()}}},
                               {"tlogEntries", ordered_json::array()}};
  b["dsseEnvelope"] = {
      {"payload", base::Base64Encode(payload)},
      {"payloadType", std::string(kInTotoPayloadType)},
      {"signatures", ordered_json::array({{{"sig", base::Base64Encode(*sig)}, {"keyid", ""}}})}};
  return b.dump();
}

Result<ParsedBundle> ParseBundle(std::string_view text) {
  json j = ::wasmq::json::Parse(text);
  if (j.is_discarded()) return Malformed("not JSON (truncated?)");
  if (!j.is_object()) return Malformed("not a JSON object");
  ParsedBundle out;
  const json* mt = Field(j, "mediaType");
  if (!mt || !mt->is_string()) return Malformed("mediaType missing");
  out.media_type = mt->get<std::string>();
  if (!IsBundleMediaType(out.media_type))
    return Malformed("mediaType '" + out.media_type + "' is not a Sigstore bundle");
  const json* vm = Field(j, "verificationMaterial");
  if (!vm || !vm->is_object()) return Malformed("verificationMaterial missing");
  if (const json* pk = Field(*vm, "publicKey"); pk && pk->is_object())
    if (const json* hint = Field(*pk, "hint"); hint && hint->is_string()) out.hint = hint->get<std::string>();
  if (Field(j, "messageSignature"))
    return Malformed("a message-signature bundle signs a blob; an image signature is a DSSE envelope");
  const json* env = Field(j, "dsseEnvelope");
  if (!env || !env->is_object()) return Malformed("dsseEnvelope missing");
  const json* payload = Field(*env, "payload");
  std::optional<std::string> payload_bytes;
  if (payload && payload->is_string())
    payload_bytes = base::Base64Decode(payload->get_ref<const std::string&>());
  if (!payload_bytes || payload_bytes->empty())
    return Malformed("dsseEnvelope.payload missing or not base64");
  out.payload = std::move(*payload_bytes);
  const json* pt = Field(*env, "payloadType");
  if (!pt || !pt->is_string()) return Malformed("dsseEnvelope.payloadType missing");
  out.payload_type = pt->get<std::string>();
  const json* sigs = Field(*env, "signatures");
  if (!sigs || !sigs->is_array() || sigs->empty())
    return Malformed("dsseEnvelope.signatures missing or empty");
  for (const json& s : *sigs) {
    DsseSignature d;
    const json* sig = Field(s, "sig");
    std::optional<std::string> sig_bytes;
    if (sig && sig->is_string()) sig_bytes = base::Base64Decode(sig->get_ref<const std::string&>());
    if (!sig_bytes || sig_bytes->empty())
      return Malformed("dsseEnvelope.signatures[].sig missing or not base64");
    d.sig = std::move(*sig_bytes);
    if (const json* k = Field(s, "keyid"); k && k->is_string()) d.keyid = k->get<std::string>();
    out.signatures.push_back(std::move(d));
  }
  if (out.payload_type == kInTotoPayloadType) {
    json st = ::wasmq::json::Parse(out.payload);
    if (!st.is_object()) return Malformed("the in-toto payload is not a JSON object");
    if (const json* t = Field(st, "_type"); t && t->is_string()) out.statement_type = t->get<std::string>();
    if (const json* t = Field(st, "predicateType"); t && t->is_string())
      out.predicate_type = t->get<std::string>();
    if (const json* subj = Field(st, "subject"); subj && subj->is_array()) {
      for (const json& s : *subj) {
        const json* d = Field(s, "digest");
        const json* h = d ? Field(*d, "sha256") : nullptr;
        if (h && h->is_string()) out.subject_sha256.push_back(h->get<std::string>());
      }
    }
  }
  return out;
}

Result<size_t> VerifyBundle(const ParsedBundle& bundle, const std::vector<PublicKey>& keys,
                            const std::string& digest) {
  if (bundle.payload_type != kInTotoPayloadType)
    return Malformed("payloadType '" + bundle.payload_type + "' is not " + std::string(kInTotoPayloadType));
  const std::string pae = Pae(bundle.payload_type, bundle.payload);
  size_t which = keys.size();
  for (const DsseSignature& s : bundle.signatures) {
    for (size_t k = 0; k < keys.size() && which == keys.size(); ++k)
      if (keys[k].Verify(pae, s.sig)) which = k;
    if (which != keys.size()) break;
  }
  if (which == keys.size())
    return MakeError(ErrorKind::WrongKey, "the bundle's signature does not verify with " +
                                              std::string(keys.size() == 1 ? "the key" : "any of the keys"));
  // Only now, with the payload authenticated, does its content count.
  if (bundle.statement_type != kStatementType && bundle.statement_type != "https://in-toto.io/Statement/v0.1")
    return Malformed("the payload is not an in-toto statement (_type '" + bundle.statement_type + "')");
  if (bundle.predicate_type != kCosignSignPredicate)
    return Malformed("predicateType '" + bundle.predicate_type + "' is not a cosign signature (" +
                     std::string(kCosignSignPredicate) + ")");
  const std::string hex = digest.starts_with("sha256:") ? digest.substr(7) : digest;
  for (const std::string& s : bundle.subject_sha256)
    if (s == hex) return which;
  return MakeError(ErrorKind::DigestMismatch,
                   "the signature covers " +
                       (bundle.subject_sha256.empty() ? std::string("no sha256 digest")
                                                      : "sha256:" + bundle.subject_sha256.front()) +
                       ", not " + digest);
}

std::string SimpleSigningPayload(const std::string& docker_reference, const std::string& digest) {
  // Go's encoding/json field order of cosign's payload struct; `optional` is a nil map, hence null.
  return "{\"critical\":{\"identity\":{\"docker-reference\":" + json(docker_reference).dump() +
         "},\"image\":{\"docker-manifest-digest\":" + json(digest).dump() +
         "},\"type\":" + json(std::string(kSimpleSigningType)).dump() + "},\"optional\":null}";
}

Result<std::string> ParseSimpleSigning(std::string_view payload) {
  json j = ::wasmq::json::Parse(payload);
  if (!j.is_object()) return MakeError(ErrorKind::MalformedBundle, "simple signing: not a JSON object");
  const json* critical = Field(j, "critical");
  const json* type = critical ? Field(*critical, "type") : nullptr;
  if (!type || !type->is_string() || type->get_ref<const std::string&>() != kSimpleSigningType)
    return MakeError(ErrorKind::MalformedBundle,
                     "simple signing: critical.type is not '" + std::string(kSimpleSigningType) + "'");
  const json* image = Field(*critical, "image");
  const json* d = image ? Field(*image, "docker-manifest-digest") : nullptr;
  if (!d || !d->is_string())
    return MakeError(ErrorKind::MalformedBundle,
                     "simple signing: critical.image.docker-manifest-digest missing");
  return d->get<std::string>();
}

}  // namespace wasmq::sign
