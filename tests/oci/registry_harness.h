// File: tests/oci/registry_harness.h
//
// A real registry for the OCI tests: Debian's /usr/bin/docker-registry (distribution 2.8) started on a free
// 127.0.0.1 port in its own temporary directory (filesystem storage), in one of three modes:
//
//   auto reg = RegistryServer::StartAnonymous();                       // no auth
//   auto reg = RegistryServer::StartBasic({{"alice", "secret"}});      // htpasswd (bcrypt, htpasswd -Bbn)
//   TokenServer tokens(dir); tokens.AddUser(...);                       // token_server.h
//   auto reg = RegistryServer::StartToken(tokens);                     // auth: token (realm, service,
//                                                                      //   issuer, rootcertbundle)
//   ASSERT_TRUE(reg) << RegistryServer::last_error();
//   reg->host()  → "127.0.0.1:PORT"
//
// Start returns once GET /v2/ answers (the port is polled; no fixed sleep). The destructor kills the
// process by pid (and the kernel kills it if the test process dies first: PR_SET_PDEATHSIG) and removes
// the directory. When docker-registry or htpasswd is missing, Start fails with a message naming the
// package (scripts/setup installs both); the tests fail rather than skip.
//
// RegistryClient pushes and reads raw content with libcurl, independent of src/oci, so a test can set up
// any layout (including ones no client would produce) and check what wasmq wrote:
//
//   RegistryClient c(reg->host(), "alice", "secret");   // answers Basic and Bearer challenges itself
//   std::string d = c.PushBlob("wasm-app", bytes);      // "sha256:…"
//   c.PushManifest("wasm-app", "v1.0.1", kOciManifest, manifest_json);
#pragma once

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "token_server.h"

namespace wasmq::ocitest {

inline constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "wasmq-oci") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (!mkdtemp(tmpl.data())) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Writes `content` to NAME (creating parent folders) and returns its path.
  std::string Write(const std::string& name, const std::string& content) const {
    std::filesystem::path p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

inline std::string Sha256Hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}
inline std::string Digest(const std::string& data) { return "sha256:" + Sha256Hex(data); }

