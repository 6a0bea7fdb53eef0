// File: fuzz/api_app_harness.cc
#include "api_app_harness.h"

#include <stdlib.h>

#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>

#include "api/api.h"
#include "api/app.h"
#include "api/handlers.h"
#include "api/http_session.h"
#include "api/metrics.h"
#include "api/static_files.h"
#include "queue/queue.h"
#include "queue/sqlite_store.h"
#include "storage/storage.h"

namespace wasmq::fuzz {
namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;
using api::Request;
using api::Response;

// Seed tokens in fuzz/corpus/fuzz_api/ are signed with this (fuzz/make_api_corpus.py).
constexpr std::string_view kSecret = "fuzz-secret-that-is-at-least-32-bytes-long";
// A pipelined request after this many is not looked at: enough to reach keep-alive handling.
constexpr int kMaxRequestsPerInput = 4;
// Uploads accumulate in the scratch files directory; it is emptied this often.
constexpr uint64_t kWipeFilesEvery = 20'000;
constexpr const char* kPendingTask = "task_20231117_000000fuzzpending";
constexpr const char* kDoneTask = "task_20231117_000000fuzzdone";

[[noreturn]] void Bug(const char* what, const Request& req, const Response& res) {
  std::fprintf(stderr, "fuzz_api: %s: %s %s -> %d\n%.*s\n", what, req.method.c_str(), req.path.c_str(), res.status,
               static_cast<int>(std::min<size_t>(res.body.size(), 2000)), res.body.data());
  std::abort();
}

// A scratch directory on tmpfs when there is one (SQLite commits and upload fsyncs cost next to nothing
// there), removed when the fuzzer exits normally.
fs::path MakeScratchDir() {
  for (const char* base : {"/dev/shm", "/tmp"}) {
    std::string tmpl = std::string(base) + "/wasmq-fuzz-api-XXXXXX";
    if (mkdtemp(tmpl.data())) return tmpl;
  }
  std::fprintf(stderr, "fuzz_api: cannot create a scratch directory\n");
  std::abort();
}

// Everything an App needs, built once per process. Two Apps over the same stores: the edge default (auth
// off, no CORS) and a locked-down server (JWT required, one CORS origin, a rate limit that never bites but
// whose code runs).
struct World {
  fs::path dir = MakeScratchDir();
  std::unique_ptr<queue::SqliteStore> store;
  std::unique_ptr<queue::TaskService> tasks;
  std::unique_ptr<storage::UploadStore> files;
  api::Metrics metrics;
  api::StaticFiles web{""};
  std::atomic<bool> draining{false};
  api::ApiConfig open_config, locked_config;
  std::unique_ptr<api::App> open_app, locked_app;
  uint64_t drives = 0;

