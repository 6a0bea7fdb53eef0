// File: src/wasi/deadlines.h  (internal)
//
// DeadlineTimer: one thread for every deadline of the process. RunCommand registers a run's deadline here
// (a callback that interrupts its store) instead of starting a watchdog thread per run, so a process that
// runs many commands at once has one timer thread, not one per run. Add and Remove are O(log n) in the
// number of pending deadlines (an ordered map keyed by time).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <utility>

#include "base/mutex.h"
#include "base/thread_annotations.h"

namespace wasmq::wasi {

class DeadlineTimer {
 public:
  using Clock = std::chrono::steady_clock;
  // What Add returns and Remove takes: the entry's place in the map.
  struct Key {
    Clock::time_point when;
    uint64_t id = 0;
    bool operator<(const Key& o) const { return when != o.when ? when < o.when : id < o.id; }
  };

  // The process's timer; its thread starts with the first Add.
  static DeadlineTimer& Process();

  DeadlineTimer() = default;
  ~DeadlineTimer();  // stops the thread; pending callbacks never run
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  // Runs `fire` on the timer thread once `when` has come (at once when it has passed). `fire` runs with the
  // timer's lock held, so that Remove can promise it is over: keep it short (interrupt a store, set a flag)
  // and never call back into the timer.
  Key Add(Clock::time_point when, std::function<void()> fire) EXCLUDES(mu_);
  // Forgets the deadline. When Remove returns, its callback has either run to its end or never will.
  void Remove(const Key& key) EXCLUDES(mu_);

  size_t pending() const EXCLUDES(mu_);
  // Whether the thread has been started (the tests check there is only ever this one).
  bool started() const EXCLUDES(mu_);

 private:
  void Loop() EXCLUDES(mu_);

  mutable base::Mutex mu_;
  base::CondVar cv_;
  std::map<Key, std::function<void()>> pending_ GUARDED_BY(mu_);
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
  bool earlier_ GUARDED_BY(mu_) = false;  // an Add came before the deadline the thread sleeps until
  bool exit_ GUARDED_BY(mu_) = false;
  std::thread thread_ GUARDED_BY(mu_);
};

}  // namespace wasmq::wasi
