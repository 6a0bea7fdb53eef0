// File: src/cli/lifecycle.h
//
// What the long-running commands (`serve`, `worker`) share: their lifecycle log lines, the shutdown signals
// (the first SIGINT/SIGTERM stops, a second one hurries), and the store and pool built from the
// configuration the same way.
#pragma once

#include <atomic>
#include <functional>
#include <thread>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "nn/nn.h"
#include "queue/queue.h"
#include "storage/storage.h"
#include "worker/worker.h"

namespace wasmq::cli {

class Lifecycle {
 public:
  // Blocks SIGINT and SIGTERM in the calling thread, so that every thread started afterwards inherits the
  // mask and only WaitForSignal (and the hurry thread of Stop) receive them. Construct it first.
  // With `reload_on_hup`, SIGHUP is blocked too and OnReload's thread takes it (otherwise it keeps its
  // default action).
  explicit Lifecycle(std::string command, bool reload_on_hup = false);
  ~Lifecycle();  // stops the reload thread

  // Calls `reload` on every SIGHUP, from a thread of its own (requires reload_on_hup).
  void OnReload(std::function<void()> reload);

  // "2026-11-23T10:00:00.000Z wasmq serve: LINE" on stderr, or with --log-format json one object per line
  // ({"time", "level", "message", "fields", "trace_id", "span_id"}); the ids of the thread's current span
  // (trace/trace.h) when there is one. Safe from any thread.
  void Log(std::string_view line) const;
  void SetLogFormat(std::string_view format) { json_log_ = format == "json"; }
  std::function<void(std::string_view)> Logger() const {
    return [this](std::string_view line) { Log(line); };
  }

  // Blocks until the first signal; returns its name ("SIGINT", "SIGTERM").
  std::string WaitForSignal();

  // Runs `stop` (which blocks until everything has stopped); a signal that arrives meanwhile calls `hurry`.
  void StopWithHurry(const std::function<void()>& stop, const std::function<void()>& hurry);

 private:
  std::string command_;
  bool json_log_ = false;
  bool reload_on_hup_ = false;
  std::atomic<bool> closing_{false};
  std::thread reloader_;
};

// Traces (docs/tracing.md): the OTLP exporter started from the OTEL_* variables (nothing happens when no
// endpoint is set), stopped with a flush of what is queued when this is destroyed. Construct it before the
// server and the pool, so that it outlives them.
class Tracing {
 public:
  Tracing(const Lifecycle& life, std::string_view command);
  ~Tracing();
  Tracing(const Tracing&) = delete;
  Tracing& operator=(const Tracing&) = delete;

 private:
  const Lifecycle& life_;
};

// `url` fit for a log line: a Redis URL's user and password become "***".
std::string Redacted(std::string_view url);

// The store the configuration names (SQLite file or Redis URL), with its options.
queue::Result<std::unique_ptr<queue::Store>> OpenConfiguredStore(const config::Config& cfg);

// The pipelines the configuration names, compiled: --pipelines / --pipelines-dir (files, or OCI references
// pulled through the cache), then the built-in ones for the modes still free; --task-modules. An error's
// message says which pipeline could not be loaded.
// `gate` (trust and module policy, cli/gates.h) admits every module loaded, now and for tasks.
queue::Result<std::unique_ptr<worker::PipelineRegistry>> LoadConfiguredPipelines(const config::Config& cfg,
                                                                                 worker::ModuleGate gate = {});

// Where uploads and outputs live (--storage): both null for the data directory; for s3://, the bucket and
// the upload store on it. InvalidArgument for a bad URL or missing credentials.
struct ConfiguredStorage {
  std::shared_ptr<storage::ObjectStore> bucket;
  std::shared_ptr<storage::UploadStore> uploads;
};
queue::Result<ConfiguredStorage> OpenConfiguredStorage(const config::Config& cfg);

// The pool settings of the configuration.
worker::PoolOptions PoolOptionsFor(const config::Config& cfg, std::function<void(std::string_view)> log);

// "stopped: 3 completed, 0 failed, 1 retried, 0 cancelled, 0 handed back".
std::string StoppedLine(const worker::PoolStats& s);

// Configures the process's WASI-NN host (nn::DefaultHost) from --nn-model, --nn-threads and the models
// directory CACHE_DIR/models; an error names the model that cannot be used.
std::optional<std::string> ConfigureNn(const config::Config& cfg);
// NAME=OCI-REF → the model's file, pulled through the cache (models.h, ResolveModelSpec) on first use.
nn::RefResolver NnModelResolver(const std::string& cache_dir);

}  // namespace wasmq::cli
