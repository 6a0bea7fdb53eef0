// File: src/worker/attempt.h
//
// Internal to the worker part: one attempt of a task, run by an executor thread — from a claimed lease to
// what the store records: stage the files, run the module, then decide between Complete, Retry, Fail,
// Release, or nothing (see the table in worker.h), and hand that to the recorder.
//
// Locking: the executors share only the jitter generator (its own mutex); each slot's scratch state is
// touched by that slot's executor alone.
#pragma once

#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "base/mutex.h"
#include "worker/held_tasks.h"
#include "worker/pool_report.h"
#include "worker/recorder.h"
#include "storage/storage.h"

namespace wasmq::worker {

class Attempts {
 public:
  Attempts(queue::Store& store, const PipelineRegistry& pipelines, const PoolOptions& opt,
           const storage::Workspace& workspace, HeldTasks& held, Recorder& recorder, PoolCounters& counters)
      : store_(store),
        pipelines_(pipelines),
        opt_(opt),
        workspace_(workspace),
        held_(held),
        recorder_(recorder),
        counters_(counters),
        rng_(std::random_device{}()) {}

  // Before any Execute: `slots` executors, each with its scratch directory (empty at start).
  void Init(int slots) { scratch_empty_.assign(slots, 1); }
  // Runs one attempt of `held` in scratch slot `slot` and hands its end to the recorder (or forgets the
  // task). Returns how long the module ran (µs), 0 when it did not run.
  double Execute(const std::shared_ptr<Held>& held, int slot);

 private:
  // Execute's steps. The module the task runs: its mode's pipeline, or the module its config names (by OCI
  // reference) where allowed; null with *error set when there is none.
  std::shared_ptr<const wasm::Module> ResolveModule(const queue::TaskInfo& task, queue::TaskError* error);
  // The attempt's directories in scratch slot `slot`, with the task's inputs staged; nullopt with *error.
  std::optional<TaskDirs> StageInputs(const queue::TaskInfo& task, int slot, queue::TaskError* error);
  // The runner's request: module, stdin, environment, limits, and the log and progress callbacks.
  RunRequest BuildRequest(const std::shared_ptr<Held>& held, const wasm::Module& module,
                          const TaskDirs& dirs);
  // Decides and hands over the end of an attempt. True when the slot's scratch /out is empty afterwards.
  bool Finish(const std::shared_ptr<Held>& held, const TaskDirs& dirs, const RunOutcome& outcome);
  // Records a failed attempt: Retry after backoff while attempts remain and it is retryable, else Fail.
  void RecordFailure(const std::shared_ptr<Held>& held, queue::TaskError e);
  // Uniform in [0, 1): the retry jitter.
  double Random() EXCLUDES(rng_mu_);
  void Log(const std::string& line) const { worker::Log(opt_, line); }

  queue::Store& store_;
  const PipelineRegistry& pipelines_;
  const PoolOptions& opt_;
  const storage::Workspace& workspace_;
  HeldTasks& held_;
  Recorder& recorder_;
  PoolCounters& counters_;
  std::vector<char> scratch_empty_;  // per executor slot, touched only by that executor: its /out is empty

  base::Mutex rng_mu_;
  std::mt19937_64 rng_ GUARDED_BY(rng_mu_);
};

}  // namespace wasmq::worker
