// File: src/worker/pool.cc
//
// The pool: wires its parts (pool_impl.h), runs the executor threads, and orders start-up and shutdown.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <thread>

#include "worker/owner.h"
#include "worker/pool_impl.h"

namespace wasmq::worker {

namespace {

PoolOptions WithDefaults(PoolOptions opt) {
  if (opt.owner.empty()) opt.owner = ThisProcessOwner();
  opt.workers = std::max(1, opt.workers);
  return opt;
}

// The CPUs this process may run on (its affinity mask: a container's or taskset's limit, not the machine's).
int UsableCpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

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
      opt_(WithDefaults(std::move(options))),
      workspace_(opt_.data_dir, storage::Workspace::ScratchName(opt_.owner), opt_.uploads, opt_.bucket),
      held_([this] { dispatcher_.RoomFreed(); },
            [this](SteadyTime deadline) { supervisor_.DeadlineSet(deadline); }),
      dispatcher_(store_, opt_, held_, counters_),
      supervisor_(store_, opt_, workspace_, held_, counters_),
      recorder_(store_, opt_, workspace_, held_, counters_),
      attempts_(store_, pipelines_, opt_, workspace_, held_, recorder_, counters_) {}

PoolStats WorkerPool::Impl::stats() const {
  PoolStats s = counters_.Snapshot();
  s.running = static_cast<int>(held_.size());
  return s;
}

queue::Result<void> WorkerPool::Impl::Start() {
  {
    base::MutexLock lock(mu_);
    if (started_) return queue::Conflict("the pool is already started");
  }
  std::vector<std::string> modes;
  if (opt_.modes.empty()) {
    modes = pipelines_.modes();
  } else {
    for (const std::string& m : opt_.modes) {
      if (!pipelines_.Find(m))
        return queue::InvalidArgument("modes: no pipeline is registered for mode " + m);
      modes.push_back(m);
    }
  }
  if (modes.empty())
    Log(opt_, "no pipeline registered: tasks will stay pending until a worker that has one takes them");
  if (auto r = workspace_.Init(opt_.workers, OwnerIsDead); !r) return r.error();
  attempts_.Init(opt_.workers);
  supervisor_.Recover();  // tasks of a crashed predecessor go back to the queue before we start claiming
  subscription_ = store_.Subscribe([this](const queue::TaskEvent& e) { OnEvent(e); });
  {
    base::MutexLock lock(mu_);
    started_ = true;
  }
  // As many executors as CPUs to start with; the dispatcher adds more when tasks wait on blocked ones
  // (dispatcher.h).
  dispatcher_.Start(std::move(modes), UsableCpus(), [this](int slot) { StartExecutor(slot); });
  supervisor_.Start();
  recorder_.Start();
  return {};
}

void WorkerPool::Impl::StartExecutor(int slot) {
  base::MutexLock lock(executors_mu_);
  // Named threads: `top -H` and profilers show which part of the pool is busy.
  executors_.emplace_back([this, slot] {
    pthread_setname_np(pthread_self(), ("wq-exec-" + std::to_string(slot)).substr(0, 15).c_str());
    dispatcher_.ExecutorStarted(slot);
    ExecutorLoop(slot);
  });
}

void WorkerPool::Impl::ExecutorLoop(int slot) {
  while (std::shared_ptr<Held> held = dispatcher_.NextTask(slot)) {
    const double run_us = attempts_.Execute(held, slot);  // hands the task to the recorder, or forgets it
    if (run_us > 0) dispatcher_.NoteRunTime(run_us);
    // The dispatcher may be blocked in a Dequeue sized before this executor was free: make it look again.
    dispatcher_.RoomFreed();
  }
}

void WorkerPool::Impl::OnEvent(const queue::TaskEvent& e) {
  if (e.kind != queue::TaskEvent::Kind::Status || e.status != queue::TaskStatus::Cancelled) return;
  held_.Stop(e.task_id, StopReason::Cancelled);
}

void WorkerPool::Impl::Shutdown(std::chrono::milliseconds grace) {
  {
    base::MutexLock lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    if (!started_) return;
  }
  // 1. Claim nothing more. 2. Hand back what was claimed but not started.
  for (const auto& h : dispatcher_.StopClaiming()) {
    auto r = store_.Release(h->claimed.lease);
    if (!r) Log(opt_, "hand-back of " + h->claimed.task.task_id + " refused: " + r.error().message);
    held_.Forget(h);
    ++counters_.released;
  }
  // 3. Let running tasks finish within the grace period, then interrupt them (they are handed back).
  if (!held_.WaitEmpty(grace)) {
    if (size_t n = held_.StopAll(StopReason::Shutdown))
      Log(opt_, "shutdown: grace period over, handing back " + std::to_string(n) + " running task(s)");
  }
  dispatcher_.ReleaseExecutors();
  // StopClaiming stopped the dispatcher's grower: no executor starts any more.
  std::vector<std::thread> executors;
  {
    base::MutexLock lock(executors_mu_);
    executors.swap(executors_);
  }
  for (std::thread& t : executors) t.join();
  // 4. Write what the executors handed over (hand-backs included).
  recorder_.Stop();
  // 5. The supervisor kept leases alive until now.
  supervisor_.Stop();
  subscription_.Reset();
  workspace_.Close();
}

}  // namespace wasmq::worker
