// File: tests/api/harness.h
//
// Shared by the api tests: a server on a free loopback port over a fresh SQLite store (with a switch that
// makes the store "go down"), a blocking HTTP client, a WebSocket client, and a stand-in worker that
// drives tasks through their states with the Store's lease calls. Every network read has a deadline, so a
// bug shows as a failed test, never as a hung one.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/api.h"
#include "queue/queue.h"
#include "queue/sqlite_store.h"

namespace wasmq::api::testing {

using queue::Json;
using Headers = std::vector<std::pair<std::string, std::string>>;
inline constexpr auto kIoTimeout = std::chrono::seconds(10);
inline const std::string kSecret = "test-secret-that-is-at-least-32-bytes-long";

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Forwards to a real store; while `down` is set every call answers Unavailable, as a dead Redis would.
class FlakyStore final : public queue::Store {
 public:
  explicit FlakyStore(queue::Store& inner) : inner_(inner) {}
  std::atomic<bool> down{false};

  std::string_view backend() const override { return inner_.backend(); }
  queue::Result<void> Ping() override;
  queue::Result<void> Create(const queue::TaskInfo& t) override;
  queue::Result<queue::TaskInfo> Get(std::string_view id) override;
  queue::Result<queue::TaskListResponse> List(const queue::ListQuery& q) override;
  queue::Result<queue::TaskInfo> Cancel(std::string_view id) override;
  queue::Result<queue::QueueStats> Stats() override;
  queue::Result<queue::QueueStats> UserStats(std::string_view user_id) override;
  queue::Result<std::vector<queue::Claimed>> Dequeue(const queue::DequeueRequest& r) override { return inner_.Dequeue(r); }
  void WakeWaiters() override { inner_.WakeWaiters(); }
  queue::Result<int64_t> Heartbeat(const queue::Lease& l, int64_t ms) override { return inner_.Heartbeat(l, ms); }
  queue::Result<void> Progress(const queue::Lease& l, int p, std::string_view s) override { return inner_.Progress(l, p, s); }
  queue::Result<void> Complete(const queue::Lease& l, const queue::TaskResult& r) override { return inner_.Complete(l, r); }
  queue::Result<void> Fail(const queue::Lease& l, const queue::TaskError& e) override { return inner_.Fail(l, e); }
  queue::Result<void> Retry(const queue::Lease& l, const queue::TaskError& e, int64_t at) override {
    return inner_.Retry(l, e, at);
  }
  queue::Result<void> Release(const queue::Lease& l) override { return inner_.Release(l); }
  std::vector<queue::Result<void>> FinishMany(const std::vector<queue::Finish>& items) override {
    return inner_.FinishMany(items);
  }
  queue::Result<queue::RecoveryReport> RecoverLeases(const std::function<bool(std::string_view)>& dead) override {
    return inner_.RecoverLeases(dead);
  }
  queue::Result<std::vector<std::string>> Cleanup(int64_t before, int limit) override {
    return inner_.Cleanup(before, limit);
  }
  queue::Subscription Subscribe(queue::EventCallback cb) override { return inner_.Subscribe(std::move(cb)); }
  queue::Result<std::vector<queue::HistoryEvent>> History(std::string_view id) override { return inner_.History(id); }
  queue::Result<queue::TaskInfo> Requeue(std::string_view id) override { return inner_.Requeue(id); }
  queue::Result<queue::Submitted> Submit(const queue::TaskInfo& t, const queue::SubmitOptions& o) override {
    if (down) return queue::Unavailable("store down (test)");
    return inner_.Submit(t, o);
  }
  queue::Result<void> CreateBatch(const queue::BatchInfo& b, const std::vector<queue::TaskInfo>& t) override {
    if (down) return queue::Unavailable("store down (test)");
    return inner_.CreateBatch(b, t);
  }
  queue::Result<queue::BatchInfo> GetBatch(std::string_view id) override { return inner_.GetBatch(id); }
  queue::Result<queue::DeadLetterPage> DeadLetters(const queue::DeadLetterQuery& q) override {
    return inner_.DeadLetters(q);
  }
  queue::Result<void> PutWorker(const queue::WorkerInfo& w) override { return inner_.PutWorker(w); }
  queue::Result<std::vector<queue::WorkerInfo>> Workers() override { return inner_.Workers(); }
  queue::Result<std::vector<queue::FinishedTask>> Finished(int64_t from, int64_t to, const std::string* user) override {
    return inner_.Finished(from, to, user);
  }
  queue::Result<void> CreateSchedule(const queue::ScheduleInfo& s) override { return inner_.CreateSchedule(s); }
  queue::Result<queue::ScheduleInfo> GetSchedule(std::string_view id) override { return inner_.GetSchedule(id); }
  queue::Result<std::vector<queue::ScheduleInfo>> ListSchedules(const std::string* user) override {
    return inner_.ListSchedules(user);
  }
  queue::Result<queue::ScheduleInfo> SetSchedulePaused(std::string_view id, bool paused, int64_t due) override {
    return inner_.SetSchedulePaused(id, paused, due);
  }
  queue::Result<void> DeleteSchedule(std::string_view id) override { return inner_.DeleteSchedule(id); }
  queue::Result<std::vector<queue::ScheduleInfo>> DueSchedules(int64_t by, int limit) override {
    return inner_.DueSchedules(by, limit);
  }
  queue::Result<bool> FireSchedule(std::string_view id, int64_t expected, int64_t next,
                                   const queue::TaskInfo* t) override {
    return inner_.FireSchedule(id, expected, next, t);
  }

