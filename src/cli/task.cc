// File: src/cli/task.cc
//
// `wasmq task submit|get|list|cancel|retry|watch|stats|upload|outputs|batch|dead-letters`: a client of the REST API with --server URL (or
// WASMQ_SERVER), --token JWT (or WASMQ_TOKEN) when the server has auth on; without a server, the same
// commands work on the local store (--store sqlite:PATH, or the configuration's store) — for an edge box
// or a script on the machine that runs `wasmq serve`.
//
// Output is for both people and scripts: `submit` prints the new id alone (or the task's JSON with --json),
// `get` the task's JSON, `list` a table (or the TaskListResponse JSON with --json), `upload` the file id.
// `watch` draws a live progress bar when stdout is a terminal, and otherwise prints one line per change;
// with a server it follows the task's WebSocket stream, locally it reads the store every --interval-ms.
//
// Exit codes: 0 success (`watch`: the task is done); 1 refused or failed (no such task, a finished task
// cannot be cancelled, only a failed task can be retried, the server or store is unavailable; `watch`: the task failed or was cancelled);
// 2 bad input (the message names the field).
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>

#include "api/client.h"
#include "cli/commands.h"
#include "cli/lifecycle.h"
#include "config/flags.h"
#include "queue/queue.h"
#include "storage/storage.h"

namespace wasmq::cli {
namespace {

using queue::Json;
using queue::Result;

constexpr int kExitRefused = 1;
constexpr int kExitBadInput = 2;

int Report(const std::string& cmd, const queue::Error& e) {
  std::cerr << "wasmq task " << cmd << ": " << queue::CodeName(e.code) << ": " << e.message << "\n";
  return e.code == queue::Code::InvalidArgument ? kExitBadInput : kExitRefused;
}

// ---- where the tasks are: a server, or the local store

// Every operation answers in the API's JSON (TaskInfo, TaskListResponse, QueueStats), whichever side runs it.
class Tasks {
 public:
  virtual ~Tasks() = default;
  virtual Result<Json> Submit(const Json& request) = 0;
  virtual Result<Json> Get(const std::string& id) = 0;
  virtual Result<Json> List(const api::ListOptions& q) = 0;
  virtual Result<Json> Cancel(const std::string& id) = 0;
  virtual Result<Json> Retry(const std::string& id) = 0;  // a failed task back to pending
  virtual Result<Json> Stats() = 0;
  virtual Result<Json> Upload(const std::string& path) = 0;
  // The bytes of output `file` (a relative path from TaskResult.output_files) of a done task.
  virtual Result<std::string> ReadOutput(const std::string& id, const std::string& file) = 0;
  // Calls `on_change` with the task's JSON at each change until it ends; returns its last state.
  virtual Result<Json> Follow(const std::string& id, const std::function<void(const Json&)>& on_change) = 0;
  // Flows (docs/api.md): {"tasks": [requests]} → the batch; a batch; failed tasks; their retry.
  virtual Result<Json> CreateBatch(const Json& body) = 0;
  virtual Result<Json> GetBatch(const std::string& id) = 0;
  virtual Result<Json> DeadLetters(const queue::DeadLetterQuery& q) = 0;
  virtual Result<Json> RetryDeadLetters(const queue::DeadLetterQuery& q) = 0;
};

// ?mode=…&error_code=…&page=…&page_size=… (only what is set).
std::string DeadLetterParams(const queue::DeadLetterQuery& q, bool paged) {
  std::string s;
  auto add = [&](const char* k, const std::string& v) {
    if (!v.empty()) s += (s.empty() ? "?" : "&") + std::string(k) + "=" + v;
  };
  add("mode", q.mode);
  add("error_code", q.error_code);
  if (paged) {
    add("page", std::to_string(q.page));
    add("page_size", std::to_string(q.page_size));
  }
  return s;
}

class RemoteTasks final : public Tasks {
 public:
  explicit RemoteTasks(api::ClientOptions o) : client_(std::move(o)) {}
  Result<Json> Submit(const Json& request) override { return client_.Submit(request); }
  Result<Json> Get(const std::string& id) override { return client_.Get(id); }
  Result<Json> List(const api::ListOptions& q) override { return client_.List(q); }
  Result<Json> Cancel(const std::string& id) override { return client_.Cancel(id); }
  Result<Json> Retry(const std::string& id) override { return client_.Retry(id); }
  Result<Json> Stats() override { return client_.Stats(); }
  Result<Json> Upload(const std::string& path) override { return client_.Upload(path); }
  Result<std::string> ReadOutput(const std::string& id, const std::string& file) override {
    return client_.Fetch("/api/v1/tasks/" + id + "/outputs/" + file);
  }

