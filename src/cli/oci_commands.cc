// File: src/cli/oci_commands.cc
//
// The registry commands, thin over oci/oci.h:
//   wasmq pull REF [-o FILE] [--offline]       module into the cache (and a copy to FILE)
//   wasmq push FILE.wasm REF [--layout L]      L: cncf (default), wasm-content-layer, image-config,
//                                              component, tar, docker
//   wasmq inspect REF [--json]                 layout, digests, sizes, platform, annotations
//   wasmq tags REPO                            one tag per line
//   wasmq login REGISTRY [-u USER] [--password-stdin]
//   wasmq cache ls | gc [--older-than DURATION] [--dry-run]
// Shared options: --cache-dir, --insecure (plain HTTP for the named registry), --k8s-secret FILE,
// --docker-config FILE. Environment: WASMQ_CACHE_DIR, WASMQ_INSECURE_REGISTRIES (comma list),
// WASMQ_K8S_SECRET, WASMQ_REGISTRY_USER / WASMQ_REGISTRY_PASSWORD, WASMQ_AUTH_FILE.
// Exit codes: 0 ok, 1 the operation failed (the message names the cause), 2 usage.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/registry_flags.h"
#include "oci/oci.h"

namespace wasmq::cli {
namespace {

struct OciFlags : RegistryFlags {
  std::string cache_dir;
};

void AddOciFlags(CLI::App* cmd, OciFlags* f) {
  cmd->add_option("--cache-dir", f->cache_dir, "cache directory (default $WASMQ_CACHE_DIR or ~/.cache/wasmq)");
  AddRegistryFlags(cmd, f);
}

// Prints an oci::Error with what a user needs next. Never prints a secret: Error carries none.
int Fail(const std::string& cmd, const oci::Error& e, const std::string& registry = {}) {
  std::cerr << "wasmq " << cmd << ": " << oci::KindName(e.kind);
  if (e.kind == oci::ErrorKind::Network) std::cerr << " (" << oci::StageName(e.network) << ")";
  std::cerr << ": " << e.message << "\n";
  for (const auto& p : e.places_looked) std::cerr << "  looked in: " << p << "\n";
  for (const auto& m : e.media_types) std::cerr << "  found: " << m << "\n";
  if (e.kind == oci::ErrorKind::AuthRequired || e.kind == oci::ErrorKind::AuthRejected)
    std::cerr << "  fix: wasmq login " << (registry.empty() ? "REGISTRY" : registry) << " -u USER --password-stdin\n";
  if (e.kind == oci::ErrorKind::ManifestNotFound || e.kind == oci::ErrorKind::RepoNotFound)
    std::cerr << "  hint: wasmq tags REPO lists the tags; wasmq doctor REF explains the failure\n";
  return 1;
}

// A progress bar on stderr when it is a terminal, for blobs of 1 MiB and more.
oci::ProgressFn ProgressBar() {
  if (!isatty(2)) return {};
  return [](int64_t done, int64_t total) {
    if (total < (1 << 20)) return;
    int width = 30;
    int filled = static_cast<int>(static_cast<double>(done) / static_cast<double>(total) * width);
    std::fprintf(stderr, "\r[%-*s] %3d%% %s / %s", width, std::string(static_cast<size_t>(filled), '=').c_str(),
                 static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total)),
                 HumanSize(done).c_str(), HumanSize(total).c_str());
    if (done >= total) std::fprintf(stderr, "\n");
  };
}

std::string RegistryOf(const std::string& ref) {
  auto r = oci::ParseRepository(ref);
  return r ? r->registry : "";
}

void AddPull(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("pull", "Pull a Wasm module from an OCI registry into the local cache");
  auto f = std::make_shared<OciFlags>();
  auto ref = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto offline = std::make_shared<bool>(false);
  cmd->add_option("REF", *ref, "[registry/]repo[:tag][@sha256:...]")->required();
  cmd->add_option("-o,--output", *out, "also write the module to FILE");
  cmd->add_flag("--offline", *offline, "use only the cache (tags resolved from its index)");
  AddOciFlags(cmd, f.get());
  cmd->callback([=] {
    oci::PullOptions o;
    o.client = RegistryClientOptions(*f, RegistryOf(*ref));
    o.client.progress = ProgressBar();
    o.cache_dir = f->cache_dir;
    const char* env_offline = std::getenv("WASMQ_OFFLINE");
    o.offline = *offline || (env_offline && std::string(env_offline) == "on");
    auto r = oci::Pull(*ref, o);
    if (!r) {
      *exit_code = Fail("pull", r.error(), RegistryOf(*ref));
      return;
    }
    if (!out->empty()) {
      std::error_code ec;
      std::filesystem::copy_file(r->module_path, *out, std::filesystem::copy_options::overwrite_existing, ec);
      if (ec) {
        std::cerr << "wasmq pull: cannot write " << *out << ": " << ec.message() << "\n";
        *exit_code = 1;
        return;
      }
    }
    std::cout << r->ref.String() << "\n"
              << "digest: " << r->manifest_digest << "\n"
              << "module: " << r->module_digest << " (" << HumanSize(r->size) << ", layout "
              << oci::LayoutName(r->layout.layout) << (r->from_cache ? ", from cache" : "") << ")\n"
              << "path: " << (out->empty() ? r->module_path : *out) << "\n";
    *exit_code = 0;
  });
}

