// File: src/wasi/deadlines.cc
#include "wasi/deadlines.h"

namespace wasmq::wasi {

DeadlineTimer& DeadlineTimer::Process() {
  // Never destroyed: a run still going on another thread while the process exits must not find the timer
  // gone, and a thread blocked in a wait needs no joining at exit.
  static DeadlineTimer* timer = new DeadlineTimer;
  return *timer;
}

DeadlineTimer::~DeadlineTimer() {
  std::thread thread;
  {
    base::MutexLock lock(mu_);
    exit_ = true;
    thread = std::move(thread_);
  }
  cv_.NotifyAll();
  if (thread.joinable()) thread.join();
}

DeadlineTimer::Key DeadlineTimer::Add(Clock::time_point when, std::function<void()> fire) {
  bool wake;
  Key key;
  {
    base::MutexLock lock(mu_);
    key = Key{when, next_id_++};
    pending_.emplace(key, std::move(fire));
    if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
    // Only a new first deadline changes how long the thread sleeps.
    wake = pending_.begin()->first.id == key.id;
    earlier_ = earlier_ || wake;
  }
  if (wake) cv_.NotifyAll();
  return key;
}

void DeadlineTimer::Remove(const Key& key) {
  base::MutexLock lock(mu_);
  pending_.erase(key);
}

size_t DeadlineTimer::pending() const {
  base::MutexLock lock(mu_);
  return pending_.size();
}

bool DeadlineTimer::started() const {
  base::MutexLock lock(mu_);
  return thread_.joinable();
}

void DeadlineTimer::Loop() {
  base::MutexLock lock(mu_);
  while (!exit_) {
    earlier_ = false;
    if (pending_.empty()) {
      cv_.Wait(lock, [this]() REQUIRES(mu_) { return exit_ || earlier_; });
      continue;
    }
    auto first = pending_.begin();
    if (first->first.when > Clock::now()) {
      cv_.WaitUntil(lock, first->first.when, [this]() REQUIRES(mu_) { return exit_ || earlier_; });
      continue;
    }
    std::function<void()> fire = std::move(first->second);
    pending_.erase(first);
    fire();  // with mu_ held: see Add
  }
}

}  // namespace wasmq::wasi
