// File: src/worker/executor_growth.cc
//
// The dispatcher's grower (dispatcher.h): starts another executor when claimed tasks wait while one is
// stuck. It looks only while tasks wait, no executor is idle and fewer than `workers` run, every
// kGrowCheck; otherwise it sleeps until a claim or the stop wakes it.
//
// "Stuck" must not mean "busy on the CPU": on a loaded machine a thread running a tiny task may wait
// milliseconds for a CPU, and another thread would only wait too. A thread blocked in the kernel (a read, an
// engine call's wait, a WASI sleep) is not runnable, which /proc/self/task/TID/stat tells ('R' = running or
// runnable). A task that has run for kLongRun gets a companion whatever its state, so that a few long
// (or endless, until their timeout) computations never hold up the queue behind them.
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "worker/dispatcher.h"

namespace wasmq::worker {

namespace {

constexpr auto kGrowCheck = std::chrono::milliseconds(5);
constexpr auto kStuckAfter = std::chrono::milliseconds(5);
constexpr auto kLongRun = std::chrono::milliseconds(50);

// Whether the thread can run now ('R'); true when unknown (then only kLongRun counts).
bool Runnable(pid_t tid) {
  if (tid == 0) return true;
  char path[64], buf[512];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", static_cast<int>(tid));
  FILE* f = std::fopen(path, "re");
  if (!f) return true;
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // "tid (comm) S ...": the comm may hold spaces and parentheses, the state follows the last ')'.
  const char* close = std::strrchr(buf, ')');
  return !close || close[1] == '\0' || close[2] == 'R';
}

}  // namespace

void Dispatcher::ExecutorStarted(int slot) {
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  base::MutexLock lock(mu_);
  executors_[slot].tid = tid;
}

int Dispatcher::StuckExecutors() {
  const int room = std::min(opt_.workers - static_cast<int>(executors_.size()), static_cast<int>(ready_.size()));
  const auto now = std::chrono::steady_clock::now();
  int stuck = 0;
  for (Executor& e : executors_) {
    if (stuck >= room) break;
    if (!e.busy || e.replaced || now - e.since < kStuckAfter) continue;
    // Reading /proc under the lock: a few µs, only for executors past kStuckAfter on one task.
    if (now - e.since < kLongRun && Runnable(e.tid)) continue;
    e.replaced = true;
    ++stuck;
  }
  return stuck;
}

void Dispatcher::GrowLoop() {
  base::MutexLock lock(mu_);
  while (!stopping_ && static_cast<int>(executors_.size()) < opt_.workers) {
    const bool waiting = !ready_.empty() && idle_ == 0;
    if (!waiting) {
      grow_cv_.Wait(lock, [&]() REQUIRES(mu_) { return stopping_ || (!ready_.empty() && idle_ == 0); });
      continue;
    }
    grow_cv_.WaitFor(lock, kGrowCheck, [&]() REQUIRES(mu_) { return stopping_; });
    if (stopping_) return;
    const int add = StuckExecutors();
    const int first = static_cast<int>(executors_.size());
    executors_.resize(first + add);
    if (add == 0) continue;
    lock.Unlock();
    for (int slot = first; slot < first + add; ++slot) start_executor_(slot);
    lock.Lock();
    // The new executors are idle now (or soon): the claim sizing counted them as idle already.
  }
}

}  // namespace wasmq::worker
