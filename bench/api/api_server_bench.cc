// File: bench/api/api_server_bench.cc
//
// The server side of the wrk benchmarks (bench/api/run): starts a BenchServer, submits the tasks to read,
// prints what the load generator needs, one `key=value` per line on stdout, then serves until SIGINT or
// SIGTERM.
//
//   api_server_bench [--threads N] [--auth] [--tasks N]
//   port=41234
//   task=task_20261123_…          (one line per task)
//   token=eyJ…                    (with --auth: a JWT for the tasks' owner, valid for an hour)
//   ready
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench_server.h"

int main(int argc, char** argv) {
  wasmq::bench::BenchServerOptions options;
  int tasks = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      options.threads = std::atoi(argv[++i]);
    } else if (a == "--tasks" && i + 1 < argc) {
      tasks = std::atoi(argv[++i]);
    } else if (a == "--auth") {
      options.auth = true;
    } else {
      std::fprintf(stderr, "usage: api_server_bench [--threads N] [--auth] [--tasks N]\n");
      return 2;
    }
  }
  // Block the signals before any thread starts, so that only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  wasmq::bench::BenchServer server(options);
  std::printf("port=%u\n", server.port());
  for (int i = 0; i < tasks; ++i) std::printf("task=%s\n", server.SubmitTask().c_str());
  if (options.auth)
    std::printf("token=%s\n",
                wasmq::api::SignToken(wasmq::bench::kBenchSecret, "user_bench", std::chrono::hours(1)).c_str());
  std::printf("ready\n");
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  return 0;  // ~BenchServer stops the server and removes the scratch directory
}
