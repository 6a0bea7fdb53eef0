// File: src/cli/policy.cc
//
// `wasmq policy eval POLICY.wasm|OCI-REF --input JSON [--data JSON] [--entrypoint NAME]`: one decision
// of an OPA policy compiled to Wasm, on the policy part (src/policy), printing the result set the
// policy returns (`[{"result": …}]`, `[]` when undefined) on stdout. It is how an operator tries a policy
// before giving it to a gate, and what the differential test runs against OPA's npm SDK.
//
// --input and --data take inline JSON or @FILE (@- is stdin). A POLICY that is no file but an OCI
// reference is pulled through the cache as `wasmq run REF` does.
//
// Exit codes: 0 decided; 1 the policy aborted (its message on stderr: a conflict between rule values,
// say) or the evaluation failed; 2 usage error (bad JSON, unknown entrypoint); 125 the policy could not
// be loaded (unreadable, not an OPA policy, a builtin wasmq lacks, a failed pull).
#include "policy/policy.h"

#include <sys/stat.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/commands.h"

namespace wasmq::cli {
namespace {

constexpr int kExitAbort = 1;
constexpr int kExitUsage = 2;
constexpr int kExitCannotLoad = 125;

struct PolicyEvalArgs {
  std::string policy, input, data, entrypoint;
  bool input_set = false;
};

// Inline JSON, or the contents of FILE for "@FILE" ("@-": stdin).
bool ReadJsonArg(const std::string& arg, std::string* out, std::string* error) {
  if (arg.rfind('@', 0) != 0) {
    *out = arg;
    return true;
  }
  std::string path = arg.substr(1);
  if (path == "-") {
    *out = std::string(std::istreambuf_iterator<char>(std::cin), {});
    return true;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read '" + path + "'";
    return false;
  }
  *out = std::string(std::istreambuf_iterator<char>(in), {});
  return true;
}

int PolicyEval(const PolicyEvalArgs& a) {
  std::string input, data = "{}", err;
  if (!ReadJsonArg(a.input, &input, &err)) {
    std::cerr << "wasmq policy eval: --input: " << err << "\n";
    return kExitUsage;
  }
  if (!a.data.empty() && !ReadJsonArg(a.data, &data, &err)) {
    std::cerr << "wasmq policy eval: --data: " << err << "\n";
    return kExitUsage;
  }
  if (!nlohmann::json::accept(input)) {
    std::cerr << "wasmq policy eval: --input: not valid JSON\n";
    return kExitUsage;
  }
  if (!nlohmann::json::accept(data)) {
    std::cerr << "wasmq policy eval: --data: not valid JSON\n";
    return kExitUsage;
  }

  std::string file = a.policy;
  if (struct stat st; stat(file.c_str(), &st) != 0) {
    std::string pull_err;
    if (auto pulled = PullModuleForRun(a.policy, &pull_err)) {
      file = *pulled;
    } else if (!pull_err.empty()) {
      std::cerr << "wasmq policy eval: " << pull_err << "\n";
      return kExitCannotLoad;
    }
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::cerr << "wasmq policy eval: cannot read '" << a.policy << "'\n";
    return kExitCannotLoad;
  }
  std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};

  policy::Options options;
  options.data_json = data;
  options.max_instances = 1;
  auto loaded = policy::Policy::Load(bytes, std::move(options));
  if (!loaded) {
    std::cerr << "wasmq policy eval: " << a.policy << ": " << loaded.error().message << "\n";
    return loaded.error().kind == policy::Error::Kind::Input ? kExitUsage : kExitCannotLoad;
  }
  const policy::Policy& p = **loaded;
  int32_t entrypoint = 0;
  if (!a.entrypoint.empty()) {
    auto id = p.ResolveEntrypoint(a.entrypoint);
    if (!id) {
      std::cerr << "wasmq policy eval: --entrypoint: " << id.error().message << "\n";
      return kExitUsage;
    }
    entrypoint = *id;
  }
  auto result = p.Eval(input, entrypoint);
  if (!result) {
    const policy::Error& e = result.error();
    if (e.kind == policy::Error::Kind::Abort) {
      std::cerr << "wasmq policy eval: policy aborted: " << e.message << "\n";
      return kExitAbort;
    }
    std::cerr << "wasmq policy eval: " << e.message << "\n";
    return e.kind == policy::Error::Kind::Input ? kExitUsage : kExitAbort;
  }
  std::cout << *result << "\n";
  return 0;
}

}  // namespace

void AddPolicyCommand(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand("policy", "Evaluate OPA policies compiled to WebAssembly");
  cmd->require_subcommand(1);
  auto a = std::make_shared<PolicyEvalArgs>();
  CLI::App* eval = cmd->add_subcommand("eval", "One decision: print the policy's result set as JSON");
  eval->add_option("POLICY", a->policy, "the policy: POLICY.wasm (opa build -t wasm) or an OCI reference")
      ->required();
  eval->add_option("--input", a->input, "the input document: JSON, or @FILE (@- for stdin)")->required();
  eval->add_option("--data", a->data, "the data document: JSON, or @FILE [{}]");
  eval->add_option("--entrypoint", a->entrypoint, "entrypoint by name (example/allow) or id [0]");
  eval->callback([a, exit_code] { *exit_code = PolicyEval(*a); });
}

}  // namespace wasmq::cli
