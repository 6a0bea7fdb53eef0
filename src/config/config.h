// File: src/config/config.h
//
// wasmq's configuration: one table of settings (Settings()), each reachable as a command-line flag, an
// environment variable and a line of a `.env` file, resolved in that order of precedence over the default:
//
//   flag (--workers 4)  >  environment (WASMQ_WORKERS=4)  >  .env (WASMQ_WORKERS=4)  >  default
//
// Load() resolves and validates everything at once; the first bad value stops start-up with a message that
// names where it came from: "WASMQ_WORKERS=abc (environment): must be an integer from 0 to 1024". The seed's
// REDIS_HOST / REDIS_PORT / REDIS_DB are honoured under those names.
//
// Durations and sizes follow base/units.h, the rule `wasmq run` uses too: 250ms, 30s, 5m, 2h, 7d (a bare
// number other than 0 is refused, so "30" cannot be misread); 65536, 64KiB, 16mb, 256MiB, 1GiB (units in
// any case).
//
// Adding a setting: a row in the table (config.cc), a field in Config, a line in Load(), docs/queue.md.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"

namespace wasmq::config {

// A setting that cannot be used; the message names it and where its value came from.
struct Error {
  std::string message;
};
template <typename T>
using Result = base::Result<T, Error>;

struct Setting {
  std::string_view key;       // the flag without dashes: "workers" → --workers
  std::string_view env;       // "WASMQ_WORKERS"
  std::string_view fallback;  // the default, as text ("" = unset)
  std::string_view help;
};

// Every setting, in the order `wasmq serve --help` lists them.
std::span<const Setting> Settings();

struct Config {
  std::string addr;                     // HTTP listen address, host:port
  std::string store_url;                // sqlite:PATH or redis://HOST:PORT/DB (derived when not given)
  std::string data_dir;                 // task directories and uploaded files live under it
  std::string engine_config_path;       // the engine config file (docs/engines.md); empty: built-in engines only
  int workers = 0;                      // resolved: 0 in the table means one per CPU
  int prefetch = -1;                    // tasks claimed ahead of free workers; -1 = adaptive (worker.h)
  std::vector<std::string> modes = {};  // modes this process works on; empty = all registered
  std::map<std::string, std::string> pipelines = {};  // mode → module path (explicit and from pipelines_dir)
  bool builtin_pipelines = true;  // also serve the built-in pipelines for modes `pipelines` lacks
  std::map<std::string, int> mode_limits = {};        // mode → max concurrent tasks in this process
  // WASI-NN (docs/nn.md): NAME=PATH|OCI-REF models pipelines load by name; computes at once (0: one per CPU).
  std::vector<std::string> nn_models = {};
  int nn_threads = 0;
  uint64_t nn_max_graph_bytes = 0, nn_max_tensor_bytes = 0;  // per `load`, per tensor
  int64_t task_timeout_ms = 0;
  int max_retries = 0;
  int64_t idempotency_ttl_ms = 0;  // WASMQ_IDEMPOTENCY_TTL
  int64_t retry_backoff_ms = 0, retry_backoff_max_ms = 0;
  int64_t lease_ms = 0;
  int64_t task_ttl_ms = 0;  // 0: keep finished tasks forever
  int64_t cleanup_interval_ms = 0;
  int64_t shutdown_grace_ms = 0;
  uint64_t max_memory_bytes = 0;  // per task instance
  std::string compile = {};       // auto, always or never: wasm::CompileMode of the pipelines' engine
  std::string memory_guards = {}; // auto, on or off: wasm::MemoryGuards of the pipelines' engine
  uint64_t max_output_bytes = 0;  // what a task's pipeline may write to /out
  uint64_t max_output_files = 0;  // names it may create there
  bool sqlite_sync_full = false;
  // The HTTP API (api::ApiConfig has the details of each).
  bool auth_jwt = false;
  std::string jwt_secret = {}, jwt_issuer = {}, jwt_audience = {};
  std::vector<std::string> cors_origins = {};
  uint64_t max_upload_bytes = 0;
  int max_connections = 0;
  double rate_limit = 0;
  int rate_burst = 0;
  // Per-user limits and weights (queue/fairness.h); user_limits is WASMQ_USER_LIMITS's text.
  int user_max_running = 0, user_max_pending = 0, user_tasks_per_minute = 0;
  std::string user_limits = {};
  std::string web_root = {};
  bool access_log = false;
  std::string log_format = "text";  // serve's and worker's log lines: "text" or "json"
  std::string metrics_token = {};  // /metrics needs it as a Bearer token when set
  std::string metrics_addr = {};   // HOST:PORT serving /metrics alone; empty: /metrics on addr
  // Object storage (docs/storage.md): "" = DATA_DIR; "s3://BUCKET/PREFIX?endpoint=…&region=…".
  std::string storage_url = {};
  uint64_t storage_part_size = 0;
  bool storage_redirect = false;  // output downloads answer 302 to a presigned URL
  int64_t storage_url_ttl_ms = 0;
  // Pipelines named by OCI reference (oci/oci.h, worker::OciSource).
  std::string cache_dir = {};                         // "" = the oci default
  bool offline = false;
  std::vector<std::string> insecure_registries = {};
  std::vector<std::string> task_modules = {};  // OCI reference prefixes a task's "module" may name
  std::string k8s_secret = {};
  // Trust and admission (docs/sign.md, docs/policy.md). Policies are a file or an OCI reference.
  std::string trust_policy = {};      // JSON rules: which modules need whose signature
  std::string admission_policy = {};  // OPA Wasm deciding on each submitted task
  std::string module_policy = {};     // OPA Wasm deciding on each module before it runs
  std::string redis_host = {};
  int redis_port = 6379, redis_db = 0;
  std::string redis_prefix = {};
  int redis_wait_replicas = -1;  // -1: auto (1 with Sentinel, else 0)
  int64_t redis_wait_timeout_ms = 1000;
};

struct LoadInput {
  std::map<std::string, std::string> flags = {};  // setting key → value given on the command line
  // Reads an environment variable (std::getenv by default; tests inject a map).
  std::function<std::optional<std::string>(const std::string&)> getenv = nullptr;
  std::string dotenv_path = ".env";  // a missing file is fine; a malformed one is an error
};

// Resolves every setting and validates it; the first bad one stops it, naming the variable and its source.
Result<Config> Load(const LoadInput& input);

// Parses a .env file's text into KEY → VALUE (later lines win). The error says "FILE:LINE: ...".
Result<std::map<std::string, std::string>> ParseDotEnv(std::string_view text, std::string_view file_name);

}  // namespace wasmq::config
