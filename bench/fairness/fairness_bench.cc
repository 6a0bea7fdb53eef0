// File: bench/fairness/fairness_bench.cc
//
// The noisy-neighbour benchmark of issue #22: how long a user's task waits to start while another user has
// a backlog, on the store's real claim path (SQLite file, and Redis when --redis is given). W worker threads
// loop Dequeue (blocking) → "run" for --task-ms → Complete. A quiet user submits --quiet tasks one every
// --every-ms; its wait is submit → claim. Three runs per store:
//
//   alone       the quiet user only
//   fair        a noisy user first queues --backlog tasks, then the quiet user submits (per-user fairness)
//   one-user    the same load with both users' tasks as one user's (what a plain FIFO queue gives: the
//               quiet task waits behind the whole backlog)
//
// Output: per run, the quiet user's wait histogram (ms buckets) and p50/p99/max.
//
//   fairness_bench [--redis redis://127.0.0.1:6379/0] [--workers 4] [--backlog 10000] [--task-ms 2]
//                  [--quiet 50] [--every-ms 20]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "base/mutex.h"
#include "queue/queue.h"

namespace {

using namespace wasmq;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string redis;
  int workers = 4, backlog = 10'000, task_ms = 2, quiet = 50, every_ms = 20;
};

class Waits {
 public:
  void Submitted(const std::string& id) EXCLUDES(mu_) {
    base::MutexLock l(mu_);
    submitted_[id] = Clock::now();
  }
  void Claimed(const std::string& id) EXCLUDES(mu_) {
    const auto now = Clock::now();
    base::MutexLock l(mu_);
    if (auto it = submitted_.find(id); it != submitted_.end()) {
      waits_ms_.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
      submitted_.erase(it);
    }
  }
  std::vector<double> Take() EXCLUDES(mu_) {
    base::MutexLock l(mu_);
    return waits_ms_;
  }
  size_t count() EXCLUDES(mu_) {
    base::MutexLock l(mu_);
    return waits_ms_.size();
  }

 private:
  base::Mutex mu_;
  std::map<std::string, Clock::time_point> submitted_ GUARDED_BY(mu_);
  std::vector<double> waits_ms_ GUARDED_BY(mu_);
};

void PrintHistogram(const std::string& title, std::vector<double> w) {
  std::sort(w.begin(), w.end());
  auto pct = [&](double p) { return w.empty() ? 0.0 : w[std::min(w.size() - 1, static_cast<size_t>(p * w.size()))]; };
  std::printf("  %-9s n=%zu p50=%.1f ms p99=%.1f ms max=%.1f ms\n", title.c_str(), w.size(), pct(0.5), pct(0.99),
              w.empty() ? 0.0 : w.back());
  const double edges[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 1e300};
  size_t lo = 0;
  double from = 0;
  for (double e : edges) {
    size_t hi = std::upper_bound(w.begin(), w.end(), e) - w.begin();
    if (hi > lo) {
      const int bar = static_cast<int>(50.0 * (hi - lo) / w.size() + 0.5);
      char range[40];
      if (e > 1e299)
        std::snprintf(range, sizeof range, ">%.0f ms", from);
      else
        std::snprintf(range, sizeof range, "%.0f-%.0f ms", from, e);
      std::printf("    %-14s %5zu %s\n", range, hi - lo, std::string(bar, '#').c_str());
    }
    lo = hi;
    from = e;
  }
}

// One run on a fresh store: the waits of the quiet user's tasks.
std::vector<double> Run(const Options& o, const std::string& url, int backlog, bool one_user) {
  auto store = queue::OpenStore(url);
  if (!store) {
    std::fprintf(stderr, "fairness_bench: %s\n", store.error().message.c_str());
    std::exit(1);
  }
  queue::Store& s = **store;
  Waits waits;
  std::atomic<bool> stop{false};
  int seq = 0;
  auto add = [&](const std::string& user, bool quiet) {
    queue::TaskInfo t;
    t.task_id = "task_bench_" + std::to_string(++seq) + (quiet ? "_q" : "_n");
    t.user_id = one_user ? "everyone" : user;
    t.mode = std::string(queue::kHeadSwap);
    t.created_at = t.updated_at = t.run_at = queue::NowMs();
    if (quiet) waits.Submitted(t.task_id);
    if (auto r = s.Create(t); !r) {
      std::fprintf(stderr, "fairness_bench: create: %s\n", r.error().message.c_str());
      std::exit(1);
    }
  };
  for (int i = 0; i < backlog; ++i) add("noisy", false);
  std::vector<std::thread> workers;
  for (int w = 0; w < o.workers; ++w) {
    workers.emplace_back([&, w] {
      const std::string owner = "bench/" + std::to_string(w);
      while (!stop) {
        auto r = s.Dequeue({.owner = owner, .lease_ms = 60'000, .wait = std::chrono::milliseconds(200),
                            .give_up = [&] { return stop.load(); }});
        if (!r || r->empty()) continue;
        for (const queue::Claimed& c : *r) {
          waits.Claimed(c.task.task_id);
          std::this_thread::sleep_for(std::chrono::milliseconds(o.task_ms));
          (void)s.Complete(c.lease, {});
        }
      }
    });
  }
  for (int i = 0; i < o.quiet; ++i) {
    add("quiet", true);
    std::this_thread::sleep_for(std::chrono::milliseconds(o.every_ms));
  }
  const auto give_up_at = Clock::now() + std::chrono::seconds(120);
  while (waits.count() < static_cast<size_t>(o.quiet) && Clock::now() < give_up_at)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop = true;
  s.WakeWaiters();
  for (auto& t : workers) t.join();
  return waits.Take();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--redis") o.redis = v;
    else if (k == "--workers") o.workers = std::stoi(v);
    else if (k == "--backlog") o.backlog = std::stoi(v);
    else if (k == "--task-ms") o.task_ms = std::stoi(v);
    else if (k == "--quiet") o.quiet = std::stoi(v);
    else if (k == "--every-ms") o.every_ms = std::stoi(v);
    else {
      std::fprintf(stderr, "fairness_bench: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  const auto dir = std::filesystem::temp_directory_path() / ("wasmq-fairness-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::vector<std::pair<std::string, std::function<std::string(int)>>> stores = {
      {"sqlite", [&](int run) { return "sqlite:" + (dir / ("run" + std::to_string(run) + ".db")).string(); }}};
  if (!o.redis.empty()) {
    const std::string sep = o.redis.find('?') == std::string::npos ? "?" : "&";
    const std::string base = o.redis + sep + "prefix=fairbench" + std::to_string(::getpid()) + "_";
    stores.push_back({"redis", [base](int run) { return base + std::to_string(run); }});
  }
  std::printf("fairness: %d workers, tasks of %d ms, the quiet user submits %d tasks one every %d ms; backlog %d\n",
              o.workers, o.task_ms, o.quiet, o.every_ms, o.backlog);
  int run = 0;
  for (const auto& [name, url] : stores) {
    std::printf("%s — the quiet user's wait, submit to start:\n", name.c_str());
    PrintHistogram("alone", Run(o, url(++run), 0, false));
    PrintHistogram("fair", Run(o, url(++run), o.backlog, false));
    PrintHistogram("one-user", Run(o, url(++run), o.backlog, true));
  }
  std::filesystem::remove_all(dir);
  return 0;
}
