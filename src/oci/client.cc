// File: src/oci/client.cc
//
// One registry conversation: the /v2/ ping, the auth dance (Basic, or Bearer tokens per scope from the
// challenge's realm), and the distribution API calls. Every non-2xx answer becomes a classified Error:
// the registry's JSON `errors[].code` first (NAME_UNKNOWN, MANIFEST_UNKNOWN, DENIED, TOOMANYREQUESTS, ...),
// then the status.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/digest.h"
#include "base/encoding.h"
#include "base/strings.h"
#include "http/http.h"
#include "json/json.h"
#include "oci/util.h"

namespace wasmq::oci {

using HttpRequest = http::Request;
using HttpResponse = http::Response;
using nlohmann::json;

namespace {

bool IsLoopback(const std::string& registry) {
  std::string host = registry;
  if (host.rfind("[::1]", 0) == 0) return true;
  host = host.substr(0, host.find(':'));
  return host == "localhost" || host == "127.0.0.1" || host.rfind("127.", 0) == 0;
}

// The first errors[].code and message of a distribution error body.
std::pair<std::string, std::string> RegistryCode(const std::string& body) {
  json j = wasmq::json::Parse(body);
  if (j.is_object())
    if (auto e = j.find("errors"); e != j.end() && e->is_array() && !e->empty() && (*e)[0].is_object()) {
      const json& first = (*e)[0];
      std::string code = first.contains("code") && first["code"].is_string() ? first["code"].get<std::string>() : "";
      std::string msg =
          first.contains("message") && first["message"].is_string() ? first["message"].get<std::string>() : "";
      return {code, msg};
    }
  return {};
}

NetworkStage Stage(http::ErrorKind kind) {
  switch (kind) {
    case http::ErrorKind::Dns: return NetworkStage::Dns;
    case http::ErrorKind::Connect: return NetworkStage::Connect;
    case http::ErrorKind::Tls: return NetworkStage::Tls;
    case http::ErrorKind::Timeout: return NetworkStage::Timeout;
    default: return NetworkStage::Other;
  }
}

}  // namespace

struct Client::Impl {
  ClientOptions options;
  std::unique_ptr<http::Client> http;
  std::map<std::string, std::string> scheme;                 // registry → http/https once pinged
  std::map<std::string, std::vector<Challenge>> challenges;  // registry → from the ping
  std::map<std::string, CredentialLookup> credentials;       // registry → lookup (resolved once)
  struct Token {
    std::string value;
    int64_t expires = 0;
  };
  std::map<std::string, Token> tokens;  // registry + " " + scope → bearer token

  std::string Base(const std::string& registry, const Client& c) {
    auto it = scheme.find(registry);
    std::string sch = it != scheme.end() ? it->second : c.SchemeFor(registry);
    std::string host = registry == "docker.io" ? "registry-1.docker.io" : registry;
    return sch + "://" + host;
  }

