// File: src/worker/pool.cc
//
// The pool's threads: the dispatcher that claims tasks, the executors that run them, start-up and
// shutdown. One attempt is in attempt.cc; the supervisor in supervisor.cc.
#include <pthread.h>

#include <algorithm>
#include <climits>

#include "worker/owner.h"
#include "worker/pool_impl.h"

namespace wasmq::worker {

WorkerPool::WorkerPool(queue::Store& store, const PipelineRegistry& pipelines, PoolOptions options)
    : impl_(std::make_unique<Impl>(store, pipelines, std::move(options))) {}
WorkerPool::~WorkerPool() { impl_->Shutdown(std::chrono::milliseconds(0)); }
queue::Result<void> WorkerPool::Start() { return impl_->Start(); }
void WorkerPool::Shutdown(std::chrono::milliseconds grace) { impl_->Shutdown(grace); }
void WorkerPool::HurryShutdown() { impl_->HurryShutdown(); }
PoolStats WorkerPool::stats() const { return impl_->stats(); }

WorkerPool::Impl::Impl(queue::Store& store, const PipelineRegistry& pipelines, PoolOptions options)
    : store_(store),
      pipelines_(pipelines),
      opt_(std::move(options)),
      workspace_(opt_.data_dir),
      rng_(std::random_device{}()) {
  if (opt_.owner.empty()) opt_.owner = ThisProcessOwner();
  opt_.workers = std::max(1, opt_.workers);
  workspace_ = Workspace(opt_.data_dir, Workspace::ScratchName(opt_.owner));
}

void WorkerPool::Impl::Log(const std::string& line) const {
  if (opt_.log) opt_.log(line);
}

PoolStats WorkerPool::Impl::stats() const {
  std::lock_guard lock(mu_);
  PoolStats s = stats_;
  s.running = static_cast<int>(held_.size());
  return s;
}

queue::Result<void> WorkerPool::Impl::Start() {
  {
    std::lock_guard lock(mu_);
    if (started_) return queue::Conflict("the pool is already started");
  }
  if (opt_.modes.empty()) {
    modes_ = pipelines_.modes();
  } else {
    for (const std::string& m : opt_.modes) {
      if (!pipelines_.Find(m))
        return queue::InvalidArgument("modes: no pipeline is registered for mode " + m);
      modes_.push_back(m);
    }
  }
  if (modes_.empty())
    Log("no pipeline registered: tasks will stay pending until a worker that has one takes them");
  if (auto r = workspace_.Init(opt_.workers, OwnerIsDead); !r) return r.error();
  scratch_empty_.assign(opt_.workers, 1);
  Recover();  // tasks of a crashed predecessor go back to the queue before we start claiming
  subscription_ = store_.Subscribe([this](const queue::TaskEvent& e) { OnEvent(e); });
  std::lock_guard lock(mu_);
  started_ = true;
  // Named threads: `top -H` and profilers show which part of the pool is busy.
  for (int i = 0; i < opt_.workers; ++i)
    executors_.emplace_back([this, i] {
      pthread_setname_np(pthread_self(), ("wq-exec-" + std::to_string(i)).substr(0, 15).c_str());
      ExecutorLoop(i);
    });
  dispatcher_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "wq-dispatch");
    DispatchLoop();
  });
  supervisor_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "wq-supervise");
    SupervisorLoop();
  });
  recorder_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "wq-record");
    RecorderLoop();
  });
  return {};
}

