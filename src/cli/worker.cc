// File: src/cli/worker.cc
//
// `wasmq worker`: a worker-only process — the store, the pipelines and the worker pool, no HTTP API. Run as
// many as needed, on as many machines, against one Redis (`--store redis://host:port/db`); API nodes
// (`wasmq serve`) take the submissions. It also works on a SQLite file shared with processes on the same
// host.
//
// Start-up is all-or-nothing, as for serve: a bad setting, an unreachable Redis or a wrong password, or a
// pipeline that does not compile stops it with a message before any task is touched. Afterwards a lost
// connection is survived: calls fail, the pool retries, connections come back with backoff.
//
// Signals: the first SIGINT/SIGTERM stops claiming and gives running tasks --shutdown-grace to finish; what
// still runs then is interrupted and handed back to pending. A second signal ends the grace period at once.
//
// Exit codes: 0 after a clean shutdown; 1 the store or pool failed; 2 bad configuration or usage.
#include "worker/worker.h"

#include <unistd.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/gates.h"
#include "engines/engines.h"
#include "cli/lifecycle.h"
#include "config/flags.h"
#include "queue/queue.h"

namespace wasmq::cli {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitConfig = 2;

int RunWorker(const config::LoadInput& input) {
  auto cfg = config::Load(input);
  if (!cfg) {
    std::cerr << "wasmq worker: " << cfg.error().message << "\n";
    return kExitConfig;
  }
  if (cfg->workers == 0) {
    std::cerr << "wasmq worker: --concurrency must be at least 1 (an API-only node is `wasmq serve --workers 0`)\n";
    return kExitConfig;
  }
  // The engines pipelines call (wasmq.engine_call); a bad engine config file stops start-up, naming the field.
  auto engine_registry = engines::EngineRegistry::Load(cfg->engine_config_path);
  if (!engine_registry) {
    std::cerr << "wasmq worker: " << engine_registry.error().message << "\n";
    return kExitConfig;
  }
  // Trust and admission: a bad policy stops start-up like any bad setting.
  cfg->admission_policy.clear();  // tasks are admitted where they are submitted: by serve
  auto gates = Gates::Load(*cfg);
  if (!gates) {
    std::cerr << "wasmq worker: " << gates.error().message << "\n";
    return kExitConfig;
  }
  Lifecycle life("worker", (*gates)->any_policy());  // before any thread starts
  life.SetLogFormat(cfg->log_format);
  Tracing tracing(life, "worker");  // outlives the server and the pool: their last spans are flushed
  auto store = OpenConfiguredStore(*cfg);
  if (!store) {
    std::cerr << "wasmq worker: " << Redacted(cfg->store_url) << ": " << store.error().message << "\n";
    return store.error().code == queue::Code::InvalidArgument ? kExitConfig : kExitFailure;
  }
  // Every configured pipeline passes the trust policy and the module policy here: one that fails them
  // stops start-up, its message naming the pipeline and why ("module untrusted: pipeline M: REF: unsigned: …").
  if (auto nn_error = ConfigureNn(*cfg)) {
    std::cerr << "wasmq worker: " << *nn_error << "\n";
    return kExitConfig;
  }
  auto loaded = LoadConfiguredPipelines(*cfg, (*gates)->ModuleGate());
  if (!loaded) {
    std::cerr << "wasmq worker: " << loaded.error().message << "\n";
    return kExitConfig;
  }
  worker::PipelineRegistry& pipelines = **loaded;
  if (pipelines.modes().empty()) {
    std::cerr
        << "wasmq worker: no pipeline to run (give --pipelines MODE=PATH.wasm or --pipelines-dir DIR)\n";
    return kExitConfig;
  }
  auto object_storage = OpenConfiguredStorage(*cfg);
  if (!object_storage) {
    std::cerr << "wasmq worker: " << object_storage.error().message << "\n";
    return kExitConfig;
  }
  worker::PoolOptions pool_options = PoolOptionsFor(*cfg, life.Logger());
  pool_options.uploads = object_storage->uploads;
  pool_options.bucket = object_storage->bucket;
  pool_options.engines = engine_registry->get();
  worker::WorkerPool pool(**store, pipelines, std::move(pool_options));
  if (auto r = pool.Start(); !r) {
    std::cerr << "wasmq worker: " << r.error().message << "\n";
    return r.error().code == queue::Code::InvalidArgument ? kExitConfig : kExitFailure;
  }
  std::string modes;
  for (const std::string& m : cfg->modes.empty() ? pipelines.modes() : cfg->modes)
    modes += (modes.empty() ? "" : ",") + m;
  life.Log("store " + Redacted(cfg->store_url) + " (" + std::string((*store)->backend()) + "), concurrency " +
           std::to_string(cfg->workers) + ", modes " + modes + ", data in " + cfg->data_dir +
           (cfg->storage_url.empty() ? std::string() : ", uploads and outputs in " + cfg->storage_url));
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
  life.StopWithHurry([&] { pool.Shutdown(std::chrono::milliseconds(cfg->shutdown_grace_ms)); },
                     [&] {
                       life.Log("second signal: handing running tasks back now");
                       pool.HurryShutdown();
                     });
  life.Log(StoppedLine(pool.stats()));
  return 0;
}

}  // namespace

void AddWorkerCommand(CLI::App& app, int* exit_code) {
  auto input = std::make_shared<config::LoadInput>();
  CLI::App* cmd = app.add_subcommand("worker", "Run tasks from a shared store (Redis) without the HTTP API");
  cmd->footer(
      "\nExample: wasmq worker --store redis://10.0.0.5:6379/0 --concurrency 8 --modes HEAD_SWAP "
      "--pipelines-dir /opt/pipelines\n"
      "Every setting is a flag, an environment variable (in brackets) or a line of the .env file, in that "
      "order\n"
      "of precedence. Exit codes: 0 clean shutdown; 1 store or pool failure; 2 bad configuration.");
  cmd->add_option_function<std::string>(
         "--concurrency", [input](const std::string& v) { input->flags["workers"] = v; },
         "tasks run at once by this process (auto: one per CPU) [WASMQ_WORKERS, default auto]")
      ->type_name("N");
  config::AddSettingFlags(cmd, input.get(),
                          {"store",       "data-dir",         "prefetch",          "modes",
                           "pipelines",   "pipelines-dir",    "mode-limits",       "task-timeout",
                           "max-retries", "retry-backoff",    "retry-backoff-max", "lease",
                           "task-ttl",    "cleanup-interval", "shutdown-grace",    "max-memory",
                           "max-output",  "max-output-files", "sqlite-sync",       "redis-host",
                           "redis-port",  "redis-db",         "redis-prefix",      "engine-config",
                           "trust-policy", "module-policy", "redis-wait-replicas", "redis-wait-timeout"});
  cmd->callback([input, exit_code] { *exit_code = RunWorker(*input); });
}

}  // namespace wasmq::cli
