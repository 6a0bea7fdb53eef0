// File: bench/queue_redis/wasmq_redis_bench.cc
//
// wasmq on Redis, measured the same way as bullmq_bench.mjs measures BullMQ (bench/queue_redis/run runs both
// against one redis-server and prints them side by side; docs/benchmarks.md has the results):
//
//   enqueue     N tasks submitted one after another by one client (each waits for its reply): tasks/s
//   drain C     N no-op tasks queued, then a worker pool of concurrency C started: tasks/s until the last
//               is done (`--only drainC`, any C; the run script does 1, 10 and 50), with the CPU both
//               sides spent per task meanwhile (this process: getrusage; redis-server: INFO cpu)
//   latency     tasks submitted at a fixed rate while a pool of concurrency 8 runs them: p50/p99 of
//               submit-to-done
//
// Every task runs the no-op pipeline (a Wasm module instantiated per task), under a lease with heartbeats:
// at-least-once delivery is on. Output: one JSON object per line.
//
//   wasmq_redis_bench --store redis://127.0.0.1:6379/0 [--tasks 20000] [--rate 500] [--latency-tasks 2500]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <hiredis/hiredis.h>
#include <sys/resource.h>

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
    if (auto it = submitted.find(e.task_id); it != submitted.end())
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

// This process's CPU time (user + system, s) and context switches (voluntary + involuntary).
struct Usage {
  double cpu_s = 0;
  long switches = 0;
};
Usage ProcessUsage() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return {secs(u.ru_utime) + secs(u.ru_stime), u.ru_nvcsw + u.ru_nivcsw};
}

// redis-server's CPU time so far (used_cpu_user + used_cpu_sys of INFO cpu, s); 0 when unknown.
double ServerCpuSeconds(const std::string& url) {
  // redis://HOST:PORT/DB
  std::string rest = url.substr(url.find("//") + 2);
  rest = rest.substr(0, rest.find('/'));
  const size_t colon = rest.rfind(':');
  redisContext* c = redisConnect(rest.substr(0, colon).c_str(), colon == std::string::npos ? 6379 : std::atoi(rest.c_str() + colon + 1));
  if (!c || c->err) {
    if (c) redisFree(c);
    return 0;
  }
  double total = 0;
  if (auto* r = static_cast<redisReply*>(redisCommand(c, "INFO cpu"))) {
    if (r->type == REDIS_REPLY_STRING) {
      std::string info(r->str, r->len);
      for (const char* field : {"used_cpu_user:", "used_cpu_sys:"})
        if (size_t at = info.find(field); at != std::string::npos) total += std::atof(info.c_str() + at + std::strlen(field));
    }
    freeReplyObject(r);
  }
  redisFree(c);
  return total;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "wasmq_redis_bench: %s\n", what.c_str());
  std::exit(1);
}

class Bench {
 public:
  Bench(std::string url, std::string noop) : url_(std::move(url)), noop_(std::move(noop)) {
    if (auto r = registry_.Load({{"noop", noop_}}); !r) Die(r.error().message);
  }

  // A fresh prefix per run, so runs never see each other's tasks.
  std::unique_ptr<queue::Store> Open(const std::string& prefix) {
    auto s = queue::OpenStore(url_, {.redis_prefix = prefix});
    if (!s) Die(s.error().message);
    return std::move(*s);
  }

  void Enqueue(int tasks) {
    auto store = Open("bench_enqueue");
    queue::TaskService service(*store, {.extra_modes = {"noop"}});
    queue::TaskCreateRequest req;
    req.mode = "noop";
    auto t0 = Clock::now();
    for (int i = 0; i < tasks; ++i)
      if (auto t = service.Create(req); !t) Die(t.error().message);
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("{\"system\":\"wasmq\",\"test\":\"enqueue\",\"tasks\":%d,\"per_s\":%.0f}\n", tasks,
                tasks / secs);
    std::fflush(stdout);
  }

