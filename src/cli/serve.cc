// File: src/cli/serve.cc
//
// `wasmq serve`: the store, the HTTP API with the dashboard, and the worker pool in one process.
// `--workers 0` makes an API-only node (workers run elsewhere, on a shared Redis store).
//
// Start-up is all-or-nothing: a bad setting, a store that cannot be opened, a pipeline that does not
// compile, or an address that cannot be bound stops it with a message before any task is touched.
// Lifecycle on stderr, one line per event.
//
// Signals: the first SIGINT/SIGTERM closes the API (readiness goes 503, requests in flight finish,
// WebSockets close with 1001), stops claiming tasks and gives running ones --shutdown-grace to finish;
// what is still running then is interrupted and handed back to pending. A second signal ends the grace
// period at once.
//
// Trust and admission (cli/gates.h): with --trust-policy / --module-policy every configured pipeline is
// checked before start-up completes (a refusal is exit 2, naming the module and why); built-in pipelines
// are checked as `builtin:MODE`. --admission-policy decides on every submitted task (403 when it denies).
// SIGHUP reloads the policies (and only that, when one is configured).
//
// Exit codes: 0 after a clean shutdown; 1 the store or pool failed; 2 bad configuration or usage.
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "api/api.h"
#include "cli/commands.h"
#include "cli/gates.h"
#include "cli/lifecycle.h"
#include "config/flags.h"
#include "engines/engines.h"
#include "queue/queue.h"
#include "schedule/schedule.h"
#include "storage/storage.h"
#include "worker/worker.h"

