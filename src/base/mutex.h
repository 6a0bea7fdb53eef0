// base::Mutex, base::MutexLock, base::CondVar: std::mutex and std::condition_variable with Clang's
// capability annotations. libstdc++'s own types carry none, so a member written `GUARDED_BY(mu_)` next to a
// std::mutex could not be checked; these thin wrappers (no extra state, no extra cost) can.
//
//   base::Mutex mu_;
//   int count_ GUARDED_BY(mu_);
//   void Bump() EXCLUDES(mu_) { base::MutexLock lock(mu_); ++count_; }
//   void BumpLocked() REQUIRES(mu_) { ++count_; }
//   cv_.Wait(lock, [&]() REQUIRES(mu_) { return count_ > 0; });
#ifndef WASMQ_BASE_MUTEX_H_
#define WASMQ_BASE_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "base/thread_annotations.h"

namespace wasmq::base {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // For code that must state "the caller holds it" where the analysis cannot see it (a callback).
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

 private:
  friend class MutexLock;
  friend class CondVar;
  std::mutex mu_;
};

// Holds a Mutex for its scope; Unlock()/Lock() let a scope drop it around slow work.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : lock_(mu.mu_) {}
  ~MutexLock() RELEASE() = default;
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;
  void Unlock() RELEASE() { lock_.unlock(); }
  void Lock() ACQUIRE() { lock_.lock(); }

 private:
  friend class CondVar;
  std::unique_lock<std::mutex> lock_;
};

// A condition variable waited on under a MutexLock. The predicate runs with the mutex held; annotate the
// lambda `REQUIRES(mu_)` when it reads guarded members.
class CondVar {
 public:
  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }
  void Wait(MutexLock& lock) { cv_.wait(lock.lock_); }
  template <typename Pred>
  void Wait(MutexLock& lock, Pred pred) {
    cv_.wait(lock.lock_, pred);
  }
  // True when woken (or the predicate holds), false on timeout.
  template <typename Rep, typename Period>
  bool WaitFor(MutexLock& lock, std::chrono::duration<Rep, Period> d) {
    return cv_.wait_for(lock.lock_, d) == std::cv_status::no_timeout;
  }
  template <typename Rep, typename Period, typename Pred>
  bool WaitFor(MutexLock& lock, std::chrono::duration<Rep, Period> d, Pred pred) {
    return cv_.wait_for(lock.lock_, d, pred);
  }
  template <typename Clock, typename Duration, typename Pred>
  bool WaitUntil(MutexLock& lock, std::chrono::time_point<Clock, Duration> t, Pred pred) {
    return cv_.wait_until(lock.lock_, t, pred);
  }

 private:
  std::condition_variable cv_;
};

}  // namespace wasmq::base

#endif  // WASMQ_BASE_MUTEX_H_
