// File: src/api/sessions.h
//
// Internal to the api part: the set of open connections, for the connection limit and for a graceful
// Stop(). A session joins when accepted and leaves when destroyed. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <utility>

#include "base/mutex.h"

namespace wasmq::api {

class Session {
 public:
  virtual ~Session() = default;
  // Asks the session to finish: an idle HTTP connection closes now, a busy one after its response, a
  // WebSocket with 1001 "going away". Called from any thread; only posts to the session's strand.
  virtual void Shutdown() = 0;
};

class SessionSet {
 public:
  explicit SessionSet(size_t max) : max_(max) {}

  // Reserves a slot for a connection about to start; false when `max` are open.
  bool Reserve() {
    base::MutexLock lock(mu_);
    if (count_ >= max_) return false;
    ++count_;
    return true;
  }
  // Gives back a reserved slot (the session was never created, or has ended).
  void Release() {
    base::MutexLock lock(mu_);
    --count_;
    if (count_ == 0) cv_.NotifyAll();
  }
  // Registers a started session for ShutdownAll.
  void Track(Session* s, std::weak_ptr<Session> w) {
    base::MutexLock lock(mu_);
    live_[s] = std::move(w);
  }
  void Untrack(Session* s) {
    base::MutexLock lock(mu_);
    live_.erase(s);
  }
  void ShutdownAll() {
    std::map<Session*, std::weak_ptr<Session>> live;
    {
      base::MutexLock lock(mu_);
      live = live_;
    }
    for (auto& [p, w] : live)
      if (auto s = w.lock()) s->Shutdown();
  }
  // Waits until every slot is given back, or the deadline. True when none is left.
  bool WaitEmpty(std::chrono::steady_clock::time_point deadline) {
    base::MutexLock lock(mu_);
    return cv_.WaitUntil(lock, deadline, [this]() REQUIRES(mu_) { return count_ == 0; });
  }
  size_t count() const {
    base::MutexLock lock(mu_);
    return count_;
  }

 private:
  const size_t max_;
  mutable base::Mutex mu_;
  base::CondVar cv_;
  size_t count_ GUARDED_BY(mu_) = 0;
  std::map<Session*, std::weak_ptr<Session>> live_ GUARDED_BY(mu_);
};

// A reserved connection slot, given back when destroyed; moves from the HTTP session to the WebSocket
// session it upgrades to.
class Slot {
 public:
  Slot() = default;
  explicit Slot(SessionSet* set) : set_(set) {}
  Slot(Slot&& o) noexcept : set_(std::exchange(o.set_, nullptr)) {}
  Slot& operator=(Slot&& o) noexcept {
    if (this != &o) {
      Reset();
      set_ = std::exchange(o.set_, nullptr);
    }
    return *this;
  }
  ~Slot() { Reset(); }
  void Reset() {
    if (set_) std::exchange(set_, nullptr)->Release();
  }

 private:
  SessionSet* set_ = nullptr;
};

}  // namespace wasmq::api
