// Tests of src/sign/registry.cc against Debian's docker-registry (no Referrers API: the fallback tag is the
// way there) and against stand-ins in front of it (tests/oci's TinyHttpServer): one that adds the Referrers
// API, one that lies about the manifest. Covers what wasmq writes (the referrer manifest, the merged index,
// the legacy tag) field by field, and each failure reason: no signature, wrong key, a signature for another
// image, a swapped digest, a tampered payload, a truncated bundle. The legacy fixture is assembled here from
// reading cosign's source (go-containerregistry's empty image, the simple-signing layer and annotation) with
// raw registry calls and an OpenSSL signature, not with the code under test.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "oci/oci.h"
#include "registry_harness.h"
#include "sign/sign.h"
#include "test_modules.h"
#include "token_server.h"

namespace wasmq::sign {
namespace {

using json = nlohmann::json;
using ocitest::Digest;
using ocitest::HttpRequest;
using ocitest::HttpResponse;
using ocitest::RegistryClient;
using ocitest::RegistryServer;
using ocitest::TinyHttpServer;

constexpr const char* kBundleType = "application/vnd.dev.sigstore.bundle.v0.3+json";

class SignRegistry : public ::testing::Test {
 protected:
  void SetUp() override {
    reg_ = RegistryServer::StartAnonymous();
    ASSERT_TRUE(reg_) << RegistryServer::last_error();
    client_ = std::make_unique<RegistryClient>(reg_->host());
  }

  // Pushes a distinct CNCF module as repo:tag; returns its manifest digest.
  std::string PushModule(const std::string& repo, const std::string& tag) {
    oci::PushOptions o;
    auto r = oci::Push(ocitest::CommandModule(repo + tag), reg_->host() + "/" + repo + ":" + tag, o);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? r->manifest_digest : "";
  }
  std::string Ref(const std::string& repo, const std::string& tag) {
    return reg_->host() + "/" + repo + ":" + tag;
  }

  json GetJson(const std::string& repo, const std::string& reference) {
    auto r = client_->Call(
        "GET", "/v2/" + repo + "/manifests/" + reference, "",
        {"Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"});
    if (r.status != 200) return nullptr;
    return json::parse(r.body, nullptr, false);
  }
  std::string GetBlob(const std::string& repo, const std::string& digest) {
    return client_->Call("GET", "/v2/" + repo + "/blobs/" + digest).body;
  }

  // Pushes a referrer manifest (subject = `subject`) holding `bundle`; returns its digest.
  std::string PushReferrer(const std::string& repo, const std::string& subject, const std::string& bundle) {
    EXPECT_FALSE(client_->PushBlob(repo, "{}").empty());
    EXPECT_FALSE(client_->PushBlob(repo, bundle).empty());
    json m = {{"schemaVersion", 2},
              {"mediaType", ocitest::kOciManifest},
              {"artifactType", kBundleType},
              {"config", RegistryClient::Descriptor("application/vnd.oci.empty.v1+json", "{}")},
              {"layers", {RegistryClient::Descriptor(kBundleType, bundle)}},
              {"subject", {{"mediaType", ocitest::kOciManifest}, {"digest", subject}, {"size", 100}}}};
    const std::string body = m.dump();
    return client_->PushManifest(repo, Digest(body), ocitest::kOciManifest, body);
  }
  // Writes the fallback index of `subject` listing `referrers`.
  void PushIndex(const std::string& repo, const std::string& subject,
                 const std::vector<std::string>& referrers) {
    json idx = {{"schemaVersion", 2}, {"mediaType", ocitest::kOciIndex}, {"manifests", json::array()}};
    for (const std::string& r : referrers)
      idx["manifests"].push_back(
          {{"mediaType", ocitest::kOciManifest}, {"digest", r}, {"size", 1}, {"artifactType", kBundleType}});
    ASSERT_FALSE(client_->PushManifest(repo, FallbackTag(subject), ocitest::kOciIndex, idx.dump()).empty());
  }

  static std::vector<PublicKey> Keys(const PrivateKey& k) {
    std::vector<PublicKey> v;
    v.push_back(k.Public());
    return v;
  }

  std::unique_ptr<RegistryServer> reg_;
  std::unique_ptr<RegistryClient> client_;
};

TEST_F(SignRegistry, SignWritesReferrerAndFallbackIndexThenVerifies) {
  const std::string digest = PushModule("formy/bg", "v1");
  auto key = PrivateKey::Generate();
  auto s = SignImage(Ref("formy/bg", "v1"), *key, {});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->digest, digest);
  EXPECT_EQ(s->tag, "sha256-" + digest.substr(7));