void AddPush(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("push", "Push a Wasm module to an OCI registry");
  auto f = std::make_shared<OciFlags>();
  auto file = std::make_shared<std::string>();
  auto ref = std::make_shared<std::string>();
  auto layout = std::make_shared<std::string>("cncf");
  auto annotations = std::make_shared<std::vector<std::string>>();
  cmd->add_option("FILE", *file, "the module (.wasm)")->required();
  cmd->add_option("REF", *ref, "[registry/]repo:tag")->required();
  cmd->add_option("--layout", *layout, "cncf | wasm-content-layer | image-config | component | tar | docker");
  cmd->add_option("--annotation", *annotations, "KEY=VALUE manifest annotation (repeatable)");
  AddOciFlags(cmd, f.get());
  cmd->callback([=] {
    oci::PushOptions o;
    o.client = RegistryClientOptions(*f, RegistryOf(*ref));
    if (*layout == "docker") {
      o.layout = oci::Layout::TarEntrypoint;
      o.docker_schema2 = true;
    } else if (auto l = oci::LayoutFromName(*layout)) {
      o.layout = *l;
    } else {
      std::cerr << "wasmq push: --layout must be cncf, wasm-content-layer, image-config, component, tar or docker\n";
      *exit_code = 2;
      return;
    }
    for (const auto& a : *annotations) {
      auto eq = a.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "wasmq push: --annotation wants KEY=VALUE, got " << a << "\n";
        *exit_code = 2;
        return;
      }
      o.annotations[a.substr(0, eq)] = a.substr(eq + 1);
    }
    std::ifstream in(*file, std::ios::binary);
    if (!in) {
      std::cerr << "wasmq push: cannot read " << *file << "\n";
      *exit_code = 1;
      return;
    }
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto r = oci::Push(bytes, *ref, o);
    if (!r) {
      *exit_code = Fail("push", r.error(), RegistryOf(*ref));
      return;
    }
    std::cout << "pushed " << *ref << "\ndigest: " << r->manifest_digest << "\nmediaType: " << r->media_type
              << "\nlayout: " << *layout << "\n";
    *exit_code = 0;
  });
}

nlohmann::json DescriptorJson(const oci::Descriptor& d) {
  nlohmann::json j{{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}};
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  if (d.platform) j["platform"] = {{"os", d.platform->os}, {"architecture", d.platform->architecture}};
  return j;
}

