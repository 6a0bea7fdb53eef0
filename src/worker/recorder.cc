// File: src/worker/recorder.cc
#include "worker/recorder.h"

#include <pthread.h>

namespace wasmq::worker {

void Recorder::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "wq-record");
    Loop();
  });
}

void Recorder::Record(const std::shared_ptr<Held>& held, queue::Finish finish) {
  {
    base::MutexLock lock(mu_);
    to_record_.push_back({held, std::move(finish)});
  }
  cv_.NotifyOne();
}

void Recorder::Stop() {
  {
    base::MutexLock lock(mu_);
    exit_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

void Recorder::Loop() {
  constexpr size_t kMaxBatch = 256;
  for (;;) {
    std::vector<Pending> batch;
    {
      base::MutexLock lock(mu_);
      cv_.Wait(lock, [&]() REQUIRES(mu_) { return exit_ || !to_record_.empty(); });
      if (to_record_.empty()) return;  // exit_, and everything written
      while (!to_record_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(to_record_.front()));
        to_record_.pop_front();
      }
    }
    Write(batch);
  }
}

void Recorder::Write(const std::vector<Pending>& batch) {
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
    if (!results[i]) Log(opt_, id + ": result not recorded: " + results[i].error().message);
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
  for (size_t i = 0; i < batch.size(); ++i) {
    using K = queue::Finish::Kind;
    K kind = batch[i].finish.kind;
    ++(!results[i]           ? counters_.lost
       : kind == K::Complete ? counters_.completed
       : kind == K::Fail     ? counters_.failed
       : kind == K::Retry    ? counters_.retried
                             : counters_.released);
    held_.Forget(batch[i].held);
  }
}

}  // namespace wasmq::worker
