// File: src/cli/serve.cc
//
// `wasmq serve`: the store, the pipelines and the worker pool in one process. The HTTP API (issue #7) is not
// built yet: serve says where it will listen and runs the workers only; tasks come in through `wasmq task`
// on the same store.
//
// Start-up is all-or-nothing: a bad setting, a store that cannot be opened, or a pipeline that does not
// compile stops it with a message before any task is touched. Lifecycle on stderr, one line per event.
//
// Signals: the first SIGINT/SIGTERM stops claiming tasks and gives running ones --shutdown-grace to finish;
// what is still running then is interrupted and handed back to pending. A second signal ends the grace
// period at once.
//
// Exit codes: 0 after a clean shutdown; 1 the store or pool failed; 2 bad configuration or usage.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "config/flags.h"
#include "queue/queue.h"
#include "worker/worker.h"

namespace wasmq::cli {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitConfig = 2;

std::mutex log_mu;

void Log(std::string_view line) {
  std::lock_guard lock(log_mu);
  std::cerr << queue::FormatTime(queue::NowMs()) << " wasmq serve: " << line << std::endl;
}

int Serve(const config::LoadInput& input) {
  auto cfg = config::Load(input);
  if (!cfg) {
    std::cerr << "wasmq serve: " << cfg.error().message << "\n";
    return kExitConfig;
  }
  // Block the shutdown signals before any thread starts, so that every thread inherits the mask and only
  // the sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto store = queue::OpenStore(cfg->store_url, {.sync_full = cfg->sqlite_sync_full});
  if (!store) {
    std::cerr << "wasmq serve: " << cfg->store_url << ": " << store.error().message << "\n";
    return store.error().code == queue::Code::InvalidArgument ? kExitConfig : kExitFailure;
  }
  wasm::EngineConfig engine;
  engine.max_memory_bytes = std::min<uint64_t>(cfg->max_memory_bytes, engine.max_memory_bytes);
  worker::PipelineRegistry pipelines(engine);
  if (auto r = pipelines.Load(cfg->pipelines); !r) {
    std::cerr << "wasmq serve: " << r.error().message << "\n";
    return kExitConfig;
  }
  worker::WorkerPool pool(**store, pipelines,
                          {.workers = cfg->workers,
                           .prefetch = cfg->prefetch,
                           .modes = cfg->modes,
                           .mode_limits = cfg->mode_limits,
                           .data_dir = cfg->data_dir,
                           .lease_ms = cfg->lease_ms,
                           .default_timeout_ms = cfg->task_timeout_ms,
                           .retry_backoff_ms = cfg->retry_backoff_ms,
                           .retry_backoff_max_ms = cfg->retry_backoff_max_ms,
                           .task_ttl_ms = cfg->task_ttl_ms,
                           .cleanup_interval_ms = cfg->cleanup_interval_ms,
                           .log = Log});
  if (auto r = pool.Start(); !r) {
    std::cerr << "wasmq serve: " << r.error().message << "\n";
    return r.error().code == queue::Code::InvalidArgument ? kExitConfig : kExitFailure;
  }
  Log("store " + cfg->store_url + ", " + std::to_string(cfg->workers) + " worker(s), data in " +
      cfg->data_dir);
  for (const std::string& mode : pipelines.modes())
    Log("pipeline " + mode + " = " + pipelines.Find(mode)->path);
  Log("the HTTP API would listen on " + cfg->addr +
      ", but it is not built yet; submit tasks with `wasmq task`");
  Log("ready (pid " + std::to_string(getpid()) + ")");

  int sig = 0;
  sigwait(&signals, &sig);
  Log(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ": stopping; running tasks have " +
      std::to_string(cfg->shutdown_grace_ms) + " ms to finish (signal again to hand them back now)");
  std::atomic<bool> stopped{false};
  std::thread hurry([&] {
    int again = 0;
    if (sigwait(&signals, &again) == 0 && !stopped.load()) {
      Log("second signal: handing running tasks back now");
      pool.HurryShutdown();
    }
  });
  pool.Shutdown(std::chrono::milliseconds(cfg->shutdown_grace_ms));
  // The hurry thread still waits for a signal: send it one it will take as "nothing to hurry".
  stopped = true;
  pthread_kill(hurry.native_handle(), SIGTERM);
  hurry.join();
  worker::PoolStats s = pool.stats();
  Log("stopped: " + std::to_string(s.completed) + " completed, " + std::to_string(s.failed) + " failed, " +
      std::to_string(s.retried) + " retried, " + std::to_string(s.cancelled) + " cancelled, " +
      std::to_string(s.released) + " handed back");
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, int* exit_code) {
  auto input = std::make_shared<config::LoadInput>();
  CLI::App* cmd =
      app.add_subcommand("serve", "Run the task store and the worker pool (the HTTP API is not built yet)");
  cmd->footer(
      "\nEvery setting is a flag, an environment variable (shown in brackets) or a line of the .env file, in "
      "that\n"
      "order of precedence. Durations take a unit (250ms, 30s, 5m, 2h, 7d).\n"
      "Exit codes: 0 clean shutdown; 1 store or pool failure; 2 bad configuration.");
  config::AddSettingFlags(cmd, input.get());
  cmd->callback([input, exit_code] { *exit_code = Serve(*input); });
}

}  // namespace wasmq::cli
