// File: tests/oci/credentials_test.cc
//
// Credential resolution from every source, and that the places looked are reported without secrets.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "base/encoding.h"
#include "oci/oci.h"
#include "oci/util.h"
#include "registry_harness.h"

namespace wasmq::oci {
namespace {

using ocitest::TempDir;

// Clears the environment variables ResolveCredentials reads, restoring them afterwards.
class CleanEnv {
 public:
  CleanEnv() {
    for (const char* n : kNames) {
      if (const char* v = std::getenv(n)) saved_.emplace_back(n, v);
      unsetenv(n);
    }
  }
  ~CleanEnv() {
    for (const char* n : kNames) unsetenv(n);
    for (auto& [n, v] : saved_) setenv(n.c_str(), v.c_str(), 1);
  }

 private:
  static constexpr const char* kNames[] = {"WASMQ_REGISTRY_USER", "WASMQ_REGISTRY_PASSWORD", "WASMQ_REGISTRY_HOST",
                                           "WASMQ_K8S_SECRET", "WASMQ_AUTH_FILE", "DOCKER_CONFIG"};
  std::vector<std::pair<std::string, std::string>> saved_;
};

CredentialOptions Isolated(const TempDir& dir) {
  CredentialOptions o;
  o.docker_config = dir.file("docker/config.json");
  o.wasmq_auth_file = dir.file("wasmq/auth.json");
  return o;
}

std::string Joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

TEST(Credentials, NoneFoundListsEveryPlace) {
  CleanEnv env;
  TempDir dir;
  auto r = ResolveCredentials("myregistry.com", Isolated(dir));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->credential);
  std::string looked = Joined(r->places_looked);
  EXPECT_NE(looked.find("WASMQ_REGISTRY_USER"), std::string::npos) << looked;
  EXPECT_NE(looked.find("Kubernetes"), std::string::npos) << looked;
  EXPECT_NE(looked.find(dir.file("docker/config.json")), std::string::npos) << looked;
  EXPECT_NE(looked.find(dir.file("wasmq/auth.json")), std::string::npos) << looked;
}

TEST(Credentials, DockerConfigAuthAndUsernamePassword) {
  CleanEnv env;
  TempDir dir;
  dir.Write("docker/config.json", R"({"auths":{
      "https://myregistry.com/v1/":{"auth":")" + base::Base64Encode("alice:s3cret") + R"("},
      "other.io":{"username":"bob","password":"pw2"},
      "https://index.docker.io/v1/":{"identitytoken":"refresh-me"}}})");
  auto a = ResolveCredentials("myregistry.com", Isolated(dir));
  ASSERT_TRUE(a && a->credential);
  EXPECT_EQ(a->credential->username, "alice");
  EXPECT_EQ(a->credential->password, "s3cret");
  EXPECT_EQ(a->credential->source.find("s3cret"), std::string::npos);
  auto b = ResolveCredentials("other.io", Isolated(dir));
  ASSERT_TRUE(b && b->credential);
  EXPECT_EQ(b->credential->username, "bob");
  EXPECT_EQ(b->credential->password, "pw2");
  auto hub = ResolveCredentials("docker.io", Isolated(dir));
  ASSERT_TRUE(hub && hub->credential);
  EXPECT_EQ(hub->credential->identity_token, "refresh-me");
  auto none = ResolveCredentials("nothere.io", Isolated(dir));
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->credential);
  EXPECT_EQ(Joined(none->places_looked).find("s3cret"), std::string::npos);
}

TEST(Credentials, MalformedConfigIsAnError) {
  CleanEnv env;
  TempDir dir;
  dir.Write("docker/config.json", "{not json");
  auto r = ResolveCredentials("x.io", Isolated(dir));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidArgument);
}