  void Drain(int tasks, int concurrency) {
    const std::string prefix = "bench_drain" + std::to_string(concurrency);
    auto store = Open(prefix);
    queue::TaskService service(*store, {.extra_modes = {"noop"}});
    Tracker tracker;
    auto sub = store->Subscribe([&](const queue::TaskEvent& e) { tracker.OnEvent(e); });
    queue::TaskCreateRequest req;
    req.mode = "noop";
    for (int i = 0; i < tasks; ++i)
      if (auto t = service.Create(req); !t) Die(t.error().message);
    const std::string data = "/tmp/wasmq-bench-" + prefix;
    worker::WorkerPool pool(*store, registry_, {.workers = concurrency, .data_dir = data});
    const double server0 = ServerCpuSeconds(url_);
    const Usage usage0 = ProcessUsage();
    auto t0 = Clock::now();
    if (auto r = pool.Start(); !r) Die(r.error().message);
    tracker.WaitDone(static_cast<size_t>(tasks));
    double secs = std::chrono::duration<double>(tracker.last_done - t0).count();
    const Usage usage1 = ProcessUsage();
    const double server_us = (ServerCpuSeconds(url_) - server0) * 1e6 / tasks;
    pool.Shutdown(std::chrono::seconds(5));
    sub.Reset();
    std::filesystem::remove_all(data);
    std::printf(
        "{\"system\":\"wasmq\",\"test\":\"drain\",\"concurrency\":%d,\"tasks\":%d,\"per_s\":%.0f,"
        "\"client_cpu_us\":%.1f,\"server_cpu_us\":%.1f,\"switches\":%.2f}\n",
        concurrency, tasks, tasks / secs, (usage1.cpu_s - usage0.cpu_s) * 1e6 / tasks, server_us,
        static_cast<double>(usage1.switches - usage0.switches) / tasks);
    std::fflush(stdout);
  }

  void Latency(int tasks, int rate) {
    auto store = Open("bench_latency");
    queue::TaskService service(*store, {.extra_modes = {"noop"}});
    Tracker tracker;
    auto sub = store->Subscribe([&](const queue::TaskEvent& e) { tracker.OnEvent(e); });
    const std::string data = "/tmp/wasmq-bench-latency";
    worker::WorkerPool pool(*store, registry_, {.workers = 8, .data_dir = data});
    if (auto r = pool.Start(); !r) Die(r.error().message);
    queue::TaskCreateRequest req;
    req.mode = "noop";
    const auto interval = std::chrono::nanoseconds(1'000'000'000LL / rate);
    auto next = Clock::now();
    for (int i = 0; i < tasks; ++i) {
      std::this_thread::sleep_until(next);  // the fixed arrival rate under test
      next += interval;
      // Registered before the submit: a fast worker may finish the task before Create returns.
      const std::string id = queue::NewTaskId(queue::NowMs());
      auto submit_at = Clock::now();
      {
        std::lock_guard l(tracker.mu);
        tracker.submitted.emplace(id, submit_at);
      }
      queue::TaskInfo t;
      t.task_id = id;
      t.mode = "noop";
      t.created_at = t.updated_at = t.run_at = queue::NowMs();
      t.timeout_ms = 300'000;
      if (auto r = store->Create(t); !r) Die(r.error().message);
    }
    tracker.WaitDone(static_cast<size_t>(tasks));
    pool.Shutdown(std::chrono::seconds(5));
    sub.Reset();
    std::filesystem::remove_all(data);
    std::lock_guard l(tracker.mu);
    std::printf(
        "{\"system\":\"wasmq\",\"test\":\"latency\",\"rate\":%d,\"tasks\":%d,\"p50_ms\":%.2f,\"p99_ms\":%.2f}"
        "\n",
        rate, tasks, Pct(tracker.latencies_us, 50) / 1000, Pct(tracker.latencies_us, 99) / 1000);
    std::fflush(stdout);
  }

 private:
  std::string url_, noop_;
  worker::PipelineRegistry registry_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string url, only;
  int tasks = 20'000, rate = 500, latency_tasks = 2'500;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--store")
      url = argv[i + 1];
    else if (flag == "--tasks")
      tasks = std::atoi(argv[i + 1]);
    else if (flag == "--rate")
      rate = std::atoi(argv[i + 1]);
    else if (flag == "--latency-tasks")
      latency_tasks = std::atoi(argv[i + 1]);
    else if (flag == "--only")
      only = argv[i + 1];
    else
      Die("unknown flag " + flag);
  }
  if (url.empty()) Die("--store redis://HOST:PORT/DB is required");
  Bench bench(url, BENCH_NOOP_WASM);
  if (only.empty() || only == "enqueue") bench.Enqueue(tasks);
  if (only.empty() || only == "drain1") bench.Drain(tasks / 4, 1);
  if (only.empty() || only == "drain10") bench.Drain(tasks, 10);
  if (only.empty() || only == "drain50") bench.Drain(tasks, 50);
  if (only.rfind("drain", 0) == 0 && only != "drain1" && only != "drain10" && only != "drain50")
    bench.Drain(tasks, std::atoi(only.c_str() + 5));
  if (only.empty() || only == "latency") bench.Latency(latency_tasks, rate);
  return 0;
}