  // Every registry request: the connect timeout, a stalled transfer (under 1 KiB/s for 30 s) ends even
  // a large blob, retries of idempotent requests on connect failures, 429 and 5xx.
  Result<HttpResponse> Send(HttpRequest req) {
    req.timeouts.connect = http::Millis(options.connect_timeout_ms);
    req.timeouts.low_speed_bytes = 1024;
    req.timeouts.low_speed_time = std::chrono::seconds(30);
    req.retry.retries = options.retries;
    req.retry.backoff = http::Millis(options.retry_backoff_ms);
    HttpResponse r = http->Send(req);
    // A sink that refused a chunk stopped the transfer on purpose; the caller knows why.
    if (!r.error || r.error.kind == http::ErrorKind::Aborted) return r;
    if (r.error.kind == http::ErrorKind::TooLarge)
      return MakeError(ErrorKind::RegistryError, req.method + " " + http::RedactUrl(req.url) + ": " + r.error.reason);
    Error e = MakeError(ErrorKind::Network, req.method + " " + http::RedactUrl(req.url) + ": " + r.error.reason);
    e.network = Stage(r.error.kind);
    return e;
  }
};

Client::Client(ClientOptions options) : impl_(new Impl) {
  impl_->options = std::move(options);
  http::ClientOptions h;
  h.tls_verify = impl_->options.tls_verify;
  h.user_agent = impl_->options.user_agent;
  if (Transcript* t = impl_->options.transcript)
    h.on_exchange = [t](const http::Exchange& x) {
      t->exchanges.push_back({x.method, x.url, x.status, x.headers, x.error, x.elapsed_ms});
    };
  impl_->http = std::make_unique<http::Client>(std::move(h));
}

Client::~Client() { delete impl_; }

const ClientOptions& Client::options() const { return impl_->options; }

std::string Client::SchemeFor(const std::string& registry) const {
  for (const auto& r : impl_->options.insecure_registries)
    if (r == "*" || r == registry || r == registry.substr(0, registry.find(':'))) return "http";
  if (IsLoopback(registry) && !impl_->options.prefer_tls_on_loopback) return "http";
  return "https";
}

Result<PingResult> Client::Ping(const std::string& registry) {
  HttpRequest req;
  req.url = impl_->Base(registry, *this) + "/v2/";
  req.timeouts.total = http::Millis(impl_->options.request_timeout_ms);
  auto resp = impl_->Send(req);
  if (!resp) return resp.error();
  PingResult p;
  p.status = resp->status;
  p.scheme = SchemeFor(registry);
  p.api_version = resp->Header("docker-distribution-api-version");
  if (resp->status == 401) {
    for (const auto& h : resp->headers["www-authenticate"])
      for (auto& c : ParseWwwAuthenticate(h)) p.challenges.push_back(std::move(c));
    impl_->challenges[registry] = p.challenges;
    return p;
  }
  if (resp->status == 200) {
    impl_->challenges[registry] = {};
    return p;
  }
  if (resp->status == 429) {
    Error e = MakeError(ErrorKind::RateLimited, "GET /v2/ on " + registry + ": 429 Too Many Requests");
    e.http_status = 429;
    return e;
  }
  Error e = MakeError(ErrorKind::RegistryError, "GET /v2/ on " + registry + " answered " +
                                                    std::to_string(resp->status) + "; is this an OCI registry?");
  e.http_status = resp->status;
  return e;
}

Result<CredentialLookup> Client::Credentials(const std::string& registry) {
  if (auto it = impl_->credentials.find(registry); it != impl_->credentials.end()) return it->second;
  if (impl_->options.credential_override) {
    CredentialLookup given;
    given.credential = impl_->options.credential_override;
    given.places_looked.push_back("credentials given on the command line");
    impl_->credentials[registry] = given;
    return given;
  }
  auto r = ResolveCredentials(registry, impl_->options.credentials);
  if (!r) return r.error();
  impl_->credentials[registry] = *r;
  return r;
}

namespace {

// Classifies a non-2xx answer. `what` names the request ("manifest v1.0.0 of repo"); `not_found` is the
// kind a bare 404 means for it.
Error Classify(const HttpResponse& r, const std::string& what, ErrorKind not_found, bool had_credentials,
               const std::vector<std::string>& places_looked) {
  auto [code, msg] = RegistryCode(r.body);
  Error e;
  e.http_status = r.status;
  e.registry_code = code;
  std::string detail = std::to_string(r.status) + (code.empty() ? "" : " " + code) + (msg.empty() ? "" : ": " + msg);
  if (code == "NAME_UNKNOWN") e.kind = ErrorKind::RepoNotFound;
  else if (code == "MANIFEST_UNKNOWN") e.kind = ErrorKind::ManifestNotFound;
  else if (code == "BLOB_UNKNOWN") e.kind = ErrorKind::BlobNotFound;
  else if (code == "TOOMANYREQUESTS" || r.status == 429) e.kind = ErrorKind::RateLimited;
  else if (code == "DENIED" || r.status == 403) e.kind = ErrorKind::Denied;
  else if (r.status == 401 || code == "UNAUTHORIZED") {
    bool insufficient = false;
    for (const auto& h : r.headers.count("www-authenticate") ? r.headers.at("www-authenticate") : std::vector<std::string>{})
      for (const auto& c : ParseWwwAuthenticate(h)) insufficient = insufficient || c.Param("error") == "insufficient_scope";
    if (!had_credentials) {
      e.kind = ErrorKind::AuthRequired;
      e.places_looked = places_looked;
    } else {
      e.kind = insufficient ? ErrorKind::Denied : ErrorKind::AuthRejected;
    }
  } else if (r.status == 404) e.kind = not_found;
  else e.kind = ErrorKind::RegistryError;
  e.message = what + ": " + detail;
  if (e.kind == ErrorKind::AuthRequired) e.message = what + ": the registry requires credentials and none were found";
  return e;
}

}  // namespace

// Sends a request with the registry's auth for `scope`, authenticating on a 401 and retrying once.
class Conversation {
 public:
  Conversation(Client& client, Client::Impl& impl) : c_(client), i_(impl) {}