  // The referrer manifest, field by field.
  json m = GetJson("formy/bg", s->artifact_digest);
  ASSERT_TRUE(m.is_object());
  EXPECT_EQ(m["mediaType"], ocitest::kOciManifest);
  EXPECT_EQ(m["artifactType"], kBundleType);
  EXPECT_EQ(m["config"]["mediaType"], "application/vnd.oci.empty.v1+json");
  EXPECT_EQ(m["config"]["digest"], "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  EXPECT_EQ(m["config"]["size"], 2);
  ASSERT_EQ(m["layers"].size(), 1u);
  EXPECT_EQ(m["layers"][0]["mediaType"], kBundleType);
  EXPECT_EQ(m["subject"]["digest"], digest);
  EXPECT_EQ(m["subject"]["mediaType"], ocitest::kOciManifest);
  EXPECT_EQ(m["annotations"]["dev.sigstore.bundle.predicateType"], "https://sigstore.dev/cosign/sign/v1");
  const std::string bundle = GetBlob("formy/bg", m["layers"][0]["digest"]);
  json b = json::parse(bundle);
  EXPECT_EQ(b["verificationMaterial"]["publicKey"]["hint"], key->Public().Hint());

  // The fallback index lists it, with its artifactType.
  json idx = GetJson("formy/bg", s->tag);
  ASSERT_TRUE(idx.is_object());
  EXPECT_EQ(idx["mediaType"], ocitest::kOciIndex);
  ASSERT_EQ(idx["manifests"].size(), 1u);
  EXPECT_EQ(idx["manifests"][0]["digest"], s->artifact_digest);
  EXPECT_EQ(idx["manifests"][0]["artifactType"], kBundleType);

  auto v = VerifyImage(Ref("formy/bg", "v1"), Keys(*key), {});
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->digest, digest);
  EXPECT_EQ(v->source, "fallback-tag");
  EXPECT_EQ(v->artifact_digest, s->artifact_digest);
  ASSERT_FALSE(v->looked.empty());
  EXPECT_EQ(v->looked[0], "referrers API: not supported (404)");
  // By digest too.
  EXPECT_TRUE(VerifyImage(reg_->host() + "/formy/bg@" + digest, Keys(*key), {}));
}

TEST_F(SignRegistry, SecondSignatureMergesIntoTheIndexKeepingWhatIsThere) {
  const std::string digest = PushModule("formy/bg", "v1");
  // Something else already listed at the fallback tag (another tool's referrer) stays listed. The registry
  // checks that an index's entries exist, so the entry is a real manifest.
  const std::string sbom = PushModule("formy/bg", "sbom");
  json foreign = {{"mediaType", ocitest::kOciManifest},
                  {"digest", sbom},
                  {"size", client_
                               ->Call("GET", "/v2/formy/bg/manifests/" + sbom, "",
                                      {"Accept: " + std::string(ocitest::kOciManifest)})
                               .body.size()},
                  {"artifactType", "application/spdx+json"}};
  json idx = {{"schemaVersion", 2}, {"mediaType", ocitest::kOciIndex}, {"manifests", {foreign}}};
  ASSERT_FALSE(
      client_->PushManifest("formy/bg", FallbackTag(digest), ocitest::kOciIndex, idx.dump()).empty());

  auto alice = PrivateKey::Generate();
  auto bob = PrivateKey::Generate();
  auto s1 = SignImage(Ref("formy/bg", "v1"), *alice, {});
  ASSERT_TRUE(s1) << s1.error().message;
  auto s2 = SignImage(Ref("formy/bg", "v1"), *bob, {});
  ASSERT_TRUE(s2) << s2.error().message;
  json merged = GetJson("formy/bg", FallbackTag(digest));
  ASSERT_EQ(merged["manifests"].size(), 3u) << merged.dump();
  EXPECT_EQ(merged["manifests"][0], foreign);
  EXPECT_EQ(merged["manifests"][1]["digest"], s1->artifact_digest);
  EXPECT_EQ(merged["manifests"][2]["digest"], s2->artifact_digest);

  auto vb = VerifyImage(Ref("formy/bg", "v1"), Keys(*bob), {});
  ASSERT_TRUE(vb) << vb.error().message;
  EXPECT_EQ(vb->artifact_digest, s2->artifact_digest);
  // Several keys: any one of them.
  std::vector<PublicKey> keys;
  keys.push_back(PrivateKey::Generate()->Public());
  keys.push_back(alice->Public());
  auto va = VerifyImage(Ref("formy/bg", "v1"), keys, {});
  ASSERT_TRUE(va);
  EXPECT_EQ(va->key_index, 1u);
}

TEST_F(SignRegistry, RefusesToOverwriteANonIndexAtTheFallbackTag) {
  const std::string digest = PushModule("formy/bg", "v1");
  PushModule("formy/bg", FallbackTag(digest));  // an image, not an index, at that tag
  auto s = SignImage(Ref("formy/bg", "v1"), *PrivateKey::Generate(), {});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("not an OCI index"), std::string::npos) << s.error().message;
}