  // The WebSocket stream: a snapshot of the task, then its events; the server closes it when the task ends.
  Result<Json> Follow(const std::string& id, const std::function<void(const Json&)>& on_change) override {
    Json task;
    auto r = client_.Watch(id, [&](const Json& m) {
      if (m.value("type", "") == "snapshot") {
        task = m.value("task", Json::object());
      } else if (task.is_object()) {
        for (const char* key : {"status", "progress", "current_step", "attempt"})
          if (m.contains(key)) task[key] = m[key];
      }
      on_change(task);
      return true;
    });
    if (!r) return r.error();
    return client_.Get(id);  // the final state in full: outputs, error
  }

  Result<Json> CreateBatch(const Json& body) override { return client_.Call("POST", "/api/v1/batches", body.dump()); }
  Result<Json> GetBatch(const std::string& id) override { return client_.Call("GET", "/api/v1/batches/" + id); }
  Result<Json> DeadLetters(const queue::DeadLetterQuery& q) override {
    return client_.Call("GET", "/api/v1/dead-letters" + DeadLetterParams(q, true));
  }
  Result<Json> RetryDeadLetters(const queue::DeadLetterQuery& q) override {
    Json body = Json::object();
    if (!q.mode.empty()) body["mode"] = q.mode;
    if (!q.error_code.empty()) body["error_code"] = q.error_code;
    return client_.Call("POST", "/api/v1/dead-letters/retry", body.dump());
  }

 private:
  api::Client client_;
};

class LocalTasks final : public Tasks {
 public:
  LocalTasks(std::unique_ptr<queue::Store> store, queue::ServiceOptions o, std::string data_dir, int interval_ms)
      : store_(std::move(store)), service_(*store_, std::move(o)), data_dir_(std::move(data_dir)), interval_ms_(interval_ms) {}

