// File: src/oci/credentials.cc
//
// Where registry credentials come from, in order: the environment, a Kubernetes dockerconfigjson secret,
// `wasmq login`'s store, docker's config.json (credHelpers, auths, credsStore). Each place looked is
// recorded, so `wasmq doctor` can say "no credentials found, looked in: ...". Secrets stay in Credential
// and are never part of places_looked or of an error message.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/encoding.h"
#include "base/strings.h"
#include "json/json.h"
#include "oci/util.h"

extern char** environ;

namespace wasmq::oci {
namespace {

using nlohmann::json;

// docker's config.json and Kubernetes secrets may carry base64 wrapped over lines: whitespace is dropped
// before base's decoder (either alphabet, padding optional) sees it.
bool Base64Decode(std::string_view text, std::string* out) {
  std::string compact(text);
  std::erase_if(compact, [](char c) { return base::kAsciiWhitespace.find(c) != std::string_view::npos; });
  std::optional<std::string> decoded = base::Base64Decode(compact);
  if (!decoded) return false;
  *out = std::move(*decoded);
  return true;
}

// "https://index.docker.io/v1/" → "index.docker.io"; "host:5000/v2" → "host:5000".
std::string HostOfKey(std::string key) {
  for (std::string_view prefix : {"https://", "http://"})
    if (key.rfind(prefix, 0) == 0) key = key.substr(prefix.size());
  if (auto slash = key.find('/'); slash != std::string::npos) key = key.substr(0, slash);
  return base::Lower(key);
}

bool HostMatches(const std::string& key, const std::string& registry) {
  std::string host = HostOfKey(key), want = base::Lower(registry);
  if (host == want) return true;
  auto is_hub = [](const std::string& h) {
    return h == "docker.io" || h == "index.docker.io" || h == "registry-1.docker.io";
  };
  return is_hub(host) && is_hub(want);
}

std::string Getenv(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Runs `docker-credential-<helper> get` with the server URL on stdin (the credential-helper protocol) and
// reads {"ServerURL","Username","Secret"}. Username "<token>" means Secret is an identity token.
std::optional<Credential> RunHelper(const std::string& helper, const std::string& server, std::string* note) {
  std::string program = "docker-credential-" + helper;
  int in_pipe[2], out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) return std::nullopt;
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    close(in_pipe[0]);
    close(in_pipe[1]);
    return std::nullopt;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::string arg0 = program, arg1 = "get";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, program.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in_pipe[0]);
  close(out_pipe[1]);
  if (rc != 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    *note = program + " not found on PATH";
    return std::nullopt;
  }
  std::string input = server + "\n";
  [[maybe_unused]] ssize_t w = write(in_pipe[1], input.data(), input.size());
  close(in_pipe[1]);
  std::string output;
  char buf[4096];
  ssize_t n;
  while ((n = read(out_pipe[0], buf, sizeof buf)) > 0) output.append(buf, static_cast<size_t>(n));
  close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *note = program + " get: no credentials (exit " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")";
    return std::nullopt;
  }
  json j = wasmq::json::Parse(output);
  if (!j.is_object() || !j.contains("Secret")) {
    *note = program + " get: answer is not the credential-helper JSON";
    return std::nullopt;
  }
  Credential c;
  c.username = j.value("Username", "");
  std::string secret = j.value("Secret", "");
  if (c.username == "<token>") {
    c.username.clear();
    c.identity_token = secret;
  } else {
    c.password = secret;
  }
  c.source = program;
  return c;
}