TEST_F(SignRegistry, NoSignatureListsEveryPlaceLooked) {
  const std::string digest = PushModule("formy/bg", "v1");
  auto v = VerifyImage(Ref("formy/bg", "v1"), Keys(*PrivateKey::Generate()), {});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().kind, ErrorKind::NoSignature);
  EXPECT_NE(v.error().message.find("referrers API: not supported (404)"), std::string::npos)
      << v.error().message;
  EXPECT_NE(v.error().message.find(FallbackTag(digest) + ": none"), std::string::npos) << v.error().message;
  EXPECT_NE(v.error().message.find(LegacyTag(digest) + ": none"), std::string::npos) << v.error().message;
}

TEST_F(SignRegistry, WrongKey) {
  PushModule("formy/bg", "v1");
  ASSERT_TRUE(SignImage(Ref("formy/bg", "v1"), *PrivateKey::Generate(), {}));
  auto v = VerifyImage(Ref("formy/bg", "v1"), Keys(*PrivateKey::Generate()), {});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().kind, ErrorKind::WrongKey) << v.error().message;
}

TEST_F(SignRegistry, ASignatureForAnotherImageIsADigestMismatch) {
  const std::string a = PushModule("formy/bg", "a");
  const std::string b = PushModule("formy/bg", "b");
  auto key = PrivateKey::Generate();
  auto s = SignImage(Ref("formy/bg", "a"), *key, {});
  ASSERT_TRUE(s);
  // B's fallback tag lists A's (valid) signature.
  PushIndex("formy/bg", b, {s->artifact_digest});
  auto v = VerifyImage(Ref("formy/bg", "b"), Keys(*key), {});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().kind, ErrorKind::DigestMismatch) << v.error().message;
  EXPECT_NE(v.error().message.find("is about " + a), std::string::npos) << v.error().message;
}

TEST_F(SignRegistry, SwappedDigestInsideAReferrerIsADigestMismatch) {
  const std::string a = PushModule("formy/bg", "a");
  const std::string b = PushModule("formy/bg", "b");
  auto key = PrivateKey::Generate();
  // A referrer whose subject says B but whose (validly signed) statement covers A.
  const std::string r = PushReferrer("formy/bg", b, *MakeBundle(*key, "x", a));
  PushIndex("formy/bg", b, {r});
  auto v = VerifyImage(Ref("formy/bg", "b"), Keys(*key), {});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().kind, ErrorKind::DigestMismatch) << v.error().message;
  EXPECT_NE(v.error().message.find("covers " + a), std::string::npos) << v.error().message;
}

TEST_F(SignRegistry, TamperedPayloadIsAWrongKeyAndTruncatedBundleIsMalformed) {
  const std::string b = PushModule("formy/bg", "b");
  auto key = PrivateKey::Generate();
  json bundle = json::parse(*MakeBundle(*key, "x", b));
  std::optional<std::string> decoded =
      base::Base64Decode(bundle["dsseEnvelope"]["payload"].get<std::string>());
  ASSERT_TRUE(decoded);
  std::string payload = *decoded;
  payload.insert(1, " ");  // the same statement as JSON, other bytes
  bundle["dsseEnvelope"]["payload"] = base::Base64Encode(payload);
  const std::string tampered = PushReferrer("formy/bg", b, bundle.dump());
  PushIndex("formy/bg", b, {tampered});
  auto v = VerifyImage(Ref("formy/bg", "b"), Keys(*key), {});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().kind, ErrorKind::WrongKey) << v.error().message;

  const std::string good = *MakeBundle(*key, "x", b);
  const std::string truncated = PushReferrer("formy/bg", b, good.substr(0, good.size() / 2));
  PushIndex("formy/bg", b, {truncated});
  v = VerifyImage(Ref("formy/bg", "b"), Keys(*key), {});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().kind, ErrorKind::MalformedBundle) << v.error().message;

  // With a good signature next to the bad ones, verification succeeds.
  const std::string ok = PushReferrer("formy/bg", b, good);
  PushIndex("formy/bg", b, {truncated, tampered, ok});
  auto fine = VerifyImage(Ref("formy/bg", "b"), Keys(*key), {});
  ASSERT_TRUE(fine) << fine.error().message;
  EXPECT_EQ(fine->artifact_digest, ok);
}

