// File: src/schedule/firing_loop.cc
//
// The thread that fires due occurrences. Running one in every `wasmq serve` is safe and is the point:
// the store's claim makes each occurrence fire once, and while any API node is up the schedules keep firing.
#include <cstdio>
#include <thread>

#include "base/mutex.h"
#include "schedule/schedule.h"

namespace wasmq::schedule {

struct FiringLoop::State {
  base::Mutex mu;
  base::CondVar cv;
  bool stop GUARDED_BY(mu) = false;
  std::thread thread;
};

FiringLoop::FiringLoop(ScheduleService& schedules, Options options) : state_(std::make_unique<State>()) {
  State* st = state_.get();
  st->thread = std::thread([st, &schedules, options] {
    std::string last_error;
    for (;;) {
      auto r = schedules.FireDue();
      // Logged once per distinct failure, not every second while the store is down.
      if (!r && r.error().message != last_error) {
        std::fprintf(stderr, "wasmq: schedules: %s\n", r.error().message.c_str());
        last_error = r.error().message;
      } else if (r) {
        last_error.clear();
      }
      base::MutexLock lock(st->mu);
      if (st->cv.WaitFor(lock, options.interval, [st]() REQUIRES(st->mu) { return st->stop; })) return;
    }
  });
}

FiringLoop::~FiringLoop() {
  {
    base::MutexLock lock(state_->mu);
    state_->stop = true;
  }
  state_->cv.NotifyAll();
  state_->thread.join();
}

}  // namespace wasmq::schedule