  Result<HttpResponse> Call(const Reference& ref, const std::string& scope, HttpRequest req, const std::string& what,
                            ErrorKind not_found, std::vector<int> ok_statuses = {}) {
    if (!i_.challenges.count(ref.registry)) {
      auto p = c_.Ping(ref.registry);
      if (!p) return p.error();
    }
    bool credentials_used = false;
    for (int attempt = 0; attempt < 2; ++attempt) {
      HttpRequest r = req;
      auto auth = AuthHeader(ref.registry, scope, attempt > 0, &credentials_used);
      if (!auth) return auth.error();
      if (!auth->empty()) r.headers.push_back("Authorization: " + *auth);
      auto resp = i_.Send(r);
      if (!resp) return resp.error();
      bool ok = (resp->status >= 200 && resp->status < 300);
      for (int s : ok_statuses) ok = ok || resp->status == s;
      if (ok) return resp;
      if (resp->status == 401 && attempt == 0) {
        // A fresh challenge (e.g. a scope the ping did not name): remember it and retry with a new token.
        std::vector<Challenge> ch;
        for (const auto& h : resp->headers["www-authenticate"])
          for (auto& x : ParseWwwAuthenticate(h)) ch.push_back(std::move(x));
        if (!ch.empty()) i_.challenges[ref.registry] = ch;
        i_.tokens.erase(ref.registry + " " + scope);
        if (!ch.empty()) continue;
      }
      auto looked = Looked(ref.registry);
      return Classify(*resp, what, not_found, credentials_used, looked);
    }
    return MakeError(ErrorKind::RegistryError, what + ": authentication loop");
  }

  // The Authorization value for a request, "" for anonymous.
  Result<std::string> AuthHeader(const std::string& registry, const std::string& scope, bool force,
                                 bool* credentials_used) {
    const auto& challenges = i_.challenges[registry];
    const Challenge* bearer = nullptr;
    const Challenge* basic = nullptr;
    for (const auto& ch : challenges) {
      if (base::IEquals(ch.scheme, "bearer")) bearer = &ch;
      if (base::IEquals(ch.scheme, "basic")) basic = &ch;
    }
    if (!bearer && !basic) return std::string();
    auto creds = c_.Credentials(registry);
    if (!creds) return creds.error();
    const std::optional<Credential>& cred = creds->credential;
    if (bearer) {
      std::string key = registry + " " + scope;
      if (auto it = i_.tokens.find(key); !force && it != i_.tokens.end() && it->second.expires > internal::NowSeconds())
        return "Bearer " + it->second.value;
      auto token = FetchToken(*bearer, scope, cred, registry);
      if (!token) return token.error();
      *credentials_used = cred.has_value();
      return "Bearer " + *token;
    }
    if (!cred || cred->password.empty()) {
      Error e = MakeError(ErrorKind::AuthRequired, registry + " requires credentials (Basic) and none were found");
      e.places_looked = creds->places_looked;
      e.http_status = 401;
      return e;
    }
    *credentials_used = true;
    return "Basic " + base::Base64Encode(cred->username + ":" + cred->password);
  }