namespace wasmq::cli {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitConfig = 2;

api::ApiConfig ApiSettings(const config::Config& cfg) {
  api::ApiConfig a;
  size_t colon = cfg.addr.rfind(':');  // Load() checked HOST:PORT
  a.addr = cfg.addr.substr(0, colon);
  if (a.addr.size() >= 2 && a.addr.front() == '[' && a.addr.back() == ']') a.addr = a.addr.substr(1, a.addr.size() - 2);
  if (a.addr == "localhost") a.addr = "127.0.0.1";
  a.port = static_cast<uint16_t>(std::stoi(cfg.addr.substr(colon + 1)));
  a.auth_required = cfg.auth_jwt;
  a.jwt_secret = cfg.jwt_secret;
  a.jwt_issuer = cfg.jwt_issuer;
  a.jwt_audience = cfg.jwt_audience;
  a.cors_origins = cfg.cors_origins;
  a.max_upload_bytes = cfg.max_upload_bytes;
  a.max_connections = cfg.max_connections;
  a.rate_limit = cfg.rate_limit;
  a.rate_burst = cfg.rate_burst;
  a.files_dir = storage::UploadsDir(cfg.data_dir);  // where the workspace stages from
  a.tasks_dir = storage::TasksDir(cfg.data_dir);
  a.web_root = cfg.web_root;
  a.access_log = cfg.access_log;
  a.metrics_token = cfg.metrics_token;
  a.metrics_addr = cfg.metrics_addr;
  if (a.metrics_addr.starts_with("localhost:")) a.metrics_addr = "127.0.0.1" + a.metrics_addr.substr(9);
  return a;
}

int Serve(const config::LoadInput& input) {
  auto cfg = config::Load(input);
  if (!cfg) {
    std::cerr << "wasmq serve: " << cfg.error().message << "\n";
    return kExitConfig;
  }
  api::ApiConfig api_config = ApiSettings(*cfg);
  auto object_storage = OpenConfiguredStorage(*cfg);
  if (!object_storage) {
    std::cerr << "wasmq serve: " << object_storage.error().message << "\n";
    return kExitConfig;
  }
  api_config.upload_store = object_storage->uploads;
  api_config.bucket = object_storage->bucket;
  api_config.redirect_downloads = cfg->storage_redirect;
  api_config.presign_ttl = std::chrono::seconds(cfg->storage_url_ttl_ms / 1000);
  if (auto r = api::ValidateConfig(api_config); !r) {
    std::cerr << "wasmq serve: " << r.error().message << "\n";
    return kExitConfig;
  }
  // The engines pipelines call (wasmq.engine_call); a bad engine config file stops start-up, naming the field.
  auto engine_registry = engines::EngineRegistry::Load(cfg->engine_config_path);
  if (!engine_registry) {
    std::cerr << "wasmq serve: " << engine_registry.error().message << "\n";
    return kExitConfig;
  }
  // Trust and admission: a bad policy stops start-up like any bad setting.
  auto gates = Gates::Load(*cfg);
  if (!gates) {
    std::cerr << "wasmq serve: " << gates.error().message << "\n";
    return kExitConfig;
  }
  Lifecycle life("serve", (*gates)->any_policy());  // before any thread starts
  life.SetLogFormat(cfg->log_format);
  // In JSON the access log's lines are objects too; in text they keep their own "wasmq api: …" form.
  if (cfg->log_format == "json") api_config.log = life.Logger();
  Tracing tracing(life, "serve");  // outlives the server and the pool: their last spans are flushed
  auto store = OpenConfiguredStore(*cfg);
  if (!store) {
    std::cerr << "wasmq serve: " << Redacted(cfg->store_url) << ": " << store.error().message << "\n";
    return store.error().code == queue::Code::InvalidArgument ? kExitConfig : kExitFailure;
  }
  // Every configured pipeline passes the trust policy and the module policy here: one that fails them
  // stops start-up, its message naming the pipeline and why ("module untrusted: pipeline M: REF: unsigned: …").
  if (auto nn_error = ConfigureNn(*cfg)) {
    std::cerr << "wasmq serve: " << *nn_error << "\n";
    return kExitConfig;
  }
  auto loaded = LoadConfiguredPipelines(*cfg, (*gates)->ModuleGate());
  if (!loaded) {
    std::cerr << "wasmq serve: " << loaded.error().message << "\n";
    return kExitConfig;
  }
  worker::PipelineRegistry& pipelines = **loaded;
  queue::ServiceOptions service_options;
  service_options.default_max_retries = cfg->max_retries;
  service_options.default_timeout_ms = cfg->task_timeout_ms;
  service_options.idempotency_ttl_ms = cfg->idempotency_ttl_ms;
  for (const std::string& mode : pipelines.modes()) service_options.extra_modes.insert(mode);
  queue::TaskService tasks(**store, std::move(service_options));
  api_config.admit_task = (*gates)->TaskAdmission();
  api_config.pipelines = [&pipelines] { return pipelines.Describe(); };  // fixed once loaded: safe to read
  api::ApiServer server(tasks, api_config);
  pipelines.OnPullFailure([&server](std::string_view cause) { server.ObserveModulePullFailure(cause); });
  worker::PoolOptions pool_options = PoolOptionsFor(*cfg, life.Logger());
  pool_options.engines = engine_registry->get();
  pool_options.uploads = object_storage->uploads;
  pool_options.bucket = object_storage->bucket;
  pool_options.on_instantiated = [&server](std::string_view mode, double seconds) {
    server.ObserveWasmInstantiation(mode, seconds);
  };
  worker::WorkerPool pool(**store, pipelines, std::move(pool_options));
  if (cfg->workers > 0) {
    if (auto r = pool.Start(); !r) {
      std::cerr << "wasmq serve: " << r.error().message << "\n";
      return r.error().code == queue::Code::InvalidArgument ? kExitConfig : kExitFailure;
    }
  }
  if (auto r = server.Start(); !r) {
    std::cerr << "wasmq serve: " << r.error().message << "\n";
    pool.Shutdown(std::chrono::milliseconds(0));
    return r.error().code == queue::Code::InvalidArgument ? kExitConfig : kExitFailure;
  }
  // Cron schedules fire from every `wasmq serve` (not from `wasmq worker`): each occurrence is claimed in
  // the store, so any number of API nodes enqueue it once, and schedules keep firing while one is up.
  schedule::ScheduleService schedules(tasks, {});
  auto firing = std::make_unique<schedule::FiringLoop>(schedules, schedule::FiringLoop::Options{});
  life.Log("store " + Redacted(cfg->store_url) + " (" + std::string((*store)->backend()) + "), " +
           (cfg->workers > 0 ? std::to_string(cfg->workers) + " worker(s)" : std::string("no workers (API only)")) +
           ", data in " + cfg->data_dir +
           (cfg->storage_url.empty() ? std::string() : ", uploads and outputs in " + cfg->storage_url));
  for (const std::string& mode : pipelines.modes())
    life.Log("pipeline " + mode + " = " + pipelines.Find(mode)->path);
  const std::string host = api_config.addr.find(':') != std::string::npos ? "[" + api_config.addr + "]" : api_config.addr;
  life.Log("API and dashboard on http://" + host + ":" + std::to_string(server.port()) + "/ (auth " +
           (cfg->auth_jwt ? "jwt" : "off") + ")");
  std::string engine_names;
  for (const std::string& name : (*engine_registry)->names())
    engine_names += (engine_names.empty() ? "" : ", ") + name;
  life.Log("engines " + engine_names + " (" + (*engine_registry)->source() + ")");
  if (std::string g = (*gates)->Describe(); !g.empty()) life.Log("gates: " + g);
  (*gates)->Watch(life.Logger());
  life.OnReload([&life, &gates] { (*gates)->Reload(life.Logger()); });
  life.Log("ready (pid " + std::to_string(getpid()) + ")");

  life.Log("received " + life.WaitForSignal() + ": stopping; running tasks have " +
           std::to_string(cfg->shutdown_grace_ms) + " ms to finish (signal again to hand them back now)");
  life.StopWithHurry(
      [&] {
        firing.reset();
        server.Stop();
        life.Log("API closed");
        pool.Shutdown(std::chrono::milliseconds(cfg->shutdown_grace_ms));
      },
      [&] {
        life.Log("second signal: handing running tasks back now");
        pool.HurryShutdown();
      });
  life.Log(StoppedLine(pool.stats()));
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, int* exit_code) {
  auto input = std::make_shared<config::LoadInput>();
  CLI::App* cmd =
      app.add_subcommand("serve", "Run the HTTP API, the dashboard and the worker pool on the task store");
  cmd->footer(
      "\nEvery setting is a flag, an environment variable (shown in brackets) or a line of the .env file, in "
      "that\n"
      "order of precedence. Durations take a unit (250ms, 30s, 5m, 2h, 7d).\n"
      "Exit codes: 0 clean shutdown; 1 store or pool failure; 2 bad configuration.");
  config::AddSettingFlags(cmd, input.get());
  cmd->callback([input, exit_code] { *exit_code = Serve(*input); });
}

}  // namespace wasmq::cli