TEST(Credentials, CredentialHelperProtocol) {
  CleanEnv env;
  TempDir dir;
  // A fake docker-credential-fake on a private PATH: reads the server URL, answers the protocol's JSON.
  std::string helper = dir.Write("bin/docker-credential-fake",
                                 "#!/bin/sh\nread url\n[ \"$1\" = get ] || exit 3\n"
                                 "if [ \"$url\" = helped.io ]; then\n"
                                 "  echo '{\"ServerURL\":\"helped.io\",\"Username\":\"carol\",\"Secret\":\"hsecret\"}'\n"
                                 "elif [ \"$url\" = store.io ]; then\n"
                                 "  echo '{\"ServerURL\":\"store.io\",\"Username\":\"<token>\",\"Secret\":\"idtok\"}'\n"
                                 "else echo 'credentials not found in native keychain'; exit 1; fi\n");
  chmod(helper.c_str(), 0755);
  std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "";
  setenv("PATH", (dir.file("bin") + ":" + old_path).c_str(), 1);
  dir.Write("docker/config.json", R"({"credHelpers":{"helped.io":"fake"},"credsStore":"fake"})");
  auto a = ResolveCredentials("helped.io", Isolated(dir));
  auto b = ResolveCredentials("store.io", Isolated(dir));
  auto c = ResolveCredentials("unknown.io", Isolated(dir));
  setenv("PATH", old_path.c_str(), 1);
  ASSERT_TRUE(a && a->credential);
  EXPECT_EQ(a->credential->username, "carol");
  EXPECT_EQ(a->credential->password, "hsecret");
  EXPECT_NE(a->credential->source.find("docker-credential-fake"), std::string::npos);
  ASSERT_TRUE(b && b->credential);
  EXPECT_EQ(b->credential->identity_token, "idtok");
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->credential);
  EXPECT_NE(Joined(c->places_looked).find("credsStore"), std::string::npos);
}

TEST(Credentials, KubernetesSecretYamlAndJson) {
  CleanEnv env;
  TempDir dir;
  std::string dockercfg = R"({"auths":{"myregistry.com":{"username":"k8s","password":"kpw"}}})";
  std::string yaml = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: regcred\ntype: kubernetes.io/dockerconfigjson\n"
                     "data:\n  .dockerconfigjson: " + base::Base64Encode(dockercfg) + "\n";
  std::string json = R"({"apiVersion":"v1","kind":"Secret","type":"kubernetes.io/dockerconfigjson",)"
                     R"("data":{".dockerconfigjson":")" + base::Base64Encode(dockercfg) + R"("}})";
  for (const auto& [name, text] : {std::pair{"secret.yaml", yaml}, std::pair{"secret.json", json}}) {
    CredentialOptions o = Isolated(dir);
    o.k8s_secret = dir.Write(name, text);
    auto r = ResolveCredentials("myregistry.com", o);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_TRUE(r->credential) << name;
    EXPECT_EQ(r->credential->username, "k8s");
    EXPECT_EQ(r->credential->password, "kpw");
    EXPECT_NE(r->credential->source.find("Kubernetes"), std::string::npos);
  }
  // Through the environment variable, and stringData.
  std::string string_data = "kind: Secret\nstringData:\n  .dockerconfigjson: '" + dockercfg + "'\n";
  setenv("WASMQ_K8S_SECRET", dir.Write("s2.yaml", string_data).c_str(), 1);
  auto r = ResolveCredentials("myregistry.com", Isolated(dir));
  ASSERT_TRUE(r && r->credential);
  EXPECT_EQ(r->credential->username, "k8s");
  CredentialOptions bad = Isolated(dir);
  bad.k8s_secret = dir.Write("bad.yaml", "kind: Secret\ndata:\n  other: x\n");
  EXPECT_FALSE(ResolveCredentials("myregistry.com", bad));
}

TEST(Credentials, EnvironmentWinsAndHostFilter) {
  CleanEnv env;
  TempDir dir;
  setenv("WASMQ_REGISTRY_USER", "envuser", 1);
  setenv("WASMQ_REGISTRY_PASSWORD", "envpw", 1);
  auto r = ResolveCredentials("any.io", Isolated(dir));
  ASSERT_TRUE(r && r->credential);
  EXPECT_EQ(r->credential->username, "envuser");
  setenv("WASMQ_REGISTRY_HOST", "only.io", 1);
  auto other = ResolveCredentials("any.io", Isolated(dir));
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->credential);
}

TEST(Credentials, StoreLoginWritesDockerFormatMode0600) {
  CleanEnv env;
  TempDir dir;
  CredentialOptions o = Isolated(dir);
  dir.Write("wasmq/auth.json", R"({"auths":{"keep.io":{"auth":"a2VlcDprZWVw"}},"other":1})");
  ASSERT_TRUE(StoreLogin("127.0.0.1:5000", "dave", "pa:ss", o));
  struct stat st;
  ASSERT_EQ(stat(o.wasmq_auth_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(o.wasmq_auth_file);
  auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["auths"]["127.0.0.1:5000"]["auth"], base::Base64Encode("dave:pa:ss"));
  EXPECT_TRUE(j["auths"].contains("keep.io"));
  EXPECT_EQ(j["other"], 1);
  auto r = ResolveCredentials("127.0.0.1:5000", o);
  ASSERT_TRUE(r && r->credential);
  EXPECT_EQ(r->credential->password, "pa:ss");
}

}  // namespace
}  // namespace wasmq::oci
