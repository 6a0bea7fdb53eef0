// File: src/api/watch_hub.cc
#include "api/watch_hub.h"

namespace wasmq::api {

WatchHub::Registration& WatchHub::Registration::operator=(Registration&& o) noexcept {
  if (this != &o) {
    Reset();
    hub_ = std::exchange(o.hub_, nullptr);
    id_ = o.id_;
  }
  return *this;
}

void WatchHub::Registration::Reset() {
  if (hub_) std::exchange(hub_, nullptr)->Unregister(id_);
}

WatchHub::WatchHub(queue::Store& store, bool per_user, Post post, Post fanout)
    : store_(store), per_user_(per_user), post_(std::move(post)), fanout_(std::move(fanout)) {
  subscription_ = store_.Subscribe([this](const queue::TaskEvent& e) { OnEvent(e); });
}

WatchHub::~WatchHub() { Close(); }

void WatchHub::Close() { subscription_.Reset(); }

WatchHub::Registration WatchHub::WatchTask(const std::string& task_id, std::weak_ptr<Watcher> watcher) {
  base::MutexLock lock(mu_);
  uint64_t id = next_id_++;
  entries_[id] = {task_id, false, std::move(watcher)};
  by_task_.emplace(task_id, id);
  return {this, id};
}

WatchHub::Registration WatchHub::WatchUser(const std::string& user, std::weak_ptr<Watcher> watcher) {
  base::MutexLock lock(mu_);
  uint64_t id = next_id_++;
  entries_[id] = {user, true, std::move(watcher)};
  by_user_.emplace(user, id);
  return {this, id};
}

size_t WatchHub::watcher_count() const {
  base::MutexLock lock(mu_);
  return entries_.size();
}

void WatchHub::Unregister(uint64_t id) {
  base::MutexLock lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  auto& index = it->second.user ? by_user_ : by_task_;
  auto [lo, hi] = index.equal_range(it->second.key);
  for (auto i = lo; i != hi; ++i)
    if (i->second == id) {
      index.erase(i);
      break;
    }
  entries_.erase(it);
}

void WatchHub::Collect(const queue::TaskEvent& e, const std::string* owner, Batch& out) {
  std::shared_ptr<const std::string> json;
  auto add = [&](uint64_t id) REQUIRES(mu_) {
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    if (auto w = it->second.watcher.lock()) {
      if (!json) json = std::make_shared<const std::string>(queue::ToJson(e).dump());
      out.emplace_back(std::move(w), json);
    }
  };
  auto [tlo, thi] = by_task_.equal_range(e.task_id);
  for (auto i = tlo; i != thi; ++i) add(i->second);
  if (!per_user_) {
    for (const auto& [user, id] : by_user_) add(id);
  } else if (owner) {
    auto [ulo, uhi] = by_user_.equal_range(*owner);
    for (auto i = ulo; i != uhi; ++i) add(i->second);
  }
}

void WatchHub::OnEvent(const queue::TaskEvent& e) {
  base::MutexLock order(order_mu_);
  Batch batch;
  {
    base::MutexLock lock(mu_);
    const std::string* owner = nullptr;
    bool lookup = false;
    if (per_user_ && !by_user_.empty()) {
      if (auto p = pending_.find(e.task_id); p != pending_.end()) {
        p->second.push_back(e);  // behind the lookup in flight
      } else if (auto o = owners_.find(e.task_id); o != owners_.end()) {
        owner = &o->second;
      } else if (pending_.size() < kMaxPendingLookups) {
        pending_[e.task_id].push_back(e);
        lookup = true;
      }
    }
    Collect(e, owner, batch);
    if (owner && queue::IsTerminal(e.status)) owners_.erase(e.task_id);  // nothing follows a terminal event
    if (lookup) {
      std::string id = e.task_id;
      post_([this, id] { ResolveOwner(id); });
    }
  }
  Fanout(std::move(batch), e);
}

void WatchHub::Fanout(Batch batch, const queue::TaskEvent& e) {
  if (batch.empty()) return;
  // Off mu_ (Deliver may drop the last reference to a watcher, whose destructor unregisters) and off the
  // store's thread. The batch holds the watchers alive until the job has run.
  fanout_([batch = std::move(batch), e]() {
    for (auto& [w, json] : batch) w->Deliver(json, e);
  });
}

void WatchHub::ResolveOwner(const std::string& task_id) {
  auto task = store_.Get(task_id);  // on an I/O thread: may block on the store
  base::MutexLock order(order_mu_);
  std::vector<std::pair<Batch, queue::TaskEvent>> batches;
  {
    base::MutexLock lock(mu_);
    auto p = pending_.find(task_id);
    if (p == pending_.end()) return;
    std::vector<queue::TaskEvent> events = std::move(p->second);
    pending_.erase(p);
    if (!task) return;  // gone, or the store is down: these events reach task watchers only
    const std::string& owner = task->user_id;
    for (const queue::TaskEvent& e : events) {
      Batch b;
      // Task watchers had these already (OnEvent delivered to them); here only the owner's user watchers.
      auto [ulo, uhi] = by_user_.equal_range(owner);
      std::shared_ptr<const std::string> json;
      for (auto i = ulo; i != uhi; ++i) {
        auto it = entries_.find(i->second);
        if (it == entries_.end()) continue;
        if (auto w = it->second.watcher.lock()) {
          if (!json) json = std::make_shared<const std::string>(queue::ToJson(e).dump());
          b.emplace_back(std::move(w), json);
        }
      }
      batches.emplace_back(std::move(b), e);
    }
    if (!queue::IsTerminal(task->status) && !queue::IsTerminal(events.back().status)) {
      if (owners_.size() >= kMaxOwners) owners_.clear();
      owners_[task_id] = owner;
    }
  }
  for (auto& [batch, e] : batches) Fanout(std::move(batch), e);
}

}  // namespace wasmq::api