  // GET realm?service&scope with Basic credentials, or POST grant_type=refresh_token with an identity
  // token; the answer's `token` or `access_token`, cached for `expires_in` (60 s when absent).
  Result<std::string> FetchToken(const Challenge& ch, const std::string& scope, const std::optional<Credential>& cred,
                                 const std::string& registry) {
    std::string realm = ch.Param("realm");
    if (realm.empty()) return MakeError(ErrorKind::RegistryError, registry + ": Bearer challenge without realm");
    std::string service = ch.Param("service");
    HttpRequest req;
    req.timeouts.total = http::Millis(i_.options.request_timeout_ms);
    if (cred && !cred->identity_token.empty()) {
      req.method = "POST";
      req.url = realm;
      std::string form = "grant_type=refresh_token&client_id=wasmq&service=" + base::PercentEncode(service) +
                         "&scope=" + base::PercentEncode(scope) + "&refresh_token=" + base::PercentEncode(cred->identity_token);
      req.body = form;
      req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    } else {
      req.url = realm + (realm.find('?') == std::string::npos ? "?" : "&") + "service=" + base::PercentEncode(service);
      if (!scope.empty()) req.url += "&scope=" + base::PercentEncode(scope);
      if (cred && !cred->password.empty())
        req.headers.push_back("Authorization: Basic " + base::Base64Encode(cred->username + ":" + cred->password));
    }
    auto resp = i_.Send(req);
    if (!resp) return resp.error();
    if (resp->status == 401 || resp->status == 403) {
      Error e;
      if (cred) {
        e = MakeError(ErrorKind::AuthRejected, "token endpoint " + http::RedactUrl(realm) + " rejected the credentials from " +
                                                   cred->source + " (" + std::to_string(resp->status) + ")");
      } else {
        e = MakeError(ErrorKind::AuthRequired, "token endpoint " + http::RedactUrl(realm) +
                                                   " refused an anonymous token; credentials are required");
        e.places_looked = Looked(registry);
      }
      e.http_status = resp->status;
      return e;
    }
    if (resp->status == 429) return MakeError(ErrorKind::RateLimited, "token endpoint: 429 Too Many Requests");
    if (resp->status < 200 || resp->status >= 300) {
      Error e = MakeError(ErrorKind::RegistryError, "token endpoint answered " + std::to_string(resp->status));
      e.http_status = resp->status;
      return e;
    }
    json j = wasmq::json::Parse(resp->body);
    std::string token;
    if (j.is_object()) {
      if (j.contains("token") && j["token"].is_string()) token = j["token"].get<std::string>();
      if (token.empty() && j.contains("access_token") && j["access_token"].is_string())
        token = j["access_token"].get<std::string>();
    }
    if (token.empty()) return MakeError(ErrorKind::RegistryError, "token endpoint answer has no token");
    int64_t expires_in = 60;
    if (j.contains("expires_in") && j["expires_in"].is_number_integer()) expires_in = j["expires_in"].get<int64_t>();
    // Refresh a little early; a token that expires within 10 s is used once and not cached.
    i_.tokens[registry + " " + scope] = {token, internal::NowSeconds() + std::max<int64_t>(0, expires_in - 10)};
    return token;
  }

  std::vector<std::string> Looked(const std::string& registry) {
    auto creds = c_.Credentials(registry);
    return creds ? creds->places_looked : std::vector<std::string>{};
  }

