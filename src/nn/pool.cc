// File: src/nn/pool.cc
#include "nn/internal.h"

namespace wasmq::nn {

void Pool::Submit(std::function<void()> job) {
  base::MutexLock lock(mu_);
  queue_.push_back(std::move(job));
  // Threads start with the first jobs, so a process that never computes has none.
  if (static_cast<size_t>(idle_) < queue_.size() && workers_.size() < static_cast<size_t>(threads_))
    workers_.emplace_back([this] { Loop(); });
  cv_.NotifyOne();
}

void Pool::Loop() {
  for (;;) {
    std::function<void()> job;
    {
      base::MutexLock lock(mu_);
      ++idle_;
      cv_.Wait(lock, [&]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
      --idle_;
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

Pool::~Pool() {
  std::vector<std::thread> workers;
  {
    base::MutexLock lock(mu_);
    stopping_ = true;
    workers.swap(workers_);
  }
  cv_.NotifyAll();
  for (std::thread& t : workers) t.join();
}

}  // namespace wasmq::nn
