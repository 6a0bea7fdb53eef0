// File: bench/api/bench_server.h
//
// The server the api benchmarks measure: queue::SqliteStore + queue::TaskService + api::ApiServer in one
// process, on 127.0.0.1 and a free port, over a scratch directory (removed on destruction). It is what
// `wasmq serve` runs, minus the worker pool and the configuration layer, so the numbers are the API's own.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "api/api.h"
#include "queue/queue.h"
#include "queue/sqlite_store.h"

namespace wasmq::bench {

struct BenchServerOptions {
  int threads = 0;              // ApiConfig::threads (0: one per CPU, at least 2)
  bool auth = false;            // require a JWT (signed with kBenchSecret)
  int max_connections = 4096;   // room for 1 000 watchers plus load generators
};

inline const std::string kBenchSecret = "bench-secret-that-is-at-least-32-bytes-long";

class BenchServer {
 public:
  explicit BenchServer(BenchServerOptions options);  // exits the process with a message on failure
  ~BenchServer();

  uint16_t port() const { return server_->port(); }
  queue::SqliteStore& store() { return *store_; }
  queue::TaskService& tasks() { return *tasks_; }
  // Submits a HEAD_SWAP task and returns its id.
  std::string SubmitTask();

 private:
  std::filesystem::path dir_;
  std::unique_ptr<queue::SqliteStore> store_;
  std::unique_ptr<queue::TaskService> tasks_;
  std::unique_ptr<api::ApiServer> server_;
};

[[noreturn]] void Die(const std::string& message);

}  // namespace wasmq::bench