 private:
  Client& c_;
  Client::Impl& i_;
};

namespace {
std::string PullScope(const Reference& ref) { return "repository:" + ref.repository + ":pull"; }
std::string PushScope(const Reference& ref) { return "repository:" + ref.repository + ":pull,push"; }
}  // namespace

Result<void> Client::Authenticate(const Reference& ref, const std::string& actions) {
  auto p = Ping(ref.registry);
  if (!p) return p.error();
  Conversation conv(*this, *impl_);
  bool used = false;
  auto h = conv.AuthHeader(ref.registry, "repository:" + ref.repository + ":" + actions, true, &used);
  if (!h) return h.error();
  if (h->rfind("Basic ", 0) == 0) {  // Basic: a ping with the credentials tells whether they are accepted
    HttpRequest req;
    req.url = impl_->Base(ref.registry, *this) + "/v2/";
    req.headers.push_back("Authorization: " + *h);
    req.timeouts.total = http::Millis(impl_->options.request_timeout_ms);
    auto r = impl_->Send(req);
    if (!r) return r.error();
    if (r->status == 401) {
      Error e = MakeError(ErrorKind::AuthRejected, ref.registry + " rejected the credentials (401)");
      e.http_status = 401;
      return e;
    }
  }
  return {};
}

Result<void> Client::CheckLogin(const std::string& registry) {
  auto p = Ping(registry);
  if (!p) return p.error();
  if (p->status == 200) return {};
  Conversation conv(*this, *impl_);
  bool used = false;
  auto h = conv.AuthHeader(registry, "", true, &used);
  if (!h) return h.error();
  HttpRequest req;
  req.url = impl_->Base(registry, *this) + "/v2/";
  if (!h->empty()) req.headers.push_back("Authorization: " + *h);
  req.timeouts.total = http::Millis(impl_->options.request_timeout_ms);
  auto r = impl_->Send(req);
  if (!r) return r.error();
  if (r->status == 401 || r->status == 403) {
    Error e = MakeError(ErrorKind::AuthRejected, registry + " rejected the credentials (" + std::to_string(r->status) + ")");
    e.http_status = r->status;
    return e;
  }
  if (r->status != 200) {
    Error e = MakeError(ErrorKind::RegistryError, "GET /v2/ with credentials answered " + std::to_string(r->status));
    e.http_status = r->status;
    return e;
  }
  return {};
}

Result<std::vector<std::string>> Client::ListTags(const Reference& ref) {
  Conversation conv(*this, *impl_);
  std::vector<std::string> tags;
  std::string base = impl_->Base(ref.registry, *this);
  std::string path = "/v2/" + ref.repository + "/tags/list";
  for (int page = 0; page < 1000 && !path.empty(); ++page) {
    HttpRequest req;
    req.url = base + path;
    req.timeouts.total = http::Millis(impl_->options.request_timeout_ms);
    auto r = conv.Call(ref, PullScope(ref), req, "tags of " + ref.registry + "/" + ref.repository, ErrorKind::RepoNotFound);
    if (!r) return r.error();
    json j = wasmq::json::Parse(r->body);
    if (!j.is_object()) return MakeError(ErrorKind::RegistryError, "tags list is not JSON");
    if (auto t = j.find("tags"); t != j.end() && t->is_array())
      for (const auto& v : *t)
        if (v.is_string()) tags.push_back(v.get<std::string>());
    path.clear();
    std::string link = r->Header("link");  // </v2/repo/tags/list?last=x&n=y>; rel="next"
    if (auto lt = link.find('<'), gt = link.find('>'); lt != std::string::npos && gt != std::string::npos && gt > lt)
      path = link.substr(lt + 1, gt - lt - 1);
    if (path.rfind("http", 0) == 0) {
      auto slash = path.find('/', path.find("://") + 3);
      path = slash == std::string::npos ? "" : path.substr(slash);
    }
  }
  return tags;
}

Result<FetchedManifest> Client::GetManifest(const Reference& ref, const std::string& identifier) {
  Conversation conv(*this, *impl_);
  HttpRequest req;
  req.url = impl_->Base(ref.registry, *this) + "/v2/" + ref.repository + "/manifests/" + identifier;
  req.headers.push_back("Accept: " + media::ManifestAccept());
  req.timeouts.total = http::Millis(impl_->options.request_timeout_ms);
  auto r = conv.Call(ref, PullScope(ref), req, "manifest " + ref.registry + "/" + ref.repository + ":" + identifier,
                     ErrorKind::ManifestNotFound);
  if (!r) return r.error();
  FetchedManifest out;
  out.bytes = std::move(r->body);
  out.content_type = r->Header("content-type");
  std::string computed = Sha256Digest(out.bytes);
  if (IsDigest(identifier) && computed != identifier) {
    Error e = MakeError(ErrorKind::DigestMismatch,
                        "manifest " + identifier + " from " + ref.registry + " has digest " + computed);
    return e;
  }
  out.digest = computed;
  auto m = ParseManifest(out.bytes, out.content_type);
  if (!m) return m.error();
  out.manifest = std::move(*m);
  return out;
}

Result<FetchedManifest> Client::GetReferrers(const Reference& ref, const std::string& digest,
                                             const std::string& artifact_type) {
  if (!IsDigest(digest))
    return MakeError(ErrorKind::InvalidArgument, "referrers of '" + digest + "': not a digest");
  Conversation conv(*this, *impl_);
  HttpRequest req;
  req.url = impl_->Base(ref.registry, *this) + "/v2/" + ref.repository + "/referrers/" + digest;
  if (!artifact_type.empty()) req.url += "?artifactType=" + base::PercentEncode(artifact_type);
  req.headers.push_back("Accept: " + std::string(media::kOciIndex));
  req.timeouts.total = http::Millis(impl_->options.request_timeout_ms);
  auto r = conv.Call(ref, PullScope(ref), req,
                     "referrers of " + ref.registry + "/" + ref.repository + "@" + digest,
                     ErrorKind::ManifestNotFound);
  if (!r) return r.error();
  FetchedManifest out;
  out.bytes = std::move(r->body);
  out.content_type = r->Header("content-type");
  out.digest = Sha256Digest(out.bytes);
  auto m =
      ParseManifest(out.bytes, out.content_type.empty() ? std::string(media::kOciIndex) : out.content_type);
  if (!m) return m.error();
  if (!m->IsIndex())
    return MakeError(ErrorKind::RegistryError, "referrers of " + digest + ": the answer is not an OCI index");
  out.manifest = std::move(*m);
  return out;
}

Result<std::string> Client::ResolveDigest(const Reference& ref, const std::string& identifier) {
  Conversation conv(*this, *impl_);
  HttpRequest req;
  req.method = "HEAD";
  req.url = impl_->Base(ref.registry, *this) + "/v2/" + ref.repository + "/manifests/" + identifier;
  req.headers.push_back("Accept: " + media::ManifestAccept());
  req.timeouts.total = http::Millis(impl_->options.request_timeout_ms);
  auto r = conv.Call(ref, PullScope(ref), req, "manifest " + ref.registry + "/" + ref.repository + ":" + identifier,
                     ErrorKind::ManifestNotFound);
  if (!r) return r.error();
  std::string d = r->Header("docker-content-digest");
  if (!IsDigest(d)) {  // some registries omit it on HEAD: fall back to GET
    auto m = GetManifest(ref, identifier);
    if (!m) return m.error();
    return m->digest;
  }
  return d;
}

Result<std::string> Client::GetBlob(const Reference& ref, const std::string& digest) {
  Conversation conv(*this, *impl_);
  HttpRequest req;
  req.url = impl_->Base(ref.registry, *this) + "/v2/" + ref.repository + "/blobs/" + digest;
  req.follow_redirects = true;
  req.timeouts.total = http::Millis(impl_->options.request_timeout_ms);
  req.max_body_bytes = SIZE_MAX;  // the caller asked for it in memory
  auto r = conv.Call(ref, PullScope(ref), req, "blob " + digest, ErrorKind::BlobNotFound);
  if (!r) return r.error();
  std::string got = Sha256Digest(r->body);
  if (got != digest)
    return MakeError(ErrorKind::DigestMismatch, "blob " + digest + " from " + ref.registry + " has digest " + got);
  return std::move(r->body);
}

Result<void> Client::DownloadBlob(const Reference& ref, const Descriptor& blob, const std::string& dest) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dest).parent_path(), ec);
  base::Sha256Hasher hash;
  int64_t have = 0;
  {  // hash the prefix left by an interrupted download
    std::ifstream in(dest, std::ios::binary);
    char buf[65536];
    while (in) {
      in.read(buf, sizeof buf);
      if (in.gcount() <= 0) break;
      hash.Update(std::string_view(buf, static_cast<size_t>(in.gcount())));
      have += in.gcount();
    }
  }
  if (blob.size > 0 && have > blob.size) {  // longer than the blob: garbage, start over
    std::filesystem::remove(dest, ec);
    return DownloadBlob(ref, blob, dest);
  }
  std::FILE* out = std::fopen(dest.c_str(), "ab");
  if (!out) return MakeError(ErrorKind::Io, "cannot write " + dest);
  Conversation conv(*this, *impl_);
  HttpRequest req;
  req.url = impl_->Base(ref.registry, *this) + "/v2/" + ref.repository + "/blobs/" + blob.digest;
  req.follow_redirects = true;
  if (have > 0 && (blob.size == 0 || have < blob.size)) req.headers.push_back("Range: bytes=" + std::to_string(have) + "-");
  req.max_body_bytes = SIZE_MAX;  // streamed; the sink stops a blob longer than its descriptor
  int64_t done = have, received = 0;
  bool write_failed = false, too_long = false;
  req.sink = [&](std::string_view chunk) {
    received += static_cast<int64_t>(chunk.size());
    if (blob.size > 0 && received > blob.size) {
      too_long = true;
      return false;
    }
    if (std::fwrite(chunk.data(), 1, chunk.size(), out) != chunk.size()) {
      write_failed = true;
      return false;
    }
    hash.Update(chunk);
    done += static_cast<int64_t>(chunk.size());
    if (impl_->options.progress) impl_->options.progress(done, blob.size);
    return true;
  };
  const bool complete = have > 0 && blob.size > 0 && have == blob.size;
  Result<HttpResponse> r = complete ? Result<HttpResponse>(HttpResponse{})  // only verify what is there
                                    : conv.Call(ref, PullScope(ref), req, "blob " + blob.digest,
                                                ErrorKind::BlobNotFound, {416});
  std::fclose(out);
  if (!r) return r.error();
  if (write_failed) return MakeError(ErrorKind::Io, "cannot write " + dest);
  if (too_long) {
    std::filesystem::remove(dest, ec);
    return MakeError(ErrorKind::DigestMismatch, "blob " + blob.digest + " from " + ref.registry + " is longer than its " +
                                                    std::to_string(blob.size) + " bytes; nothing was cached");
  }
  if (have > 0 && !complete && r->status == 200) {
    // The server ignored Range and sent the whole blob after our prefix: keep only the new copy.
    std::string all;
    internal::ReadFile(dest, &all);
    std::string fresh = all.substr(static_cast<size_t>(have));
    std::string got = Sha256Digest(fresh);
    if (got != blob.digest) {
      std::filesystem::remove(dest, ec);
      return MakeError(ErrorKind::DigestMismatch, "blob " + blob.digest + " from " + ref.registry + " has digest " + got);
    }
    return internal::WriteFileAtomic(dest, fresh);
  }
  std::string got = "sha256:" + hash.FinishHex();
  if (got != blob.digest) {
    std::filesystem::remove(dest, ec);
    return MakeError(ErrorKind::DigestMismatch,
                     "blob " + blob.digest + " from " + ref.registry + " has digest " + got + "; nothing was cached");
  }
  return {};
}