// An index listing very many referrers is read only up to a bound, and says so.
TEST_F(SignRegistry, ManyReferrersAreReadUpToABound) {
  const std::string b = PushModule("formy/bg", "b");
  auto stranger = PrivateKey::Generate();
  std::vector<std::string> many;
  for (int i = 0; i < 65; ++i) many.push_back(PushReferrer("formy/bg", b, *MakeBundle(*stranger, "x", b)));
  auto key = PrivateKey::Generate();
  many.push_back(PushReferrer("formy/bg", b, *MakeBundle(*key, "x", b)));
  PushIndex("formy/bg", b, many);
  auto v = VerifyImage(Ref("formy/bg", "b"), Keys(*key), {});
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("more than 64 signature referrers"), std::string::npos)
      << v.error().message;
  EXPECT_EQ(v.error().kind, ErrorKind::WrongKey);  // the most telling of what was read
}

// ---- legacy `.sig` tags -------------------------------------------------------------------------------

std::string OpensslSign(EVP_PKEY* key, const std::string& data) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(data.data()), data.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  return sig;
}

std::string PubPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

// cosign's signature image as read in its source: go-containerregistry's empty image turned OCI (manifest
// and config media types), one layer per signature appended without history (hence one empty history
// entry each), the layer the simple-signing JSON with the base64 ECDSA signature as annotation.
std::string LegacyFixture(RegistryClient& c, const std::string& repo, const std::string& docker_reference,
                          const std::string& digest, EVP_PKEY* key) {
  const std::string payload = "{\"critical\":{\"identity\":{\"docker-reference\":\"" + docker_reference +
                              "\"},\"image\":{\"docker-manifest-digest\":\"" + digest +
                              "\"},\"type\":\"cosign container image signature\"},\"optional\":null}";
  const std::string config =
      "{\"architecture\":\"\",\"created\":\"0001-01-01T00:00:00Z\",\"history\":[{\"created\":"
      "\"0001-01-01T00:00:00Z\"}],\"os\":\"\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" +
      Digest(payload) + "\"]},\"config\":{}}";
  json layer = RegistryClient::Descriptor("application/vnd.dev.cosign.simplesigning.v1+json", payload);
  layer["annotations"] = {
      {"dev.cosignproject.cosign/signature", RegistryClient::B64(OpensslSign(key, payload))}};
  EXPECT_FALSE(c.PushBlob(repo, payload).empty());
  EXPECT_FALSE(c.PushBlob(repo, config).empty());
  json m = {{"schemaVersion", 2},
            {"mediaType", ocitest::kOciManifest},
            {"config", RegistryClient::Descriptor("application/vnd.oci.image.config.v1+json", config)},
            {"layers", {layer}}};
  return c.PushManifest(repo, "sha256-" + digest.substr(7) + ".sig", ocitest::kOciManifest, m.dump());
}

TEST_F(SignRegistry, VerifiesAHandBuiltCosignLegacyFixture) {
  const std::string digest = PushModule("formy/bg", "v1");
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_FALSE(LegacyFixture(*client_, "formy/bg", reg_->host() + "/formy/bg", digest, k).empty());
  std::vector<PublicKey> keys;
  keys.push_back(*PublicKey::FromPem(PubPem(k)));
  auto v = VerifyImage(Ref("formy/bg", "v1"), keys, {});
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->source, "legacy-tag");

  // The same fixture for another image at this image's tag: a digest mismatch.
  const std::string other = PushModule("formy/bg", "other");
  EVP_PKEY* k2 = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  const std::string payload_for_other = SimpleSigningPayload("x", other);
  json layer =
      RegistryClient::Descriptor("application/vnd.dev.cosign.simplesigning.v1+json", payload_for_other);
  layer["annotations"] = {
      {"dev.cosignproject.cosign/signature", RegistryClient::B64(OpensslSign(k2, payload_for_other))}};
  ASSERT_FALSE(client_->PushBlob("formy/bg", payload_for_other).empty());
  json m = GetJson("formy/bg", LegacyTag(digest));
  m["layers"] = {layer};
  ASSERT_FALSE(client_->PushManifest("formy/bg", LegacyTag(digest), ocitest::kOciManifest, m.dump()).empty());
  std::vector<PublicKey> keys2;
  keys2.push_back(*PublicKey::FromPem(PubPem(k2)));
  auto bad = VerifyImage(Ref("formy/bg", "v1"), keys2, {});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::DigestMismatch) << bad.error().message;
  EXPECT_EQ(VerifyImage(Ref("formy/bg", "v1"), keys, {}).error().kind, ErrorKind::WrongKey);
  EVP_PKEY_free(k);
  EVP_PKEY_free(k2);
}