  World() {
    auto s = queue::SqliteStore::Open((dir / "tasks.db").string());
    if (!s) Die("store: " + s.error().message);
    store = std::move(*s);
    tasks = std::make_unique<queue::TaskService>(*store, queue::ServiceOptions{});
    auto f = storage::OpenLocalUploadStore((dir / "files").string());
    if (!f) Die("files: " + f.error().message);
    files = std::move(*f);
    for (api::ApiConfig* c : {&open_config, &locked_config}) {
      c->files_dir = (dir / "files").string();
      c->tasks_dir = (dir / "tasks").string();
      // Small limits keep each input cheap; the code paths are the same.
      c->max_upload_bytes = 64 * 1024;
      c->max_json_bytes = 64 * 1024;
      c->max_header_bytes = 8 * 1024;
    }
    locked_config.auth_required = true;
    locked_config.jwt_secret = std::string(kSecret);
    locked_config.cors_origins = {"https://formy.example"};
    locked_config.rate_limit = 1e9;
    AddKnownTasks();
    open_app = std::make_unique<api::App>(api::ApiContext{open_config, *tasks, *files, metrics, web, draining});
    locked_app = std::make_unique<api::App>(api::ApiContext{locked_config, *tasks, *files, metrics, web, draining});
  }
  ~World() {
    open_app.reset();
    locked_app.reset();
    tasks.reset();
    store.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  // Tasks with fixed ids (the seeds name them), owned by the seed tokens' user: without them every GET,
  // cancel, output download and watch would stop at 404. One pending, one done with two output files.
  void AddKnownTasks() {
    queue::TaskCreateRequest req{.mode = "HEAD_SWAP", .user_id = "user_1"};
    for (const char* id : {kPendingTask, kDoneTask}) {
      auto made = tasks->Create(req);
      if (!made) Die("task: " + made.error().message);
      queue::TaskInfo t = *made;
      t.task_id = id;
      if (auto r = store->Create(t); !r) Die("task: " + r.error().message);
    }
    // Claims the oldest pending tasks until the fixed-id done task is among them; the others go back.
    auto claimed = store->Dequeue({.owner = "fuzz", .lease_ms = 60'000, .max_tasks = 4});
    if (!claimed) Die("claim: " + claimed.error().message);
    for (const queue::Claimed& c : *claimed) {
      if (c.task.task_id != kDoneTask) {
        (void)store->Release(c.lease);
        continue;
      }
      fs::path out = dir / "tasks" / kDoneTask / "out";
      fs::create_directories(out / "dir");
      for (const char* name : {"a.png", "dir/b.png"}) std::ofstream(out / name) << "\x89PNG\r\n\x1a\n";
      if (auto r = store->Complete(c.lease, {.output_files = {"a.png", "dir/b.png"}}); !r)
        Die("complete: " + r.error().message);
    }
  }

  [[noreturn]] static void Die(const std::string& why) {
    std::fprintf(stderr, "fuzz_api: %s\n", why.c_str());
    std::abort();
  }

  void WipeFilesNowAndThen() {
    if (++drives % kWipeFilesEvery != 0) return;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir / "files", ec)) fs::remove(entry.path(), ec);
  }
};

World& TheWorld() {
  // Destroyed at exit (libFuzzer exits normally after -max_total_time / -runs), which removes the scratch.
  static World world;
  return world;
}

// FUZZ_API_TRACE=1 prints each request and its answer: to check what a seed or a crashing input does.
bool Tracing() {
  static const bool on = std::getenv("FUZZ_API_TRACE") != nullptr;
  return on;
}

void CheckResponse(const Request& req, const Response& res) {
  if (res.status < 100 || res.status > 599) Bug("status out of range", req, res);
  if (res.status == 500) Bug("500: a handler threw on client input", req, res);
  for (const auto& [name, value] : res.headers)
    if (name.find_first_of("\r\n") != std::string::npos || value.find_first_of("\r\n") != std::string::npos)
      Bug("CR or LF in a response header", req, res);
  bool json = res.Get("Content-Type") == "application/json";
  if (json && !res.file && !res.body.empty() && res.body.size() < 64 * 1024 &&
      !nlohmann::json::accept(res.body))
    Bug("a JSON response that is not JSON", req, res);
}

// Feeds `in` to `parser` until `done()` holds. False when the connection would end first: the input ran
// out (the session would wait, then time out) or the parser refused it (the session answers 400/413/431
// without calling the App).
template <class Done>
bool Feed(http::request_parser<http::string_body>& parser, std::string_view& in, Done done) {
  boost::beast::error_code ec;
  while (!done()) {
    size_t n = in.empty() ? 0 : parser.put(boost::asio::buffer(in.data(), in.size()), ec);
    in.remove_prefix(n);
    if (ec == http::error::need_more) ec = {};
    if (ec) return false;
    if (n == 0) {
      // Nothing more can be parsed from what is left: the client stopped sending here. Closing completes a
      // body that runs to the end of the connection, and fails anything else.
      parser.put_eof(ec);
      return !ec && done();
    }
  }
  return true;
}

}  // namespace

void DriveHttpRequests(std::string_view in, AuthMode auth) {
  World& w = TheWorld();
  w.WipeFilesNowAndThen();
  api::App& app = auth == AuthMode::On ? *w.locked_app : *w.open_app;
  const api::ApiConfig& config = auth == AuthMode::On ? w.locked_config : w.open_config;
  for (int i = 0; i < kMaxRequestsPerInput && !in.empty(); ++i) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(config.max_header_bytes);
    parser.body_limit(std::numeric_limits<uint64_t>::max());  // until the route is known, as the session does
    if (!Feed(parser, in, [&] { return parser.is_header_done(); })) return;
    auto& msg = parser.get();
    if (boost::beast::websocket::is_upgrade(msg)) {
      if (!parser.is_done()) return;  // the session refuses an upgrade with a body
      Request req = api::ToRequest(msg, "127.0.0.1");
      auto target = app.AuthorizeWatch(req);
      if (Tracing())
        std::fprintf(stderr, "fuzz_api: upgrade %s -> %s\n", req.path.c_str(),
                     std::holds_alternative<Response>(target) ? "refused" : "accepted");
      if (auto* refusal = std::get_if<Response>(&target)) CheckResponse(req, *refusal);
      return;  // the connection is a WebSocket now (or closed)
    }
    if (!api::BadFraming(msg).empty()) return;  // 400 and close, as the session does
    uint64_t limit = app.BodyLimit(msg.method_string(), msg.target().substr(0, msg.target().find('?')));
    if (auto len = parser.content_length(); len && *len > limit) return;  // 413 before the body
    // What the headers decide, before the body, as the session does.
    std::optional<api::Caller> admitted;
    if (!parser.is_done()) {
      Request head = api::ToRequestHead(msg, "127.0.0.1");
      auto screened = app.Screen(head);
      if (auto* refusal = std::get_if<Response>(&screened)) {
        CheckResponse(head, *refusal);
        return;  // answered without the body; the connection closes
      }
      if (auto* caller = std::get_if<api::Caller>(&screened)) admitted = std::move(*caller);
    }
    parser.body_limit(limit);
    parser.eager(true);
    if (!Feed(parser, in, [&] { return parser.is_done(); })) return;
    bool keep_alive = msg.keep_alive();
    Request req = api::ToRequest(msg, "127.0.0.1");
    Response res = app.Handle(req, admitted);
    if (Tracing())
      std::fprintf(stderr, "fuzz_api: %s %s -> %d %.200s\n", req.method.c_str(), req.path.c_str(), res.status,
                   res.body.c_str());
    CheckResponse(req, res);
    if (!keep_alive || res.close) return;
  }
}

bool FindRoute(std::string_view method, std::string_view path) {
  return TheWorld().open_app->router().Find(method, path).route != nullptr;
}

}  // namespace wasmq::fuzz
