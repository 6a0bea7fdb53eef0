// File: src/worker/worker.h
//
// The worker part's public header: the pool that runs tasks inside `wasmq serve` and `wasmq worker`.
//
//   worker::PipelineRegistry pipelines(engine_config);
//   pipelines.Load({{"HEAD_SWAP", "/opt/pipelines/head_swap.wasm"}});   // compiled once, here
//   worker::WorkerPool pool(*store, pipelines, {.workers = 4});
//   pool.Start();                        // recovers leases, then claims and runs tasks
//   ...
//   pool.Shutdown(std::chrono::seconds(30));   // stop claiming; finish or hand back what runs
//
// ## How the pool works
//
// One dispatcher thread claims tasks from the Store (blocking Dequeue, no polling) for as many executors as
// are idle, and only for modes that have both a pipeline here and room under their concurrency limit. N
// executor threads each run one task at a time (runner.h), reporting progress through the task's lease. A
// supervisor thread keeps every running task's lease alive (heartbeats), interrupts a task past its
// timeout, re-queues tasks whose lease expired (any process's), and deletes finished tasks — and their
// directories — once their TTL has passed. The pool subscribes to the Store's events: a cancelled task that
// runs here is interrupted at once; a cancel from another process is noticed at the next heartbeat.
//
// An attempt ends in one of these ways:
//   module exits 0                 → Complete (result: /out files + stdout)
//   trap / exit ≠ 0 / timeout / …  → Retry after backoff while attempts remain and the error is retryable,
//                                    else Fail; the error is kept on the task
//   cancelled, or the lease lost   → nothing is written (the store already says what happened)
//   shutdown grace period over     → Release: back to pending, the attempt not counted
//
// Threading: Start and Shutdown are called by one thread; the destructor calls Shutdown(0) if needed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "queue/queue.h"
#include "worker/registry.h"

namespace wasmq::engines {
class EngineRegistry;
}

namespace wasmq::storage {
class UploadStore;
class ObjectStore;
}  // namespace wasmq::storage

namespace wasmq::worker {

struct PoolOptions {
  int workers = 1;
  // Tasks held claimed beyond the idle executors: one Dequeue transaction then claims many, and an executor
  // that finishes finds its next task already here. -1 (auto) adapts to the tasks: about as many as the
  // executors finish in 20 ms — dozens for tiny tasks, none for tasks that take 20 ms or more, so a task
  // never waits here long while another process could run it. Set 0 to never prefetch.
  int prefetch = -1;
  std::string owner = {};                       // lease owner name; default ThisProcessOwner()
  std::vector<std::string> modes = {};          // run only these modes; empty = every registered pipeline
  std::map<std::string, int> mode_limits = {};  // mode → max tasks at once in this pool
  std::string data_dir = "wasmq-data";
  int64_t lease_ms = 30'000;
  int64_t default_timeout_ms = 300'000;  // for a task whose timeout_ms is 0
  int64_t retry_backoff_ms = 1'000, retry_backoff_max_ms = 60'000;
  int64_t task_ttl_ms = 0;  // 0: never clean up
  int64_t cleanup_interval_ms = 60'000;
  // What a task's pipeline may write to /out (WASI's output quota; 0 = no limit): past it the module gets
  // EDQUOT and the task fails with OUTPUT_TOO_LARGE, its partial output removed.
  uint64_t max_output_bytes = 256u << 20;
  uint64_t max_output_files = 10'000;
  // Called with one line per notable event (task failures, recoveries, store errors). May be null.
  std::function<void(std::string_view)> log = nullptr;
  // Called after each pipeline instantiation with the mode and the time it took (the API's /metrics
  // histogram). From executor threads; may be null.
  std::function<void(std::string_view mode, double seconds)> on_instantiated = nullptr;
  // The engines pipelines reach with wasmq.engine_call (must outlive the pool). Null: none, every call
  // answers ENGINE_UNKNOWN.
  const engines::EngineRegistry* engines = nullptr;
  // Source of randomness for retry jitter, uniform in [0, 1). Default: a per-pool generator.
  std::function<double()> random = nullptr;
  // Object storage (--storage s3://…): inputs are staged from `uploads` (default: DATA_DIR/files), and the
  // accepted outputs are published to `bucket` as well as kept under DATA_DIR (storage::Workspace).
  std::shared_ptr<storage::UploadStore> uploads = nullptr;
  std::shared_ptr<storage::ObjectStore> bucket = nullptr;
};

struct PoolStats {
  int64_t started = 0, completed = 0, failed = 0, retried = 0, cancelled = 0, released = 0, lost = 0;
  int64_t recovered = 0, cleaned = 0;
  int running = 0;
};

class WorkerPool {
 public:
  // `store` and `pipelines` must outlive the pool.
  WorkerPool(queue::Store& store, const PipelineRegistry& pipelines, PoolOptions options);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Recovers expired or orphaned leases, then starts the threads. Fails if the recovery cannot reach the
  // store, or a mode in options.modes has no pipeline.
  queue::Result<void> Start();
  // Stops claiming at once; running tasks get `grace` to finish, then are interrupted and handed back to
  // pending. Returns when every thread has stopped. Idempotent.
  void Shutdown(std::chrono::milliseconds grace);
  // Ends a Shutdown's grace period now (a second Ctrl-C). Safe from any thread.
  void HurryShutdown();

  PoolStats stats() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace wasmq::worker