TEST_F(SignRegistry, LegacySignWritesWhatTheFixtureHasAndVerifies) {
  const std::string digest = PushModule("formy/bg", "v1");
  auto key = PrivateKey::Generate();
  SignOptions o;
  o.legacy = true;
  auto s = SignImage(Ref("formy/bg", "v1"), *key, o);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->tag, LegacyTag(digest));
  json m = GetJson("formy/bg", s->tag);
  ASSERT_TRUE(m.is_object());
  EXPECT_EQ(m["mediaType"], ocitest::kOciManifest);
  EXPECT_EQ(m["config"]["mediaType"], "application/vnd.oci.image.config.v1+json");
  ASSERT_EQ(m["layers"].size(), 1u);
  EXPECT_EQ(m["layers"][0]["mediaType"], "application/vnd.dev.cosign.simplesigning.v1+json");
  const std::string payload = GetBlob("formy/bg", m["layers"][0]["digest"]);
  EXPECT_EQ(payload, "{\"critical\":{\"identity\":{\"docker-reference\":\"" + reg_->host() +
                         "/formy/bg\"},\"image\":{\"docker-manifest-digest\":\"" + digest +
                         "\"},\"type\":\"cosign container image signature\"},\"optional\":null}");
  json config = json::parse(GetBlob("formy/bg", m["config"]["digest"]));
  EXPECT_EQ(config["rootfs"]["diff_ids"], json::array({Digest(payload)}));
  EXPECT_EQ(config["history"].size(), 1u);
  std::optional<std::string> sig = base::Base64Decode(
      m["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"].get<std::string>());
  ASSERT_TRUE(sig);
  EXPECT_TRUE(key->Public().Verify(payload, *sig));

  auto v = VerifyImage(Ref("formy/bg", "v1"), Keys(*key), {});
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->source, "legacy-tag");
  // A second legacy signature adds a layer.
  auto key2 = PrivateKey::Generate();
  ASSERT_TRUE(SignImage(Ref("formy/bg", "v1"), *key2, o));
  EXPECT_EQ(GetJson("formy/bg", s->tag)["layers"].size(), 2u);
  EXPECT_TRUE(VerifyImage(Ref("formy/bg", "v1"), Keys(*key2), {}));
  EXPECT_TRUE(VerifyImage(Ref("formy/bg", "v1"), Keys(*key), {}));
}

// ---- stand-ins: a registry with the Referrers API, a registry that lies ------------------------------

// Forwards GET requests to the real registry; `override` may answer first.
std::unique_ptr<TinyHttpServer> Proxy(
    const RegistryServer& reg, std::function<std::optional<HttpResponse>(const HttpRequest&)> override) {
  const std::string base = reg.url();
  return std::make_unique<TinyHttpServer>([=](const HttpRequest& r) {
    if (auto o = override(r)) return *o;
    std::vector<std::string> headers;
    if (!r.Header("accept").empty()) headers.push_back("Accept: " + r.Header("accept"));
    auto up = RegistryClient::Raw(r.method, base + r.target, r.body, headers, "");
    HttpResponse out{static_cast<int>(up.status), {}, up.body};
    for (const char* h : {"content-type", "docker-content-digest", "docker-distribution-api-version"})
      if (up.headers.count(h)) out.headers.emplace_back(h, up.headers.at(h));
    return out;
  });
}

