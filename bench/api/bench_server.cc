// File: bench/api/bench_server.cc
#include "bench_server.h"

#include <stdlib.h>

#include <cstdio>

namespace wasmq::bench {

void Die(const std::string& message) {
  std::fprintf(stderr, "api bench: %s\n", message.c_str());
  std::exit(1);
}

BenchServer::BenchServer(BenchServerOptions options) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "wasmq-api-bench-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) Die("cannot create a scratch directory");
  dir_ = tmpl;
  auto store = queue::SqliteStore::Open((dir_ / "tasks.db").string());
  if (!store) Die("store: " + store.error().message);
  store_ = std::move(*store);
  tasks_ = std::make_unique<queue::TaskService>(*store_, queue::ServiceOptions{});
  api::ApiConfig config{.addr = "127.0.0.1",
                        .port = 0,
                        .threads = options.threads,
                        .auth_required = options.auth,
                        .jwt_secret = options.auth ? kBenchSecret : "",
                        .max_connections = options.max_connections,
                        .files_dir = (dir_ / "files").string(),
                        .tasks_dir = (dir_ / "tasks").string()};
  server_ = std::make_unique<api::ApiServer>(*tasks_, config);
  if (auto r = server_->Start(); !r) Die("server: " + r.error().message);
}

BenchServer::~BenchServer() {
  server_->Stop();
  server_.reset();
  tasks_.reset();
  store_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string BenchServer::SubmitTask() {
  queue::TaskCreateRequest req;
  req.mode = "HEAD_SWAP";
  req.user_id = "user_bench";
  auto t = tasks_->Create(req);
  if (!t) Die("submit: " + t.error().message);
  return t->task_id;
}

}  // namespace wasmq::bench