// One `auths` entry: {"auth": base64(user:pass)} or {"username","password"} or {"identitytoken"}.
std::optional<Credential> FromAuthEntry(const json& e) {
  if (!e.is_object()) return std::nullopt;
  Credential c;
  if (auto it = e.find("auth"); it != e.end() && it->is_string() && !it->get<std::string>().empty()) {
    std::string decoded;
    if (!Base64Decode(it->get<std::string>(), &decoded)) return std::nullopt;
    auto colon = decoded.find(':');
    if (colon == std::string::npos) return std::nullopt;
    c.username = decoded.substr(0, colon);
    c.password = decoded.substr(colon + 1);
  }
  if (auto it = e.find("username"); it != e.end() && it->is_string()) c.username = it->get<std::string>();
  if (auto it = e.find("password"); it != e.end() && it->is_string()) c.password = it->get<std::string>();
  if (auto it = e.find("identitytoken"); it != e.end() && it->is_string()) c.identity_token = it->get<std::string>();
  if (c.username.empty() && c.password.empty() && c.identity_token.empty()) return std::nullopt;
  return c;
}

// Looks the registry up in a docker config document. `where` names the file for places_looked.
Result<std::optional<Credential>> FromDockerConfig(const std::string& text, const std::string& registry,
                                                   const std::string& where, bool use_helpers,
                                                   std::vector<std::string>* looked) {
  json j = wasmq::json::Parse(text);
  if (!j.is_object()) return MakeError(ErrorKind::InvalidArgument, where + ": not a JSON object");
  std::string server_url = registry == "docker.io" ? "https://index.docker.io/v1/" : registry;
  if (auto helpers = j.find("credHelpers"); use_helpers && helpers != j.end() && helpers->is_object()) {
    for (const auto& [key, name] : helpers->items()) {
      if (!HostMatches(key, registry) || !name.is_string()) continue;
      std::string note;
      if (auto c = RunHelper(name.get<std::string>(), key, &note)) {
        c->source = where + " (credHelpers: " + c->source + ")";
        return std::optional<Credential>(std::move(c));
      }
      looked->push_back(where + " credHelpers: " + note);
    }
  }
  if (auto auths = j.find("auths"); auths != j.end() && auths->is_object()) {
    for (const auto& [key, entry] : auths->items()) {
      if (!HostMatches(key, registry)) continue;
      if (auto c = FromAuthEntry(entry)) {
        c->source = where + " (auths \"" + key + "\")";
        return std::optional<Credential>(std::move(c));
      }
    }
  }
  if (auto store = j.find("credsStore"); use_helpers && store != j.end() && store->is_string()) {
    std::string note;
    if (auto c = RunHelper(store->get<std::string>(), server_url, &note)) {
      c->source = where + " (credsStore: " + c->source + ")";
      return std::optional<Credential>(std::move(c));
    }
    looked->push_back(where + " credsStore: " + note);
  }
  looked->push_back(where + ": no entry for " + registry);
  return std::optional<Credential>();
}

// A Kubernetes secret of type kubernetes.io/dockerconfigjson, as YAML or JSON (JSON is YAML), with the
// document under data (base64) or stringData; a bare .dockerconfigjson document is accepted too.
Result<std::string> DockerConfigFromSecret(const std::string& text, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return MakeError(ErrorKind::InvalidArgument, path + ": not YAML or JSON: " + std::string(e.what()));
  }
  if (!root.IsMap()) return MakeError(ErrorKind::InvalidArgument, path + ": not a Kubernetes secret");
  if (root["auths"]) {  // the decoded .dockerconfigjson itself
    return std::string(text);
  }
  for (const char* section : {"data", "stringData"}) {
    YAML::Node s = root[section];
    if (!s || !s.IsMap()) continue;
    for (const char* key : {".dockerconfigjson", ".dockercfg"}) {
      YAML::Node v = s[key];
      if (!v || !v.IsScalar()) continue;
      std::string value = v.as<std::string>();
      if (std::string(section) == "stringData") return value;
      std::string decoded;
      if (!Base64Decode(value, &decoded))
        return MakeError(ErrorKind::InvalidArgument, path + ": data.\"" + key + "\" is not base64");
      if (std::string(key) == ".dockercfg") decoded = "{\"auths\":" + decoded + "}";  // legacy: auths at top
      return decoded;
    }
  }
  return MakeError(ErrorKind::InvalidArgument,
                   path + ": no data.\".dockerconfigjson\" (is it type kubernetes.io/dockerconfigjson?)");
}

