// File: src/config/config.cc
//
// The settings table, value resolution (flag > env > .env > default) and validation.
#include "config/config.h"

#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/encoding.h"
#include "base/units.h"
#include "queue/queue.h"

namespace wasmq::config {
namespace {

Error InvalidArgument(std::string message) { return Error{std::move(message)}; }

constexpr Setting kSettings[] = {
    {"addr", "WASMQ_ADDR", "127.0.0.1:8080",
     "HTTP API and dashboard listen address, HOST:PORT (port 0: any free one)"},
    {"store", "WASMQ_STORE", "",
     "task store: sqlite:PATH, redis://[USER:PASSWORD@]HOST:PORT/DB[?prefix=NAME] or "
     "redis+sentinel://[USER:PASSWORD@]HOST:PORT,HOST:PORT/MASTER/DB[?prefix=NAME&sentinel_password=PASS] "
     "(default: sqlite:DATA_DIR/wasmq.db, or Redis when REDIS_HOST is set)"},
    {"data-dir", "WASMQ_DATA_DIR", "wasmq-data",
     "directory for task files (DATA_DIR/tasks/ID/{in,out}) and uploads "
     "(DATA_DIR/files)"},
    {"storage", "WASMQ_STORAGE", "",
     "where uploads and task outputs live: empty for DATA_DIR, or "
     "s3://BUCKET/PREFIX?endpoint=URL&region=R (credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
     "the shared credentials file; docs/storage.md)"},
    {"storage-part-size", "WASMQ_STORAGE_PART_SIZE", "8MiB",
     "objects larger than this go to the bucket as a multipart upload in parts this big (at least 5MiB)"},
    {"storage-redirect", "WASMQ_STORAGE_REDIRECT", "off",
     "on: with s3:// storage, output downloads answer 302 to a presigned URL of the bucket instead of "
     "passing through the API"},
    {"storage-url-ttl", "WASMQ_STORAGE_URL_TTL", "15m", "how long a presigned download URL stays valid"},
    {"workers", "WASMQ_WORKERS", "auto",
     "tasks run at once by this process (auto: one per CPU; 0: none, an API-only node)"},
    {"prefetch", "WASMQ_PREFETCH", "auto",
     "tasks claimed ahead of free workers (auto: about 20 ms of work, so "
     "none when tasks are long; 0: never)"},
    {"modes", "WASMQ_MODES", "",
     "comma-separated modes this process runs (default: every registered pipeline)"},
    {"pipelines", "WASMQ_PIPELINES", "",
     "pipeline modules: MODE=PATH.wasm,... (over those of --pipelines-dir and the built-in HEAD_SWAP, "
     "BACKGROUND_CHANGE, POSE_CHANGE; given empty: no pipelines at all, not even the built-in ones)"},
    {"pipelines-dir", "WASMQ_PIPELINES_DIR", "", "directory of pipeline modules; NAME.wasm serves mode NAME"},
    {"engine-config", "ENGINE_CONFIG_PATH", "",
     "engine config file (JSON, docs/engines.md): the engines pipelines call by name (face-detect is built "
     "in)"},
    {"cache-dir", "WASMQ_CACHE_DIR", "",
     "cache of modules pulled from OCI registries (default: $XDG_CACHE_HOME/wasmq or ~/.cache/wasmq)"},
    {"offline", "WASMQ_OFFLINE", "off",
     "on: pipelines named by OCI reference come from the cache only, never the network"},
    {"insecure-registries", "WASMQ_INSECURE_REGISTRIES", "",
     "comma-separated registries (HOST[:PORT], * for all) spoken to over plain HTTP; loopback always is"},
    {"k8s-secret", "WASMQ_K8S_SECRET", "",
     "a kubernetes.io/dockerconfigjson secret file (YAML or JSON) with registry credentials"},
    {"task-modules", "WASMQ_TASK_MODULES", "",
     "comma-separated OCI reference prefixes (e.g. registry.example.com/pipelines/) under which a task's "
     "config "
     "may name its own module as \"module\": REF; empty: tasks cannot choose modules"},
    {"trust-policy", "WASMQ_TRUST_POLICY", "",
     "trust policy file (JSON, docs/sign.md): which pipeline and task modules may run and whose signature "
     "they need; serve/worker refuse to start when a configured pipeline fails it"},
    {"admission-policy", "WASMQ_ADMISSION_POLICY", "",
     "task admission policy (OPA Wasm, a file or an OCI reference; docs/policy.md): a task it denies is "
     "refused with 403; reloaded on SIGHUP and when the file changes"},
    {"module-policy", "WASMQ_MODULE_POLICY", "",
     "module admission policy (OPA Wasm, a file or an OCI reference; docs/policy.md) on every pipeline and "
     "task module (ref, digest, signers, imports, size); reloaded on SIGHUP and when the file changes"},
    {"mode-limits", "WASMQ_MODE_LIMITS", "", "per-mode concurrency limits: MODE=N,..."},
    {"nn-model", "WASMQ_NN_MODELS", "",
     "WASI-NN models pipelines load by name (docs/nn.md): NAME=PATH (an ONNX file) or NAME=OCI-REF, "
     "comma-separated; CACHE_DIR/models/NAME.json index files are known by name too"},
    {"nn-threads", "WASMQ_NN_THREADS", "auto", "WASI-NN computes run at once in this process (auto: one per CPU)"},
    {"nn-max-graph", "WASMQ_NN_MAX_GRAPH", "512MiB", "largest model a pipeline may give WASI-NN's load (too_large past it)"},
    {"nn-max-tensor", "WASMQ_NN_MAX_TENSOR", "256MiB",
     "largest WASI-NN input or output tensor of a pipeline, as given and as f32 (too_large past it)"},
    {"task-timeout", "WASMQ_TASK_TIMEOUT", "5m",
     "default per-task timeout (a task may set its own timeout_ms)"},
    {"max-retries", "WASMQ_MAX_RETRIES", "3",
     "default retries after a failed attempt (a task may set max_retries)"},
    {"idempotency-ttl", "WASMQ_IDEMPOTENCY_TTL", "24h",
     "how long an Idempotency-Key returns the task it created (the same key and body: that task again)"},
    {"retry-backoff", "WASMQ_RETRY_BACKOFF", "1s",
     "delay before the first retry; doubles at each retry, with jitter"},
    {"retry-backoff-max", "WASMQ_RETRY_BACKOFF_MAX", "1m", "longest delay between retries"},
    {"lease", "WASMQ_LEASE", "30s", "how long a worker's claim on a task lasts without a heartbeat"},
    {"task-ttl", "WASMQ_TASK_TTL", "7d",
     "finished tasks and their files are removed this long after finishing (0: "
     "never)"},
    {"cleanup-interval", "WASMQ_CLEANUP_INTERVAL", "1m", "how often expired tasks are removed"},
    {"shutdown-grace", "WASMQ_SHUTDOWN_GRACE", "30s",
     "on SIGINT/SIGTERM, how long running tasks may finish before "
     "they are handed back"},
    {"max-memory", "WASMQ_MAX_MEMORY", "256MiB", "linear memory cap per task instance"},
    {"compile", "WASMQ_COMPILE", "auto",
     "which tier runs the pipelines: never (the interpreter only), auto (interpret a module until its "
     "machine code is ready, compiling in the background) or always (compile before the first task)"},
    {"memory-guards", "WASMQ_MEMORY_GUARDS", "auto",
     "compiled code's linear memories: on (8 GiB of address space each, guard pages instead of bounds "
     "checks), off (bounds checks) or auto (on unless the address space is limited)"},
    {"max-output", "WASMQ_MAX_OUTPUT", "256MiB",
     "most bytes a task's pipeline may write to /out (EDQUOT past it; the task fails with OUTPUT_TOO_LARGE)"},
    {"max-output-files", "WASMQ_MAX_OUTPUT_FILES", "10000",
     "most files, directories and links a task's pipeline may create in /out (as --max-output)"},
    {"sqlite-sync", "WASMQ_SQLITE_SYNC", "normal",
     "SQLite commit durability: normal (safe against process crashes) "
     "or full (also power loss; slower)"},
    {"auth", "WASMQ_AUTH", "off",
     "API authentication: off (one anonymous user; the edge default) or jwt (HS256 Bearer tokens; "
     "each token's sub owns its tasks and files)"},
    {"jwt-secret", "WASMQ_JWT_SECRET", "", "HS256 key for --auth jwt, at least 32 bytes"},
    {"jwt-issuer", "WASMQ_JWT_ISSUER", "", "when set, a token's iss must equal it"},
    {"jwt-audience", "WASMQ_JWT_AUDIENCE", "", "when set, a token's aud must contain it"},
    {"cors-origins", "WASMQ_CORS_ORIGINS", "",
     "comma-separated origins allowed to call the API from a browser (* for any; empty: none)"},
    {"max-upload", "WASMQ_MAX_UPLOAD", "32MiB", "largest uploaded file (413 past it)"},
    {"max-connections", "WASMQ_MAX_CONNECTIONS", "1024", "open HTTP and WebSocket connections at most"},
    {"rate-limit", "WASMQ_RATE_LIMIT", "0",
     "API requests per second per user (per client IP with auth off), 429 past it; 0: no limit"},
    {"rate-burst", "WASMQ_RATE_BURST", "0", "requests allowed at once above the rate (0: twice the rate)"},
    {"user-max-running", "WASMQ_USER_MAX_RUNNING", "0",
     "tasks of one user processing at once; the others wait, pending (0: no limit)"},
    {"user-max-pending", "WASMQ_USER_MAX_PENDING", "0",
     "pending tasks one user may have; creating more answers 429 RATE_LIMITED (0: no limit)"},
    {"user-tasks-per-minute", "WASMQ_USER_TASKS_PER_MINUTE", "0",
     "tasks one user may create per minute (a bucket of that size); 429 RATE_LIMITED with Retry-After past "
     "it (0: no limit)"},
    {"user-limits", "WASMQ_USER_LIMITS", "",
     "per-user weights and overrides of the three limits above: "
     "'USER:weight=2,max_running=8,max_pending=0,per_minute=600;USER:…' (docs/queue.md)"},
    {"web-root", "WASMQ_WEB_ROOT", "",
     "serve the dashboard from this directory instead of the copy built into the binary"},
    {"access-log", "WASMQ_ACCESS_LOG", "off", "one line per HTTP request on stderr: on or off"},
    {"log-format", "WASMQ_LOG_FORMAT", "text",
     "serve's and worker's log lines on stderr: text, or json (one object per line: time, level, message, "
     "fields, trace_id, span_id)"},
    {"metrics-token", "WASMQ_METRICS_TOKEN", "",
     "when set, GET /metrics needs 'Authorization: Bearer <this token>' (401 otherwise)"},
    {"metrics-addr", "WASMQ_METRICS_ADDR", "",
     "serve /metrics on this HOST:PORT alone instead of on --addr (empty: on --addr)"},
    {"redis-host", "REDIS_HOST", "", "Redis host (selects the Redis store when --store is not given)"},
    {"redis-port", "REDIS_PORT", "6379", "Redis port"},
    {"redis-db", "REDIS_DB", "0", "Redis database number"},
    {"redis-password", "REDIS_PASSWORD", "",
     "Redis password (AUTH) for a store derived from REDIS_HOST; a --store URL carries its own"},
    {"redis-prefix", "WASMQ_REDIS_PREFIX", "wasmq", "Redis key prefix ({prefix}:task:queue, ...)"},
    {"redis-wait-replicas", "WASMQ_REDIS_WAIT_REPLICAS", "auto",
     "Redis replicas that must have a task's creation, finish or cancel (WAIT) before it is acknowledged, "
     "so a failover cannot lose it (auto: 1 with redis+sentinel://, 0 with redis://)"},
    {"redis-wait-timeout", "WASMQ_REDIS_WAIT_TIMEOUT", "1s",
     "how long such a write waits for those replicas; past it the call fails unacknowledged (503)"},
};

enum class Source { Default, DotEnv, Env, Flag };

struct Value {
  std::string text;
  Source source = Source::Default;
  const Setting* setting = nullptr;
};

// "--workers abc", "WASMQ_WORKERS=abc (environment)", ... — where a bad value came from.
std::string Where(const Value& v) {
  switch (v.source) {
    case Source::Flag:
      return "--" + std::string(v.setting->key) + " '" + v.text + "'";
    case Source::Env:
      return std::string(v.setting->env) + "=" + v.text + " (environment)";
    case Source::DotEnv:
      return std::string(v.setting->env) + "=" + v.text + " (.env)";
    case Source::Default:
      return std::string(v.setting->env) + " default '" + v.text + "'";
  }
  return "?";
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

// Validation keeps the first bad value: Load() returns it. The checks after it still run, on in-range
// placeholders, but cannot replace it, so the message names the first bad setting in Load()'s order.
class Checker {
 public:
  void Bad(const Value& v, const std::string& why) {
    if (!first_) first_ = Error{Where(v) + ": " + why};
  }
  const std::optional<Error>& first() const { return first_; }

  // The integer `text` (the whole value by default, or one part of it, named by `what`).
  int64_t Int(const Value& v, int64_t lo, int64_t hi, std::optional<std::string> text = std::nullopt,
              const std::string& what = "") {
    const std::string& t = text ? *text : v.text;
    int64_t out = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    if (ec != std::errc() || p != t.data() + t.size() || out < lo || out > hi) {
      Bad(v, what + "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
      return lo;
    }
    return out;
  }

  int64_t DurationMs(const Value& v, int64_t min_ms) {
    auto d = base::ParseDuration(v.text);
    if (!d) {
      Bad(v, "must be a duration with a unit: 250ms, 30s, 5m, 2h, 7d");
      return min_ms;
    }
    if (d->count() < min_ms) {
      Bad(v, "must be at least " + std::to_string(min_ms) + "ms");
      return min_ms;
    }
    return d->count();
  }

  // A size from `lo` to `hi` bytes; `rule` says which in the message.
  uint64_t Bytes(const Value& v, uint64_t lo, uint64_t hi, const std::string& rule) {
    auto b = base::ParseBytes(v.text);
    if (!b || *b < lo || *b > hi) {
      Bad(v, rule);
      return lo;
    }
    return *b;
  }

  std::string Mode(const Value& v, const std::string& m) {
    if (!queue::IsValidModeName(m)) Bad(v, "'" + m + "' is not a valid mode name");
    return m;
  }

 private:
  std::optional<Error> first_;
};

}  // namespace

std::span<const Setting> Settings() { return kSettings; }

Result<std::map<std::string, std::string>> ParseDotEnv(std::string_view text, std::string_view file_name) {
  std::map<std::string, std::string> out;
  size_t line_no = 0, pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string_view::npos || line[b] == '#') {
      if (end == text.size()) break;
      continue;
    }
    line = line.substr(b);
    if (line.starts_with("export ")) line = line.substr(7);
    auto where = [&](const std::string& why) {
      return InvalidArgument(std::string(file_name) + ":" + std::to_string(line_no) + ": " + why);
    };
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return where("expected KEY=VALUE");
    std::string key(line.substr(0, eq));
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    if (key.empty()) return where("expected KEY=VALUE");
    for (char c : key)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
        return where("'" + key + "' is not a variable name");
    std::string_view raw = line.substr(eq + 1);
    size_t vb = raw.find_first_not_of(" \t");
    raw = vb == std::string_view::npos ? std::string_view() : raw.substr(vb);
    std::string value;
    if (!raw.empty() && (raw[0] == '"' || raw[0] == '\'')) {
      char q = raw[0];
      size_t i = 1;
      bool closed = false;
      for (; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == q) {
          closed = true;
          break;
        }
        if (q == '"' && c == '\\' && i + 1 < raw.size()) {
          char n = raw[++i];
          value += n == 'n' ? '\n' : n == 't' ? '\t' : n;
        } else {
          value += c;
        }
      }
      if (!closed) return where("unterminated quote");
      std::string_view rest = raw.substr(i + 1);
      size_t rb = rest.find_first_not_of(" \t");
      if (rb != std::string_view::npos && rest[rb] != '#')
        return where("unexpected text after the closing quote");
    } else {
      // Unquoted: a " #" starts a comment; surrounding blanks are dropped.
      size_t hash = raw.find(" #");
      value = std::string(raw.substr(0, hash));
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    }
    out[key] = value;
    if (end == text.size()) break;
  }
  return out;
}

