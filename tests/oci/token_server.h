// File: tests/oci/token_server.h
//
// Small servers the OCI tests run on 127.0.0.1 (free ports, one thread each, stopped in the destructor):
//
//   TinyHttpServer  any HTTP/1.1 behaviour a test needs, as a handler function: a registry stand-in that
//                   answers 500 or 429, a server that lies about a blob's digest, a redirecting blob store.
//                   One request per connection (it answers `Connection: close`), so every client works.
//   TokenServer     a Docker registry token server (the "Bearer" realm of distribution's `auth: token`):
//                   it makes a root CA and an ES256 leaf certificate at start, writes the root bundle for
//                   the registry's `rootcertbundle`, checks Basic credentials on
//                   GET realm?service=&scope=  (and the OAuth2 POST form: grant_type=password|refresh_token)
//                   and answers {"token","access_token","expires_in","issued_at"} with an ES256 JWT whose
//                   header carries "x5c" (leaf, then CA). Rights are per user: the granted actions are the
//                   requested ones the user has (a user with no rights gets a token with an empty access
//                   list, which the registry refuses with insufficient_scope: the `denied` case).
//
//   TokenServer tokens(dir);                             // dir: where root.pem goes
//   tokens.AddUser("alice", "secret", {"pull", "push"});
//   auto registry = RegistryServer::StartToken(tokens);  // registry_harness.h
//   tokens.set_rate_limited(true);                       // every token request now answers 429
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace wasmq::ocitest {

struct HttpRequest {
  std::string method;
  std::string target;  // as sent: path and query
  std::string path;    // target without the query
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  // Percent-decoded values of a query (or form body) parameter, in order.
  std::vector<std::string> QueryValues(const std::string& name) const;
  std::string QueryValue(const std::string& name) const;  // the first, or ""
  std::string Header(const std::string& lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Decodes application/x-www-form-urlencoded pairs ("a=1&b=x%20y").
std::vector<std::pair<std::string, std::string>> ParseForm(const std::string& text);

class TinyHttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Listens on a free loopback port at once; the handler runs on the server's thread.
  explicit TinyHttpServer(Handler handler);
  ~TinyHttpServer();
  TinyHttpServer(const TinyHttpServer&) = delete;
  TinyHttpServer& operator=(const TinyHttpServer&) = delete;

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string url() const { return "http://" + host(); }
  int requests() const { return requests_.load(); }

 private:
  void Serve();
  void HandleConnection(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

class TokenServer {
 public:
  // Makes the keys and certificates and writes DIR/token-root.pem; listens on a free port.
  explicit TokenServer(const std::string& dir, std::string service = "wasmq-test-registry",
                       std::string issuer = "wasmq-test-token-issuer");
  ~TokenServer();

  // A user and the actions it gets on every repository ({"pull","push"}, {"pull"}, or {} for none).
  void AddUser(const std::string& name, const std::string& password, std::set<std::string> actions);
  // While on, every token request answers 429 Too Many Requests (with Retry-After and Docker Hub's body).
  void set_rate_limited(bool on) { rate_limited_ = on; }
  // While on, anonymous requests (no Authorization) get a token too, with every action.
  void set_allow_anonymous(bool on) { allow_anonymous_ = on; }

  std::string realm() const { return http_->url() + "/token"; }
  const std::string& service() const { return service_; }
  const std::string& issuer() const { return issuer_; }
  const std::string& root_bundle_path() const { return root_bundle_path_; }
  int port() const { return http_->port(); }
  int token_requests() const { return token_requests_.load(); }
  // The scopes of the last token request, as sent (for tests of what a client asked for).
  std::vector<std::string> last_scopes() const;

 private:
  struct Keys;
  HttpResponse Handle(const HttpRequest& req);
  HttpResponse Issue(const std::string& user, const std::vector<std::string>& scopes, bool oauth_form,
                     bool offline);
  std::string SignJwt(const std::string& claims_json) const;

  std::string service_;
  std::string issuer_;
  std::string root_bundle_path_;
  std::unique_ptr<Keys> keys_;
  mutable std::mutex mu_;
  std::map<std::string, std::pair<std::string, std::set<std::string>>> users_;  // name → (password, actions)
  std::map<std::string, std::string> refresh_tokens_;                           // token → user
  std::vector<std::string> last_scopes_;
  std::atomic<bool> rate_limited_{false};
  std::atomic<bool> allow_anonymous_{false};
  std::atomic<int> token_requests_{0};
  std::unique_ptr<TinyHttpServer> http_;  // last: stops first, before the state its handler reads
};

}  // namespace wasmq::ocitest
