// File: src/cli/task.cc
//
// `wasmq task submit|get|list|cancel|watch|stats`: the task service from the command line, against the local
// store (--store sqlite:PATH, or the configuration's store). Once the HTTP API exists these will also speak
// to a remote server.
//
// Output is for both people and scripts: `submit` prints the new id alone (or the task's JSON with --json),
// `get` the task's JSON, `list` a table (or the TaskListResponse JSON with --json), `watch` one line per
// change until the task ends.
//
// Exit codes: 0 success (`watch`: the task is done); 1 refused or failed (no such task, a finished task
// cannot be cancelled, the store is unavailable; `watch`: the task failed or was cancelled); 2 bad input
// (the message names the field).
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "config/flags.h"
#include "queue/queue.h"

namespace wasmq::cli {
namespace {

constexpr int kExitRefused = 1;
constexpr int kExitBadInput = 2;

struct Opened {
  std::unique_ptr<queue::Store> store;
  std::unique_ptr<queue::TaskService> service;
};

int Report(const std::string& cmd, const queue::Error& e) {
  std::cerr << "wasmq task " << cmd << ": " << queue::CodeName(e.code) << ": " << e.message << "\n";
  return e.code == queue::Code::InvalidArgument ? kExitBadInput : kExitRefused;
}

// The store and service the configuration names. On failure prints why and sets *exit.
std::optional<Opened> Open(const std::string& cmd, const config::LoadInput& input, int* exit) {
  auto cfg = config::Load(input);
  if (!cfg) {
    std::cerr << "wasmq task " << cmd << ": " << cfg.error().message << "\n";
    *exit = kExitBadInput;
    return std::nullopt;
  }
  auto store = queue::OpenStore(cfg->store_url, {.sync_full = cfg->sqlite_sync_full});
  if (!store) {
    *exit = Report(cmd, store.error());
    return std::nullopt;
  }
  Opened o;
  o.store = std::move(*store);
  queue::ServiceOptions opts;
  opts.default_max_retries = cfg->max_retries;
  opts.default_timeout_ms = cfg->task_timeout_ms;
  for (const auto& [mode, path] : cfg->pipelines) opts.extra_modes.insert(mode);
  o.service = std::make_unique<queue::TaskService>(*o.store, std::move(opts));
  return o;
}

void AddStoreFlags(CLI::App* cmd, config::LoadInput* input) {
  config::AddSettingFlags(cmd, input, {"store", "data-dir", "pipelines", "pipelines-dir", "sqlite-sync"});
}

std::string Line(const queue::TaskInfo& t) {
  std::string s = queue::FormatTime(t.updated_at) + "  " + std::string(queue::ToString(t.status)) + "  " +
                  std::to_string(t.progress) + "%";
  if (!t.current_step.empty()) s += "  " + t.current_step;
  if (t.status == queue::TaskStatus::Pending && t.error)
    s += "  (retry after " + t.error->code + ": " + t.error->message + ")";
  if (t.status == queue::TaskStatus::Failed && t.error) s += "  " + t.error->code + ": " + t.error->message;
  if (t.status == queue::TaskStatus::Done && t.result) {
    s += "  outputs:";
    for (const std::string& f : t.result->output_files) s += " " + f;
  }
  return s;
}

// ---- submit

struct SubmitArgs {
  std::string request, mode, source_image, config_json, user_id;
  std::optional<int> priority, max_retries;
  std::optional<int64_t> timeout_ms;
  bool json = false;
};

int Submit(const config::LoadInput& input, const SubmitArgs& a) {
  // Build the same JSON a client would post, then validate it the one way (errors name the field).
  queue::Json body = queue::Json::object();
  if (!a.request.empty()) {
    std::string text = a.request;
    if (text == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else if (text.starts_with("@")) {
      std::ifstream f(text.substr(1));
      if (!f) return Report("submit", queue::InvalidArgument("--request: cannot read " + text.substr(1)));
      text.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    auto j = queue::ParseJson(text);
    if (!j) return Report("submit", queue::InvalidArgument("--request: " + j.error().message));
    body = std::move(*j);
    if (!body.is_object())
      return Report("submit", queue::InvalidArgument("--request: must be a JSON object"));
  }
  if (!a.mode.empty()) body["mode"] = a.mode;
  if (!a.source_image.empty()) body["source_image"] = a.source_image;
  if (!a.user_id.empty()) body["user_id"] = a.user_id;
  if (!a.config_json.empty()) {
    auto c = queue::ParseJson(a.config_json);
    if (!c) return Report("submit", queue::InvalidArgument("config: " + c.error().message));
    body["config"] = std::move(*c);
  }
  if (a.priority) body["priority"] = *a.priority;
  if (a.max_retries) body["max_retries"] = *a.max_retries;
  if (a.timeout_ms) body["timeout_ms"] = *a.timeout_ms;
  auto req = queue::CreateRequestFromJson(body);
  if (!req) return Report("submit", req.error());
  int exit = 0;
  auto o = Open("submit", input, &exit);
  if (!o) return exit;
  auto t = o->service->Create(*req);
  if (!t) return Report("submit", t.error());
  if (a.json) {
    std::cout << queue::ToJson(*t).dump(2) << "\n";
  } else {
    std::cout << t->task_id << "\n";
  }
  return 0;
}

// ---- get, cancel, stats

int Get(const config::LoadInput& input, const std::string& id) {
  int exit = 0;
  auto o = Open("get", input, &exit);
  if (!o) return exit;
  auto t = o->service->Get(id);
  if (!t) return Report("get", t.error());
  std::cout << queue::ToJson(*t).dump(2) << "\n";
  return 0;
}

int Cancel(const config::LoadInput& input, const std::string& id) {
  int exit = 0;
  auto o = Open("cancel", input, &exit);
  if (!o) return exit;
  auto t = o->service->Cancel(id);
  if (!t) return Report("cancel", t.error());
  std::cout << t->task_id << " cancelled\n";
  return 0;
}

int Stats(const config::LoadInput& input) {
  int exit = 0;
  auto o = Open("stats", input, &exit);
  if (!o) return exit;
  auto s = o->service->Stats();
  if (!s) return Report("stats", s.error());
  std::cout << queue::ToJson(*s).dump(2) << "\n";
  return 0;
}

// ---- list

struct ListArgs {
  std::string status, mode;
  int page = 1, page_size = 20;
  bool json = false;
};

int List(const config::LoadInput& input, const ListArgs& a) {
  queue::ListQuery q;
  if (!a.status.empty()) {
    q.status = queue::ParseStatus(a.status);
    if (!q.status)
      return Report("list", queue::InvalidArgument(
                                "status: must be one of pending, processing, done, failed, cancelled"));
  }
  q.mode = a.mode;
  q.page = a.page;
  q.page_size = a.page_size;
  int exit = 0;
  auto o = Open("list", input, &exit);
  if (!o) return exit;
  auto l = o->service->List(q);
  if (!l) return Report("list", l.error());
  if (a.json) {
    std::cout << queue::ToJson(*l).dump(2) << "\n";
    return 0;
  }
  std::printf("%-34s %-10s %-20s %4s  %s\n", "TASK_ID", "STATUS", "MODE", "PCT", "CREATED");
  for (const queue::TaskSummary& s : l->tasks)
    std::printf("%-34s %-10s %-20s %3d%%  %s\n", s.task_id.c_str(),
                std::string(queue::ToString(s.status)).c_str(), s.mode.c_str(), s.progress,
                queue::FormatTime(s.created_at).c_str());
  int64_t pages = (l->total + l->page_size - 1) / l->page_size;
  std::printf("page %d of %lld, %lld task(s)\n", l->page, static_cast<long long>(std::max<int64_t>(pages, 1)),
              static_cast<long long>(l->total));
  return 0;
}

// ---- watch

int Watch(const config::LoadInput& input, const std::string& id, int interval_ms) {
  int exit = 0;
  auto o = Open("watch", input, &exit);
  if (!o) return exit;
  // The local store's events reach only this process, and the task runs in `wasmq serve`: read the task
  // again every interval and print what changed.
  std::string last;
  for (;;) {
    auto t = o->service->Get(id);
    if (!t) return Report("watch", t.error());
    std::string line = Line(*t);
    if (line != last) {
      std::cout << line << std::endl;
      last = line;
    }
    if (queue::IsTerminal(t->status)) return t->status == queue::TaskStatus::Done ? 0 : kExitRefused;
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
}

}  // namespace

void AddTaskCommand(CLI::App& app, int* exit_code) {
  CLI::App* task = app.add_subcommand("task", "Submit, inspect, list, cancel and watch tasks");
  task->require_subcommand(1);
  task->footer(
      "\nExit codes: 0 success; 1 refused or failed (watch: the task failed or was cancelled); 2 bad input.");

  {
    auto input = std::make_shared<config::LoadInput>();
    auto a = std::make_shared<SubmitArgs>();
    CLI::App* cmd = task->add_subcommand("submit", "Create a task; prints its id");
    cmd->add_option("--mode", a->mode,
                    "the task's mode (HEAD_SWAP, BACKGROUND_CHANGE, POSE_CHANGE or a pipeline name)");
    cmd->add_option("--source-image", a->source_image, "id of the uploaded input file (img_…)");
    cmd->add_option("--config", a->config_json, "pipeline parameters, a JSON object");
    cmd->add_option("--priority", a->priority, "-100..100, higher runs first [0]");
    cmd->add_option("--max-retries", a->max_retries, "retries after a failed attempt [WASMQ_MAX_RETRIES]");
    cmd->add_option("--timeout-ms", a->timeout_ms, "per-attempt timeout [WASMQ_TASK_TIMEOUT]");
    cmd->add_option("--user-id", a->user_id, "owner of the task (user_…)");
    cmd->add_option("--request", a->request,
                    "the whole TaskCreateRequest as JSON, @FILE or - (stdin); flags override it");
    cmd->add_flag("--json", a->json, "print the created task as JSON");
    AddStoreFlags(cmd, input.get());
    cmd->callback([input, a, exit_code] { *exit_code = Submit(*input, *a); });
  }
  {
    auto input = std::make_shared<config::LoadInput>();
    auto id = std::make_shared<std::string>();
    CLI::App* cmd = task->add_subcommand("get", "Print a task as JSON");
    cmd->add_option("TASK_ID", *id, "the task")->required();
    AddStoreFlags(cmd, input.get());
    cmd->callback([input, id, exit_code] { *exit_code = Get(*input, *id); });
  }
  {
    auto input = std::make_shared<config::LoadInput>();
    auto a = std::make_shared<ListArgs>();
    CLI::App* cmd = task->add_subcommand("list", "List tasks, newest first");
    cmd->add_option("--status", a->status, "only tasks in this status");
    cmd->add_option("--mode", a->mode, "only tasks of this mode");
    cmd->add_option("--page", a->page, "page number, from 1")->check(CLI::Range(1, 1'000'000'000));
    cmd->add_option("--page-size", a->page_size, "tasks per page, 1.." + std::to_string(queue::kMaxPageSize))
        ->check(CLI::Range(1, queue::kMaxPageSize));
    cmd->add_flag("--json", a->json, "print the TaskListResponse JSON");
    AddStoreFlags(cmd, input.get());
    cmd->callback([input, a, exit_code] { *exit_code = List(*input, *a); });
  }
  {
    auto input = std::make_shared<config::LoadInput>();
    auto id = std::make_shared<std::string>();
    CLI::App* cmd = task->add_subcommand("cancel", "Cancel a pending or running task");
    cmd->add_option("TASK_ID", *id, "the task")->required();
    AddStoreFlags(cmd, input.get());
    cmd->callback([input, id, exit_code] { *exit_code = Cancel(*input, *id); });
  }
  {
    auto input = std::make_shared<config::LoadInput>();
    auto id = std::make_shared<std::string>();
    auto interval = std::make_shared<int>(200);
    CLI::App* cmd = task->add_subcommand("watch", "Print a task's progress until it ends");
    cmd->add_option("TASK_ID", *id, "the task")->required();
    cmd->add_option("--interval-ms", *interval, "how often to look [200]")->check(CLI::Range(10, 60'000));
    AddStoreFlags(cmd, input.get());
    cmd->callback([input, id, interval, exit_code] { *exit_code = Watch(*input, *id, *interval); });
  }
  {
    auto input = std::make_shared<config::LoadInput>();
    CLI::App* cmd = task->add_subcommand("stats", "Print queue statistics as JSON");
    AddStoreFlags(cmd, input.get());
    cmd->callback([input, exit_code] { *exit_code = Stats(*input); });
  }
}

}  // namespace wasmq::cli
