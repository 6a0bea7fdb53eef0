// File: src/oci/doctor_text.cc
//
// The words of `wasmq doctor`: cause names and exit codes, evidence lines, the fix for each cause (commands
// for wasmq, kubectl, containerd and K3s, with USER / PASSWORD placeholders, never a secret), the nearest-tag
// rule, and the two output formats.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <tuple>

#include "oci/doctor_text.h"

namespace wasmq::oci {

std::string_view CauseName(DoctorCause cause) {
  switch (cause) {
    case DoctorCause::Ok: return "ok";
    case DoctorCause::Network: return "network";
    case DoctorCause::Auth: return "auth";
    case DoctorCause::Denied: return "denied";
    case DoctorCause::RepoNotFound: return "repo-not-found";
    case DoctorCause::TagNotFound: return "tag-not-found";
    case DoctorCause::UnsupportedFormat: return "unsupported-format";
    case DoctorCause::RateLimited: return "rate-limited";
    case DoctorCause::RegistryError: return "registry-error";
    case DoctorCause::DigestMismatch: return "digest-mismatch";
    case DoctorCause::Unsigned: return "unsigned";
    case DoctorCause::BadSignature: return "bad-signature";
  }
  return "registry-error";
}

int CauseExitCode(DoctorCause cause) {
  // Network (1) → 10 … DigestMismatch (9) → 18, Unsigned → 19, BadSignature → 20
  return cause == DoctorCause::Ok ? 0 : 9 + static_cast<int>(cause);
}

std::string FormatExchange(const Exchange& e) {
  std::string line = e.method + " " + e.url + " → ";
  if (e.status == 0) {
    line += "no answer" + (e.error.empty() ? std::string() : ": " + e.error);
  } else {
    line += std::to_string(e.status);
    // The headers that explain something; length, API version and plain JSON types are noise here.
    std::string headers;
    for (const auto& [k, v] : e.headers) {
      if (k == "content-length" || k == "docker-distribution-api-version" ||
          (k == "content-type" && (v.starts_with("application/json") || v == "application/octet-stream")))
        continue;
      headers += (headers.empty() ? "" : "; ") + k + ": " + v;
    }
    if (!headers.empty()) line += " (" + headers + ")";
    if (!e.error.empty()) line += " " + e.error;
  }
  char ms[32];
  std::snprintf(ms, sizeof ms, " %.0f ms", e.elapsed_ms);
  return line + ms;
}

// ---- the nearest tag ----------------------------------------------------------------------------------------

namespace {

struct Version {
  long major = 0, minor = 0, patch = 0;
  bool prerelease = false;
  bool v_prefix = false;
};

// "v1.2.3", "1.2", "2", "1.0.0-rc1", "1.0.0+build": a version; anything else: nullopt.
std::optional<Version> ParseVersion(std::string_view s) {
  Version v;
  if (!s.empty() && (s[0] == 'v' || s[0] == 'V')) {
    v.v_prefix = true;
    s.remove_prefix(1);
  }
  long* parts[3] = {&v.major, &v.minor, &v.patch};
  size_t i = 0;
  for (int part = 0; part < 3; ++part) {
    size_t start = i;
    long value = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 9) value = value * 10 + (s[i++] - '0');
    if (i == start) return std::nullopt;
    *parts[part] = value;
    if (i < s.size() && s[i] == '.' && part < 2) {
      ++i;
      continue;
    }
    break;
  }
  if (i < s.size()) {
    if (s[i] != '-' && s[i] != '+') return std::nullopt;
    v.prerelease = s[i] == '-';
  }
  return v;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string NearestTag(std::string_view wanted, const std::vector<std::string>& tags) {
  if (tags.empty() || wanted.empty()) return "";
  if (auto w = ParseVersion(wanted)) {
    // (pre-release when a release was asked for, Δmajor, Δminor, Δpatch, older-than-wanted, other prefix)
    using Key = std::tuple<bool, long, long, long, bool, bool>;
    std::optional<Key> best_key;
    std::string best;
    for (const std::string& t : tags) {
      auto v = ParseVersion(t);
      if (!v) continue;
      bool older = std::tie(v->major, v->minor, v->patch) < std::tie(w->major, w->minor, w->patch);
      Key key{v->prerelease && !w->prerelease, std::labs(v->major - w->major), std::labs(v->minor - w->minor),
              std::labs(v->patch - w->patch), older, v->v_prefix != w->v_prefix};
      if (!best_key || key < *best_key) {
        best_key = key;
        best = t;
      }
    }
    if (!best.empty()) return best;
  }
  std::string best = tags.front();
  size_t best_distance = EditDistance(wanted, best);
  for (const std::string& t : tags) {
    size_t d = EditDistance(wanted, t);
    if (d < best_distance) {
      best_distance = d;
      best = t;
    }
  }
  return best;
}

// ---- fixes --------------------------------------------------------------------------------------------------

namespace {

std::string RepoRef(const Reference& r) { return r.registry + "/" + r.repository; }

std::string WithTag(const Reference& r, const std::string& tag) { return RepoRef(r) + ":" + tag; }

// The docker-server value kubectl wants: Docker Hub's legacy index URL, else the host.
std::string KubeServer(const Reference& r) {
  return r.registry == "docker.io" ? "https://index.docker.io/v1/" : r.registry;
}

void AddCredentialFixes(const FixContext& c, const std::string& user, std::vector<std::string>* fix) {
  const std::string host = c.ref.registry;
  const std::string node_host = c.ref.ApiHost();
  fix->push_back("# this machine: store credentials for wasmq (it prompts for them)\nwasmq login " + host +
                 (user == "USER" ? "" : " -u " + user));
  fix->push_back("# Kubernetes: a pull secret in the pod's namespace\nkubectl create secret docker-registry " +
                 c.secret_name + " --docker-server=" + KubeServer(c.ref) + " --docker-username=" + user +
                 " --docker-password=PASSWORD");
  fix->push_back("# ... named by the pod spec (next to runtimeClassName: wasm)\nspec:\n  imagePullSecrets:\n    - name: " +
                 c.secret_name);
  fix->push_back("# containerd on the node: /etc/containerd/config.toml, then: sudo systemctl restart containerd\n"
                 "[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"" + node_host + "\".auth]\n"
                 "  username = \"" + user + "\"\n  password = \"PASSWORD\"");
  std::string k3s = "# K3s nodes: /etc/rancher/k3s/registries.yaml, then: sudo systemctl restart k3s\n";
  if (c.plain_http) k3s += "mirrors:\n  \"" + host + "\":\n    endpoint:\n      - \"http://" + host + "\"\n";
  k3s += "configs:\n  \"" + node_host + "\":\n    auth:\n      username: " + user + "\n      password: PASSWORD";
  fix->push_back(k3s);
}

void AddRepublishFixes(const FixContext& c, std::vector<std::string>* fix) {
  const std::string target = c.ref.tag.empty() ? RepoRef(c.ref) + ":latest" : WithTag(c.ref, c.ref.tag);
  fix->push_back("# republish the module as a CNCF Wasm artifact (config application/vnd.wasm.config.v0+json, "
                 "one application/wasm layer)\nwasmq push app.wasm " + target);
  fix->push_back("# other layouts wasmq reads: wasmq push --layout cncf|wasm-content-layer|image-config|component|tar|docker "
                 "app.wasm " + target);
}

void NetworkFixes(const Diagnosis& d, const FixContext& c, std::vector<std::string>* fix) {
  const std::string host = c.ref.registry;
  const std::string name = host.substr(0, host.rfind(':') == std::string::npos || host.front() == '[' ? host.size() : host.rfind(':'));
  const std::string url = (c.plain_http ? "http://" : "https://") + c.ref.ApiHost() + "/v2/";
  if (d.detail == "dns") {
    fix->push_back("# the registry's name does not resolve: check the spelling of " + host +
                   " in the reference, and the resolver on this machine and on the node\ngetent hosts " + name);
  } else if (d.detail == "connect") {
    fix->push_back("# nothing listens at " + host + ": the registry is down, the port is wrong, or a firewall "
                   "drops the connection; check from this machine and from the node\ncurl -v " + url);
    if (!c.plain_http)
      fix->push_back("# a registry served over plain HTTP: say so (wasmq speaks HTTPS to non-loopback hosts)\n"
                     "wasmq doctor --insecure " + d.ref);
  } else if (d.detail == "tls") {
    fix->push_back("# see the certificate the registry sends\nopenssl s_client -connect " + c.ref.ApiHost() +
                   (c.ref.ApiHost().find(':') == std::string::npos ? ":443" : "") + " -showcerts </dev/null");
    fix->push_back("# a private CA: trust it on this machine\nsudo cp ca.crt /usr/local/share/ca-certificates/ && "
                   "sudo update-ca-certificates");
    fix->push_back("# ... and on the node: /etc/containerd/certs.d/" + c.ref.ApiHost() + "/hosts.toml\nserver = \"https://" +
                   c.ref.ApiHost() + "\"\n[host.\"https://" + c.ref.ApiHost() + "\"]\n  ca = \"/etc/containerd/certs.d/" +
                   c.ref.ApiHost() + "/ca.crt\"");
    fix->push_back("# a registry that speaks plain HTTP, not TLS\nwasmq doctor --insecure " + d.ref);
  } else {
    fix->push_back("# the registry (or a proxy in between) is too slow or unreachable; check the route, then allow "
                   "more time\ncurl -v --max-time 30 " + url + "\nwasmq doctor --connect-timeout 30 " + d.ref);
  }
}

}  // namespace

std::vector<std::string> BuildFix(const Diagnosis& d, const FixContext& c) {
  std::vector<std::string> fix;
  const std::string user = c.username.empty() ? "USER" : c.username;
  switch (d.cause) {
    case DoctorCause::Ok:
      break;
    case DoctorCause::Network:
      NetworkFixes(d, c, &fix);
      break;
    case DoctorCause::Auth:
      if (d.detail == "credentials-rejected")
        fix.push_back("# the registry refused the password or token of " + user +
                      ": log in again with valid credentials (and update the node's secret)");
      else if (d.detail == "bad-credentials-file")
        fix.push_back("# repair or remove the malformed credentials file named in the evidence, then log in");
      AddCredentialFixes(c, user, &fix);
      break;
    case DoctorCause::Denied:
      fix.push_back("# " + user + " may not pull " + RepoRef(c.ref) +
                    ": grant that account pull access in the registry, or use an account that has it");
      AddCredentialFixes(c, "USER_WITH_PULL_ACCESS", &fix);
      break;
    case DoctorCause::RepoNotFound:
      fix.push_back("# check the repository name (tags of a repository: wasmq tags " + RepoRef(c.ref) + ")\nwasmq tags " +
                    RepoRef(c.ref));
      fix.push_back("# or publish the module under that name\nwasmq push app.wasm " +
                    (c.ref.tag.empty() ? RepoRef(c.ref) + ":latest" : WithTag(c.ref, c.ref.tag)));
      break;
    case DoctorCause::TagNotFound:
      if (!d.nearest_tag.empty()) {
        const std::string image = WithTag(c.ref, d.nearest_tag);
        fix.push_back("# use an existing tag (the nearest to " + (c.ref.tag.empty() ? c.ref.digest : c.ref.tag) +
                      " is " + d.nearest_tag + ")\nwasmq pull " + image);
        fix.push_back("# in the pod spec\nimage: " + image);
      }
      if (!c.ref.tag.empty())
        fix.push_back("# or publish the missing tag\nwasmq push app.wasm " + WithTag(c.ref, c.ref.tag));
      break;
    case DoctorCause::UnsupportedFormat:
      if (!c.found_types.empty() && c.found_types.front().starts_with("a WebAssembly component"))
        fix.push_back("# build a core module for wasm32-wasi (wasip1), not a component (wasip2)\n"
                      "clang --target=wasm32-wasi -O2 app.c -o app.wasm");
      AddRepublishFixes(c, &fix);
      break;
    case DoctorCause::RateLimited:
      fix.push_back("# authenticated pulls get a higher limit\nwasmq login " + c.ref.registry);
      fix.push_back("# wait for the window to pass (the Retry-After header in the evidence), then pull once and run "
                    "from the cache afterwards\nwasmq pull " + d.ref + "\nwasmq pull --offline " + d.ref);
      break;
    case DoctorCause::RegistryError:
      fix.push_back("# the registry failed on its side: retry later and read the registry's logs for the request "
                    "in the evidence\ncurl -v " + std::string(c.plain_http ? "http://" : "https://") +
                    c.ref.ApiHost() + "/v2/");
      break;
    case DoctorCause::DigestMismatch:
      fix.push_back("# the bytes served do not hash to their digest (nothing was cached): a proxy or cache in "
                    "between alters them, or the registry's storage is corrupt; bypass the proxy and retry\n"
                    "NO_PROXY=" + c.ref.ApiHost() + " wasmq pull " + d.ref);
      fix.push_back("# if the registry's copy is corrupt, republish it\nwasmq push app.wasm " +
                    (c.ref.tag.empty() ? RepoRef(c.ref) + ":latest" : WithTag(c.ref, c.ref.tag)));
      break;
    case DoctorCause::Unsigned:
    case DoctorCause::BadSignature: {
      const std::string pub = d.key_hint.empty() ? "cosign.pub" : d.key_hint;
      if (d.cause == DoctorCause::BadSignature)
        fix.push_back("# the signature found is by another key or for another digest: check which key signed "
                      "it, or sign this digest with the private half of " + pub);
      fix.push_back("# sign what the reference resolves to with the private key whose public half is " + pub +
                    "\nwasmq sign --key cosign.key " + d.ref + "\nwasmq verify --key " + pub + " " + d.ref);
      break;
    }
  }
  return fix;
}

// ---- output -------------------------------------------------------------------------------------------------

std::string DiagnosisJson(const Diagnosis& d) {
  nlohmann::ordered_json j;
  j["ref"] = d.ref;
  j["cause"] = std::string(CauseName(d.cause));
  j["evidence"] = d.evidence;
  j["fix"] = d.fix;
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string DiagnosisText(const Diagnosis& d) {
  char elapsed[64];
  std::snprintf(elapsed, sizeof elapsed, "%.0f ms", d.elapsed_ms);
  std::string out = std::string(CauseName(d.cause)) + ": " + d.verdict + "\n";
  out += "  " + d.ref + " · diagnosed in " + elapsed + "\n\nEvidence:\n";
  for (const std::string& e : d.evidence) out += "  " + e + "\n";
  if (!d.fix.empty()) {
    out += "\nFix:\n";
    for (const std::string& f : d.fix) {
      size_t start = 0;
      while (start <= f.size()) {
        size_t nl = f.find('\n', start);
        out += "  " + f.substr(start, nl == std::string::npos ? std::string::npos : nl - start) + "\n";
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
      out += "\n";
    }
  }
  return out;
}

}  // namespace wasmq::oci
