// File: tests/oci/auth_test.cc
//
// Basic (htpasswd) and token (Bearer JWT) registries: no credentials → AuthRequired with the places looked,
// wrong ones → AuthRejected, no pull right → Denied, good ones → the pull works; secrets stay out of the
// transcript.
#include <gtest/gtest.h>

#include "base/encoding.h"
#include "oci/oci.h"
#include "oci/util.h"
#include "registry_harness.h"
#include "test_modules.h"

namespace wasmq::oci {
namespace {

using ocitest::RegistryServer;
using ocitest::TempDir;
using ocitest::TokenServer;

ClientOptions WithCredential(const TempDir& dir, std::optional<Credential> cred) {
  ClientOptions o;
  o.credentials.docker_config = dir.file("no-docker/config.json");
  o.credentials.wasmq_auth_file = dir.file("no-wasmq/auth.json");
  o.credentials.k8s_secret = dir.file("no-secret.yaml");
  o.credentials.use_env = false;
  o.credential_override = std::move(cred);
  return o;
}

std::string TranscriptText(const Transcript& t) {
  std::string s;
  for (const auto& e : t.exchanges) {
    s += e.method + " " + e.url + " " + std::to_string(e.status) + " " + e.error + "\n";
    for (const auto& [k, v] : e.headers) s += "  " + k + ": " + v + "\n";
  }
  return s;
}

TEST(BasicAuth, RequiredRejectedAndAccepted) {
  TempDir dir;
  auto reg = RegistryServer::StartBasic({{"alice", "alice-secret-pw"}});
  ASSERT_TRUE(reg) << RegistryServer::last_error();
  std::string ref = reg->host() + "/private/app:v1";
  std::string module = ocitest::CommandModule("basic");

  PushOptions push;
  push.client = WithCredential(dir, Credential{"alice", "alice-secret-pw", "", "test"});
  Transcript pushed_t;
  push.client.transcript = &pushed_t;
  ASSERT_TRUE(Push(module, ref, push));

  PullOptions anon;
  anon.client = WithCredential(dir, std::nullopt);
  anon.cache_dir = dir.file("cache");
  auto none = Pull(ref, anon);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::AuthRequired);
  EXPECT_FALSE(none.error().places_looked.empty());

  PullOptions wrong = anon;
  wrong.client = WithCredential(dir, Credential{"alice", "not-the-password", "", "test"});
  auto rejected = Pull(ref, wrong);
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().kind, ErrorKind::AuthRejected);
  Client check(wrong.client);
  EXPECT_EQ(check.CheckLogin(reg->host()).error().kind, ErrorKind::AuthRejected);

  PullOptions good = anon;
  good.client = WithCredential(dir, Credential{"alice", "alice-secret-pw", "", "test"});
  Transcript t;
  good.client.transcript = &t;
  auto ok = Pull(ref, good);
  ASSERT_TRUE(ok) << ok.error().message;
  Client login(good.client);
  EXPECT_TRUE(login.CheckLogin(reg->host()));
  std::string text = TranscriptText(t) + TranscriptText(pushed_t);
  EXPECT_EQ(text.find("alice-secret-pw"), std::string::npos) << text;
  EXPECT_EQ(text.find(base::Base64Encode("alice:alice-secret-pw")), std::string::npos) << text;
  EXPECT_EQ(text.find("uthorization"), std::string::npos) << text;
}

TEST(TokenAuth, TokensScopesDeniedAndRejected) {
  TempDir dir;
  TokenServer tokens(dir.str());
  tokens.AddUser("alice", "alice-token-pw", {"pull", "push"});
  tokens.AddUser("bob", "bob-pw", {});
  auto reg = RegistryServer::StartToken(tokens);
  ASSERT_TRUE(reg) << RegistryServer::last_error();
  std::string ref = reg->host() + "/team/wasm-app:v1";

  PushOptions push;
  push.client = WithCredential(dir, Credential{"alice", "alice-token-pw", "", "test"});
  auto pushed = Push(ocitest::CommandModule("token"), ref, push);
  ASSERT_TRUE(pushed) << pushed.error().message;

  PullOptions base;
  base.cache_dir = dir.file("cache");
  base.client = WithCredential(dir, std::nullopt);
  auto none = Pull(ref, base);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::AuthRequired) << none.error().message;

  base.client = WithCredential(dir, Credential{"alice", "wrong", "", "test"});
  auto rejected = Pull(ref, base);
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().kind, ErrorKind::AuthRejected) << rejected.error().message;

  base.client = WithCredential(dir, Credential{"bob", "bob-pw", "", "test"});
  auto denied = Pull(ref, base);
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().kind, ErrorKind::Denied) << denied.error().message;

  base.client = WithCredential(dir, Credential{"alice", "alice-token-pw", "", "test"});
  Transcript t;
  base.client.transcript = &t;
  auto ok = Pull(ref, base);
  ASSERT_TRUE(ok) << ok.error().message;
  bool asked_pull_scope = false;
  for (const auto& s : tokens.last_scopes()) asked_pull_scope = asked_pull_scope || s == "repository:team/wasm-app:pull";
  EXPECT_TRUE(asked_pull_scope);
  std::string text = TranscriptText(t);
  EXPECT_EQ(text.find("alice-token-pw"), std::string::npos) << text;
  EXPECT_NE(text.find("/token?service="), std::string::npos) << text;

  // Tokens are reused within expires_in: a second tag pull asks no new token for the same scope.
  Client client(base.client);
  ASSERT_TRUE(client.ListTags(*ParseReference(ref)));
  int before = tokens.token_requests();
  ASSERT_TRUE(client.ListTags(*ParseReference(ref)));
  EXPECT_EQ(tokens.token_requests(), before);

  // An identity token (docker's `identitytoken`): a refresh token traded at the realm by POST
  // grant_type=refresh_token; the OAuth2 answer carries only access_token.
  auto grant = ocitest::RegistryClient::Raw(
      "POST", tokens.realm(),
      "grant_type=password&access_type=offline&client_id=test&username=alice&password=alice-token-pw&service=" +
          tokens.service() + "&scope=repository:team/wasm-app:pull",
      {"Content-Type: application/x-www-form-urlencoded"}, "");
  ASSERT_EQ(grant.status, 200) << grant.body;
  std::string refresh = nlohmann::json::parse(grant.body).value("refresh_token", "");
  ASSERT_FALSE(refresh.empty()) << grant.body;
  PullOptions by_identity = base;
  by_identity.cache_dir = dir.file("cache-identity");
  by_identity.client = WithCredential(dir, Credential{"", "", refresh, "test"});
  Transcript it;
  by_identity.client.transcript = &it;
  auto identity = Pull(ref, by_identity);
  ASSERT_TRUE(identity) << identity.error().message;
  std::string itext = TranscriptText(it);
  EXPECT_NE(itext.find("POST " + tokens.realm()), std::string::npos) << itext;
  EXPECT_EQ(itext.find(refresh), std::string::npos) << itext;
  by_identity.client = WithCredential(dir, Credential{"", "", "not-a-refresh-token", "test"});
  by_identity.cache_dir = dir.file("cache-identity-2");
  auto bad_identity = Pull(ref, by_identity);
  ASSERT_FALSE(bad_identity);
  EXPECT_EQ(bad_identity.error().kind, ErrorKind::AuthRejected);

  tokens.set_rate_limited(true);
  Client limited(base.client);
  auto rl = limited.ListTags(*ParseReference(ref));
  ASSERT_FALSE(rl);
  EXPECT_EQ(rl.error().kind, ErrorKind::RateLimited);
}

}  // namespace
}  // namespace wasmq::oci
