// File: src/cli/lifecycle.cc
#include "cli/lifecycle.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/mutex.h"
#include "builtin_pipelines.h"
#include "cli/models.h"
#include "nn/nn.h"
#include "trace/trace.h"

namespace wasmq::cli {
namespace {

// Keeps each log line whole when several threads log at once.
base::Mutex log_mu;

sigset_t ShutdownSignals() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  return s;
}

}  // namespace

Lifecycle::Lifecycle(std::string command, bool reload_on_hup)
    : command_(std::move(command)), reload_on_hup_(reload_on_hup) {
  sigset_t s = ShutdownSignals();
  if (reload_on_hup_) sigaddset(&s, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &s, nullptr);
}

Lifecycle::~Lifecycle() {
  if (!reloader_.joinable()) return;
  closing_ = true;
  pthread_kill(reloader_.native_handle(), SIGHUP);  // wakes its sigwait; it sees closing_ and ends
  reloader_.join();
}

void Lifecycle::OnReload(std::function<void()> reload) {
  if (!reload_on_hup_ || reloader_.joinable()) return;
  reloader_ = std::thread([this, reload = std::move(reload)] {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGHUP);
    for (int sig = 0; sigwait(&s, &sig) == 0 && !closing_;) reload();
  });
}

void Lifecycle::Log(std::string_view line) const {
  const std::string time = queue::FormatTime(queue::NowMs());
  const std::optional<trace::SpanContext> span = trace::CurrentContext();
  std::string out;
  if (json_log_) {
    nlohmann::json j = {{"time", time}, {"level", "info"}, {"message", line}, {"fields", {{"command", command_}}}};
    if (span) {
      j["trace_id"] = span->TraceIdHex();
      j["span_id"] = span->SpanIdHex();
    }
    // A module's log text may be any bytes: bad UTF-8 is replaced rather than refused.
    out = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    out = time + " wasmq " + command_ + ": " + std::string(line);
    if (span) out += " [trace_id=" + span->TraceIdHex() + " span_id=" + span->SpanIdHex() + "]";
  }
  base::MutexLock lock(log_mu);
  std::cerr << out << std::endl;
}

Tracing::Tracing(const Lifecycle& life, std::string_view command) : life_(life) {
  trace::Settings settings = trace::SettingsFromEnvironment("wasmq");
  for (const std::string& w : settings.warnings) life.Log("traces: " + w);
  if (!settings.enabled) return;
  settings.resource.emplace_back("wasmq.command", std::string(command));
  const std::string url = settings.traces_url.substr(0, settings.traces_url.find('?'));
  trace::Start(std::move(settings), life.Logger());
  life.Log("traces: OTLP/HTTP (JSON) to " + url);
}

Tracing::~Tracing() {
  if (!trace::Enabled()) return;
  trace::Shutdown(std::chrono::seconds(5));
  const trace::Stats s = trace::ExportStats();
  life_.Log("traces: " + std::to_string(s.exported) + " span(s) exported, " + std::to_string(s.dropped) +
            " dropped (queue full), " + std::to_string(s.failed) + " lost (export failed)");
}

std::string Lifecycle::WaitForSignal() {
  sigset_t s = ShutdownSignals();
  int sig = 0;
  sigwait(&s, &sig);
  return sig == SIGINT ? "SIGINT" : "SIGTERM";
}

void Lifecycle::StopWithHurry(const std::function<void()>& stop, const std::function<void()>& hurry) {
  std::atomic<bool> stopped{false};
  std::thread hurrier([&] {
    sigset_t s = ShutdownSignals();
    int again = 0;
    if (sigwait(&s, &again) == 0 && !stopped.load()) hurry();
  });
  stop();
  // The hurry thread still waits for a signal: send it one it will take as "nothing to hurry".
  stopped = true;
  pthread_kill(hurrier.native_handle(), SIGTERM);
  hurrier.join();
}

std::string Redacted(std::string_view url) {
  const std::string_view scheme = url.starts_with("redis://")            ? "redis://"
                                  : url.starts_with("redis+sentinel://") ? "redis+sentinel://"
                                                                         : "";
  if (scheme.empty()) return std::string(url);
  std::string out(url);
  // A sentinel password in the query: everything after it up to the next parameter.
  if (size_t q = out.find("sentinel_password="); q != std::string::npos && out.find('?') < q) {
    size_t end = out.find('&', q);
    out.replace(q + 18, end == std::string::npos ? std::string::npos : end - q - 18, "***");
  }
  size_t at = out.find('@'), slash = out.find('/', scheme.size());
  if (at == std::string::npos || (slash != std::string::npos && at > slash)) return out;
  return std::string(scheme) + "***@" + out.substr(at + 1);
}

