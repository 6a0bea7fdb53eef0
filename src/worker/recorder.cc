// File: src/worker/recorder.cc
#include "worker/recorder.h"

#include <pthread.h>

#include <algorithm>

#include "worker/backoff.h"

namespace wasmq::worker {

namespace {
// Retries of an unavailable store: 100 ms doubling up to 1 s (with jitter), for as long as the lease lasts.
constexpr int64_t kRetryBaseMs = 100;
constexpr int64_t kRetryMaxMs = 1000;
constexpr size_t kMaxBatch = 256;
}  // namespace

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
  for (;;) {
    std::vector<Pending> batch;
    bool exiting = false;
    {
      base::MutexLock lock(mu_);
      auto woken = [&]() REQUIRES(mu_) { return exit_ || !to_record_.empty(); };
      if (retrying_.empty()) {
        cv_.Wait(lock, woken);
      } else {
        auto next = std::min_element(retrying_.begin(), retrying_.end(), [](const Pending& a, const Pending& b) {
                      return a.next_try < b.next_try;
                    })->next_try;
        cv_.WaitUntil(lock, next, woken);
      }
      exiting = exit_;
      if (exit_ && to_record_.empty() && retrying_.empty()) return;  // everything written
      while (!to_record_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(to_record_.front()));
        to_record_.pop_front();
      }
    }
    // Due retries share the batch with the new results; when exiting, each gets one last try.
    const auto now = Clock::now();
    for (auto it = retrying_.begin(); it != retrying_.end() && batch.size() < kMaxBatch;) {
      if (exiting || it->next_try <= now) {
        batch.push_back(std::move(*it));
        it = retrying_.erase(it);
      } else {
        ++it;
      }
    }
    if (batch.empty()) continue;
    Write(std::move(batch), /*last_try=*/exiting);
  }
}

bool Recorder::LeaseLasts(const Pending& p) const {
  const int64_t margin_ms = std::clamp<int64_t>(opt_.lease_ms / 5, 100, 2000);
  return queue::NowMs() + margin_ms < p.held->LeaseExpiresAt();
}

void Recorder::Write(std::vector<Pending> batch, bool last_try) {
  std::vector<Pending> send;
  for (Pending& p : batch) {
    // A retry after the lease would be gone is not sent: the task is (or will be) recovered and run again,
    // and this attempt must not finish it. Whether an earlier try committed is unknown: outputs stay.
    if (p.tries > 0 && !LeaseLasts(p)) {
      Settle(p, queue::Error{queue::Code::Unavailable, "the store stayed unavailable while the lease lasted"});
      continue;
    }
    send.push_back(std::move(p));
  }
  if (send.empty()) return;
  std::vector<queue::Finish> items;
  for (const Pending& p : send) items.push_back(p.finish);
  auto results = store_.FinishMany(items);
  const auto now = Clock::now();
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (size_t i = 0; i < send.size(); ++i) {
    Pending& p = send[i];
    if (!results[i] && results[i].error().code == queue::Code::Unavailable && !last_try && LeaseLasts(p)) {
      if (p.tries == 0) {
        Log(opt_, p.held->claimed.task.task_id + ": result not recorded yet (" + results[i].error().message +
                      "); trying again while the lease lasts");
      }
      ++p.tries;
      p.next_try = now + std::chrono::milliseconds(RetryDelayMs(p.tries, kRetryBaseMs, kRetryMaxMs, unit(random_)));
      retrying_.push_back(std::move(p));
      continue;
    }
    Settle(p, results[i]);
  }
}

void Recorder::Settle(const Pending& p, const queue::Result<void>& result) {
  const queue::Finish& f = p.finish;
  const std::string& id = p.held->claimed.task.task_id;
  if (!result) Log(opt_, id + ": result not recorded: " + result.error().message);
  // A completed attempt's outputs: the accepted one's directory is now the task's (older leftovers go);
  // a refused one's is deleted. When the answer is unknown (the store stayed unavailable, and may have
  // committed) the files stay: either they are the result's, or the attempt that is accepted later
  // prunes them.
  if (f.kind == queue::Finish::Kind::Complete && !f.result.output_dir.empty()) {
    if (result) {
      workspace_.PruneOutputs(id, f.result.output_dir);
    } else if (result.error().code == queue::Code::Conflict || result.error().code == queue::Code::NotFound) {
      workspace_.DiscardOutputs(id, f.result.output_dir);
    }
  }
  using K = queue::Finish::Kind;
  ++(!result                 ? counters_.lost
     : f.kind == K::Complete ? counters_.completed
     : f.kind == K::Fail     ? counters_.failed
     : f.kind == K::Retry    ? counters_.retried
                             : counters_.released);
  held_.Forget(p.held);
}

}  // namespace wasmq::worker