std::string DockerConfigPath(const CredentialOptions& o) {
  if (!o.docker_config.empty()) return o.docker_config;
  if (std::string d = Getenv("DOCKER_CONFIG"); !d.empty()) return d + "/config.json";
  return internal::HomeDir() + "/.docker/config.json";
}

}  // namespace

std::string WasmqAuthFile(const CredentialOptions& o) {
  if (!o.wasmq_auth_file.empty()) return o.wasmq_auth_file;
  if (std::string f = Getenv("WASMQ_AUTH_FILE"); !f.empty()) return f;
  if (std::string x = Getenv("XDG_CONFIG_HOME"); !x.empty()) return x + "/wasmq/auth.json";
  return internal::HomeDir() + "/.config/wasmq/auth.json";
}

Result<CredentialLookup> ResolveCredentials(const std::string& registry, const CredentialOptions& o) {
  CredentialLookup out;
  auto& looked = out.places_looked;
  if (o.use_env) {
    std::string user = Getenv("WASMQ_REGISTRY_USER"), pass = Getenv("WASMQ_REGISTRY_PASSWORD");
    std::string host = Getenv("WASMQ_REGISTRY_HOST");
    if (user.empty() || pass.empty()) {
      looked.push_back("environment WASMQ_REGISTRY_USER / WASMQ_REGISTRY_PASSWORD: not set");
    } else if (!host.empty() && !HostMatches(host, registry)) {
      looked.push_back("environment WASMQ_REGISTRY_USER: for WASMQ_REGISTRY_HOST=" + host + ", not " + registry);
    } else {
      out.credential = Credential{user, pass, "", "environment WASMQ_REGISTRY_USER / WASMQ_REGISTRY_PASSWORD"};
      return out;
    }
  }
  std::string secret = o.k8s_secret.empty() ? Getenv("WASMQ_K8S_SECRET") : o.k8s_secret;
  if (!secret.empty()) {
    std::string text;
    if (!internal::ReadFile(secret, &text)) {
      looked.push_back(secret + " (Kubernetes secret): cannot read");
    } else {
      auto doc = DockerConfigFromSecret(text, secret);
      if (!doc) return doc.error();
      auto c = FromDockerConfig(*doc, registry, secret + " (Kubernetes secret)", false, &looked);
      if (!c) return c.error();
      if (*c) {
        out.credential = std::move(**c);
        return out;
      }
    }
  } else {
    looked.push_back("Kubernetes secret: none given (--k8s-secret / WASMQ_K8S_SECRET)");
  }
  for (auto [path, use_helpers] : {std::pair{WasmqAuthFile(o), false}, std::pair{DockerConfigPath(o), o.use_helpers}}) {
    std::string text;
    if (!std::filesystem::exists(path)) {
      looked.push_back(path + ": no such file");
      continue;
    }
    if (!internal::ReadFile(path, &text)) {
      looked.push_back(path + ": cannot read");
      continue;
    }
    auto c = FromDockerConfig(text, registry, path, use_helpers, &looked);
    if (!c) return c.error();
    if (*c) {
      out.credential = std::move(**c);
      return out;
    }
  }
  return out;
}

Result<void> StoreLogin(const std::string& registry, const std::string& username, const std::string& password,
                        const CredentialOptions& o) {
  std::string path = WasmqAuthFile(o);
  json doc = json::object();
  std::string text;
  if (internal::ReadFile(path, &text) && !text.empty()) {
    doc = wasmq::json::Parse(text);
    if (!doc.is_object()) return MakeError(ErrorKind::InvalidArgument, path + ": not a JSON object; not overwritten");
  }
  std::string key = registry == "docker.io" ? "https://index.docker.io/v1/" : registry;
  doc["auths"][key] = json{{"auth", base::Base64Encode(username + ":" + password)}};
  return internal::WriteFileAtomic(path, doc.dump(2) + "\n", 0600);
}

}  // namespace wasmq::oci