Result<void> Client::PushBlob(const Reference& ref, const std::string& digest, std::string_view bytes,
                              const std::string& mount_from) {
  Conversation conv(*this, *impl_);
  std::string base = impl_->Base(ref.registry, *this);
  std::string scope = PushScope(ref);
  HttpRequest head;
  head.method = "HEAD";
  head.url = base + "/v2/" + ref.repository + "/blobs/" + digest;
  head.timeouts.total = http::Millis(impl_->options.request_timeout_ms);
  auto h = conv.Call(ref, scope, head, "blob " + digest, ErrorKind::BlobNotFound, {404});
  if (!h) return h.error();
  if (h->status == 200) return {};
  HttpRequest post;
  post.method = "POST";
  post.url = base + "/v2/" + ref.repository + "/blobs/uploads/";
  if (!mount_from.empty()) post.url += "?mount=" + digest + "&from=" + base::PercentEncode(mount_from);
  post.timeouts.total = http::Millis(impl_->options.request_timeout_ms);
  auto p = conv.Call(ref, scope, post, "upload to " + ref.repository, ErrorKind::RepoNotFound);
  if (!p) return p.error();
  if (p->status == 201) return {};  // mounted
  std::string location = p->Header("location");
  if (location.empty()) return MakeError(ErrorKind::RegistryError, "upload start answered without Location");
  if (location.rfind("http", 0) != 0) location = base + location;
  HttpRequest put;
  put.method = "PUT";
  put.url = location + (location.find('?') == std::string::npos ? "?" : "&") + "digest=" + base::PercentEncode(digest);
  // Streamed from the caller's bytes rather than copied: a layer may be large.
  put.body_reader.size = static_cast<int64_t>(bytes.size());
  put.body_reader.read = [bytes](int64_t offset, char* buf, size_t max) {
    size_t at = std::min(bytes.size(), static_cast<size_t>(offset));
    size_t n = std::min(max, bytes.size() - at);
    std::memcpy(buf, bytes.data() + at, n);
    return n;
  };
  put.headers.push_back("Content-Type: application/octet-stream");
  auto u = conv.Call(ref, scope, put, "upload of " + digest, ErrorKind::RepoNotFound);
  if (!u) return u.error();
  return {};
}

Result<std::string> Client::PutManifest(const Reference& ref, const std::string& media_type, std::string_view bytes) {
  Conversation conv(*this, *impl_);
  HttpRequest put;
  put.method = "PUT";
  put.url = impl_->Base(ref.registry, *this) + "/v2/" + ref.repository + "/manifests/" + ref.Identifier();
  put.body = std::string(bytes);
  put.headers.push_back("Content-Type: " + media_type);
  put.timeouts.total = http::Millis(impl_->options.request_timeout_ms);
  auto r = conv.Call(ref, PushScope(ref), put, "manifest upload to " + ref.String(), ErrorKind::RepoNotFound);
  if (!r) return r.error();
  std::string d = r->Header("docker-content-digest");
  return IsDigest(d) ? d : Sha256Digest(bytes);
}

}  // namespace wasmq::oci