int WorkerPool::Impl::Prefetch() const {
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

std::vector<std::string> WorkerPool::Impl::AllowedModes(int slots, int* max_claim) const {
  std::vector<std::string> allowed;
  int most = slots;
  for (const std::string& m : modes_) {
    auto limit = opt_.mode_limits.find(m);
    auto held = per_mode_.find(m);
    int n = held == per_mode_.end() ? 0 : held->second;
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

void WorkerPool::Impl::DispatchLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    std::vector<std::string> allowed;
    int max_claim = 1;
    dispatch_cv_.wait(lock, [&] {
      if (stopping_) return true;
      const int prefetch = Prefetch(), waiting = static_cast<int>(ready_.size());
      const int slots = idle_ + prefetch - waiting;
      // Claim at once for an idle executor; refill the prefetched tasks only when half are gone, so that
      // one transaction claims many.
      if (idle_ <= waiting && slots < std::max(1, (prefetch + 1) / 2)) return false;
      if (slots <= 0) return false;
      allowed = AllowedModes(slots, &max_claim);
      return !allowed.empty();
    });
    if (stopping_) return;
    // The claim below was sized for the slots and modes free now. When a task finishes while it waits, it
    // gives up (see Forget) so that the next round can claim for the freed slot.
    const uint64_t generation = slots_generation_;
    lock.unlock();
    auto claimed = store_.Dequeue({.owner = opt_.owner,
                                   .lease_ms = opt_.lease_ms,
                                   .modes = allowed,
                                   .max_tasks = max_claim,
                                   .wait = std::chrono::seconds(5),
                                   .give_up = [this, generation] {
                                     return stop_claiming_.load() || slots_generation_.load() != generation;
                                   }});
    lock.lock();
    if (!claimed) {
      Log("dequeue failed: " + claimed.error().message + " (retrying in 1s)");
      dispatch_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
      continue;
    }
    for (queue::Claimed& c : *claimed) {
      auto held = std::make_shared<Held>();
      held->claimed = std::move(c);
      ++per_mode_[held->claimed.task.mode];
      held_[held->claimed.task.task_id] = held;
      ready_.push_back(std::move(held));
      ++stats_.started;
    }
    if (!claimed->empty()) exec_cv_.notify_all();
  }
}

void WorkerPool::Impl::ExecutorLoop(int slot) {
  std::unique_lock lock(mu_);
  for (;;) {
    ++idle_;
    dispatch_cv_.notify_one();
    exec_cv_.wait(lock, [&] { return executors_exit_ || !ready_.empty(); });
    --idle_;
    if (ready_.empty()) return;
    std::shared_ptr<Held> held = std::move(ready_.front());
    ready_.pop_front();
    lock.unlock();
    Execute(held, slot);  // hands the task to the recorder, or forgets it
    lock.lock();
    // The dispatcher may be blocked in a Dequeue sized before this executor was free: make it look again.
    ++slots_generation_;
    store_.WakeWaiters();
  }
}

void WorkerPool::Impl::Forget(const std::shared_ptr<Held>& held) {
  const std::string& mode = held->claimed.task.mode;
  if (--per_mode_[mode] == 0) per_mode_.erase(mode);
  // The task may already be held again — retried, re-claimed by the dispatcher — under a new lease: that
  // entry is not ours to remove.
  auto it = held_.find(held->claimed.task.task_id);
  if (it != held_.end() && it->second == held) held_.erase(it);
  // Room under a mode limit may have opened: a dispatcher waiting for it, or blocked in a Dequeue that
  // excluded the mode, must look again.
  dispatch_cv_.notify_all();
  ++slots_generation_;
  store_.WakeWaiters();
}

void WorkerPool::Impl::OnEvent(const queue::TaskEvent& e) {
  if (e.kind != queue::TaskEvent::Kind::Status || e.status != queue::TaskStatus::Cancelled) return;
  std::lock_guard lock(mu_);
  auto it = held_.find(e.task_id);
  if (it != held_.end()) it->second->control.Stop(StopReason::Cancelled);
}

void WorkerPool::Impl::HurryShutdown() {
  {
    std::lock_guard lock(mu_);
    hurry_ = true;
  }
  done_cv_.notify_all();
}

void WorkerPool::Impl::Shutdown(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    stopping_ = true;
    stop_claiming_ = true;
    if (!started_) return;
  }
  // 1. Claim nothing more.
  store_.WakeWaiters();
  dispatch_cv_.notify_all();
  dispatcher_.join();
  // 2. Hand back what was claimed but not started.
  std::deque<std::shared_ptr<Held>> unstarted;
  {
    std::lock_guard lock(mu_);
    unstarted.swap(ready_);
  }
  for (const auto& h : unstarted) {
    auto r = store_.Release(h->claimed.lease);
    if (!r) Log("hand-back of " + h->claimed.task.task_id + " refused: " + r.error().message);
    std::lock_guard lock(mu_);
    Forget(h);
    ++stats_.released;
  }
  // 3. Let running tasks finish within the grace period, then interrupt them (they are handed back).
  {
    std::unique_lock lock(mu_);
    done_cv_.wait_for(lock, grace, [&] { return held_.empty() || hurry_; });
    if (!held_.empty()) {
      Log("shutdown: grace period over, handing back " + std::to_string(held_.size()) + " running task(s)");
      for (auto& [id, h] : held_) h->control.Stop(StopReason::Shutdown);
    }
    executors_exit_ = true;
  }
  exec_cv_.notify_all();
  for (std::thread& t : executors_) t.join();
  // 4. Write what the executors handed over (hand-backs included).
  {
    std::lock_guard lock(mu_);
    recorder_exit_ = true;
  }
  record_cv_.notify_all();
  recorder_.join();
  // 5. The supervisor kept leases alive until now.
  {
    std::lock_guard lock(mu_);
    supervisor_exit_ = true;
  }
  supervisor_cv_.notify_all();
  supervisor_.join();
  subscription_.Reset();
  workspace_.Close();
}

}  // namespace wasmq::worker