  Result<Json> Submit(const Json& request) override {
    auto req = queue::CreateRequestFromJson(request);
    if (!req) return req.error();
    auto s = service_.Submit(*req);
    if (!s) return s.error();
    return queue::ToJson(s->task);
  }
  Result<Json> CreateBatch(const Json& body) override {
    if (!body.is_object() || !body.contains("tasks") || !body["tasks"].is_array())
      return queue::InvalidArgument("tasks: must be an array of task create requests");
    std::vector<queue::TaskCreateRequest> reqs;
    for (size_t i = 0; i < body["tasks"].size(); ++i) {
      auto req = queue::CreateRequestFromJson(body["tasks"][i]);
      if (!req) return queue::InvalidArgument("tasks[" + std::to_string(i) + "]." + req.error().message);
      reqs.push_back(std::move(*req));
    }
    return Wrap(service_.CreateBatch(reqs, ""));
  }
  Result<Json> GetBatch(const std::string& id) override { return Wrap(service_.GetBatch(id)); }
  Result<Json> DeadLetters(const queue::DeadLetterQuery& q) override {
    auto page = service_.DeadLetters(q);
    if (!page) return page.error();
    Json tasks = Json::array();
    for (const queue::TaskInfo& t : page->tasks) tasks.push_back(queue::ToJson(t));
    return Json{{"tasks", std::move(tasks)}, {"total", page->total}, {"page", page->page},
                {"page_size", page->page_size}, {"has_more", page->has_more}};
  }
  Result<Json> RetryDeadLetters(const queue::DeadLetterQuery& q) override {
    auto report = service_.RetryDeadLetters(q, 1000);
    if (!report) return report.error();
    Json refused = Json::array();
    for (const auto& [id, e] : report->refused)
      refused.push_back({{"task_id", id}, {"code", "NOT_FAILED"}, {"message", e.message}});
    return Json{{"retried", report->retried}, {"refused", std::move(refused)}};
  }
  Result<Json> Get(const std::string& id) override { return Wrap(service_.Get(id)); }
  Result<Json> List(const api::ListOptions& o) override {
    queue::ListQuery q{.mode = o.mode, .page = o.page, .page_size = o.page_size};
    if (!o.status.empty()) {
      q.status = queue::ParseStatus(o.status);
      if (!q.status)
        return queue::InvalidArgument("status: must be one of pending, processing, done, failed, cancelled");
    }
    return Wrap(service_.List(q));
  }
  Result<Json> Cancel(const std::string& id) override { return Wrap(service_.Cancel(id)); }
  Result<Json> Retry(const std::string& id) override { return Wrap(store_->Requeue(id)); }
  Result<Json> Stats() override { return Wrap(service_.Stats()); }
  Result<Json> Upload(const std::string&) override {
    return queue::InvalidArgument("upload needs a server: --server URL (or WASMQ_SERVER)");
  }
  // Read from where the worker pool kept the accepted attempt's outputs (storage.h), as the API does.
  Result<std::string> ReadOutput(const std::string& id, const std::string& file) override {
    auto t = service_.Get(id);
    if (!t) return t.error();
    uint64_t size = 0;
    storage::UniqueFd fd = storage::OpenTaskOutput(storage::TasksDir(data_dir_), t->task_id,
                                                   t->result ? t->result->output_dir : "", file, &size);
    if (!fd) return queue::NotFound("task " + id + " has no output " + file);
    std::string bytes(size, '\0');
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    bytes.resize(done);
    return bytes;
  }

  // The store's events reach only the process that made the change, and the task runs in `wasmq serve`:
  // read the task every interval.
  Result<Json> Follow(const std::string& id, const std::function<void(const Json&)>& on_change) override {
    for (;;) {
      auto t = service_.Get(id);
      if (!t) return t.error();
      Json j = queue::ToJson(*t);
      on_change(j);
      if (queue::IsTerminal(t->status)) return j;
      std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms_));
    }
  }

 private:
  template <class T>
  static Result<Json> Wrap(const Result<T>& r) {
    if (!r) return r.error();
    return queue::ToJson(*r);
  }
  std::unique_ptr<queue::Store> store_;
  queue::TaskService service_;
  std::string data_dir_;
  int interval_ms_;
};

// What every subcommand takes: the server to talk to, or the settings of the local store.
struct Target {
  std::string server, token;
  config::LoadInput input;
  int interval_ms = 200;  // local watch only
};

