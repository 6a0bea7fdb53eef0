// File: src/cli/gates.h
//
// The trust and admission gates of `serve` and `worker` (issue #18), built from the configuration:
//   --trust-policy      which modules may run and whose signature they need (sign/sign.h), checked before
//                       any module is pulled or read; verified digests are remembered (sign::VerifiedCache)
//   --module-policy     an OPA Wasm policy on every module ({"ref","digest","signers","imports","size"})
//   --admission-policy  an OPA Wasm policy on every submitted task ({"request","user","queue"})
// The two policies come from a file or an OCI reference and are reloaded on SIGHUP and, for a file, when
// it changes (policy::ReloadablePolicy: decisions in flight keep the policy they started with).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "policy/policy.h"
#include "queue/error.h"
#include "sign/sign.h"
#include "worker/registry.h"

namespace wasmq::cli {

class Gates {
 public:
  // Loads what the configuration names (nothing when it names nothing). InvalidArgument naming the setting
  // and the problem: an unreadable or malformed trust policy, a policy that does not load.
  static queue::Result<std::unique_ptr<Gates>> Load(const config::Config& cfg);

  bool any_policy() const { return admission_ || module_; }
  // For PipelineRegistry::SetGate. Refers to this object: it must outlive the registry's use.
  worker::ModuleGate ModuleGate();
  // For ApiConfig::admit_task; empty without --admission-policy.
  std::function<std::optional<std::string>(const nlohmann::json&)> TaskAdmission();
  // SIGHUP: reloads both policies, logging what happened.
  void Reload(const std::function<void(std::string_view)>& log);
  // Watches the policy files for changes.
  void Watch(const std::function<void(std::string_view)>& log);
  // One line for the start-up log ("" when there is nothing to say).
  std::string Describe() const;

 private:
  std::optional<sign::TrustPolicy> trust_;
  sign::VerifiedCache verified_;
  oci::ClientOptions client_;
  std::unique_ptr<policy::ReloadablePolicy> admission_, module_;
};

}  // namespace wasmq::cli
