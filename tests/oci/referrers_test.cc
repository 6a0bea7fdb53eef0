// Client::GetReferrers, the OCI 1.1 Referrers API: Debian's docker-registry (2.8) has none and answers 404
// (ManifestNotFound, so callers read the fallback tag), a registry that has it answers an index (a
// stand-in here), and an answer that is not an index is a registry error.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "oci/oci.h"
#include "registry_harness.h"

namespace wasmq::ocitest {
namespace {

const std::string kSubject = "sha256:" + std::string(64, 'a');

TEST(Referrers, DockerRegistryWithoutTheApiIsManifestNotFound) {
  auto reg = RegistryServer::StartAnonymous();
  ASSERT_TRUE(reg) << RegistryServer::last_error();
  oci::Client client;
  auto ref = oci::ParseReference(reg->host() + "/formy/bg:v1");
  ASSERT_TRUE(ref);
  auto r = client.GetReferrers(*ref, kSubject);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, oci::ErrorKind::ManifestNotFound) << r.error().message;
  EXPECT_EQ(client.GetReferrers(*ref, "latest").error().kind, oci::ErrorKind::InvalidArgument);
}

TEST(Referrers, AnIndexIsReturnedWithItsBytesAndTheFilterIsSent) {
  const std::string index =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
      R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" +
      std::string(64, 'b') + R"(","size":10,"artifactType":"application/x-test"}]})";
  std::string path, filter;
  TinyHttpServer server([&](const HttpRequest& r) {
    if (r.path == "/v2/") return HttpResponse{200, {}, "{}"};
    path = r.path;
    filter = r.QueryValue("artifactType");
    if (r.path.ends_with(kSubject)) return HttpResponse{200, {{"Content-Type", kOciIndex}}, index};
    return HttpResponse{
        200, {{"Content-Type", kOciManifest}}, R"({"schemaVersion":2,"config":{},"layers":[]})"};
  });
  oci::Client client;
  auto ref = oci::ParseReference(server.host() + "/formy/bg:v1");
  auto r = client.GetReferrers(*ref, kSubject, "application/x-test");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(path, "/v2/formy/bg/referrers/" + kSubject);
  EXPECT_EQ(filter, "application/x-test");
  EXPECT_EQ(r->bytes, index);
  ASSERT_EQ(r->manifest.manifests.size(), 1u);
  EXPECT_EQ(r->manifest.manifests[0].digest, "sha256:" + std::string(64, 'b'));

  auto bad = client.GetReferrers(*ref, "sha256:" + std::string(64, 'c'));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, oci::ErrorKind::RegistryError);
}

}  // namespace
}  // namespace wasmq::ocitest
