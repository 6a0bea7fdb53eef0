// File: tests/oci/token_server.cc
//
// TinyHttpServer (a blocking accept loop on one thread, one request per connection) and TokenServer
// (distribution's token protocol with ES256 JWTs carrying an x5c chain). See token_server.h.
#include "token_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace wasmq::ocitest {
namespace {

std::string PercentDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

std::string Base64Url(const std::string& s) {
  std::string b = Base64(reinterpret_cast<const unsigned char*>(s.data()), s.size());
  while (!b.empty() && b.back() == '=') b.pop_back();
  for (char& c : b) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return b;
}

// Standard base64 with padding; nullopt-like empty + ok=false on bad input.
bool Base64Decode(const std::string& in, std::string* out) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    size_t v = kAlphabet.find(c);
    if (v == std::string::npos) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

std::string RandomHex(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  RAND_bytes(buf.data(), static_cast<int>(buf.size()));
  std::string out;
  char two[3];
  for (unsigned char b : buf) {
    std::snprintf(two, sizeof two, "%02x", b);
    out += two;
  }
  return out;
}

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

}  // namespace

// ---- HttpRequest ------------------------------------------------------------------------------------------

std::vector<std::pair<std::string, std::string>> ParseForm(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t amp = text.find('&', start);
    std::string pair = text.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      out.emplace_back(PercentDecode(pair.substr(0, eq)),
                       eq == std::string::npos ? "" : PercentDecode(pair.substr(eq + 1)));
    }
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  return out;
}

std::vector<std::string> HttpRequest::QueryValues(const std::string& name) const {
  std::vector<std::string> out;
  size_t q = target.find('?');
  if (q != std::string::npos)
    for (auto& [k, v] : ParseForm(target.substr(q + 1)))
      if (k == name) out.push_back(v);
  if (method == "POST")
    for (auto& [k, v] : ParseForm(body))
      if (k == name) out.push_back(v);
  return out;
}

std::string HttpRequest::QueryValue(const std::string& name) const {
  auto all = QueryValues(name);
  return all.empty() ? "" : all.front();
}

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

// ---- TinyHttpServer ---------------------------------------------------------------------------------------

TinyHttpServer::TinyHttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listen_fd_, 64) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("TinyHttpServer: cannot listen on 127.0.0.1");
  port_ = ntohs(a.sin_port);
  if (pipe(stop_pipe_) != 0) throw std::runtime_error("TinyHttpServer: pipe failed");
  thread_ = std::thread([this] { Serve(); });
}

TinyHttpServer::~TinyHttpServer() {
  if (write(stop_pipe_[1], "x", 1) != 1) { /* the thread also stops when the fd closes below */ }
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  close(stop_pipe_[0]);
  close(stop_pipe_[1]);
}

void TinyHttpServer::Serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    HandleConnection(fd);
    close(fd);
  }
}

void TinyHttpServer::HandleConnection(int fd) {
  // A client that never finishes its request must not hold the server forever.
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string in;
  char buf[8192];
  size_t header_end = std::string::npos;
  while ((header_end = in.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return;
    in.append(buf, static_cast<size_t>(n));
    if (in.size() > (1 << 20)) return;
  }
  HttpRequest req;
  std::string head = in.substr(0, header_end);
  size_t eol = head.find("\r\n");
  std::string line = head.substr(0, eol);
  size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string::npos || sp2 == sp1) return;
  req.method = line.substr(0, sp1);
  req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  req.path = req.target.substr(0, req.target.find('?'));
  size_t pos = eol == std::string::npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    size_t next = head.find("\r\n", pos);
    if (next == std::string::npos) next = head.size();
    std::string h = head.substr(pos, next - pos);
    size_t colon = h.find(':');
    if (colon != std::string::npos) {
      size_t v = h.find_first_not_of(' ', colon + 1);
      req.headers[Lower(h.substr(0, colon))] = v == std::string::npos ? "" : h.substr(v);
    }
    pos = next + 2;
  }
  req.body = in.substr(header_end + 4);
  size_t want = 0;
  if (auto it = req.headers.find("content-length"); it != req.headers.end()) want = std::stoul(it->second);
  while (req.body.size() < want) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return;
    req.body.append(buf, static_cast<size_t>(n));
  }
  ++requests_;
  HttpResponse resp = handler_(req);
  std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + Reason(resp.status) + "\r\n";
  bool has_length = false;
  for (auto& [k, v] : resp.headers) {
    out += k + ": " + v + "\r\n";
    if (Lower(k) == "content-length") has_length = true;
  }
  if (!has_length) out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  if (req.method != "HEAD") out += resp.body;
  size_t sent = 0;
  while (sent < out.size()) {
    ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
}

// ---- TokenServer: keys and certificates -------------------------------------------------------------------

