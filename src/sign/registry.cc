// File: src/sign/registry.cc
//
// Where signatures live in a registry, on top of the oci part's Client:
//
//   referrer (cosign v3, sigstore-js)   manifest {artifactType: bundle v0.3, config: the empty descriptor
//                                       `{}`, layers: [the bundle], subject: the image} pushed by digest,
//                                       found through GET /v2/<repo>/referrers/<digest> or, where that API
//                                       is missing, the index at tag `sha256-<hex>` that lists it
//   legacy (cosign ≤ 2 default)         manifest at tag `sha256-<hex>.sig`: one layer per signature, each the
//                                       simple-signing payload with the signature as an annotation
//
// The image's digest is always the hash of the manifest bytes the registry served (oci::Client::GetManifest
// computes it): a registry that lies in Docker-Content-Digest, or serves other bytes for a tag, gets a
// digest no honest signature covers. Every referrer is fetched by digest (verified), so a registry cannot
// swap a signature manifest either; what it can do — list another image's signature — is caught by the
// subject check and the statement's digest.
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/encoding.h"
#include "json/json.h"
#include "sign/sign.h"

namespace wasmq::sign {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

// An index read back from the registry, keeping its members' order; refused (discarded) past the nesting
// depth every JSON reader of wasmq allows (json/json.h), like the manifests the oci part reads.
ordered_json ParseOrdered(const std::string& bytes) {
  if (::wasmq::json::TooDeepAt(bytes)) return ordered_json(ordered_json::value_t::discarded);
  return ordered_json::parse(bytes, nullptr, false);
}

constexpr std::string_view kEmptyJson = "{}";
constexpr std::string_view kOciImageConfig = "application/vnd.oci.image.config.v1+json";

Error RegistryError(const oci::Error& e, const std::string& what) {
  Error out =
      MakeError(ErrorKind::Registry, what + ": " + std::string(oci::KindName(e.kind)) + ": " + e.message);
  out.oci = e;
  return out;
}

std::string NowRfc3339() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

oci::Reference WithTag(oci::Reference ref, const std::string& tag) {
  ref.tag = tag;
  ref.digest.clear();
  return ref;
}
oci::Reference WithDigest(oci::Reference ref, const std::string& digest) {
  ref.tag.clear();
  ref.digest = digest;
  return ref;
}

ordered_json DescriptorOf(std::string_view media_type, std::string_view bytes) {
  return {
      {"mediaType", std::string(media_type)}, {"digest", oci::Sha256Digest(bytes)}, {"size", bytes.size()}};
}

struct Resolved {
  oci::Reference ref;
  oci::FetchedManifest manifest;
  std::string name;  // registry/repository: the statement's subject name and the legacy docker-reference
};

Result<Resolved> Resolve(oci::Client& client, const std::string& ref_text) {
  auto ref = oci::ParseReference(ref_text);
  if (!ref) return MakeError(ErrorKind::InvalidArgument, ref.error().message);
  auto m = client.GetManifest(*ref, ref->Identifier());
  if (!m) return RegistryError(m.error(), "resolving " + ref->String());
  Resolved out{*ref, std::move(*m), ref->registry + "/" + ref->repository};
  return out;
}

// Pushes `bytes` as a blob unless the registry has it (PushBlob HEADs first).
Result<bool> PushBlob(oci::Client& client, const oci::Reference& ref, std::string_view bytes) {
  auto r = client.PushBlob(ref, oci::Sha256Digest(bytes), bytes);
  if (!r) return RegistryError(r.error(), "uploading a blob to " + ref.registry + "/" + ref.repository);
  return true;
}

Result<SignResult> SignReferrer(oci::Client& client, const Resolved& img, const PrivateKey& key) {
  const std::string& digest = img.manifest.digest;
  auto bundle = MakeBundle(key, img.name, digest);
  if (!bundle) return bundle.error();
  if (auto r = PushBlob(client, img.ref, kEmptyJson); !r) return r.error();
  if (auto r = PushBlob(client, img.ref, *bundle); !r) return r.error();

  ordered_json annotations = {{"dev.sigstore.bundle.content", "dsse-envelope"},
                              {"dev.sigstore.bundle.predicateType", std::string(kCosignSignPredicate)},
                              {"org.opencontainers.image.created", NowRfc3339()}};
  std::string subject_type = img.manifest.content_type;
  if (subject_type.empty()) subject_type = img.manifest.manifest.media_type;
  ordered_json manifest;
  manifest["schemaVersion"] = 2;
  manifest["mediaType"] = std::string(oci::media::kOciManifest);
  manifest["artifactType"] = std::string(kBundleMediaType);
  manifest["config"] = DescriptorOf(kEmptyConfigMediaType, kEmptyJson);
  manifest["layers"] = ordered_json::array({DescriptorOf(kBundleMediaType, *bundle)});
  manifest["subject"] = {
      {"mediaType", subject_type}, {"digest", digest}, {"size", img.manifest.bytes.size()}};
  manifest["annotations"] = annotations;
  const std::string manifest_bytes = manifest.dump();
  const std::string artifact_digest = oci::Sha256Digest(manifest_bytes);
  if (auto r = client.PutManifest(WithDigest(img.ref, artifact_digest), std::string(oci::media::kOciManifest),
                                  manifest_bytes);
      !r)
    return RegistryError(r.error(), "pushing the signature manifest");

  // The fallback index: what is at the tag already, plus this referrer (once).
  const std::string tag = FallbackTag(digest);
  const oci::Reference tag_ref = WithTag(img.ref, tag);
  ordered_json index = {{"schemaVersion", 2},
                        {"mediaType", std::string(oci::media::kOciIndex)},
                        {"manifests", ordered_json::array()}};
  auto existing = client.GetManifest(tag_ref, tag);
  if (existing) {
    if (!existing->manifest.IsIndex() || existing->manifest.media_type != oci::media::kOciIndex)
      return MakeError(ErrorKind::Registry, "tag " + tag + " holds a " + existing->manifest.media_type +
                                                ", not an OCI index; refusing to overwrite it");
    ordered_json old = ParseOrdered(existing->bytes);
    if (!old.is_object() || !old.contains("manifests") || !old["manifests"].is_array())
      return MakeError(ErrorKind::Registry, "tag " + tag + " holds an index without a manifests list");
    index = std::move(old);
  } else if (existing.error().kind != oci::ErrorKind::ManifestNotFound) {
    return RegistryError(existing.error(), "reading the fallback tag " + tag);
  }
  bool listed = false;
  for (const auto& d : index["manifests"])
    if (d.is_object() && d.value("digest", "") == artifact_digest) listed = true;
  if (!listed) {
    ordered_json entry = {{"mediaType", std::string(oci::media::kOciManifest)},
                          {"digest", artifact_digest},
                          {"size", manifest_bytes.size()},
                          {"artifactType", std::string(kBundleMediaType)},
                          {"annotations", annotations}};
    index["manifests"].push_back(entry);
    if (auto r = client.PutManifest(tag_ref, std::string(oci::media::kOciIndex), index.dump()); !r)
      return RegistryError(r.error(), "pushing the fallback index " + tag);
  }
  return SignResult{img.ref, digest, artifact_digest, tag};
}

// go-containerregistry's config for an image of these layers (what cosign's signature image carries):
// zero times, empty architecture and os, one empty history entry per layer, the layers' diff_ids.
std::string LegacyConfig(const std::vector<std::string>& diff_ids) {
  ordered_json c;
  c["architecture"] = "";
  c["created"] = "0001-01-01T00:00:00Z";
  c["history"] = ordered_json::array();
  for (size_t i = 0; i < diff_ids.size(); ++i) c["history"].push_back({{"created", "0001-01-01T00:00:00Z"}});
  c["os"] = "";
  c["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
  c["config"] = ordered_json::object();
  return c.dump();
}

Result<SignResult> SignLegacy(oci::Client& client, const Resolved& img, const PrivateKey& key) {
  const std::string& digest = img.manifest.digest;
  const std::string payload = SimpleSigningPayload(img.name, digest);
  auto sig = key.Sign(payload);
  if (!sig) return sig.error();
  if (auto r = PushBlob(client, img.ref, payload); !r) return r.error();
  ordered_json layer = DescriptorOf(kSimpleSigningMediaType, payload);
  layer["annotations"] = {{std::string(kLegacySignatureAnnotation), base::Base64Encode(*sig)}};

  const std::string tag = LegacyTag(digest);
  const oci::Reference tag_ref = WithTag(img.ref, tag);
  ordered_json layers = ordered_json::array();
  auto existing = client.GetManifest(tag_ref, tag);
  if (existing) {
    ordered_json old = ParseOrdered(existing->bytes);
    if (old.is_object() && old.contains("layers") && old["layers"].is_array()) layers = old["layers"];
  } else if (existing.error().kind != oci::ErrorKind::ManifestNotFound) {
    return RegistryError(existing.error(), "reading the signature tag " + tag);
  }
  bool present = false;
  for (const auto& l : layers) present = present || l == layer;
  if (!present) layers.push_back(layer);
  std::vector<std::string> diff_ids;
  for (const auto& l : layers) diff_ids.push_back(l.value("digest", ""));
  const std::string config = LegacyConfig(diff_ids);
  if (auto r = PushBlob(client, img.ref, config); !r) return r.error();
  ordered_json manifest;
  manifest["schemaVersion"] = 2;
  manifest["mediaType"] = std::string(oci::media::kOciManifest);
  manifest["config"] = DescriptorOf(kOciImageConfig, config);
  manifest["layers"] = layers;
  const std::string bytes = manifest.dump();
  auto put = client.PutManifest(tag_ref, std::string(oci::media::kOciManifest), bytes);
  if (!put) return RegistryError(put.error(), "pushing the signature tag " + tag);
  return SignResult{img.ref, digest, oci::Sha256Digest(bytes), tag};
}

// ------------------------------------------------------------------------------------------- verify

// What VerifyImage learnt, failure by failure; the most telling one is reported.
struct Findings {
  std::vector<std::string> looked;
  std::vector<Error> failures;
  std::optional<Error> registry_error;  // a lookup that failed for another reason than "not there"

  int Rank(ErrorKind k) const {
    switch (k) {
      case ErrorKind::DigestMismatch:
        return 4;
      case ErrorKind::WrongKey:
        return 3;
      case ErrorKind::MalformedBundle:
        return 2;
      default:
        return 1;
    }
  }
  Error Worst(const std::string& what) const {
    std::string places;
    for (const std::string& l : looked) places += (places.empty() ? "" : "; ") + l;
    if (failures.empty()) {
      if (registry_error) {
        Error e = *registry_error;
        e.message += " (looked: " + places + ")";
        return e;
      }
      return MakeError(ErrorKind::NoSignature, "no signature for " + what + " (looked: " + places + ")");
    }
    const Error* best = &failures.front();
    for (const Error& f : failures)
      if (Rank(f.kind) > Rank(best->kind)) best = &f;
    Error e = *best;
    e.message = e.message + " (looked: " + places + ")";
    return e;
  }
};

// One referrer manifest named by digest: subject, bundle layer, bundle, keys, statement.
Result<size_t> CheckReferrer(oci::Client& client, const oci::Reference& ref, const std::string& artifact,
                             const std::string& digest, const std::vector<PublicKey>& keys) {
  auto m = client.GetManifest(WithDigest(ref, artifact), artifact);
  if (!m) return RegistryError(m.error(), "referrer " + artifact);
  json j = ::wasmq::json::Parse(m->bytes);
  if (!j.is_object()) return MakeError(ErrorKind::MalformedBundle, "referrer " + artifact + " is not JSON");
  std::string subject;
  if (auto s = j.find("subject");
      s != j.end() && s->is_object() && s->contains("digest") && (*s)["digest"].is_string())
    subject = (*s)["digest"].get<std::string>();
  if (subject != digest)
    return MakeError(ErrorKind::DigestMismatch, "referrer " + artifact + " is about " +
                                                    (subject.empty() ? std::string("no subject") : subject) +
                                                    ", not " + digest);
  const oci::Descriptor* layer = nullptr;
  for (const oci::Descriptor& l : m->manifest.layers)
    if (l.media_type == kBundleMediaType || l.media_type.starts_with("application/vnd.dev.sigstore.bundle")) {
      layer = &l;
      break;
    }
  if (!layer) return MakeError(ErrorKind::MalformedBundle, "referrer " + artifact + " has no bundle layer");
  if (layer->size > (4 << 20))
    return MakeError(ErrorKind::MalformedBundle, "referrer " + artifact + ": a bundle of " +
                                                     std::to_string(layer->size) + " bytes is too large");
  auto blob = client.GetBlob(ref, layer->digest);
  if (!blob) return RegistryError(blob.error(), "bundle " + layer->digest);
  auto bundle = ParseBundle(*blob);
  if (!bundle) {
    Error e = bundle.error();
    e.message = "referrer " + artifact + ": " + e.message;
    return e;
  }
  auto which = VerifyBundle(*bundle, keys, digest);
  if (!which) {
    Error e = which.error();
    e.message = "referrer " + artifact + ": " + e.message;
    return e;
  }
  return *which;
}

// The bundle referrers an index lists (artifactType says so, or says nothing: then the manifest decides).
std::vector<std::string> BundleReferrers(const std::string& index_bytes) {
  std::vector<std::string> out;
  json j = ::wasmq::json::Parse(index_bytes);
  if (!j.is_object() || !j.contains("manifests") || !j["manifests"].is_array()) return out;
  for (const auto& d : j["manifests"]) {
    if (!d.is_object() || !d.contains("digest") || !d["digest"].is_string()) continue;
    const std::string at = d.contains("artifactType") && d["artifactType"].is_string()
                               ? d["artifactType"].get<std::string>()
                               : "";
    if (!at.empty() && !at.starts_with("application/vnd.dev.sigstore.bundle")) continue;
    const std::string digest = d["digest"].get<std::string>();
    if (oci::IsDigest(digest)) out.push_back(digest);
  }
  return out;
}

}  // namespace

std::string FallbackTag(const std::string& digest) {
  std::string tag = digest;
  if (auto colon = tag.find(':'); colon != std::string::npos) tag[colon] = '-';
  return tag;
}

std::string LegacyTag(const std::string& digest) { return FallbackTag(digest) + ".sig"; }

Result<SignResult> SignImage(const std::string& ref_text, const PrivateKey& key, const SignOptions& options) {
  oci::Client client(options.client);
  auto img = Resolve(client, ref_text);
  if (!img) return img.error();
  if (auto auth = client.Authenticate(img->ref, "pull,push"); !auth)
    return RegistryError(auth.error(), "authenticating to push to " + img->ref.registry);
  return options.legacy ? SignLegacy(client, *img, key) : SignReferrer(client, *img, key);
}

Result<VerifyResult> VerifyImage(const std::string& ref_text, const std::vector<PublicKey>& keys,
                                 const oci::ClientOptions& options) {
  if (keys.empty()) return MakeError(ErrorKind::InvalidArgument, "no key to verify with");
  oci::Client client(options);
  auto img = Resolve(client, ref_text);
  if (!img) return img.error();
  const std::string& digest = img->manifest.digest;
  Findings f;
  std::set<std::string> tried;
  VerifyResult ok;
  ok.ref = img->ref;
  ok.digest = digest;

  // Each candidate costs two requests; an index listing thousands (a registry that wants verify to hang)
  // is read only up to this many signatures in all.
  constexpr size_t kMaxCandidates = 64;
  auto try_referrers = [&](const std::vector<std::string>& artifacts, const std::string& source) -> bool {
    for (const std::string& a : artifacts) {
      if (tried.size() >= kMaxCandidates) {
        f.looked.push_back("more than " + std::to_string(kMaxCandidates) +
                           " signature referrers; the rest were not read");
        return false;
      }
      if (!tried.insert(a).second) continue;
      auto r = CheckReferrer(client, img->ref, a, digest, keys);
      if (r) {
        ok.key_index = *r;
        ok.source = source;
        ok.artifact_digest = a;
        return true;
      }
      f.failures.push_back(r.error());
    }
    return false;
  };

  // 1. The Referrers API.
  auto refs = client.GetReferrers(img->ref, digest, std::string(kBundleMediaType));
  if (refs) {
    auto list = BundleReferrers(refs->bytes);
    f.looked.push_back("referrers API: " + std::to_string(list.size()) + " bundle(s)");
    if (try_referrers(list, "referrers-api")) {
      ok.looked = f.looked;
      return ok;
    }
  } else {
    f.looked.push_back(refs.error().kind == oci::ErrorKind::ManifestNotFound
                           ? "referrers API: not supported (404)"
                           : "referrers API: " + std::string(oci::KindName(refs.error().kind)));
  }

  // 2. The fallback tag.
  const std::string tag = FallbackTag(digest);
  auto index = client.GetManifest(WithTag(img->ref, tag), tag);
  if (index) {
    auto list = BundleReferrers(index->bytes);
    f.looked.push_back("tag " + tag + ": " + std::to_string(list.size()) + " bundle(s)");
    if (try_referrers(list, "fallback-tag")) {
      ok.looked = f.looked;
      return ok;
    }
  } else {
    f.looked.push_back("tag " + tag + ": " +
                       (index.error().kind == oci::ErrorKind::ManifestNotFound
                            ? "none"
                            : std::string(oci::KindName(index.error().kind))));
    if (index.error().kind != oci::ErrorKind::ManifestNotFound)
      f.registry_error = RegistryError(index.error(), "tag " + tag);
  }

  // 3. The legacy `.sig` tag.
  const std::string legacy = LegacyTag(digest);
  auto sig = client.GetManifest(WithTag(img->ref, legacy), legacy);
  if (sig) {
    int n = 0;
    for (const oci::Descriptor& l : sig->manifest.layers) {
      if (l.media_type != kSimpleSigningMediaType) continue;
      ++n;
      auto a = l.annotations.find(std::string(kLegacySignatureAnnotation));
      std::optional<std::string> raw;
      if (a != l.annotations.end()) raw = base::Base64Decode(a->second);
      if (!raw || raw->empty()) {
        f.failures.push_back(MakeError(
            ErrorKind::MalformedBundle,
            "legacy signature " + l.digest + ": the signature annotation is missing or not base64"));
        continue;
      }
      if (l.size > (1 << 20)) {
        f.failures.push_back(
            MakeError(ErrorKind::MalformedBundle, "legacy payload " + l.digest + " is too large"));
        continue;
      }
      auto payload = client.GetBlob(img->ref, l.digest);
      if (!payload) {
        f.failures.push_back(RegistryError(payload.error(), "legacy payload " + l.digest));
        continue;
      }
      size_t which = keys.size();
      for (size_t k = 0; k < keys.size() && which == keys.size(); ++k)
        if (keys[k].Verify(*payload, *raw)) which = k;
      if (which == keys.size()) {
        f.failures.push_back(
            MakeError(ErrorKind::WrongKey, "legacy signature " + l.digest + " does not verify with " +
                                               (keys.size() == 1 ? "the key" : "any of the keys")));
        continue;
      }
      auto covered = ParseSimpleSigning(*payload);
      if (!covered) {
        f.failures.push_back(covered.error());
        continue;
      }
      if (*covered != digest) {
        f.failures.push_back(
            MakeError(ErrorKind::DigestMismatch,
                      "legacy signature " + l.digest + " covers " + *covered + ", not " + digest));
        continue;
      }
      f.looked.push_back("tag " + legacy + ": " + std::to_string(n) + " signature(s)");
      ok.key_index = which;
      ok.source = "legacy-tag";
      ok.artifact_digest = sig->digest;
      ok.looked = f.looked;
      return ok;
    }
    f.looked.push_back("tag " + legacy + ": " + std::to_string(n) + " signature(s)");
  } else {
    f.looked.push_back("tag " + legacy + ": " +
                       (sig.error().kind == oci::ErrorKind::ManifestNotFound
                            ? "none"
                            : std::string(oci::KindName(sig.error().kind))));
    if (sig.error().kind != oci::ErrorKind::ManifestNotFound)
      f.registry_error = RegistryError(sig.error(), "tag " + legacy);
  }
  return f.Worst(img->ref.String() + "@" + digest);
}

}  // namespace wasmq::sign