void AddTargetFlags(CLI::App* cmd, Target* t) {
  cmd->add_option("--server", t->server, "the wasmq server's URL, http://HOST:PORT [WASMQ_SERVER]; "
                                         "without it, the local store");
  cmd->add_option("--token", t->token, "a JWT for a server with auth on [WASMQ_TOKEN]");
  config::AddSettingFlags(cmd, &t->input,
                          {"store", "data-dir", "pipelines", "pipelines-dir", "sqlite-sync", "redis-host", "redis-port",
                           "redis-db", "redis-password", "redis-prefix", "redis-wait-replicas",
                           "redis-wait-timeout"});
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Opens where the tasks are; on failure prints why and sets *exit.
std::unique_ptr<Tasks> Open(const std::string& cmd, const Target& t, int* exit) {
  std::string server = t.server.empty() ? Env("WASMQ_SERVER") : t.server;
  std::string token = t.token.empty() ? Env("WASMQ_TOKEN") : t.token;
  if (!server.empty()) return std::make_unique<RemoteTasks>(api::ClientOptions{.server = server, .token = token});
  auto cfg = config::Load(t.input);
  if (!cfg) {
    std::cerr << "wasmq task " << cmd << ": " << cfg.error().message << "\n";
    *exit = kExitBadInput;
    return nullptr;
  }
  auto store = OpenConfiguredStore(*cfg);
  if (!store) {
    *exit = Report(cmd, store.error());
    return nullptr;
  }
  queue::ServiceOptions opts;
  opts.default_max_retries = cfg->max_retries;
  opts.default_timeout_ms = cfg->task_timeout_ms;
  opts.idempotency_ttl_ms = cfg->idempotency_ttl_ms;
  for (const auto& [mode, path] : cfg->pipelines) opts.extra_modes.insert(mode);
  return std::make_unique<LocalTasks>(std::move(*store), std::move(opts), cfg->data_dir, t.interval_ms);
}

// Runs `op` on the opened tasks and prints its answer with `print`; the exit code.
int Do(const std::string& cmd, const Target& t, const std::function<Result<Json>(Tasks&)>& op,
       const std::function<void(const Json&)>& print) {
  int exit = 0;
  auto tasks = Open(cmd, t, &exit);
  if (!tasks) return exit;
  auto r = op(*tasks);
  if (!r) return Report(cmd, r.error());
  print(*r);
  return 0;
}

void PrintJson(const Json& j) { std::cout << j.dump(2) << "\n"; }

// ---- submit

struct SubmitArgs {
  std::string request, mode, source_image, config_json, user_id, run_at, idempotency_key;
  std::vector<std::string> depends_on;
  std::optional<int> priority, max_retries;
  std::optional<int64_t> timeout_ms, delay_ms;
  bool json = false;
};

// The TaskCreateRequest a client would post, from --request and the flags over it; checked here too, so a
// malformed one is refused (exit 2, naming the field) before anything is sent.
Result<Json> BuildRequest(const SubmitArgs& a) {
  Json body = Json::object();
  if (!a.request.empty()) {
    std::string text = a.request;
    if (text == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else if (text.starts_with("@")) {
      std::ifstream f(text.substr(1));
      if (!f) return queue::InvalidArgument("--request: cannot read " + text.substr(1));
      text.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    auto j = queue::ParseJson(text);
    if (!j) return queue::InvalidArgument("--request: " + j.error().message);
    body = std::move(*j);
    if (!body.is_object()) return queue::InvalidArgument("--request: must be a JSON object");
  }
  if (!a.mode.empty()) body["mode"] = a.mode;
  if (!a.source_image.empty()) body["source_image"] = a.source_image;
  if (!a.user_id.empty()) body["user_id"] = a.user_id;
  if (!a.config_json.empty()) {
    auto c = queue::ParseJson(a.config_json);
    if (!c) return queue::InvalidArgument("config: " + c.error().message);
    body["config"] = std::move(*c);
  }
  if (a.priority) body["priority"] = *a.priority;
  if (a.max_retries) body["max_retries"] = *a.max_retries;
  if (a.timeout_ms) body["timeout_ms"] = *a.timeout_ms;
  if (!a.run_at.empty()) body["run_at"] = a.run_at;
  if (a.delay_ms) body["delay_ms"] = *a.delay_ms;
  if (!a.idempotency_key.empty()) body["idempotency_key"] = a.idempotency_key;
  if (!a.depends_on.empty()) body["depends_on"] = a.depends_on;
  if (auto req = queue::CreateRequestFromJson(body); !req) return req.error();
  return body;
}

int Submit(const Target& t, const SubmitArgs& a) {
  auto body = BuildRequest(a);
  if (!body) return Report("submit", body.error());
  return Do(
      "submit", t, [&](Tasks& tasks) { return tasks.Submit(*body); },
      [&](const Json& task) {
        if (a.json)
          PrintJson(task);
        else
          std::cout << task.value("task_id", "") << "\n";
      });
}

// ---- list

int List(const Target& t, const api::ListOptions& q, bool json) {
  return Do(
      "list", t, [&](Tasks& tasks) { return tasks.List(q); },
      [&](const Json& l) {
        if (json) return PrintJson(l);
        std::printf("%-34s %-10s %-20s %4s  %s\n", "TASK_ID", "STATUS", "MODE", "PCT", "CREATED");
        for (const Json& s : l.value("tasks", Json::array()))
          std::printf("%-34s %-10s %-20s %3d%%  %s\n", s.value("task_id", "").c_str(), s.value("status", "").c_str(),
                      s.value("mode", "").c_str(), s.value("progress", 0), s.value("created_at", "").c_str());
        int64_t total = l.value("total", int64_t{0}), size = std::max<int64_t>(1, l.value("page_size", int64_t{1}));
        std::printf("page %lld of %lld, %lld task(s)\n", static_cast<long long>(l.value("page", int64_t{1})),
                    static_cast<long long>(std::max<int64_t>((total + size - 1) / size, 1)),
                    static_cast<long long>(total));
      });
}

// ---- watch

std::string Str(const Json& task, const char* key) {
  auto it = task.find(key);
  return it != task.end() && it->is_string() ? it->get<std::string>() : "";
}

// One line of a task's state: "2026-11-23T10:00:00.000Z  processing  40%  resizing", plus what it ended
// with: outputs, or the error.
std::string Line(const Json& task) {
  std::string status = Str(task, "status");
  std::string s = Str(task, "updated_at") + "  " + status + "  " + std::to_string(task.value("progress", 0)) + "%";
  if (std::string step = Str(task, "current_step"); !step.empty()) s += "  " + step;
  const Json error = task.value("error", Json());
  if (error.is_object()) {
    std::string e = error.value("code", "") + ": " + error.value("message", "");
    if (status == "pending") s += "  (retry after " + e + ")";
    if (status == "failed") s += "  " + e;
  }
  const Json result = task.value("result", Json());
  if (status == "done" && result.is_object()) {
    s += "  outputs:";
    for (const Json& f : result.value("output_files", Json::array())) s += " " + f.get<std::string>();
  }
  return s;
}

int Watch(const Target& t, const std::string& id) {
  int exit = 0;
  auto tasks = Open("watch", t, &exit);
  if (!tasks) return exit;
  const bool tty = isatty(STDOUT_FILENO) == 1;
  std::string last;
  auto r = tasks->Follow(id, [&](const Json& task) {
    if (tty) {  // redraw the bar in place
      std::cout << "\r" << api::ProgressLine(task.value("progress", 0), Str(task, "status"), Str(task, "current_step"))
                << "\x1b[K" << std::flush;
      return;
    }
    std::string line = Line(task);
    if (line != last) std::cout << line << std::endl;
    last = line;
  });
  if (tty) std::cout << "\n";
  if (!r) return Report("watch", r.error());
  std::string final_line = Line(*r);
  if (tty || final_line != last) std::cout << final_line << std::endl;
  return Str(*r, "status") == "done" ? 0 : kExitRefused;
}

// ---- outputs

// A path from the server that stays inside DIR: relative, no "..", no empty or "." components.
bool SafeRelativePath(const std::string& p) {
  if (p.empty() || p.front() == '/' || p.find('\0') != std::string::npos) return false;
  for (const auto& part : std::filesystem::path(p))
    if (part == ".." || part == "." || part.empty()) return false;
  return true;
}

int Outputs(const Target& t, const std::string& id, const std::string& dir) {
  int exit = 0;
  auto tasks = Open("outputs", t, &exit);
  if (!tasks) return exit;
  auto task = tasks->Get(id);
  if (!task) return Report("outputs", task.error());
  if (Str(*task, "status") != "done")
    return Report("outputs", queue::Conflict("task " + id + " is " + Str(*task, "status") + ", not done"));
  const Json result = task->value("result", Json::object());
  for (const Json& name : result.value("output_files", Json::array())) {
    std::string file = name.is_string() ? name.get<std::string>() : "";
    if (!SafeRelativePath(file)) return Report("outputs", queue::Internal("refusing output path '" + file + "'"));
    auto bytes = tasks->ReadOutput(id, file);
    if (!bytes) return Report("outputs", bytes.error());
    std::filesystem::path dest = std::filesystem::path(dir) / file;
    std::error_code ec;
    std::filesystem::create_directories(dest.parent_path(), ec);
    std::ofstream out(dest, std::ios::binary);
    if (!out.write(bytes->data(), static_cast<std::streamsize>(bytes->size())) || !out.flush())
      return Report("outputs", queue::Unavailable("cannot write " + dest.string()));
    std::cout << dest.string() << "\n";
  }
  return 0;
}

}  // namespace

void AddTaskCommand(CLI::App& app, int* exit_code) {
  CLI::App* task = app.add_subcommand("task", "Submit, inspect, list, cancel, retry and watch tasks");
  task->require_subcommand(1);
  task->footer(
      "\nWith --server (or WASMQ_SERVER) every command goes through the REST API; without, to the local store.\n"
      "Exit codes: 0 success; 1 refused or failed (watch: the task failed or was cancelled); 2 bad input.");

  {
    auto t = std::make_shared<Target>();
    auto a = std::make_shared<SubmitArgs>();
    CLI::App* cmd = task->add_subcommand("submit", "Create a task; prints its id");
    cmd->add_option("--mode", a->mode,
                    "the task's mode (HEAD_SWAP, BACKGROUND_CHANGE, POSE_CHANGE or a pipeline name)");
    cmd->add_option("--source-image", a->source_image, "id of the uploaded input file (img_…)");
    cmd->add_option("--config", a->config_json, "pipeline parameters, a JSON object");
    cmd->add_option("--priority", a->priority, "-100..100, higher runs first [0]");
    cmd->add_option("--max-retries", a->max_retries, "retries after a failed attempt [WASMQ_MAX_RETRIES]");
    cmd->add_option("--timeout-ms", a->timeout_ms, "per-attempt timeout [WASMQ_TASK_TIMEOUT]");
    cmd->add_option("--run-at", a->run_at, "a delayed task: not run before this RFC 3339 time");
    cmd->add_option("--delay-ms", a->delay_ms, "a delayed task: not run before this many ms from now");
    cmd->add_option("--user-id", a->user_id, "owner of the task (user_…; a server with auth on uses the token's)");
    cmd->add_option("--request", a->request,
                    "the whole TaskCreateRequest as JSON, @FILE or - (stdin); flags override it");
    cmd->add_option("--idempotency-key", a->idempotency_key,
                    "the same key (and request) within WASMQ_IDEMPOTENCY_TTL returns the task it created");
    cmd->add_option("--depends-on", a->depends_on,
                    "a task that must be done first (repeat for several); one that fails cancels this one");
    cmd->add_flag("--json", a->json, "print the created task as JSON");
    AddTargetFlags(cmd, t.get());
    cmd->callback([t, a, exit_code] { *exit_code = Submit(*t, *a); });
  }
  {
    auto t = std::make_shared<Target>();
    auto id = std::make_shared<std::string>();
    CLI::App* cmd = task->add_subcommand("get", "Print a task as JSON");
    cmd->add_option("TASK_ID", *id, "the task")->required();
    AddTargetFlags(cmd, t.get());
    cmd->callback([t, id, exit_code] {
      *exit_code = Do("get", *t, [&](Tasks& tasks) { return tasks.Get(*id); }, PrintJson);
    });
  }
  {
    auto t = std::make_shared<Target>();
    auto q = std::make_shared<api::ListOptions>();
    auto json = std::make_shared<bool>(false);
    CLI::App* cmd = task->add_subcommand("list", "List tasks, newest first");
    cmd->add_option("--status", q->status, "only tasks in this status");
    cmd->add_option("--mode", q->mode, "only tasks of this mode");
    cmd->add_option("--page", q->page, "page number, from 1")->check(CLI::Range(1, 1'000'000'000));
    cmd->add_option("--page-size", q->page_size, "tasks per page, 1.." + std::to_string(queue::kMaxPageSize))
        ->check(CLI::Range(1, queue::kMaxPageSize));
    cmd->add_flag("--json", *json, "print the TaskListResponse JSON");
    AddTargetFlags(cmd, t.get());
    cmd->callback([t, q, json, exit_code] { *exit_code = List(*t, *q, *json); });
  }
  {
    auto t = std::make_shared<Target>();
    auto id = std::make_shared<std::string>();
    CLI::App* cmd = task->add_subcommand("retry", "Put a failed task back to pending (its history is kept)");
    cmd->add_option("TASK_ID", *id, "the task")->required();
    AddTargetFlags(cmd, t.get());
    cmd->callback([t, id, exit_code] {
      *exit_code = Do("retry", *t, [&](Tasks& tasks) { return tasks.Retry(*id); },
                      [](const Json& retried) { std::cout << retried.value("task_id", "") << " pending again\n"; });
    });
  }
  {
    auto t = std::make_shared<Target>();
    auto id = std::make_shared<std::string>();
    CLI::App* cmd = task->add_subcommand("cancel", "Cancel a pending or running task");
    cmd->add_option("TASK_ID", *id, "the task")->required();
    AddTargetFlags(cmd, t.get());
    cmd->callback([t, id, exit_code] {
      *exit_code = Do("cancel", *t, [&](Tasks& tasks) { return tasks.Cancel(*id); },
                      [](const Json& cancelled) { std::cout << cancelled.value("task_id", "") << " cancelled\n"; });
    });
  }
  {
    auto t = std::make_shared<Target>();
    auto id = std::make_shared<std::string>();
    CLI::App* cmd = task->add_subcommand("watch", "Follow a task's progress until it ends (a live bar in a terminal)");
    cmd->add_option("TASK_ID", *id, "the task")->required();
    cmd->add_option("--interval-ms", t->interval_ms, "without a server: how often to read the store [200]")
        ->check(CLI::Range(10, 60'000));
    AddTargetFlags(cmd, t.get());
    cmd->callback([t, id, exit_code] { *exit_code = Watch(*t, *id); });
  }
  {
    auto t = std::make_shared<Target>();
    auto id = std::make_shared<std::string>();
    auto dir = std::make_shared<std::string>(".");
    CLI::App* cmd = task->add_subcommand("outputs", "Download a done task's output files; prints their paths");
    cmd->add_option("TASK_ID", *id, "the task")->required();
    cmd->add_option("-o,--dir", *dir, "where to write them [.]");
    AddTargetFlags(cmd, t.get());
    cmd->callback([t, id, dir, exit_code] { *exit_code = Outputs(*t, *id, *dir); });
  }
  {
    auto t = std::make_shared<Target>();
    CLI::App* cmd = task->add_subcommand("stats", "Print queue statistics as JSON");
    AddTargetFlags(cmd, t.get());
    cmd->callback([t, exit_code] { *exit_code = Do("stats", *t, [](Tasks& tasks) { return tasks.Stats(); }, PrintJson); });
  }
  {
    auto t = std::make_shared<Target>();
    auto path = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    CLI::App* cmd = task->add_subcommand("upload", "Upload an input image (PNG, JPEG, WebP) to the server; prints its id");
    cmd->add_option("FILE", *path, "the image")->required();
    cmd->add_flag("--json", *json, "print the file's metadata as JSON");
    AddTargetFlags(cmd, t.get());
    cmd->callback([t, path, json, exit_code] {
      *exit_code = Do("upload", *t, [&](Tasks& tasks) { return tasks.Upload(*path); }, [&](const Json& f) {
        if (*json)
          PrintJson(f);
        else
          std::cout << f.value("file_id", "") << "\n";
      });
    });
  }
  {
    CLI::App* batch = task->add_subcommand("batch", "Create a batch of tasks in one transaction, or show one");
    batch->require_subcommand(1);
    auto t = std::make_shared<Target>();
    auto request = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    CLI::App* create = batch->add_subcommand("create", "Create a batch from {\"tasks\": [requests]}; prints its id");
    create->add_option("--request", *request, "the body as JSON, @FILE or - (stdin)")->required();
    create->add_flag("--json", *json, "print the batch as JSON");
    AddTargetFlags(create, t.get());
    create->callback([t, request, json, exit_code] {
      std::string text = *request;
      if (text == "-") {
        text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
      } else if (text.starts_with("@")) {
        std::ifstream f(text.substr(1));
        text.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
      }
      Result<Json> body = queue::ParseJson(text);
      if (!body) {
        *exit_code = Report("batch create", body.error());
        return;
      }
      *exit_code = Do("batch create", *t, [&](Tasks& tasks) { return tasks.CreateBatch(*body); },
                      [&](const Json& b) {
                        if (*json)
                          PrintJson(b);
                        else
                          std::cout << b.value("batch_id", "") << "\n";
                      });
    });
    auto gt = std::make_shared<Target>();
    auto id = std::make_shared<std::string>();
    CLI::App* get = batch->add_subcommand("get", "Print a batch's counts per status and progress as JSON");
    get->add_option("BATCH_ID", *id, "the batch")->required();
    AddTargetFlags(get, gt.get());
    get->callback([gt, id, exit_code] {
      *exit_code = Do("batch get", *gt, [&](Tasks& tasks) { return tasks.GetBatch(*id); }, PrintJson);
    });
  }
  {
    auto t = std::make_shared<Target>();
    auto q = std::make_shared<queue::DeadLetterQuery>();
    auto retry = std::make_shared<bool>(false);
    auto json = std::make_shared<bool>(false);
    CLI::App* cmd = task->add_subcommand("dead-letters", "List failed tasks (their retries exhausted); --retry re-queues them");
    cmd->add_option("--mode", q->mode, "only tasks of this mode");
    cmd->add_option("--error-code", q->error_code, "only tasks whose last error has this code (TRAP, TIMEOUT, …)");
    cmd->add_option("--page", q->page, "page number, from 1")->check(CLI::Range(1, 1'000'000'000));
    cmd->add_option("--page-size", q->page_size, "tasks per page, 1.." + std::to_string(queue::kMaxPageSize))
        ->check(CLI::Range(1, queue::kMaxPageSize));
    cmd->add_flag("--retry", *retry, "re-queue every matching one instead (prints their ids)");
    cmd->add_flag("--json", *json, "print the answer as JSON");
    AddTargetFlags(cmd, t.get());
    cmd->callback([t, q, retry, json, exit_code] {
      if (*retry) {
        *exit_code = Do("dead-letters", *t, [&](Tasks& tasks) { return tasks.RetryDeadLetters(*q); },
                        [&](const Json& r) {
                          if (*json) return PrintJson(r);
                          for (const Json& id : r.value("retried", Json::array()))
                            std::cout << id.get<std::string>() << " pending again\n";
                          for (const Json& x : r.value("refused", Json::array()))
                            std::cout << x.value("task_id", "") << " refused: " << x.value("message", "") << "\n";
                        });
        return;
      }
      *exit_code = Do("dead-letters", *t, [&](Tasks& tasks) { return tasks.DeadLetters(*q); }, [&](const Json& l) {
        if (*json) return PrintJson(l);
        std::printf("%-34s %-20s %-18s %s\n", "TASK_ID", "MODE", "ERROR", "FINISHED");
        for (const Json& s : l.value("tasks", Json::array())) {
          const Json e = s.value("error", Json());
          std::printf("%-34s %-20s %-18s %s\n", s.value("task_id", "").c_str(), s.value("mode", "").c_str(),
                      e.is_object() ? e.value("code", "").c_str() : "", Str(s, "finished_at").c_str());
        }
        std::printf("%lld dead letter(s)\n", static_cast<long long>(l.value("total", int64_t{0})));
      });
    });
  }
}

}  // namespace wasmq::cli
