// File: src/worker/dispatcher.cc
#include "worker/dispatcher.h"

#include <pthread.h>

#include <algorithm>

namespace wasmq::worker {

Dispatcher::~Dispatcher() {
  if (thread_.joinable()) (void)StopClaiming();
}

void Dispatcher::Start(std::vector<std::string> modes, int executors,
                       std::function<void(int slot)> start_executor) {
  modes_ = std::move(modes);
  start_executor_ = std::move(start_executor);
  executors = std::clamp(executors, 1, opt_.workers);
  {
    base::MutexLock lock(mu_);
    executors_.resize(executors);
  }
  for (int slot = 0; slot < executors; ++slot) start_executor_(slot);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "wq-dispatch");
    Loop();
  });
  if (executors < opt_.workers)
    grower_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "wq-grow");
      GrowLoop();
    });
}

int Dispatcher::Prefetch() const {
  if (opt_.prefetch >= 0) return opt_.prefetch;
  // Adaptive: hold as many tasks as the executors get through in kPrefetchBudget, so that a claimed task
  // waits here about that long at most — many for tiny tasks (one claim transaction serves dozens), none
  // for long ones (a task never sits claimed here while another process could run it).
  constexpr double kPrefetchBudgetUs = 20'000;
  constexpr int kMaxPrefetch = 256;
  if (mean_run_us_ <= 0) return 0;
  double n = kPrefetchBudgetUs * opt_.workers / mean_run_us_;
  return n >= kMaxPrefetch ? kMaxPrefetch : static_cast<int>(n);
}

std::vector<std::string> Dispatcher::AllowedModes(int slots, int* max_claim) const {
  const std::map<std::string, int> per_mode = held_.CountByMode();
  std::vector<std::string> allowed;
  int most = slots;
  for (const std::string& m : modes_) {
    auto limit = opt_.mode_limits.find(m);
    auto held = per_mode.find(m);
    int n = held == per_mode.end() ? 0 : held->second;
    if (limit == opt_.mode_limits.end()) {
      allowed.push_back(m);
    } else if (n < limit->second) {
      allowed.push_back(m);
      // One Dequeue could return several tasks of this mode: never claim more than it has room for.
      most = std::min(most, limit->second - n);
    }
  }
  *max_claim = std::max(1, most);
  return allowed;
}

void Dispatcher::Loop() {
  base::MutexLock lock(mu_);
  for (;;) {
    std::vector<std::string> allowed;
    int max_claim = 1;
    claim_cv_.Wait(lock, [&]() REQUIRES(mu_) {
      if (stopping_) return true;
      const int prefetch = Prefetch(), waiting = static_cast<int>(ready_.size()), idle = Idle();
      const int slots = idle + prefetch - waiting;
      // Claim at once for an idle executor thread; refill the prefetched tasks (and those for executors
      // not started) only when half of the prefetch is gone, so that one transaction claims many.
      if (idle_ <= waiting && slots < std::max(1, (prefetch + 1) / 2)) return false;
      if (slots <= 0) return false;
      allowed = AllowedModes(slots, &max_claim);
      return !allowed.empty();
    });
    if (stopping_) return;
    // The claim below was sized for the slots and modes free now. When one frees while it waits, it gives
    // up (RoomFreed) so that the next round can claim for it.
    const uint64_t generation = slots_generation_;
    lock.Unlock();
    auto claimed = store_.Dequeue({.owner = opt_.owner,
                                   .lease_ms = opt_.lease_ms,
                                   .modes = allowed,
                                   .max_tasks = max_claim,
                                   .wait = std::chrono::seconds(5),
                                   .give_up = [this, generation] {
                                     return stop_claiming_.load() || slots_generation_.load() != generation;
                                   }});
    lock.Lock();
    if (!claimed) {
      Log(opt_, "dequeue failed: " + claimed.error().message + " (retrying in 1s)");
      claim_cv_.WaitFor(lock, std::chrono::seconds(1), [&]() REQUIRES(mu_) { return stopping_; });
      continue;
    }
    for (queue::Claimed& c : *claimed) {
      auto held = std::make_shared<Held>();
      held->claimed = std::move(c);
      held_.Add(held);
      ready_.push_back(std::move(held));
      ++counters_.started;
    }
    if (!claimed->empty()) {
      ready_cv_.NotifyAll();
      if (static_cast<int>(executors_.size()) < opt_.workers) grow_cv_.NotifyOne();
    }
  }
}

std::shared_ptr<Held> Dispatcher::NextTask(int slot) {
  base::MutexLock lock(mu_);
  executors_[slot].busy = false;
  ++idle_;
  claim_cv_.NotifyOne();
  ready_cv_.Wait(lock, [&]() REQUIRES(mu_) { return executors_exit_ || !ready_.empty(); });
  --idle_;
  if (ready_.empty()) return nullptr;
  std::shared_ptr<Held> held = std::move(ready_.front());
  ready_.pop_front();
  executors_[slot] = {.tid = executors_[slot].tid, .busy = true, .since = std::chrono::steady_clock::now()};
  // Every executor busy and tasks left waiting: the grower starts watching for stuck ones.
  if (idle_ == 0 && !ready_.empty() && static_cast<int>(executors_.size()) < opt_.workers) grow_cv_.NotifyOne();
  return held;
}

void Dispatcher::RoomFreed() {
  {
    base::MutexLock lock(mu_);
    ++slots_generation_;
  }
  claim_cv_.NotifyAll();
  // The dispatcher may be blocked in a Dequeue sized before: make it look again.
  store_.WakeWaiters();
}

void Dispatcher::NoteRunTime(double run_us) {
  base::MutexLock lock(mu_);
  mean_run_us_ = mean_run_us_ == 0 ? run_us : 0.9 * mean_run_us_ + 0.1 * run_us;
}

std::deque<std::shared_ptr<Held>> Dispatcher::StopClaiming() {
  {
    base::MutexLock lock(mu_);
    stopping_ = true;
    stop_claiming_ = true;
  }
  store_.WakeWaiters();
  claim_cv_.NotifyAll();
  grow_cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
  if (grower_.joinable()) grower_.join();
  std::deque<std::shared_ptr<Held>> unstarted;
  base::MutexLock lock(mu_);
  unstarted.swap(ready_);
  return unstarted;
}

void Dispatcher::ReleaseExecutors() {
  {
    base::MutexLock lock(mu_);
    executors_exit_ = true;
  }
  ready_cv_.NotifyAll();
}

}  // namespace wasmq::worker