void AddInspect(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("inspect", "Show an artifact's layout, digests, sizes, platform and annotations");
  auto f = std::make_shared<OciFlags>();
  auto ref = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("REF", *ref, "[registry/]repo[:tag][@sha256:...]")->required();
  cmd->add_flag("--json", *as_json, "print JSON");
  AddOciFlags(cmd, f.get());
  cmd->callback([=] {
    auto r = oci::Inspect(*ref, RegistryClientOptions(*f, RegistryOf(*ref)));
    if (!r) {
      *exit_code = Fail("inspect", r.error(), RegistryOf(*ref));
      return;
    }
    nlohmann::json j;
    j["ref"] = r->ref.String();
    j["digest"] = r->digest;
    j["mediaType"] = r->media_type;
    if (r->index) {
      j["platforms"] = nlohmann::json::array();
      for (const auto& m : r->index->manifests) j["platforms"].push_back(DescriptorJson(m));
    }
    j["config"] = DescriptorJson(r->manifest.config);
    j["layers"] = nlohmann::json::array();
    for (const auto& l : r->manifest.layers) j["layers"].push_back(DescriptorJson(l));
    j["annotations"] = r->manifest.annotations;
    if (r->config) {
      j["platform"] = r->config->os + "/" + r->config->architecture;
      if (!r->config->entrypoint.empty()) j["entrypoint"] = r->config->entrypoint;
    }
    if (r->layout) {
      j["layout"] = oci::LayoutName(r->layout->layout);
      j["module_layer"] = r->layout->layer.digest;
      if (!r->layout->path_in_tar.empty()) j["path_in_tar"] = r->layout->path_in_tar;
      if (!r->layout->variant_hint.empty()) j["variant"] = r->layout->variant_hint;
      if (r->layout->docker_schema2) j["docker_schema2"] = true;
    } else {
      j["layout"] = nullptr;
      j["layout_error"] = r->layout_error;
    }
    if (*as_json) {
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "ref:        " << r->ref.String() << "\n"
                << "digest:     " << r->digest << "\n"
                << "mediaType:  " << r->media_type << "\n";
      if (r->index)
        for (const auto& m : r->index->manifests)
          std::cout << "platform:   " << (m.platform ? m.platform->os + "/" + m.platform->architecture : "-") << "  "
                    << m.digest << "\n";
      if (r->config) std::cout << "config:     " << r->config->os << "/" << r->config->architecture << "\n";
      std::cout << "layout:     " << (r->layout ? std::string(oci::LayoutName(r->layout->layout)) : "unsupported: " + r->layout_error)
                << "\n";
      std::cout << "config:     " << r->manifest.config.media_type << " " << r->manifest.config.digest << " ("
                << HumanSize(r->manifest.config.size) << ")\n";
      for (const auto& l : r->manifest.layers)
        std::cout << "layer:      " << l.media_type << " " << l.digest << " (" << HumanSize(l.size) << ")\n";
      for (const auto& [k, v] : r->manifest.annotations) std::cout << "annotation: " << k << "=" << v << "\n";
    }
    *exit_code = r->layout ? 0 : 1;
  });
}

void AddTags(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("tags", "List a repository's tags");
  auto f = std::make_shared<OciFlags>();
  auto repo = std::make_shared<std::string>();
  cmd->add_option("REPO", *repo, "[registry/]repo")->required();
  AddOciFlags(cmd, f.get());
  cmd->callback([=] {
    auto ref = oci::ParseRepository(*repo);
    if (!ref) {
      *exit_code = Fail("tags", ref.error());
      return;
    }
    oci::Client client(RegistryClientOptions(*f, ref->registry));
    auto tags = client.ListTags(*ref);
    if (!tags) {
      *exit_code = Fail("tags", tags.error(), ref->registry);
      return;
    }
    for (const auto& t : *tags) std::cout << t << "\n";
    *exit_code = 0;
  });
}

// Reads a password from the terminal without echo.
std::string PromptPassword() {
  std::cerr << "Password: " << std::flush;
  termios old{};
  bool tty = isatty(0) && tcgetattr(0, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(0, TCSANOW, &quiet);
  }
  std::string p;
  std::getline(std::cin, p);
  if (tty) {
    tcsetattr(0, TCSANOW, &old);
    std::cerr << "\n";
  }
  return p;
}

void AddLogin(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("login", "Check and store credentials for a registry (docker config.json format)");
  auto f = std::make_shared<OciFlags>();
  auto registry = std::make_shared<std::string>();
  auto user = std::make_shared<std::string>();
  auto password_stdin = std::make_shared<bool>(false);
  cmd->add_option("REGISTRY", *registry, "host[:port]")->required();
  cmd->add_option("-u,--username", *user, "user name");
  cmd->add_flag("--password-stdin", *password_stdin, "read the password from stdin");
  AddOciFlags(cmd, f.get());
  cmd->callback([=] {
    std::string reg = *registry;
    for (std::string_view p : {"https://", "http://"})
      if (reg.rfind(p, 0) == 0) reg = reg.substr(p.size());
    while (!reg.empty() && reg.back() == '/') reg.pop_back();
    if (reg == "index.docker.io" || reg == "registry-1.docker.io") reg = "docker.io";
    std::string username = *user;
    if (username.empty()) {
      std::cerr << "Username: " << std::flush;
      std::getline(std::cin, username);
    }
    std::string password;
    if (*password_stdin) {
      std::getline(std::cin, password);
      while (!password.empty() && (password.back() == '\r' || password.back() == '\n')) password.pop_back();
    } else {
      password = PromptPassword();
    }
    if (username.empty() || password.empty()) {
      std::cerr << "wasmq login: a user name and a password are required\n";
      *exit_code = 2;
      return;
    }
    oci::ClientOptions o = RegistryClientOptions(*f, reg);
    o.credential_override = oci::Credential{username, password, "", "command line"};
    oci::Client client(o);
    if (auto r = client.CheckLogin(reg); !r) {
      *exit_code = Fail("login", r.error(), reg);
      return;
    }
    if (auto w = oci::StoreLogin(reg, username, password); !w) {
      *exit_code = Fail("login", w.error(), reg);
      return;
    }
    std::cout << "Login Succeeded (stored in " << oci::WasmqAuthFile() << ")\n";
    *exit_code = 0;
  });
}