struct TokenServer::Keys {
  EVP_PKEY* ca_key = nullptr;
  EVP_PKEY* leaf_key = nullptr;
  X509* ca_cert = nullptr;
  X509* leaf_cert = nullptr;
  ~Keys() {
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(leaf_key);
    X509_free(ca_cert);
    X509_free(leaf_cert);
  }
};

namespace {

void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) throw std::runtime_error("TokenServer: bad certificate extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A v3 certificate for `key`, signed by `signer_key` (self-signed when issuer is null).
X509* MakeCert(EVP_PKEY* key, const char* common_name, X509* issuer, EVP_PKEY* signer_key, bool is_ca) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  BIGNUM* serial = BN_new();
  BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);  // positive, as Go's x509 wants
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert));
  BN_free(serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name), -1,
                             -1, 0);
  X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(cert, key);
  X509* ext_issuer = issuer ? issuer : cert;
  if (is_ca) {
    AddExtension(cert, ext_issuer, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(cert, ext_issuer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  } else {
    AddExtension(cert, ext_issuer, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(cert, ext_issuer, NID_key_usage, "critical,digitalSignature");
  }
  AddExtension(cert, ext_issuer, NID_subject_key_identifier, "hash");
  if (!X509_sign(cert, signer_key, EVP_sha256())) throw std::runtime_error("TokenServer: X509_sign failed");
  return cert;
}

std::string CertDerBase64(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  std::string out = Base64(der, static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

}  // namespace

TokenServer::TokenServer(const std::string& dir, std::string service, std::string issuer)
    : service_(std::move(service)), issuer_(std::move(issuer)), keys_(std::make_unique<Keys>()) {
  keys_->ca_key = EVP_EC_gen("P-256");
  keys_->leaf_key = EVP_EC_gen("P-256");
  if (!keys_->ca_key || !keys_->leaf_key) throw std::runtime_error("TokenServer: EC key generation failed");
  keys_->ca_cert = MakeCert(keys_->ca_key, "wasmq test token CA", nullptr, keys_->ca_key, true);
  keys_->leaf_cert = MakeCert(keys_->leaf_key, "wasmq test token signer", keys_->ca_cert, keys_->ca_key, false);
  root_bundle_path_ = dir + "/token-root.pem";
  FILE* f = std::fopen(root_bundle_path_.c_str(), "w");
  if (!f || !PEM_write_X509(f, keys_->ca_cert)) throw std::runtime_error("TokenServer: cannot write " + root_bundle_path_);
  std::fclose(f);
  http_ = std::make_unique<TinyHttpServer>([this](const HttpRequest& r) { return Handle(r); });
}

TokenServer::~TokenServer() { http_.reset(); }

void TokenServer::AddUser(const std::string& name, const std::string& password, std::set<std::string> actions) {
  std::lock_guard l(mu_);
  users_[name] = {password, std::move(actions)};
}

std::vector<std::string> TokenServer::last_scopes() const {
  std::lock_guard l(mu_);
  return last_scopes_;
}

// ---- TokenServer: the protocol ----------------------------------------------------------------------------

namespace {

HttpResponse JsonError(int status, const std::string& code, const std::string& message) {
  nlohmann::json body = {{"errors", {{{"code", code}, {"message", message}, {"detail", nullptr}}}}};
  return {status, {{"Content-Type", "application/json"}}, body.dump()};
}

}  // namespace

HttpResponse TokenServer::Handle(const HttpRequest& req) {
  if (req.path != "/token") return JsonError(404, "NOT_FOUND", "no such endpoint");
  ++token_requests_;
  if (rate_limited_) {
    HttpResponse r = JsonError(429, "TOOMANYREQUESTS",
                               "You have reached your pull rate limit. You may increase the limit by "
                               "authenticating and upgrading");
    r.headers.emplace_back("Retry-After", "60");
    return r;
  }
  std::vector<std::string> scopes = req.QueryValues("scope");
  // The OAuth2 form may put several scopes in one space-separated value.
  std::vector<std::string> split;
  for (const std::string& s : scopes) {
    size_t start = 0;
    while (start < s.size()) {
      size_t sp = s.find(' ', start);
      std::string one = s.substr(start, sp == std::string::npos ? std::string::npos : sp - start);
      if (!one.empty()) split.push_back(one);
      if (sp == std::string::npos) break;
      start = sp + 1;
    }
  }
  {
    std::lock_guard l(mu_);
    last_scopes_ = split;
  }
  if (req.QueryValue("service") != service_) return JsonError(400, "INVALID_REQUEST", "unknown service");

  std::lock_guard l(mu_);
  if (req.method == "POST") {  // OAuth2: password or refresh_token grant
    const std::string grant = req.QueryValue("grant_type");
    bool offline = req.QueryValue("access_type") == "offline";
    if (grant == "refresh_token") {
      auto it = refresh_tokens_.find(req.QueryValue("refresh_token"));
      if (it == refresh_tokens_.end()) return JsonError(401, "UNAUTHORIZED", "invalid refresh token");
      return Issue(it->second, split, true, false);
    }
    if (grant == "password") {
      auto it = users_.find(req.QueryValue("username"));
      if (it == users_.end() || it->second.first != req.QueryValue("password"))
        return JsonError(401, "UNAUTHORIZED", "authentication failed");
      return Issue(it->first, split, true, offline);
    }
    return JsonError(400, "UNSUPPORTED_GRANT_TYPE", "unsupported grant_type");
  }

  const std::string auth = req.Header("authorization");
  if (auth.empty()) {
    if (allow_anonymous_) return Issue("", split, false, false);
    HttpResponse r = JsonError(401, "UNAUTHORIZED", "authentication required");
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"wasmq test token server\"");
    return r;
  }
  std::string decoded;
  if (!auth.starts_with("Basic ") || !Base64Decode(auth.substr(6), &decoded) ||
      decoded.find(':') == std::string::npos)
    return JsonError(401, "UNAUTHORIZED", "Basic credentials expected");
  const std::string user = decoded.substr(0, decoded.find(':'));
  const std::string password = decoded.substr(decoded.find(':') + 1);
  auto it = users_.find(user);
  if (it == users_.end() || it->second.first != password)
    return JsonError(401, "UNAUTHORIZED", "authentication failed");
  return Issue(user, split, false, req.QueryValue("offline_token") == "true");
}

// Called with mu_ held. `user` empty: anonymous (every action, when allowed at all).
HttpResponse TokenServer::Issue(const std::string& user, const std::vector<std::string>& scopes, bool oauth_form,
                                bool offline) {
  std::set<std::string> rights = {"pull", "push", "delete", "*"};
  if (!user.empty()) rights = users_.at(user).second;
  nlohmann::json access = nlohmann::json::array();
  for (const std::string& scope : scopes) {
    // repository:NAME:ACTIONS — NAME may hold ':' only with a port, which repositories never have.
    size_t first = scope.find(':'), last = scope.rfind(':');
    if (first == std::string::npos || last == first) continue;
    nlohmann::json actions = nlohmann::json::array();
    std::string list = scope.substr(last + 1);
    size_t start = 0;
    while (start <= list.size()) {
      size_t comma = list.find(',', start);
      std::string action = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (rights.count(action)) actions.push_back(action);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    access.push_back({{"type", scope.substr(0, first)},
                      {"name", scope.substr(first + 1, last - first - 1)},
                      {"actions", actions}});
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  const int expires_in = 300;
  nlohmann::json claims = {{"iss", issuer_}, {"sub", user},         {"aud", service_},
                           {"exp", now + expires_in}, {"nbf", now - 10}, {"iat", now},
                           {"jti", RandomHex(16)},    {"access", access}};
  const std::string token = SignJwt(claims.dump());
  char issued[32];
  std::time_t t = static_cast<std::time_t>(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(issued, sizeof issued, "%Y-%m-%dT%H:%M:%SZ", &tm);
  nlohmann::json body = {{"access_token", token}, {"expires_in", expires_in}, {"issued_at", issued}};
  if (!oauth_form) body["token"] = token;
  if (offline && !user.empty()) {
    std::string refresh = RandomHex(24);
    refresh_tokens_[refresh] = user;
    body["refresh_token"] = refresh;
  }
  return {200, {{"Content-Type", "application/json"}}, body.dump()};
}

// Compact JWS, ES256: the signature is r||s (32 bytes each), not DER, as JOSE (and libtrust) want.
std::string TokenServer::SignJwt(const std::string& claims_json) const {
  nlohmann::json header = {{"typ", "JWT"},
                           {"alg", "ES256"},
                           {"x5c", {CertDerBase64(keys_->leaf_cert), CertDerBase64(keys_->ca_cert)}}};
  const std::string signing_input = Base64Url(header.dump()) + "." + Base64Url(claims_json);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t der_len = 0;
  std::string der;
  if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, keys_->leaf_key) != 1 ||
      EVP_DigestSign(ctx, nullptr, &der_len, reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1)
    throw std::runtime_error("TokenServer: signing failed");
  der.resize(der_len);
  if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &der_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) != 1)
    throw std::runtime_error("TokenServer: signing failed");
  EVP_MD_CTX_free(ctx);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len));
  if (!sig) throw std::runtime_error("TokenServer: bad ECDSA signature");
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  return signing_input + "." + Base64Url(raw);
}

}  // namespace wasmq::ocitest
