// File: src/cli/sign_commands.cc
//
// The signature commands, thin over sign/sign.h (docs/sign.md):
//   wasmq key generate [--out PREFIX]        PREFIX.key (cosign's encrypted PEM) and PREFIX.pub (default
//   cosign) wasmq key import KEY.pem [--out PREFIX]  a plain PKCS#8 / SEC1 P-256 key into the same two files
//   wasmq sign --key KEY REF [--legacy]      a Sigstore bundle as an OCI 1.1 referrer (+ sha256-<hex> index),
//                                            or --legacy: cosign's sha256-<hex>.sig tag
//   wasmq verify --key PUB [--key PUB…] REF  referrers API, fallback tag, legacy tag; exit 0 only when a
//                                            signature by one of the keys covers exactly REF's digest
// The password of KEY comes from WASMQ_PASSWORD, else COSIGN_PASSWORD (as cosign reads it; an empty value
// is a password), else a prompt on the terminal; without any of them the command fails rather than hang.
// Registry flags as for pull/push: --insecure, --k8s-secret, --docker-config; WASMQ_INSECURE_REGISTRIES.
// Exit codes: 0 ok, 1 failed (the message starts with the reason: no-signature, wrong-key, digest-mismatch,
// malformed-bundle, bad-key, bad-password, registry, io), 2 usage.
#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/registry_flags.h"
#include "oci/oci.h"
#include "sign/sign.h"

