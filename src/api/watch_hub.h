// File: src/api/watch_hub.h
//
// Internal to the api part: fans the store's task events out to WebSocket watchers.
//
// A watcher watches one task (/api/v1/tasks/{id}/ws; the owner was checked when it connected) or every task
// of one user (/api/v1/ws). The store's events do not say whose task changed, so for user watchers the hub
// keeps a task → owner cache; an event of a task it does not know yet waits in a per-task queue while the
// owner is read from the store on an I/O thread (never on the store's callback thread, which must not call
// back into the store), and every event of that task queued behind it is then delivered in order. With auth
// off there is one user, and no lookup at all.
//
// Each event is serialised to JSON once and shared by every watcher it goes to. The fan-out (one Deliver per
// watcher, each only queueing on the watcher's own strand) runs as one job on the hub's `fanout` strand,
// not on the store's callback thread — with 1 000 watchers of one task it would otherwise hold up the
// worker reporting progress for milliseconds. One strand keeps the jobs, and so each watcher's events, in
// order; a slow watcher never holds up the store or the others.
//
// Bounds: the owner cache holds at most kMaxOwners tasks (cleared when full; it refills by lookup), and at
// most kMaxPendingLookups tasks wait for an owner at once (events beyond are dropped for user watchers —
// a watcher that reconnects gets the current state in its snapshot).
//
// Thread-safe. Order: events of one task reach each watcher in the order the store committed them.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/mutex.h"
#include "queue/queue.h"

namespace wasmq::api {

class Watcher {
 public:
  virtual ~Watcher() = default;
  // Queues `json` (the event's text) for sending. Called from any thread; must not block.
  virtual void Deliver(const std::shared_ptr<const std::string>& json, const queue::TaskEvent& event) = 0;
};

class WatchHub {
 public:
  static constexpr size_t kMaxOwners = 100'000;
  static constexpr size_t kMaxPendingLookups = 10'000;

  // `per_user`: auth is on, so user watchers see only their own tasks. `post` runs a job on an I/O thread;
  // `fanout` runs jobs one at a time, in the order given (a strand).
  using Post = std::function<void(std::function<void()>)>;
  WatchHub(queue::Store& store, bool per_user, Post post, Post fanout);
  ~WatchHub();  // unsubscribes; waits for a callback in flight
  // Unsubscribes now (waiting for a callback in flight): no event is delivered or posted afterwards.
  void Close();

  // Unregisters when destroyed. Must not outlive the hub.
  class Registration {
   public:
    Registration() = default;
    Registration(WatchHub* hub, uint64_t id) : hub_(hub), id_(id) {}
    Registration(Registration&& o) noexcept : hub_(std::exchange(o.hub_, nullptr)), id_(o.id_) {}
    Registration& operator=(Registration&& o) noexcept;
    ~Registration() { Reset(); }
    void Reset();

   private:
    WatchHub* hub_ = nullptr;
    uint64_t id_ = 0;
  };

  Registration WatchTask(const std::string& task_id, std::weak_ptr<Watcher> watcher);
  Registration WatchUser(const std::string& user, std::weak_ptr<Watcher> watcher);

  size_t watcher_count() const;

 private:
  struct Entry {
    std::string key;  // task id, or user
    bool user;
    std::weak_ptr<Watcher> watcher;
  };
  using Batch = std::vector<std::pair<std::shared_ptr<Watcher>, std::shared_ptr<const std::string>>>;

  void OnEvent(const queue::TaskEvent& e) EXCLUDES(order_mu_, mu_);
  void ResolveOwner(const std::string& task_id) EXCLUDES(order_mu_, mu_);
  // Adds the watchers of `e` to `out`; `owner` is the task's (ignored with per_user off).
  void Collect(const queue::TaskEvent& e, const std::string* owner, Batch& out) REQUIRES(mu_);
  void Unregister(uint64_t id) EXCLUDES(mu_);
  // Queues the deliveries of `batch` (for `e`) on the fanout strand, off mu_.
  void Fanout(Batch batch, const queue::TaskEvent& e) REQUIRES(order_mu_) EXCLUDES(mu_);

  queue::Store& store_;
  const bool per_user_;
  Post post_, fanout_;

  // Serialises deliveries (OnEvent, and the flush after an owner lookup) so that one task's events keep
  // their order across threads. Never taken by Unregister.
  base::Mutex order_mu_ ACQUIRED_BEFORE(mu_);
  mutable base::Mutex mu_;
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
  std::map<uint64_t, Entry> entries_ GUARDED_BY(mu_);
  std::unordered_multimap<std::string, uint64_t> by_task_ GUARDED_BY(mu_);
  std::unordered_multimap<std::string, uint64_t> by_user_ GUARDED_BY(mu_);
  std::unordered_map<std::string, std::string> owners_ GUARDED_BY(mu_);  // task → user
  std::unordered_map<std::string, std::vector<queue::TaskEvent>> pending_ GUARDED_BY(mu_);  // awaiting an owner
  queue::Subscription subscription_;  // last: destroyed first
};

}  // namespace wasmq::api