// "30d", "12h", "90m", "45s" → seconds; -1 on bad input.
int64_t ParseAge(const std::string& s) {
  if (s.size() < 2) return -1;
  char unit = s.back();
  int64_t n = 0;
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9' || n > (int64_t{1} << 40)) return -1;
    n = n * 10 + (s[i] - '0');
  }
  switch (unit) {
    case 's': return n;
    case 'm': return n * 60;
    case 'h': return n * 3600;
    case 'd': return n * 86400;
    default: return -1;
  }
}

void AddCache(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("cache", "The local module cache: ls | gc");
  cmd->require_subcommand(1);
  auto dir = std::make_shared<std::string>();
  cmd->add_option("--cache-dir", *dir, "cache directory (default $WASMQ_CACHE_DIR or ~/.cache/wasmq)");
  auto* ls = cmd->add_subcommand("ls", "List cached refs: ref, digest, size, last used");
  ls->callback([=] {
    oci::Cache cache(*dir);
    auto entries = cache.List();
    std::printf("%-60s %-71s %10s %s\n", "REF", "DIGEST", "SIZE", "LAST USED");
    for (const auto& e : entries) {
      char when[32] = "-";
      time_t t = static_cast<time_t>(e.last_used);
      tm utc{};
      if (gmtime_r(&t, &utc)) std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &utc);
      std::printf("%-60s %-71s %10s %s\n", e.ref.c_str(), e.manifest_digest.c_str(), HumanSize(e.size).c_str(), when);
    }
    *exit_code = 0;
  });
  auto* gc = cmd->add_subcommand("gc", "Drop blobs no ref uses (and refs unused for --older-than)");
  auto older = std::make_shared<std::string>();
  auto dry = std::make_shared<bool>(false);
  gc->add_option("--older-than", *older, "also forget refs not used for this long: 30d, 12h, 90m");
  gc->add_flag("--dry-run", *dry, "only list what would be removed");
  gc->callback([=] {
    oci::GcOptions o;
    o.dry_run = *dry;
    if (!older->empty()) {
      o.older_than_seconds = ParseAge(*older);
      if (o.older_than_seconds < 0) {
        std::cerr << "wasmq cache gc: --older-than wants a number and a unit (s, m, h, d), e.g. 30d\n";
        *exit_code = 2;
        return;
      }
    }
    oci::Cache cache(*dir);
    auto r = cache.Gc(o);
    if (!r) {
      *exit_code = Fail("cache gc", r.error());
      return;
    }
    for (const auto& ref : r->removed_refs) std::cout << (o.dry_run ? "would forget " : "forgot ") << ref << "\n";
    for (const auto& b : r->removed_blobs) std::cout << (o.dry_run ? "would remove " : "removed ") << b << "\n";
    std::cout << (o.dry_run ? "would free " : "freed ") << HumanSize(r->bytes_freed) << "\n";
    *exit_code = 0;
  });
}

}  // namespace

void AddOciCommands(CLI::App& app, int* exit_code) {
  AddPull(app, exit_code);
  AddPush(app, exit_code);
  AddInspect(app, exit_code);
  AddTags(app, exit_code);
  AddLogin(app, exit_code);
  AddCache(app, exit_code);
}

}  // namespace wasmq::cli

namespace wasmq::cli {

std::optional<std::string> PullModuleForRun(const std::string& arg, std::string* error) {
  error->clear();
  std::string ref = arg.rfind("oci://", 0) == 0 ? arg.substr(6) : arg;
  if (!oci::ParseReference(ref)) return std::nullopt;
  if (ref == arg && (ref.find('/') == std::string::npos && ref.find(':') == std::string::npos)) return std::nullopt;
  oci::PullOptions o;
  o.client.progress = ProgressBar();
  o.client.insecure_registries = InsecureRegistriesFromEnv();
  const char* offline = std::getenv("WASMQ_OFFLINE");
  o.offline = offline && std::string(offline) == "on";
  auto r = oci::Pull(ref, o);
  if (!r) {
    *error = "pulling " + ref + ": " + std::string(oci::KindName(r.error().kind)) + ": " + r.error().message;
    return std::nullopt;
  }
  return r->module_path;
}

}  // namespace wasmq::cli