namespace wasmq::cli {
namespace {


std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Reads one line from the terminal without echo; nullopt when there is no terminal.
std::optional<std::string> PromptTty(const std::string& prompt) {
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  if (!isatty(fd)) {
    close(fd);
    return std::nullopt;
  }
  (void)!write(fd, prompt.data(), prompt.size());
  termios old{};
  const bool have = tcgetattr(fd, &old) == 0;
  if (have) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(fd, TCSANOW, &quiet);
  }
  std::string line;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
  if (have) tcsetattr(fd, TCSANOW, &old);
  (void)!write(fd, "\n", 1);
  close(fd);
  return line;
}

// The key's password: WASMQ_PASSWORD, COSIGN_PASSWORD, or the terminal (twice when `confirm`).
std::optional<std::string> Password(bool confirm, std::string* error) {
  if (const char* p = std::getenv("WASMQ_PASSWORD")) return std::string(p);
  if (const char* p = std::getenv("COSIGN_PASSWORD")) return std::string(p);
  auto first = PromptTty("Enter password for private key: ");
  if (!first) {
    *error = "no password: set WASMQ_PASSWORD (or COSIGN_PASSWORD), or run on a terminal";
    return std::nullopt;
  }
  if (confirm) {
    auto again = PromptTty("Enter password for private key again: ");
    if (!again || *again != *first) {
      *error = "the passwords do not match";
      return std::nullopt;
    }
  }
  return first;
}

int Fail(const std::string& cmd, const sign::Error& e) {
  std::cerr << "wasmq " << cmd << ": " << sign::KindName(e.kind) << ": " << e.message << "\n";
  return 1;
}

// Writes PREFIX.key (0600) and PREFIX.pub; refuses to replace either.
int WriteKeyPair(const std::string& cmd, const std::string& prefix, const std::string& private_pem,
                 const std::string& public_pem) {
  const std::string key_path = prefix + ".key", pub_path = prefix + ".pub";
  for (const std::string& p : {key_path, pub_path}) {
    if (std::filesystem::exists(p)) {
      std::cerr << "wasmq " << cmd << ": " << p << " exists; not replacing it (choose another --out)\n";
      return 1;
    }
  }
  int fd = open(key_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 ||
      write(fd, private_pem.data(), private_pem.size()) != static_cast<ssize_t>(private_pem.size())) {
    if (fd >= 0) close(fd);
    std::cerr << "wasmq " << cmd << ": cannot write " << key_path << "\n";
    return 1;
  }
  close(fd);
  std::ofstream pub(pub_path, std::ios::binary);
  pub << public_pem;
  if (!pub) {
    std::cerr << "wasmq " << cmd << ": cannot write " << pub_path << "\n";
    return 1;
  }
  std::cerr << "Private key written to " << key_path << "\nPublic key written to " << pub_path << "\n";
  return 0;
}

void AddKey(CLI::App& app, int* exit_code) {
  auto* key = app.add_subcommand("key", "Make or import a cosign-compatible signing key pair");
  key->require_subcommand(1);

  auto* gen = key->add_subcommand("generate", "Write PREFIX.key (encrypted) and PREFIX.pub: ECDSA P-256");
  auto gen_out = std::make_shared<std::string>("cosign");
  gen->add_option("--out", *gen_out, "file prefix (default cosign: cosign.key, cosign.pub)");
  gen->callback([=] {
    std::string err;
    auto password = Password(true, &err);
    if (!password) {
      std::cerr << "wasmq key generate: " << err << "\n";
      *exit_code = 1;
      return;
    }
    auto k = sign::PrivateKey::Generate();
    if (!k) {
      *exit_code = Fail("key generate", k.error());
      return;
    }
    auto pem = k->ToEncryptedPem(*password);
    if (!pem) {
      *exit_code = Fail("key generate", pem.error());
      return;
    }
    *exit_code = WriteKeyPair("key generate", *gen_out, *pem, k->PublicPem());
  });

  auto* imp = key->add_subcommand("import", "Encrypt a plain PKCS#8 / SEC1 P-256 private key as cosign does");
  auto imp_file = std::make_shared<std::string>();
  auto imp_out = std::make_shared<std::string>("import-cosign");
  imp->add_option("KEY", *imp_file, "a PEM 'PRIVATE KEY' or 'EC PRIVATE KEY'")->required();
  imp->add_option("--out", *imp_out, "file prefix (default import-cosign, as cosign import-key-pair)");
  imp->callback([=] {
    auto text = ReadFile(*imp_file);
    if (!text) {
      std::cerr << "wasmq key import: cannot read " << *imp_file << "\n";
      *exit_code = 1;
      return;
    }
    auto k = sign::PrivateKey::LoadPlain(*text);
    if (!k) {
      *exit_code = Fail("key import", k.error());
      return;
    }
    std::string err;
    auto password = Password(true, &err);
    if (!password) {
      std::cerr << "wasmq key import: " << err << "\n";
      *exit_code = 1;
      return;
    }
    auto pem = k->ToEncryptedPem(*password);
    if (!pem) {
      *exit_code = Fail("key import", pem.error());
      return;
    }
    *exit_code = WriteKeyPair("key import", *imp_out, *pem, k->PublicPem());
  });
}

void AddSign(CLI::App& app, int* exit_code) {
  auto* cmd =
      app.add_subcommand("sign", "Sign the manifest a reference resolves to (cosign v3 bundle format)");
  auto f = std::make_shared<RegistryFlags>();
  auto key_file = std::make_shared<std::string>();
  auto ref = std::make_shared<std::string>();
  auto legacy = std::make_shared<bool>(false);
  cmd->add_option("--key", *key_file, "the private key (cosign's encrypted PEM)")->required();
  cmd->add_option("REF", *ref, "[registry/]repo[:tag][@sha256:...]")->required();
  cmd->add_flag("--legacy", *legacy, "cosign's older sha256-<hex>.sig tag instead of a referrer");
  AddRegistryFlags(cmd, f.get());
  cmd->callback([=] {
    auto text = ReadFile(*key_file);
    if (!text) {
      std::cerr << "wasmq sign: cannot read " << *key_file << "\n";
      *exit_code = 1;
      return;
    }
    std::string err;
    auto password = Password(false, &err);
    if (!password) {
      std::cerr << "wasmq sign: " << err << "\n";
      *exit_code = 1;
      return;
    }
    auto key = sign::PrivateKey::LoadEncrypted(*text, *password);
    if (!key) {
      *exit_code = Fail("sign", key.error());
      return;
    }
    sign::SignOptions o;
    o.client = RegistryClientOptionsForRef(*f, *ref);
    o.legacy = *legacy;
    auto r = sign::SignImage(*ref, *key, o);
    if (!r) {
      *exit_code = Fail("sign", r.error());
      return;
    }
    std::cout << "signed " << r->ref.registry << "/" << r->ref.repository << "@" << r->digest << " → "
              << (*legacy ? "tag " : "referrer " + r->artifact_digest + ", tag ") << r->tag << "\n";
    *exit_code = 0;
  });
}

void AddVerify(CLI::App& app, int* exit_code) {
  auto* cmd =
      app.add_subcommand("verify", "Verify that a key signed exactly the manifest a reference resolves to");
  auto f = std::make_shared<RegistryFlags>();
  auto key_files = std::make_shared<std::vector<std::string>>();
  auto ref = std::make_shared<std::string>();
  cmd->add_option("--key", *key_files, "a public key PEM (repeatable: any one of them may have signed)")
      ->required();
  cmd->add_option("REF", *ref, "[registry/]repo[:tag][@sha256:...]")->required();
  AddRegistryFlags(cmd, f.get());
  cmd->callback([=] {
    std::vector<sign::PublicKey> keys;
    for (const std::string& path : *key_files) {
      auto text = ReadFile(path);
      if (!text) {
        std::cerr << "wasmq verify: cannot read " << path << "\n";
        *exit_code = 1;
        return;
      }
      auto k = sign::PublicKey::FromPem(*text);
      if (!k) {
        std::cerr << "wasmq verify: " << path << ": " << k.error().message << "\n";
        *exit_code = 1;
        return;
      }
      keys.push_back(std::move(*k));
    }
    auto r = sign::VerifyImage(*ref, keys, RegistryClientOptionsForRef(*f, *ref));
    if (!r) {
      *exit_code = Fail("verify", r.error());
      return;
    }
    std::cout << "verified " << r->ref.registry << "/" << r->ref.repository << "@" << r->digest << " with "
              << (*key_files)[r->key_index] << " (" << r->source << ", " << r->artifact_digest << ")\n";
    *exit_code = 0;
  });
}

}  // namespace

int CheckRunTrust(const std::string& policy_file, const std::string& module, bool is_file,
                  std::string* pull_ref, std::string* error) {
  auto policy = sign::LoadTrustPolicy(policy_file);
  if (!policy) {
    *error = "--trust-policy: " + policy.error().message;
    return 2;
  }
  RegistryFlags f;
  if (const char* s = std::getenv("WASMQ_K8S_SECRET")) f.k8s_secret = s;
  auto d = sign::CheckModuleTrust(*policy, module, is_file, RegistryClientOptionsForRef(f, module));
  if (!d) {
    *error = "module untrusted: " + module + ": " + std::string(sign::TrustFailureName(d.error().kind)) +
             ": " + d.error().message;
    return 1;
  }
  *pull_ref = d->pinned_ref.empty() ? module : d->pinned_ref;
  return 0;
}

void AddSignCommands(CLI::App& app, int* exit_code) {
  AddKey(app, exit_code);
  AddSign(app, exit_code);
  AddVerify(app, exit_code);
}

}  // namespace wasmq::cli