TEST_F(SignRegistry, FindsSignaturesThroughTheReferrersApi) {
  const std::string digest = PushModule("formy/bg", "v1");
  auto key = PrivateKey::Generate();
  auto s = SignImage(Ref("formy/bg", "v1"), *key, {});
  ASSERT_TRUE(s);
  // A registry with the Referrers API, and no fallback tag: the API is the only way to find it.
  std::string seen_query;
  auto proxy = Proxy(*reg_, [&](const HttpRequest& r) -> std::optional<HttpResponse> {
    if (r.path == "/v2/formy/bg/referrers/" + digest) {
      seen_query = r.QueryValue("artifactType");
      json idx = {{"schemaVersion", 2},
                  {"mediaType", ocitest::kOciIndex},
                  {"manifests",
                   {{{"mediaType", ocitest::kOciManifest},
                     {"digest", s->artifact_digest},
                     {"size", 1},
                     {"artifactType", kBundleType}}}}};
      return HttpResponse{200, {{"Content-Type", ocitest::kOciIndex}}, idx.dump()};
    }
    if (r.path.ends_with("/manifests/" + FallbackTag(digest)))
      return HttpResponse{
          404, {{"Content-Type", "application/json"}}, R"({"errors":[{"code":"MANIFEST_UNKNOWN"}]})"};
    return std::nullopt;
  });
  auto v = VerifyImage(proxy->host() + "/formy/bg:v1", Keys(*key), {});
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->source, "referrers-api");
  EXPECT_EQ(seen_query, kBundleType);
  EXPECT_EQ(v->looked[0], "referrers API: 1 bundle(s)");
}

TEST_F(SignRegistry, ARegistryThatLiesAboutTheManifestIsCaught) {
  const std::string signed_digest = PushModule("formy/bg", "v1");
  const std::string evil = PushModule("formy/evil", "v1");
  auto key = PrivateKey::Generate();
  ASSERT_TRUE(SignImage(Ref("formy/bg", "v1"), *key, {}));
  const std::string evil_bytes =
      client_
          ->Call("GET", "/v2/formy/evil/manifests/v1", "", {"Accept: " + std::string(ocitest::kOciManifest)})
          .body;
  ASSERT_EQ(Digest(evil_bytes), evil);
  // The tag serves another manifest while claiming the signed digest in Docker-Content-Digest.
  auto liar = Proxy(*reg_, [&](const HttpRequest& r) -> std::optional<HttpResponse> {
    if (r.path == "/v2/formy/bg/manifests/v1")
      return HttpResponse{200,
                          {{"Content-Type", ocitest::kOciManifest}, {"Docker-Content-Digest", signed_digest}},
                          evil_bytes};
    return std::nullopt;
  });
  auto v = VerifyImage(liar->host() + "/formy/bg:v1", Keys(*key), {});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().kind, ErrorKind::NoSignature) << v.error().message;
  EXPECT_NE(v.error().message.find(evil), std::string::npos) << v.error().message;

  // Asked by the signed digest, it cannot serve other bytes either (the pinned fetch is hashed).
  auto pinned = VerifyImage(liar->host() + "/formy/bg@" + signed_digest, Keys(*key), {});
  ASSERT_TRUE(pinned) << pinned.error().message;
  auto liar2 = Proxy(*reg_, [&](const HttpRequest& r) -> std::optional<HttpResponse> {
    if (r.path == "/v2/formy/bg/manifests/" + signed_digest)
      return HttpResponse{200,
                          {{"Content-Type", ocitest::kOciManifest}, {"Docker-Content-Digest", signed_digest}},
                          evil_bytes};
    return std::nullopt;
  });
  auto lied = VerifyImage(liar2->host() + "/formy/bg@" + signed_digest, Keys(*key), {});
  ASSERT_FALSE(lied);
  EXPECT_EQ(lied.error().kind, ErrorKind::Registry);
  EXPECT_EQ(lied.error().oci.kind, oci::ErrorKind::DigestMismatch) << lied.error().message;

  // A registry that swaps the signature blob for another one: the blob fetch is hashed.
  auto blob_liar = Proxy(*reg_, [&](const HttpRequest& r) -> std::optional<HttpResponse> {
    if (r.path.find("/blobs/") != std::string::npos && r.path.find("44136fa3") == std::string::npos &&
        r.path.starts_with("/v2/formy/bg/"))
      return HttpResponse{200, {{"Content-Type", "application/octet-stream"}}, "{\"mediaType\":\"x\"}"};
    return std::nullopt;
  });
  auto swapped = VerifyImage(blob_liar->host() + "/formy/bg:v1", Keys(*key), {});
  ASSERT_FALSE(swapped);
}

}  // namespace
}  // namespace wasmq::sign
