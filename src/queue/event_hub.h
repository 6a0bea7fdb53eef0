// File: src/queue/event_hub.h
//
// Internal to the queue part (include queue/store.h instead): the subscriber list a backend publishes its
// committed changes to. Publish calls the callbacks one at a time under a mutex, so unsubscribing (which
// takes the same mutex) also waits for a callback in flight — the subscriber can then be destroyed safely.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "queue/store.h"

namespace wasmq::queue::detail {

class EventHub {
 public:
  Subscription Subscribe(EventCallback cb) {
    std::lock_guard lock(mu_);
    uint64_t id = next_id_++;
    subs_.emplace(id, std::move(cb));
    count_.store(subs_.size(), std::memory_order_relaxed);
    return Subscription([this, id] {
      std::lock_guard l(mu_);
      subs_.erase(id);
      count_.store(subs_.size(), std::memory_order_relaxed);
    });
  }

  // Cheap check so a backend builds events only when someone listens.
  bool has_subscribers() const { return count_.load(std::memory_order_relaxed) != 0; }

  // Publishes "now processing" for each task a Dequeue claimed.
  void PublishClaimed(const std::vector<Claimed>& claimed) {
    if (!has_subscribers()) return;
    std::vector<TaskEvent> events;
    for (const Claimed& c : claimed) {
      TaskEvent e;
      e.task_id = c.task.task_id;
      e.mode = c.task.mode;
      e.status = TaskStatus::Processing;
      e.attempt = c.task.attempt;
      e.at = c.task.started_at;
      events.push_back(std::move(e));
    }
    Publish(events);
  }

  void Publish(const std::vector<TaskEvent>& events) {
    if (events.empty() || !has_subscribers()) return;
    std::lock_guard lock(mu_);
    for (const TaskEvent& e : events)
      for (auto& [id, cb] : subs_) cb(e);
  }

 private:
  std::mutex mu_;
  std::map<uint64_t, EventCallback> subs_;  // guarded by mu_
  uint64_t next_id_ = 1;                    // guarded by mu_
  std::atomic<size_t> count_{0};
};

}  // namespace wasmq::queue::detail
