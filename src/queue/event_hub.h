// File: src/queue/event_hub.h
//
// Internal to the queue part (include queue/store.h instead): the subscriber list a backend publishes its
// committed changes to. Publish calls the callbacks one at a time under a mutex, so unsubscribing (which
// takes the same mutex) also waits for a callback in flight — the subscriber can then be destroyed safely.
// The events every backend makes alike (created, claimed, cancelled) are built here once.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <vector>

#include "base/mutex.h"
#include "queue/store.h"

namespace wasmq::queue::detail {

class EventHub {
 public:
  Subscription Subscribe(EventCallback cb) EXCLUDES(mu_) {
    base::MutexLock lock(mu_);
    uint64_t id = next_id_++;
    subs_.emplace(id, std::move(cb));
    count_.store(subs_.size(), std::memory_order_relaxed);
    return Subscription([this, id] {
      base::MutexLock l(mu_);
      subs_.erase(id);
      count_.store(subs_.size(), std::memory_order_relaxed);
    });
  }

  // Cheap check so a backend builds events only when someone listens.
  bool has_subscribers() const { return count_.load(std::memory_order_relaxed) != 0; }

  // A new task (Create).
  void PublishCreated(const TaskInfo& t) EXCLUDES(mu_) {
    if (!has_subscribers()) return;
    TaskEvent e;
    e.kind = TaskEvent::Kind::Created;
    e.task_id = t.task_id;
    e.mode = t.mode;
    e.status = TaskStatus::Pending;
    e.at = t.created_at;
    Publish({e});
  }

  // "Now processing" for each task a Dequeue claimed.
  void PublishClaimed(const std::vector<Claimed>& claimed) EXCLUDES(mu_) {
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

  // A task as Cancel left it.
  void PublishCancelled(const TaskInfo& t) EXCLUDES(mu_) {
    if (!has_subscribers()) return;
    TaskEvent e;
    e.task_id = t.task_id;
    e.mode = t.mode;
    e.status = TaskStatus::Cancelled;
    e.progress = t.progress;
    e.current_step = t.current_step;
    e.attempt = t.attempt;
    e.at = t.updated_at;
    Publish({e});
  }

  void Publish(const std::vector<TaskEvent>& events) EXCLUDES(mu_) {
    if (events.empty() || !has_subscribers()) return;
    base::MutexLock lock(mu_);
    for (const TaskEvent& e : events)
      for (auto& [id, cb] : subs_) cb(e);
  }

 private:
  base::Mutex mu_;
  std::map<uint64_t, EventCallback> subs_ GUARDED_BY(mu_);
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
  std::atomic<size_t> count_{0};
};

}  // namespace wasmq::queue::detail
