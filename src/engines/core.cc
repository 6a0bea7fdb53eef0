// File: src/engines/core.cc — status names, CancelToken, CallContext.
#include <algorithm>

#include "engines/engines.h"

namespace wasmq::engines {

std::string_view CodeName(Status s) {
  switch (s) {
    case Status::Ok:
      return "OK";
    case Status::Unknown:
      return "ENGINE_UNKNOWN";
    case Status::BadRequest:
      return "ENGINE_BAD_REQUEST";
    case Status::Failed:
      return "ENGINE_FAILED";
    case Status::Timeout:
      return "ENGINE_TIMEOUT";
    case Status::Unavailable:
      return "ENGINE_UNAVAILABLE";
    case Status::TooLarge:
      return "ENGINE_TOO_LARGE";
    case Status::Cancelled:
      return "ENGINE_CANCELLED";
  }
  return "ENGINE_FAILED";
}

Response Failure(Status status, std::string message) {
  Response r;
  r.status = status;
  r.message = std::move(message);
  return r;
}

void CancelToken::Cancel() {
  base::MutexLock lock(mu_);
  if (cancelled_) return;
  cancelled_ = true;
  cv_.NotifyAll();
  for (auto& [id, fn] : callbacks_) fn();
}

bool CancelToken::cancelled() const {
  base::MutexLock lock(mu_);
  return cancelled_;
}

bool CancelToken::SleepFor(std::chrono::milliseconds d) const {
  base::MutexLock lock(mu_);
  return !cv_.WaitFor(lock, d, [this]() REQUIRES(mu_) { return cancelled_; });
}

int CancelToken::OnCancel(std::function<void()> fn) const {
  base::MutexLock lock(mu_);
  if (cancelled_) fn();
  int id = next_id_++;
  callbacks_.emplace(id, std::move(fn));
  return id;
}

void CancelToken::Remove(int id) const {
  base::MutexLock lock(mu_);
  callbacks_.erase(id);
}

bool CallContext::Expired() const {
  return (cancel && cancel->cancelled()) || std::chrono::steady_clock::now() >= deadline;
}

std::chrono::milliseconds CallContext::Remaining() const {
  if (deadline == SteadyTime::max()) return std::chrono::hours(24);
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

}  // namespace wasmq::engines
