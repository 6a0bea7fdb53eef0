// File: src/api/sessions.h
//
// Internal to the api part: the set of open connections, for the connection limit and for a graceful
// Stop(). A session joins when accepted and leaves when destroyed. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

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
    std::lock_guard lock(mu_);
    if (count_ >= max_) return false;
    ++count_;
    return true;
  }
  // Gives back a reserved slot (the session was never created, or has ended).
  void Release() {
    std::lock_guard lock(mu_);
    --count_;
    if (count_ == 0) cv_.notify_all();
  }
  // Registers a started session for ShutdownAll.
  void Track(Session* s, std::weak_ptr<Session> w) {
    std::lock_guard lock(mu_);
    live_[s] = std::move(w);
  }
  void Untrack(Session* s) {
    std::lock_guard lock(mu_);
    live_.erase(s);
  }
  void ShutdownAll() {
    std::map<Session*, std::weak_ptr<Session>> live;
    {
      std::lock_guard lock(mu_);
      live = live_;
    }
    for (auto& [p, w] : live)
      if (auto s = w.lock()) s->Shutdown();
  }
  // Waits until every slot is given back, or the deadline. True when none is left.
  bool WaitEmpty(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_until(lock, deadline, [this] { return count_ == 0; });
  }
  size_t count() const {
    std::lock_guard lock(mu_);
    return count_;
  }

 private:
  const size_t max_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  size_t count_ = 0;                                 // guarded by mu_
  std::map<Session*, std::weak_ptr<Session>> live_;  // guarded by mu_
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