queue::Result<std::unique_ptr<queue::Store>> OpenConfiguredStore(const config::Config& cfg) {
  queue::StoreOptions options{.sync_full = cfg.sqlite_sync_full,
                              .redis_prefix = cfg.redis_prefix,
                              .redis_wait_replicas = cfg.redis_wait_replicas,
                              .redis_wait_timeout_ms = cfg.redis_wait_timeout_ms};
  options.fairness.defaults = {.max_running = cfg.user_max_running,
                               .max_pending = cfg.user_max_pending,
                               .per_minute = cfg.user_tasks_per_minute};
  auto users = queue::ParseUserLimits(cfg.user_limits, options.fairness.defaults);
  if (!users) return users.error();
  options.fairness.users = std::move(*users);
  return queue::OpenStore(cfg.store_url, std::move(options));
}

queue::Result<std::unique_ptr<worker::PipelineRegistry>> LoadConfiguredPipelines(const config::Config& cfg,
                                                                                 worker::ModuleGate gate) {
  wasm::EngineConfig engine;
  engine.max_memory_bytes = std::min<uint64_t>(cfg.max_memory_bytes, engine.max_memory_bytes);
  engine.compile = cfg.compile == "always"  ? wasm::CompileMode::kAlways
                   : cfg.compile == "never" ? wasm::CompileMode::kNever
                                            : wasm::CompileMode::kAuto;
  engine.compile_cache_dir = CompiledCodeDir(cfg.cache_dir);
  engine.memory_guards = cfg.memory_guards == "on"    ? wasm::MemoryGuards::kOn
                         : cfg.memory_guards == "off" ? wasm::MemoryGuards::kOff
                                                      : wasm::MemoryGuards::kAuto;
  auto pipelines = std::make_unique<worker::PipelineRegistry>(engine);
  if (auto r = worker::CheckTaskModulePrefixes(cfg.task_modules); !r) return r.error();
  pipelines->SetOci({cfg.cache_dir, cfg.offline, cfg.insecure_registries, cfg.k8s_secret, cfg.task_modules});
  pipelines->SetGate(std::move(gate));
  if (auto r = pipelines->Load(cfg.pipelines); !r) return r.error();
  if (cfg.builtin_pipelines)
    if (auto r = pipelines->AddBuiltins(wasmq::pipelines::BuiltinModules()); !r) return r.error();
  return pipelines;
}

queue::Result<ConfiguredStorage> OpenConfiguredStorage(const config::Config& cfg) {
  if (cfg.storage_url.empty()) return ConfiguredStorage{};
  auto options = storage::ParseS3Url(cfg.storage_url);
  if (!options) return options.error();
  options->part_size = cfg.storage_part_size;
  options->spool_dir = storage::UploadsDir(cfg.data_dir);
  std::error_code ec;
  std::filesystem::create_directories(options->spool_dir, ec);
  ConfiguredStorage s;
  s.bucket = storage::OpenS3(std::move(*options));
  s.uploads = storage::NewObjectUploadStore(s.bucket);
  return s;
}

worker::PoolOptions PoolOptionsFor(const config::Config& cfg, std::function<void(std::string_view)> log) {
  return {.workers = cfg.workers,
          .prefetch = cfg.prefetch,
          .modes = cfg.modes,
          .mode_limits = cfg.mode_limits,
          .data_dir = cfg.data_dir,
          .lease_ms = cfg.lease_ms,
          .default_timeout_ms = cfg.task_timeout_ms,
          .retry_backoff_ms = cfg.retry_backoff_ms,
          .retry_backoff_max_ms = cfg.retry_backoff_max_ms,
          .task_ttl_ms = cfg.task_ttl_ms,
          .cleanup_interval_ms = cfg.cleanup_interval_ms,
          .max_output_bytes = cfg.max_output_bytes,
          .max_output_files = cfg.max_output_files,
          .log = std::move(log)};
}

std::string StoppedLine(const worker::PoolStats& s) {
  return "stopped: " + std::to_string(s.completed) + " completed, " + std::to_string(s.failed) + " failed, " +
         std::to_string(s.retried) + " retried, " + std::to_string(s.cancelled) + " cancelled, " +
         std::to_string(s.released) + " handed back";
}

nn::RefResolver NnModelResolver(const std::string& cache_dir) {
  return [cache_dir](const std::string& name, const std::string& ref) -> nn::Result<std::string> {
    std::string error;
    std::optional<ModelRecord> model = ResolveModelSpec(name + "=" + ref, &error, cache_dir);
    if (!model) return nn::Error{error};
    return model->path;
  };
}

std::optional<std::string> ConfigureNn(const config::Config& cfg) {
  nn::HostConfig nn_config;
  nn_config.threads = cfg.nn_threads;
  nn_config.limits.max_graph_bytes = cfg.nn_max_graph_bytes;
  nn_config.limits.max_tensor_bytes = cfg.nn_max_tensor_bytes;
  nn_config.models_dir = ModelsDir(cfg.cache_dir);
  nn_config.resolve_ref = NnModelResolver(cfg.cache_dir);
  nn::Host& host = nn::ConfigureDefaultHost(std::move(nn_config));
  for (const std::string& spec : cfg.nn_models)
    if (auto added = host.models().Add(spec); !added) return "WASMQ_NN_MODELS: " + added.error().message;
  return std::nullopt;
}

}  // namespace wasmq::cli
