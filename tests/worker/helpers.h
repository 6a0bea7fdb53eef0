// File: tests/worker/helpers.h
//
// Shared by the worker tests: a store and service on a temporary directory, the test pipelines compiled
// into a registry, and waiting on store events (never sleeping for a fixed time).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>

#include "queue/queue.h"
#include "worker/worker.h"

namespace wasmq::worker::testing {

inline std::string ModulePath(const std::string& name) {
  return std::string(WORKER_MODULES_DIR) + "/" + name + ".wasm";
}

inline const char* kTestModes[] = {"progress", "trap", "loop",       "slow",  "exit3",
                                   "flaky",    "noop", "bad_import", "bigout"};

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wasmq-worker-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string str() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// An upload as the API writes it: the bytes at files/<id>, its metadata (with the owner) at files/<id>.json.
inline void WriteUpload(const std::string& files, const std::string& id, const std::string& owner,
                        const std::string& bytes) {
  std::filesystem::create_directories(files);
  std::ofstream(files + "/" + id) << bytes;
  queue::Json meta = {{"file_id", id},
                      {"user_id", owner.empty() ? queue::Json(nullptr) : queue::Json(owner)},
                      {"content_type", "image/png"},
                      {"size", bytes.size()}};
  std::ofstream(files + "/" + id + ".json") << meta.dump();
}

// Counts store events and lets a test wait for a condition re-checked at every event (and every 20 ms, for
// conditions no event announces), bounded in total.
class EventWaiter {
 public:
  explicit EventWaiter(queue::Store& store) {
    sub_ = store.Subscribe([this](const queue::TaskEvent& e) {
      {
        std::lock_guard l(mu_);
        events_.push_back(e);
      }
      cv_.notify_all();
    });
  }
  ~EventWaiter() { sub_.Reset(); }

  bool WaitUntil(const std::function<bool()>& done,
                 std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    std::unique_lock l(mu_);
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      cv_.wait_for(l, std::chrono::milliseconds(20));
    }
    return true;
  }

  std::vector<queue::TaskEvent> events() {
    std::lock_guard l(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<queue::TaskEvent> events_;
  queue::Subscription sub_;
};

}  // namespace wasmq::worker::testing