Result<Config> Load(const LoadInput& input) {
  // Gather: for each setting, the value of highest precedence.
  std::map<std::string, std::string> dotenv;
  {
    std::ifstream f(input.dotenv_path);
    if (f) {
      std::stringstream ss;
      ss << f.rdbuf();
      auto parsed = ParseDotEnv(ss.str(), input.dotenv_path);
      if (!parsed) return parsed.error();
      dotenv = std::move(*parsed);
    }
  }
  auto getenv = input.getenv ? input.getenv : [](const std::string& k) -> std::optional<std::string> {
    const char* v = std::getenv(k.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  std::map<std::string, Value, std::less<>> values;
  for (const Setting& s : kSettings) {
    Value v{std::string(s.fallback), Source::Default, &s};
    const std::string env(s.env);
    if (auto it = dotenv.find(env); it != dotenv.end()) v = {it->second, Source::DotEnv, &s};
    if (auto e = getenv(env)) v = {*e, Source::Env, &s};
    if (auto it = input.flags.find(std::string(s.key)); it != input.flags.end())
      v = {it->second, Source::Flag, &s};
    values.emplace(std::string(s.key), std::move(v));
  }
  for (const auto& [key, text] : input.flags)
    if (!values.count(key)) return InvalidArgument("--" + key + ": no such setting");
  auto get = [&](std::string_view key) -> const Value& { return values.find(key)->second; };

  Checker check;
  Config c;
  {
    const Value& v = get("addr");
    size_t colon = v.text.rfind(':');
    if (colon == std::string::npos || colon == 0) check.Bad(v, "must be HOST:PORT");
    check.Int(v, 0, 65535, v.text.substr(colon + 1), "the port (0: any free one) ");
    c.addr = v.text;
  }
  c.data_dir = get("data-dir").text;
  c.engine_config_path = get("engine-config").text;
  if (c.data_dir.empty()) check.Bad(get("data-dir"), "must not be empty");
  if (const Value& v = get("workers"); v.text == "auto")
    c.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  else
    c.workers = static_cast<int>(check.Int(v, 0, 1024));
  if (const Value& v = get("prefetch"); v.text != "auto") c.prefetch = static_cast<int>(check.Int(v, 0, 1024));
  for (const std::string& m : SplitList(get("modes").text)) c.modes.push_back(check.Mode(get("modes"), m));

  if (const Value& v = get("pipelines-dir"); !v.text.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(v.text, ec)) check.Bad(v, "is not a directory");
    for (const auto& entry : std::filesystem::directory_iterator(v.text, ec)) {
      if (entry.path().extension() != ".wasm") continue;
      std::string mode = entry.path().stem().string();
      if (queue::IsValidModeName(mode)) c.pipelines[mode] = entry.path().string();
    }
  }
  for (const std::string& item : SplitList(get("pipelines").text)) {
    const Value& v = get("pipelines");
    size_t eq = item.find('=');
    if (eq == std::string::npos) check.Bad(v, "'" + item + "' must be MODE=PATH");
    std::string mode = check.Mode(v, item.substr(0, eq)), path = item.substr(eq + 1);
    // Not a readable file: an OCI reference (`oci://` optional) that the worker pulls through the cache.
    bool looks_like_ref = path.rfind("oci://", 0) == 0 ||
                          (path.find(':') != std::string::npos && path.find('/') != std::string::npos &&
                           path.size() > 5 && path.substr(path.size() - 5) != ".wasm");
    if (access(path.c_str(), R_OK) != 0 && !looks_like_ref)
      check.Bad(v, "cannot read the module for " + mode + ": " + path);
    c.pipelines[mode] = path;
  }
  // `--pipelines ""` (or WASMQ_PIPELINES=) says "no pipelines": the built-in ones stay out too.
  c.builtin_pipelines = !(get("pipelines").source != Source::Default && get("pipelines").text.empty());
  for (const std::string& item : SplitList(get("mode-limits").text)) {
    const Value& v = get("mode-limits");
    size_t eq = item.find('=');
    if (eq == std::string::npos) check.Bad(v, "'" + item + "' must be MODE=N");
    std::string mode = check.Mode(v, item.substr(0, eq));
    c.mode_limits[mode] =
        static_cast<int>(check.Int(v, 1, 1024, item.substr(eq + 1), "the limit of " + mode + " "));
  }
  for (const std::string& item : SplitList(get("nn-model").text)) {
    const Value& v = get("nn-model");
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) check.Bad(v, "'" + item + "' must be NAME=PATH or NAME=OCI-REF");
    c.nn_models.push_back(item);
  }
  if (const Value& v = get("nn-threads"); v.text != "auto") c.nn_threads = static_cast<int>(check.Int(v, 1, 1024));
  c.nn_max_graph_bytes = check.Bytes(get("nn-max-graph"), 1024, uint64_t{4} << 30, "must be a size from 1KiB to 4GiB");
  c.nn_max_tensor_bytes = check.Bytes(get("nn-max-tensor"), 1024, uint64_t{4} << 30, "must be a size from 1KiB to 4GiB");
  c.task_timeout_ms = check.DurationMs(get("task-timeout"), 1);
  if (c.task_timeout_ms > queue::kMaxTimeoutMs) check.Bad(get("task-timeout"), "must be at most 7d");
  c.max_retries = static_cast<int>(check.Int(get("max-retries"), 0, queue::kMaxRetriesLimit));
  c.idempotency_ttl_ms = check.DurationMs(get("idempotency-ttl"), 1000);
  c.retry_backoff_ms = check.DurationMs(get("retry-backoff"), 0);
  c.retry_backoff_max_ms = check.DurationMs(get("retry-backoff-max"), 0);
  if (c.retry_backoff_max_ms < c.retry_backoff_ms)
    check.Bad(get("retry-backoff-max"), "must not be shorter than WASMQ_RETRY_BACKOFF");
  c.lease_ms = check.DurationMs(get("lease"), 100);
  c.task_ttl_ms = check.DurationMs(get("task-ttl"), 0);
  c.cleanup_interval_ms = check.DurationMs(get("cleanup-interval"), 10);
  c.shutdown_grace_ms = check.DurationMs(get("shutdown-grace"), 0);
  c.max_memory_bytes = check.Bytes(get("max-memory"), 65536, UINT64_MAX,
                                   "must be a size of at least 64KiB (65536, 64KiB, 256MiB, 1GiB)");
  c.max_output_bytes = check.Bytes(get("max-output"), 1024, UINT64_MAX,
                                   "must be a size of at least 1KiB (65536, 64KiB, 256MiB, 1GiB)");
  c.max_output_files = static_cast<uint64_t>(check.Int(get("max-output-files"), 1, 100'000'000));
  {
    const Value& v = get("compile");
    if (v.text != "auto" && v.text != "always" && v.text != "never") check.Bad(v, "must be auto, always or never");
    c.compile = v.text;
  }
  {
    const Value& v = get("memory-guards");
    if (v.text != "auto" && v.text != "on" && v.text != "off") check.Bad(v, "must be auto, on or off");
    c.memory_guards = v.text;
  }
  {
    const Value& v = get("sqlite-sync");
    if (v.text != "normal" && v.text != "full") check.Bad(v, "must be normal or full");
    c.sqlite_sync_full = v.text == "full";
  }
  {
    const Value& v = get("auth");
    if (v.text != "off" && v.text != "jwt") check.Bad(v, "must be off or jwt");
    c.auth_jwt = v.text == "jwt";
    c.jwt_secret = get("jwt-secret").text;
    if (c.auth_jwt && c.jwt_secret.size() < 32)
      check.Bad(get("jwt-secret"), "must be at least 32 bytes when WASMQ_AUTH=jwt (e.g. `openssl rand -hex 32`)");
    c.jwt_issuer = get("jwt-issuer").text;
    c.jwt_audience = get("jwt-audience").text;
  }
  c.cors_origins = SplitList(get("cors-origins").text);
  c.cache_dir = get("cache-dir").text;
  {
    const Value& v = get("offline");
    if (v.text != "on" && v.text != "off") check.Bad(v, "must be on or off");
    c.offline = v.text == "on";
  }
  c.storage_url = get("storage").text;
  if (!c.storage_url.empty() && !c.storage_url.starts_with("s3://"))
    check.Bad(get("storage"), "must be empty (the data directory) or s3://BUCKET/PREFIX?endpoint=URL&region=R");
  c.storage_part_size = check.Bytes(get("storage-part-size"), uint64_t{5} << 20, uint64_t{5} << 30,
                                    "must be a size from 5MiB to 5GiB");
  {
    const Value& v = get("storage-redirect");
    if (v.text != "on" && v.text != "off") check.Bad(v, "must be on or off");
    c.storage_redirect = v.text == "on";
  }
  c.storage_url_ttl_ms = check.DurationMs(get("storage-url-ttl"), 1000);
  if (c.storage_url_ttl_ms > 7LL * 24 * 3600 * 1000) check.Bad(get("storage-url-ttl"), "must be at most 7d");
  c.insecure_registries = SplitList(get("insecure-registries").text);
  c.task_modules = SplitList(get("task-modules").text);
  c.k8s_secret = get("k8s-secret").text;
  c.trust_policy = get("trust-policy").text;
  if (!c.trust_policy.empty() && access(c.trust_policy.c_str(), R_OK) != 0)
    check.Bad(get("trust-policy"), "cannot be read");
  c.admission_policy = get("admission-policy").text;
  c.module_policy = get("module-policy").text;
  if (!c.k8s_secret.empty() && access(c.k8s_secret.c_str(), R_OK) != 0) check.Bad(get("k8s-secret"), "cannot be read");
  c.max_upload_bytes = check.Bytes(get("max-upload"), 1024, uint64_t{4} << 30, "must be a size from 1KiB to 4GiB");
  c.max_connections = static_cast<int>(check.Int(get("max-connections"), 1, 1'000'000));
  {
    const Value& v = get("rate-limit");
    char* end = nullptr;
    c.rate_limit = std::strtod(v.text.c_str(), &end);
    if (v.text.empty() || *end != '\0' || !(c.rate_limit >= 0) || c.rate_limit > 1e6)
      check.Bad(v, "must be a number of requests per second from 0 to 1000000");
  }
  c.rate_burst = static_cast<int>(check.Int(get("rate-burst"), 0, 1'000'000));
  c.user_max_running = static_cast<int>(check.Int(get("user-max-running"), 0, 1'000'000));
  c.user_max_pending = static_cast<int>(check.Int(get("user-max-pending"), 0, 1'000'000'000));
  c.user_tasks_per_minute = static_cast<int>(check.Int(get("user-tasks-per-minute"), 0, 1'000'000'000));
  c.user_limits = get("user-limits").text;
  if (auto parsed = queue::ParseUserLimits(c.user_limits, {}); !parsed)
    check.Bad(get("user-limits"), parsed.error().message);
  c.web_root = get("web-root").text;
  if (!c.web_root.empty() && !std::filesystem::is_directory(c.web_root)) check.Bad(get("web-root"), "is not a directory");
  {
    const Value& v = get("access-log");
    if (v.text != "on" && v.text != "off") check.Bad(v, "must be on or off");
    c.access_log = v.text == "on";
  }
  {
    const Value& v = get("log-format");
    if (v.text != "text" && v.text != "json") check.Bad(v, "must be text or json");
    c.log_format = v.text;
  }
  c.metrics_token = get("metrics-token").text;
  if (const Value& v = get("metrics-addr"); !v.text.empty()) {
    size_t colon = v.text.rfind(':');
    if (colon == std::string::npos || colon == 0) check.Bad(v, "must be HOST:PORT");
    check.Int(v, 0, 65535, v.text.substr(colon + 1), "the port (0: any free one) ");
    c.metrics_addr = v.text;
  }
  c.redis_host = get("redis-host").text;
  c.redis_port = static_cast<int>(check.Int(get("redis-port"), 1, 65535));
  c.redis_db = static_cast<int>(check.Int(get("redis-db"), 0, 1'000'000));
  c.redis_prefix = get("redis-prefix").text;
  if (c.redis_prefix.empty() || c.redis_prefix.find_first_of(" {}") != std::string::npos)
    check.Bad(get("redis-prefix"), "must be non-empty, without spaces or braces");
  if (const Value& v = get("redis-wait-replicas"); v.text != "auto")
    c.redis_wait_replicas = static_cast<int>(check.Int(v, 0, 16));
  c.redis_wait_timeout_ms = check.DurationMs(get("redis-wait-timeout"), 1);
  {
    const Value& v = get("store");
    if (!v.text.empty()) {
      if (!v.text.starts_with("sqlite:") && !v.text.starts_with("redis://") &&
          !v.text.starts_with("redis+sentinel://"))
        check.Bad(v, "must be sqlite:PATH, redis://HOST:PORT/DB or redis+sentinel://HOST:PORT,…/MASTER/DB");
      if (v.text == "sqlite:") check.Bad(v, "sqlite: needs a file path");
      c.store_url = v.text;
    } else if (!c.redis_host.empty()) {
      // The password goes into the URL percent-encoded, so that any character survives the URL parser.
      std::string auth;
      if (const std::string& pw = get("redis-password").text; !pw.empty()) {
        auth = ":" + base::PercentEncode(pw) + "@";
      }
      c.store_url = "redis://" + auth + c.redis_host + ":" + std::to_string(c.redis_port) + "/" +
                    std::to_string(c.redis_db);
    } else {
      c.store_url = "sqlite:" + (std::filesystem::path(c.data_dir) / "wasmq.db").string();
    }
  }
  if (check.first()) return *check.first();
  return c;
}

}  // namespace wasmq::config
