// File: src/worker/recorder.h
//
// Internal to the worker part: the recorder — one thread that writes the ends of attempts in batches, one
// transaction each (Store::FinishMany). An executor hands its result over and takes its next task at once;
// while one batch commits, the next one gathers — so under load many short tasks share a commit, and when
// idle a result is written as soon as it arrives. A task stays held (its lease renewed by the supervisor)
// until its result is written; then the recorder forgets it, which frees its room under a mode limit.
//
// Locking: its own mutex guards the queue of results to write; the Store is never called with it held.
#pragma once

#include <deque>
#include <memory>
#include <thread>

#include "base/mutex.h"
#include "worker/held_tasks.h"
#include "worker/pool_report.h"
#include "storage/storage.h"

namespace wasmq::worker {

class Recorder {
 public:
  Recorder(queue::Store& store, const PoolOptions& opt, const storage::Workspace& workspace, HeldTasks& held,
           PoolCounters& counters)
      : store_(store), opt_(opt), workspace_(workspace), held_(held), counters_(counters) {}
  ~Recorder() { Stop(); }
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  void Start();
  // Hands over the end of an attempt: written soon, then the task is forgotten.
  void Record(const std::shared_ptr<Held>& held, queue::Finish finish) EXCLUDES(mu_);
  // Writes everything handed over, then stops the thread.
  void Stop() EXCLUDES(mu_);

 private:
  struct Pending {
    std::shared_ptr<Held> held;
    queue::Finish finish;
  };
  void Loop() EXCLUDES(mu_);
  // Writes one batch (a few more tries while the store is unavailable), then settles each task's outputs
  // and forgets it.
  void Write(const std::vector<Pending>& batch);

  queue::Store& store_;
  const PoolOptions& opt_;
  const storage::Workspace& workspace_;
  HeldTasks& held_;
  PoolCounters& counters_;

  base::Mutex mu_;
  base::CondVar cv_;  // a result waits to be written, or exit
  std::deque<Pending> to_record_ GUARDED_BY(mu_);
  bool exit_ GUARDED_BY(mu_) = false;  // exit once to_record_ is empty
  std::thread thread_;
};

}  // namespace wasmq::worker
