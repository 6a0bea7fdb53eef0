// File: src/cli/token.cc
//
// `wasmq token --sub USER [--ttl 24h] [--admin]`: signs an HS256 JWT with the server's secret (--jwt-secret or
// WASMQ_JWT_SECRET, as `wasmq serve` reads it), for an operator handing out access to a server with
// WASMQ_AUTH=jwt, and for scripts and tests. Prints the token alone.
//
// Exit codes: 0 printed; 2 bad input (no secret, a short one, a bad duration).
#include <iostream>

#include "api/api.h"
#include "base/units.h"
#include "cli/commands.h"
#include "config/flags.h"

namespace wasmq::cli {
namespace {

struct TokenArgs {
  std::string subject, ttl = "24h";
  bool admin = false;
  config::LoadInput input;
};

int Token(const TokenArgs& a) {
  auto cfg = config::Load(a.input);
  if (!cfg) {
    std::cerr << "wasmq token: " << cfg.error().message << "\n";
    return 2;
  }
  if (cfg->jwt_secret.size() < 32) {
    std::cerr << "wasmq token: the secret (--jwt-secret or WASMQ_JWT_SECRET) must be at least 32 bytes\n";
    return 2;
  }
  auto ttl = base::ParseDuration(a.ttl);
  if (!ttl || *ttl < std::chrono::seconds(1)) {
    std::cerr << "wasmq token: --ttl: must be a duration of at least 1s (30m, 24h, 7d)\n";
    return 2;
  }
  std::cout << api::SignToken(cfg->jwt_secret, a.subject,
                              std::chrono::duration_cast<std::chrono::seconds>(*ttl), a.admin)
            << "\n";
  return 0;
}

}  // namespace

void AddTokenCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<TokenArgs>();
  CLI::App* cmd = app.add_subcommand("token", "Sign a JWT for a user of a server with WASMQ_AUTH=jwt");
  cmd->add_option("--sub", a->subject, "the user the token speaks for (its tasks and files)")->required();
  cmd->add_option("--ttl", a->ttl, "how long the token is valid [24h]");
  cmd->add_flag("--admin", a->admin, "an admin's token (\"admin\": true): sees every user's tasks, and the workers");
  config::AddSettingFlags(cmd, &a->input, {"jwt-secret"});
  cmd->callback([a, exit_code] { *exit_code = Token(*a); });
}

}  // namespace wasmq::cli
