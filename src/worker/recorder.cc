// File: src/worker/recorder.cc
//
// The recorder thread: writes the ends of attempts in batches, one transaction each (Store::FinishMany).
// An executor hands its result over and takes its next task at once; while one batch commits, the next one
// gathers — so under load many short tasks share a commit, and when idle a result is written as soon as it
// arrives. A task stays held (its lease renewed by the supervisor) until its result is written; then it is
// forgotten, which frees its room under a mode limit.
#include <thread>

#include "worker/pool_impl.h"

namespace wasmq::worker {

void WorkerPool::Impl::Record(const std::shared_ptr<Held>& held, queue::Finish finish) {
  {
    std::lock_guard lock(mu_);
    to_record_.push_back({held, std::move(finish)});
  }
  record_cv_.notify_one();
}

void WorkerPool::Impl::RecorderLoop() {
  constexpr size_t kMaxBatch = 256;
  std::unique_lock lock(mu_);
  for (;;) {
    record_cv_.wait(lock, [&] { return recorder_exit_ || !to_record_.empty(); });
    if (to_record_.empty()) return;  // recorder_exit_, and everything written
    std::vector<Pending> batch;
    while (!to_record_.empty() && batch.size() < kMaxBatch) {
      batch.push_back(std::move(to_record_.front()));
      to_record_.pop_front();
    }
    lock.unlock();
    std::vector<queue::Finish> items;
    for (const Pending& p : batch) items.push_back(p.finish);
    auto results = store_.FinishMany(items);
    // A store that is briefly unavailable (busy past its timeout, a Redis failover) gets a few more tries;
    // if it stays down, the leases expire and the tasks are recovered.
    for (int attempt = 0; attempt < 3; ++attempt) {
      std::vector<size_t> again;
      for (size_t i = 0; i < results.size(); ++i)
        if (!results[i] && results[i].error().code == queue::Code::Unavailable) again.push_back(i);
      if (again.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
      std::vector<queue::Finish> retry;
      for (size_t i : again) retry.push_back(items[i]);
      auto retried = store_.FinishMany(retry);
      for (size_t k = 0; k < again.size(); ++k) results[again[k]] = std::move(retried[k]);
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      const queue::Finish& f = batch[i].finish;
      const std::string& id = batch[i].held->claimed.task.task_id;
      if (!results[i]) Log(id + ": result not recorded: " + results[i].error().message);
      // A completed attempt's outputs: the accepted one's directory is now the task's (older leftovers go);
      // a refused one's is deleted. When the answer is unknown (the store stayed unavailable, and may have
      // committed) the files stay: either they are the result's, or the attempt that is accepted later
      // prunes them.
      if (f.kind != queue::Finish::Kind::Complete || f.result.output_dir.empty()) continue;
      if (results[i]) {
        workspace_.PruneOutputs(id, f.result.output_dir);
      } else if (results[i].error().code == queue::Code::Conflict ||
                 results[i].error().code == queue::Code::NotFound) {
        workspace_.DiscardOutputs(id, f.result.output_dir);
      }
    }
    lock.lock();
    for (size_t i = 0; i < batch.size(); ++i) {
      using K = queue::Finish::Kind;
      K kind = batch[i].finish.kind;
      ++(!results[i]           ? stats_.lost
         : kind == K::Complete ? stats_.completed
         : kind == K::Fail     ? stats_.failed
         : kind == K::Retry    ? stats_.retried
                               : stats_.released);
      Forget(batch[i].held);
    }
    done_cv_.notify_all();
  }
}

}  // namespace wasmq::worker
