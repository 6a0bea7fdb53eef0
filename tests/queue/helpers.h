// File: tests/queue/helpers.h
//
// Shared by the queue tests: a temporary directory, a settable clock, and a store on a fresh file.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "queue/queue.h"
#include "queue/sqlite_store.h"

namespace wasmq::queue::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wasmq-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A clock the test moves by hand, starting at 2023-11-17T08:00:00Z.
struct FakeClock {
  std::atomic<int64_t> now{1700208000000};
  std::function<int64_t()> fn() {
    return [this] { return now.load(); };
  }
  void Advance(int64_t ms) { now += ms; }
};

// Asserts a Result is ok, printing its error otherwise.
#define ASSERT_OK(expr)                                          \
  do {                                                           \
    auto&& _r = (expr);                                          \
    ASSERT_TRUE(_r.ok()) << #expr << ": " << _r.error().message; \
  } while (0)
#define EXPECT_CODE(expr, expected_code)                             \
  do {                                                               \
    auto&& _r = (expr);                                              \
    ASSERT_FALSE(_r.ok()) << #expr << " succeeded";                  \
    EXPECT_EQ(_r.error().code, expected_code) << _r.error().message; \
  } while (0)

inline TaskInfo NewTask(const std::string& id, const std::string& mode, int64_t now, int priority = 0,
                        int max_retries = 2) {
  TaskInfo t;
  t.task_id = id;
  t.mode = mode;
  t.priority = priority;
  t.max_retries = max_retries;
  t.timeout_ms = 1000;
  t.created_at = t.updated_at = t.run_at = now;
  t.config = {{"k", "v"}};
  return t;
}

}  // namespace wasmq::queue::testing
