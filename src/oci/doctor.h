// File: src/oci/doctor.h
//
// `wasmq doctor REF`: walks the same path as a pull — reference, credentials, /v2/ ping, authentication,
// manifest (tags listed when it is missing), platform, config, layout, module blob — stops at the first
// failure and names its cause, with the evidence (the HTTP exchanges, secrets redacted) and the fix as
// commands to copy.
//
// Causes (CauseName):  ok · network · auth · denied · repo-not-found · tag-not-found · unsupported-format ·
//                      rate-limited · registry-error · digest-mismatch · unsigned · bad-signature
// The last two come from DoctorOptions::check_signature (the oci part knows no signature format; `wasmq
// doctor --key PUB` / `--trust-policy FILE` plugs sign/sign.h in), asked once the pull would succeed.
// The nearest tag (tag-not-found): when the tag asked for is a version (`v1.0.0`, `1.2`, `2.0.1-rc1`) the
// closest version tag by (major, minor, patch) distance, the newer one on a tie, releases before
// pre-releases when a release was asked for (v1.0.0 with v1.0.1 and v1.0.2 present → v1.0.1: the next
// patch release); otherwise the tag at the smallest edit distance (the first such tag on a tie).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "oci/oci.h"

namespace wasmq::oci {

enum class DoctorCause {
  Ok,
  Network,
  Auth,
  Denied,
  RepoNotFound,
  TagNotFound,
  UnsupportedFormat,
  RateLimited,
  RegistryError,
  DigestMismatch,
  Unsigned,      // the pull would succeed but no signature by the keys asked for was found (doctor --key)
  BadSignature,  // signatures found, none verifies: another key, another digest, a malformed bundle
};

// "ok", "network", "auth", ... as listed above.
std::string_view CauseName(DoctorCause cause);
// The `wasmq doctor` exit code: 0 ok; 10 network, 11 auth, 12 denied, 13 repo-not-found, 14 tag-not-found,
// 15 unsupported-format, 16 rate-limited, 17 registry-error, 18 digest-mismatch, 19 unsigned, 20 bad-signature.
int CauseExitCode(DoctorCause cause);

// What a signature check found: nullopt from the check means "fine" (or nothing to check).
struct SignatureFinding {
  DoctorCause cause = DoctorCause::Unsigned;  // Unsigned or BadSignature
  std::string verdict;                        // one line
  std::vector<std::string> evidence;          // the places looked, with what was found
  std::string key_hint;                       // a key file to name in the fix ("cosign.pub" when "")
};

struct DoctorOptions {
  // Asked with the reference once a pull would succeed; `evidence` receives what it verified on success.
  std::function<std::optional<SignatureFinding>(const std::string& ref, std::vector<std::string>* evidence)>
      check_signature = {};
  // Doctor's own defaults: connect timeout 5 s, 15 s per request (a dead registry is named quickly).
  ClientOptions client = [] {
    ClientOptions o;
    o.connect_timeout_ms = 5000;
    o.request_timeout_ms = 15000;
    return o;
  }();
  // Name used in the kubectl / containerd snippets of a fix ("regcred").
  std::string secret_name = "regcred";
  // Largest module layer downloaded to check its digest and its bytes; a larger one is checked by HEAD only.
  int64_t max_module_download = int64_t{512} << 20;
};

struct Diagnosis {
  std::string ref;          // as given
  DoctorCause cause = DoctorCause::Ok;
  std::string verdict;      // one line: what is wrong (or "pull would succeed: …")
  std::string detail;       // the sub-cause: "dns", "connect", "tls", "timeout" (network); "no-credentials",
                            // "credentials-rejected" (auth); "" otherwise
  std::vector<std::string> evidence;  // step results and HTTP exchanges, in order; no secrets
  std::vector<std::string> fix;       // commands and snippets to copy (a snippet may span lines)
  std::vector<std::string> tags;      // tag-not-found: the tags that exist
  std::string nearest_tag;            // tag-not-found: the suggestion, "" when there are no tags
  double elapsed_ms = 0;
  std::string key_hint;  // unsigned / bad-signature: the key file the fix names
};

// Never fails: an unusable reference is an InvalidArgument error instead of a diagnosis.
Result<Diagnosis> Diagnose(const std::string& ref_text, const DoctorOptions& options = {});

// {"ref","cause","evidence":[...],"fix":[...]} — exactly these keys.
std::string DiagnosisJson(const Diagnosis& d);
// The verdict line first, then the evidence, then the fix.
std::string DiagnosisText(const Diagnosis& d);

// The nearest existing tag to `wanted` by the rule above; "" when tags is empty.
std::string NearestTag(std::string_view wanted, const std::vector<std::string>& tags);

}  // namespace wasmq::oci