// A docker config.json that gives USER:PASSWORD for HOST (`auths.HOST.auth`); point DOCKER_CONFIG at
// the folder. Returns the file's path.
inline std::string WriteDockerConfig(const TempDir& dir, const std::string& host, const std::string& user,
                                     const std::string& password) {
  const std::string plain = user + ":" + password;
  std::string b64(4 * ((plain.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                          reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
  b64.resize(static_cast<size_t>(n));
  nlohmann::json config = {{"auths", {{host, {{"auth", b64}}}}}};
  return dir.Write("config.json", config.dump(2));
}

// Runs argv (no shell) and returns its stdout; *status gets the exit status (-1 if it could not run).
inline std::string RunCapture(const std::vector<std::string>& argv, int* status = nullptr) {
  int out[2];
  if (pipe(out) != 0) return "";
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  close(out[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return text;
}

// A free TCP port on 127.0.0.1 (bound and released; the caller binds it next).
// Whether this machine's resolver answers "no such name" for a .invalid name (RFC 6761) within 2 s. The DNS
// tests need that; on a machine whose resolver cannot be reached the lookup times out instead, which is a
// different diagnosis (they skip there, saying why).
inline bool ResolverAnswersNxdomain(std::string* why) {
  const auto t0 = std::chrono::steady_clock::now();
  addrinfo* found = nullptr;
  const int rc = getaddrinfo("no-such-registry.invalid", "443", nullptr, &found);
  if (found) freeaddrinfo(found);
  if (rc == EAI_NONAME && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2)) return true;
  *why = std::string("this machine's resolver does not answer NXDOMAIN promptly (getaddrinfo: ") + gai_strerror(rc) + ")";
  return false;
}

inline int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

// The first line of an HTTP answer to GET PATH on 127.0.0.1:PORT ("HTTP/1.1 200 OK"), or "" (no answer).
inline std::string HttpStatusLine(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[512];
      ssize_t n;
      while (out.find("\r\n") == std::string::npos && (n = read(fd, buf, sizeof buf)) > 0)
        out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return out.substr(0, out.find("\r\n"));
}

class RegistryServer {
 public:
  static std::unique_ptr<RegistryServer> StartAnonymous() { return Start("", {}); }

  // htpasswd Basic auth; each user's line is made by `htpasswd -Bbn USER PASSWORD` (bcrypt).
  static std::unique_ptr<RegistryServer> StartBasic(const std::vector<std::pair<std::string, std::string>>& users) {
    std::string lines;
    for (const auto& [user, password] : users) {
      int status = -1;
      std::string line = RunCapture({"htpasswd", "-Bbn", user, password}, &status);
      if (status != 0) {
        Error() = "htpasswd failed (Debian: apt-get install apache2-utils, or run scripts/setup)";
        return nullptr;
      }
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      lines += line + "\n";
    }
    return Start("htpasswd", {{"htpasswd", lines}});
  }

  // Token auth against `tokens` (its realm, service, issuer and root bundle).
  static std::unique_ptr<RegistryServer> StartToken(const TokenServer& tokens) {
    return Start("token", {{"realm", tokens.realm()},
                           {"service", tokens.service()},
                           {"issuer", tokens.issuer()},
                           {"rootcertbundle", tokens.root_bundle_path()}});
  }

  ~RegistryServer() {
    Kill();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void Kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string url() const { return "http://" + host(); }
  const std::filesystem::path& dir() const { return dir_; }
  std::string log() const {
    std::ifstream in(dir_ / "registry.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  static std::string& Error() {
    static std::string e;
    return e;
  }
  static const std::string& last_error() { return Error(); }

 private:
  RegistryServer() = default;

  static std::unique_ptr<RegistryServer> Start(const std::string& auth,
                                               const std::map<std::string, std::string>& settings) {
    if (access("/usr/bin/docker-registry", X_OK) != 0) {
      Error() = "/usr/bin/docker-registry is not installed (Debian: apt-get install docker-registry, or run "
                "scripts/setup)";
      return nullptr;
    }
    std::unique_ptr<RegistryServer> s(new RegistryServer());
    std::string tmpl = (std::filesystem::temp_directory_path() / "wasmq-registry-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      Error() = "mkdtemp failed";
      return nullptr;
    }
    s->dir_ = tmpl;
    std::string auth_yaml;
    if (auth == "htpasswd") {
      std::ofstream(s->dir_ / "htpasswd") << settings.at("htpasswd");
      auth_yaml = "auth:\n  htpasswd:\n    realm: wasmq-test\n    path: " + (s->dir_ / "htpasswd").string() + "\n";
    } else if (auth == "token") {
      auth_yaml = "auth:\n  token:\n    realm: " + settings.at("realm") + "\n    service: " + settings.at("service") +
                  "\n    issuer: " + settings.at("issuer") + "\n    rootcertbundle: " + settings.at("rootcertbundle") +
                  "\n";
    }
    for (int attempt = 0; attempt < 5; ++attempt) {
      s->port_ = FreeLoopbackPort();
      s->WriteConfig(auth_yaml);
      if (s->Launch()) return s;
    }
    return nullptr;
  }

  void WriteConfig(const std::string& auth_yaml) const {
    std::ofstream(dir_ / "config.yml")
        << "version: 0.1\n"
           "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
           "storage:\n  filesystem:\n    rootdirectory: "
        << (dir_ / "data").string()
        << "\n  delete:\n    enabled: true\n"
           "http:\n  addr: 127.0.0.1:"
        << port_
        << "\n  secret: wasmq-test-registry-secret\n"
           "health:\n  storagedriver:\n    enabled: false\n"
        << auth_yaml;
  }

  // Starts the process and waits until GET /v2/ gets any HTTP answer (200 or 401), or the process exits.
  bool Launch() {
    const std::string config = (dir_ / "config.yml").string();
    const std::string log_path = (dir_ / "registry.log").string();
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      execl("/usr/bin/docker-registry", "docker-registry", "serve", config.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    auto pause = std::chrono::milliseconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        Error() = "docker-registry exited at start-up: " + log();
        return false;
      }
      if (HttpStatusLine(port_, "/v2/").starts_with("HTTP/1.1 ")) return true;
      // Polling the port: start-up takes tens of milliseconds; back off up to 20 ms between looks.
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(20));
    }
    Error() = "docker-registry did not answer /v2/ within 20 s: " + log();
    Kill();
    return false;
  }

  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// ---- RegistryClient: raw registry API calls for test set-up ------------------------------------------------

struct HttpResult {
  long status = 0;  // 0: no answer (curl failed; see error)
  std::map<std::string, std::string> headers;  // lower-cased names, last value wins
  std::string body;
  std::string error;
};

class RegistryClient {
 public:
  // No user: anonymous. Answers 401 challenges itself: Basic with the user, Bearer by asking the realm for
  // a token for the challenge's scope (Basic credentials on the token request when there is a user).
  explicit RegistryClient(std::string host, std::string user = "", std::string password = "")
      : host_(std::move(host)), user_(std::move(user)), password_(std::move(password)) {}

  HttpResult Call(const std::string& method, const std::string& path, const std::string& body = "",
                  std::vector<std::string> headers = {}) {
    HttpResult r = Raw(method, "http://" + host_ + path, body, headers, auth_header_);
    if (r.status != 401) return r;
    const std::string challenge = r.headers["www-authenticate"];
    if (challenge.starts_with("Basic") && !user_.empty()) {
      auth_header_ = "Authorization: Basic " + B64(user_ + ":" + password_);
    } else if (challenge.starts_with("Bearer")) {
      std::string token = FetchToken(challenge);
      if (token.empty()) return r;
      auth_header_ = "Authorization: Bearer " + token;
    } else {
      return r;
    }
    return Raw(method, "http://" + host_ + path, body, headers, auth_header_);
  }

  // Uploads a blob (monolithic POST then PUT) and returns its digest; "" on failure (see last()).
  std::string PushBlob(const std::string& repo, const std::string& data) {
    const std::string digest = Digest(data);
    last_ = Call("POST", "/v2/" + repo + "/blobs/uploads/");
    if (last_.status != 202) return "";
    std::string location = last_.headers["location"];
    if (location.starts_with("http://" + host_)) location = location.substr(7 + host_.size());
    location += (location.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") + digest;
    last_ = Call("PUT", location, data, {"Content-Type: application/octet-stream"});
    return last_.status == 201 ? digest : "";
  }

  // PUTs a manifest under REFERENCE (a tag or a digest) with its media type; returns its digest or "".
  std::string PushManifest(const std::string& repo, const std::string& reference, const std::string& media_type,
                           const std::string& body) {
    last_ = Call("PUT", "/v2/" + repo + "/manifests/" + reference, body, {"Content-Type: " + media_type});
    return last_.status == 201 ? Digest(body) : "";
  }

  // Pushes config + layers as blobs and an OCI (or Docker) manifest naming them; returns the manifest digest.
  std::string PushImage(const std::string& repo, const std::string& tag, const std::string& config_type,
                        const std::string& config, const std::vector<std::pair<std::string, std::string>>& layers,
                        const std::string& manifest_type = kOciManifest, nlohmann::json annotations = nullptr,
                        const std::string& artifact_type = "") {
    if (PushBlob(repo, config).empty()) return "";
    nlohmann::json manifest = {{"schemaVersion", 2},
                               {"mediaType", manifest_type},
                               {"config", Descriptor(config_type, config)},
                               {"layers", nlohmann::json::array()}};
    if (!artifact_type.empty()) manifest["artifactType"] = artifact_type;
    for (const auto& [type, data] : layers) {
      if (PushBlob(repo, data).empty()) return "";
      manifest["layers"].push_back(Descriptor(type, data));
    }
    if (!annotations.is_null()) manifest["annotations"] = annotations;
    return PushManifest(repo, tag, manifest_type, manifest.dump());
  }

  static nlohmann::json Descriptor(const std::string& media_type, const std::string& data) {
    return {{"mediaType", media_type}, {"digest", Digest(data)}, {"size", data.size()}};
  }

  const HttpResult& last() const { return last_; }

  static HttpResult Raw(const std::string& method, const std::string& url, const std::string& body,
                        const std::vector<std::string>& headers, const std::string& auth_header) {
    HttpResult r;
    CURL* curl = curl_easy_init();
    curl_slist* list = nullptr;
    for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
    if (!auth_header.empty()) list = curl_slist_append(list, auth_header.c_str());
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    if (method == "PUT" || method == "POST" || method == "PATCH") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, +[](char* p, size_t s, size_t n, void* ud) {
      static_cast<std::string*>(ud)->append(p, s * n);
      return s * n;
    });
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, +[](char* p, size_t s, size_t n, void* ud) {
      std::string line(p, s * n);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t v = line.find_first_not_of(' ', colon + 1);
        std::string value = v == std::string::npos ? "" : line.substr(v);
        while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
        (*static_cast<std::map<std::string, std::string>*>(ud))[name] = value;
      }
      return s * n;
    });
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r.headers);
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) {
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    } else {
      r.error = curl_easy_strerror(rc);
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return r;
  }

  static std::string B64(const std::string& plain) {
    std::string out(4 * ((plain.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
    out.resize(static_cast<size_t>(n));
    return out;
  }

 private:
  // realm="…",service="…",scope="…" → a token from the realm, or "".
  std::string FetchToken(const std::string& challenge) {
    std::map<std::string, std::string> params;
    size_t pos = challenge.find(' ');
    while (pos != std::string::npos && pos < challenge.size()) {
      size_t eq = challenge.find('=', pos);
      if (eq == std::string::npos) break;
      std::string key = challenge.substr(pos, eq - pos);
      key.erase(0, key.find_first_not_of(" ,"));
      size_t q1 = challenge.find('"', eq), q2 = challenge.find('"', q1 + 1);
      if (q1 == std::string::npos || q2 == std::string::npos) break;
      params[key] = challenge.substr(q1 + 1, q2 - q1 - 1);
      pos = q2 + 1;
    }
    std::string url = params["realm"] + "?service=" + params["service"];
    if (!params["scope"].empty()) url += "&scope=" + params["scope"];
    HttpResult t = Raw("GET", url, "", {}, user_.empty() ? "" : "Authorization: Basic " + B64(user_ + ":" + password_));
    if (t.status != 200) return "";
    auto json = nlohmann::json::parse(t.body, nullptr, false);
    if (!json.is_object()) return "";
    return json.value("token", json.value("access_token", ""));
  }

  std::string host_, user_, password_;
  std::string auth_header_;
  HttpResult last_;
};

}  // namespace wasmq::ocitest
