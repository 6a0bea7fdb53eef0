// File: bench/queue/queue_bench.cc
//
// End-to-end cost of a task on the embedded store: submit (TaskService::Create) → claim → instantiate the
// no-op pipeline → run → Complete, measured from outside through the store's events.
//
//   queue_bench [--tasks N] [--workers 1,2,4] [--latency-tasks N] [--store-only] [--producers P]
//
// For each worker count it reports:
//   burst:      N tasks submitted as fast as one thread (P threads: --producers) can; tasks/s from the first
//               submit to the last done, and the submit-to-done latency percentiles under that load
//               (queueing included);
//   sequential: one task at a time (submit, wait for done, next): the latency of an idle system.
// --store-only replaces the pool with a loop of Dequeue + Complete: the store's share of the cost.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "queue/queue.h"
#include "worker/worker.h"

namespace {

using namespace wasmq;
using Clock = std::chrono::steady_clock;

struct Tracker {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, Clock::time_point> submitted;
  std::vector<double> latencies_us;
  size_t done = 0;
  Clock::time_point last_done;

  void OnEvent(const queue::TaskEvent& e) {
    if (e.kind != queue::TaskEvent::Kind::Status || e.status != queue::TaskStatus::Done) return;
    auto now = Clock::now();
    std::lock_guard l(mu);
    auto it = submitted.find(e.task_id);
    if (it != submitted.end())
      latencies_us.push_back(std::chrono::duration<double, std::micro>(now - it->second).count());
    ++done;
    last_done = now;
    cv.notify_all();
  }
  void WaitDone(size_t n) {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return done >= n; });
  }
};

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::max<size_t>(rank, 1) - 1];
}

struct Result {
  double tasks_per_s, p50_us, p99_us, submits_per_s;
};

// The store alone: W threads that claim in batches and complete at once.
std::vector<std::thread> StoreOnlyWorkers(queue::Store& store, int workers, std::atomic<bool>* stop) {
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w)
    threads.emplace_back([&store, stop, w] {
      while (!stop->load()) {
        auto got = store.Dequeue({.owner = "bench" + std::to_string(w),
                                  .max_tasks = 1,
                                  .wait = std::chrono::milliseconds(50),
                                  .give_up = [stop] { return stop->load(); }});
        if (!got) continue;
        for (const auto& c : *got) (void)store.Complete(c.lease, {});
      }
    });
  return threads;
}

Result Run(const std::string& dir, const std::string& noop, int workers, int tasks, bool sequential,
           bool store_only, bool drain = false, int producers = 1) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto store = queue::OpenStore("sqlite:" + dir + "/bench.db");
  if (!store) {
    std::fprintf(stderr, "store: %s\n", store.error().message.c_str());
    std::exit(1);
  }
  worker::PipelineRegistry registry;
  if (auto r = registry.Load({{"noop", noop}}); !r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    std::exit(1);
  }
  queue::TaskService service(**store, {.extra_modes = {"noop"}});
  Tracker tracker;
  auto sub = (*store)->Subscribe([&](const queue::TaskEvent& e) { tracker.OnEvent(e); });
  std::unique_ptr<worker::WorkerPool> pool;
  std::atomic<bool> stop{false};
  std::vector<std::thread> store_workers;
  auto start_workers = [&] {
    if (store_only) {
      store_workers = StoreOnlyWorkers(**store, workers, &stop);
      return;
    }
    pool = std::make_unique<worker::WorkerPool>(
        **store, registry, worker::PoolOptions{.workers = workers, .data_dir = dir + "/data"});
    if (auto r = pool->Start(); !r) {
      std::fprintf(stderr, "%s\n", r.error().message.c_str());
      std::exit(1);
    }
  };
  if (!drain) start_workers();
  queue::TaskCreateRequest req;
  req.mode = "noop";
  auto t0 = Clock::now();
  auto submit = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      auto submit_at = Clock::now();
      auto t = service.Create(req);
      if (!t) {
        std::fprintf(stderr, "submit: %s\n", t.error().message.c_str());
        std::exit(1);
      }
      {
        std::lock_guard l(tracker.mu);
        tracker.submitted.emplace(t->task_id, submit_at);
      }
      if (sequential) tracker.WaitDone(static_cast<size_t>(i) + 1);
    }
  };
  if (sequential || producers <= 1) {
    submit(0, tasks);
  } else {
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p)
      threads.emplace_back(submit, tasks * p / producers, tasks * (p + 1) / producers);
    for (auto& t : threads) t.join();
  }
  const double submit_secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (drain) {
    t0 = Clock::now();
    start_workers();
  }
  tracker.WaitDone(static_cast<size_t>(tasks));
  double secs = std::chrono::duration<double>(tracker.last_done - t0).count();
  if (pool) pool->Shutdown(std::chrono::seconds(5));
  stop = true;
  (*store)->WakeWaiters();
  for (auto& t : store_workers) t.join();
  sub.Reset();
  std::lock_guard l(tracker.mu);
  return {tasks / secs, Pct(tracker.latencies_us, 50), Pct(tracker.latencies_us, 99), tasks / submit_secs};
}

}  // namespace

int main(int argc, char** argv) {
  int tasks = 20'000, latency_tasks = 2'000, producers = 1;
  bool store_only = false;
  std::vector<int> worker_counts = {1, static_cast<int>(std::max(2u, std::thread::hardware_concurrency()))};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--tasks" && i + 1 < argc)
      tasks = std::atoi(argv[++i]);
    else if (a == "--latency-tasks" && i + 1 < argc)
      latency_tasks = std::atoi(argv[++i]);
    else if (a == "--producers" && i + 1 < argc)
      producers = std::max(1, std::atoi(argv[++i]));
    else if (a == "--store-only")
      store_only = true;
    else if (a == "--workers" && i + 1 < argc) {
      worker_counts.clear();
      for (char* p = std::strtok(argv[++i], ","); p; p = std::strtok(nullptr, ","))
        worker_counts.push_back(std::atoi(p));
    } else {
      std::fprintf(stderr,
                   "usage: queue_bench [--tasks N] [--latency-tasks N] [--workers 1,2,4] [--store-only] "
                   "[--producers P]\n");
      return 2;
    }
  }
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("wasmq-bench-" + std::to_string(getpid()))).string();
  std::printf("%s, %d CPUs, %d tasks per burst from %d producer(s), %d sequential\n",
              store_only ? "store only (Dequeue + Complete, no module)"
                         : "no-op pipeline, SQLite store (WAL, NORMAL)",
              static_cast<int>(std::thread::hardware_concurrency()), tasks, producers, latency_tasks);
  std::printf("%-8s %14s %12s %12s %14s %14s %10s %10s\n", "workers", "burst tasks/s", "burst p50",
              "burst p99", "idle p50", "idle p99", "submits/s", "drain/s");
  for (int w : worker_counts) {
    Result burst = Run(dir, BENCH_NOOP_WASM, w, tasks, false, store_only, false, producers);
    Result idle = Run(dir, BENCH_NOOP_WASM, w, latency_tasks, true, store_only);
    Result backlog = Run(dir, BENCH_NOOP_WASM, w, tasks, false, store_only, /*drain=*/true, producers);
    std::printf("%-8d %14.0f %10.1fms %10.1fms %12.0fus %12.0fus %10.0f %10.0f\n", w, burst.tasks_per_s,
                burst.p50_us / 1000, burst.p99_us / 1000, idle.p50_us, idle.p99_us, burst.submits_per_s,
                backlog.tasks_per_s);
    std::fflush(stdout);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