 private:
  queue::Store& inner_;
};

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  Json json() const { return Json::parse(body, nullptr, false); }
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
  // The envelope's error code ("" when there is none).
  std::string error_code() const;
};

// One request on a new connection.
HttpReply Http(uint16_t port, const std::string& method, const std::string& target, const std::string& body = "",
               const Headers& headers = {});
// Sends `bytes` as they are and returns everything the server answers until it closes the connection (or
// `timeout` passes: then what arrived so far).
std::string Raw(uint16_t port, const std::string& bytes, std::chrono::milliseconds timeout = kIoTimeout);
// The status code of the first response line of a raw answer (0 when there is none).
int RawStatus(const std::string& answer);

class WsClient {
 public:
  WsClient();
  ~WsClient();
  // The handshake; returns 101, or the status of the HTTP refusal (its body in refusal_body()).
  int Connect(uint16_t port, const std::string& target, const Headers& headers = {});
  // The next message; fails the test (and returns null) when none comes within kIoTimeout.
  Json Read();
  // Reads until the server closes; returns its close code, or -1 when the connection broke another way.
  int ReadUntilClose();
  const std::string& refusal_body() const { return refusal_body_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string refusal_body_;
};

std::string PngBytes(size_t extra = 64);   // starts with the PNG signature
std::string JpegBytes(size_t extra = 64);
std::string WebpBytes(size_t extra = 64);
std::string Sha256Hex(const std::string& bytes);
std::string Multipart(const std::string& boundary, const std::string& field, const std::string& filename,
                      const std::string& content_type, const std::string& data);

// A server on 127.0.0.1:<free port>, over a fresh store in a temporary directory.
class ApiTest : public ::testing::Test {
 protected:
  ~ApiTest() override;
  // Starts the server with `config` (addr, port, files_dir and tasks_dir are filled in).
  void StartServer(ApiConfig config = {});
  void StopServer();
  uint16_t port() const { return server_->port(); }

  HttpReply Get(const std::string& target, const std::string& token = "");
  HttpReply Post(const std::string& target, const Json& body, const std::string& token = "");
  Headers Auth(const std::string& token) const;

  // Submits a task (asserting 201) and returns its id.
  std::string Submit(const std::string& token = "", Json body = {{"mode", "HEAD_SWAP"}});
  std::string Upload(const std::string& token = "");  // a PNG; returns its file id

  // The stand-in worker: claims the next task (asserting there is one).
  queue::Lease Claim();

  std::string Token(const std::string& subject) const { return SignToken(kSecret, subject, std::chrono::hours(1)); }

  // The store the server runs on: SQLite in dir_, or the store store_url_ names when set before StartServer
  // (a Redis URL, for the tests that run on both).
  queue::Store& inner() { return url_store_ ? *url_store_ : *sqlite_; }

  TempDir dir_;
  ApiConfig config_;
  std::string store_url_;
  queue::FairnessOptions fairness_;  // the store's per-user limits, when set before StartServer
  std::unique_ptr<queue::Store> url_store_;
  std::unique_ptr<queue::SqliteStore> sqlite_;
  std::unique_ptr<FlakyStore> store_;
  std::unique_ptr<queue::TaskService> tasks_;
  std::unique_ptr<ApiServer> server_;
};

}  // namespace wasmq::api::testing
