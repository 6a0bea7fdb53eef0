// File: src/worker/held_tasks.cc
#include "worker/held_tasks.h"

#include <algorithm>

namespace wasmq::worker {

void HeldTasks::Add(std::shared_ptr<Held> held) {
  base::MutexLock lock(mu_);
  ++per_mode_[held->claimed.task.mode];
  const std::string id = held->claimed.task.task_id;
  tasks_[id] = Entry{std::move(held)};
}

void HeldTasks::Started(const std::shared_ptr<Held>& held, SteadyTime deadline) {
  {
    base::MutexLock lock(mu_);
    auto it = tasks_.find(held->claimed.task.task_id);
    if (it == tasks_.end() || it->second.held != held) return;
    it->second.started = true;
    it->second.deadline = deadline;
  }
  if (on_started_) on_started_(deadline);
}

void HeldTasks::Forget(const std::shared_ptr<Held>& held) {
  {
    base::MutexLock lock(mu_);
    const std::string& mode = held->claimed.task.mode;
    if (--per_mode_[mode] == 0) per_mode_.erase(mode);
    auto it = tasks_.find(held->claimed.task.task_id);
    if (it != tasks_.end() && it->second.held == held) tasks_.erase(it);
  }
  forgotten_.NotifyAll();
  if (on_forget_) on_forget_();
}

size_t HeldTasks::size() const {
  base::MutexLock lock(mu_);
  return tasks_.size();
}

std::map<std::string, int> HeldTasks::CountByMode() const {
  base::MutexLock lock(mu_);
  return per_mode_;
}

std::vector<std::shared_ptr<Held>> HeldTasks::All() const {
  base::MutexLock lock(mu_);
  std::vector<std::shared_ptr<Held>> out;
  out.reserve(tasks_.size());
  for (const auto& [id, e] : tasks_) out.push_back(e.held);
  return out;
}

void HeldTasks::Stop(const std::string& task_id, StopReason reason) {
  base::MutexLock lock(mu_);
  auto it = tasks_.find(task_id);
  if (it != tasks_.end()) it->second.held->control.Stop(reason);
}

size_t HeldTasks::StopAll(StopReason reason) {
  base::MutexLock lock(mu_);
  for (auto& [id, e] : tasks_) e.held->control.Stop(reason);
  return tasks_.size();
}

SteadyTime HeldTasks::EarliestDeadline() const {
  base::MutexLock lock(mu_);
  SteadyTime earliest = SteadyTime::max();
  for (const auto& [id, e] : tasks_)
    if (e.started && e.held->control.reason() == StopReason::None) earliest = std::min(earliest, e.deadline);
  return earliest;
}

void HeldTasks::StopOverdue(SteadyTime now) {
  base::MutexLock lock(mu_);
  for (auto& [id, e] : tasks_)
    if (e.started && e.deadline <= now) e.held->control.Stop(StopReason::Timeout);
}

bool HeldTasks::WaitEmpty(std::chrono::milliseconds grace) {
  base::MutexLock lock(mu_);
  forgotten_.WaitFor(lock, grace, [&]() REQUIRES(mu_) { return tasks_.empty() || hurry_; });
  return tasks_.empty();
}

void HeldTasks::Hurry() {
  {
    base::MutexLock lock(mu_);
    hurry_ = true;
  }
  forgotten_.NotifyAll();
}

StopReason WhyRefused(queue::Store& store, const std::string& task_id) {
  auto t = store.Get(task_id);
  return t && t->status == queue::TaskStatus::Cancelled ? StopReason::Cancelled : StopReason::LeaseLost;
}

}  // namespace wasmq::worker
