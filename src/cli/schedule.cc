// File: src/cli/schedule.cc
//
// `wasmq schedule create|list|get|pause|resume|delete`: cron schedules (src/schedule). Like `wasmq task`, a
// client of the REST API with --server URL (or WASMQ_SERVER) and --token JWT (or WASMQ_TOKEN), or, without a
// server, the same operations on the local store (--store, or the configuration's). The schedules fire in
// `wasmq serve`.
//
// `create` prints the new id (the schedule's JSON with --json), `list` a table (JSON with --json), the
// others the schedule's JSON. Exit codes: 0 success; 1 refused or failed (no such schedule, the server or
// store is unavailable); 2 bad input (the message names the field).
#include <iostream>

#include "api/client.h"
#include "cli/commands.h"
#include "cli/lifecycle.h"
#include "config/flags.h"
#include "queue/queue.h"
#include "schedule/schedule.h"

namespace wasmq::cli {
namespace {

using queue::Json;
using queue::Result;

constexpr int kExitRefused = 1;
constexpr int kExitBadInput = 2;

int Report(const std::string& cmd, const queue::Error& e) {
  std::cerr << "wasmq schedule " << cmd << ": " << queue::CodeName(e.code) << ": " << e.message << "\n";
  return e.code == queue::Code::InvalidArgument ? kExitBadInput : kExitRefused;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

struct Target {
  std::string server, token;
  config::LoadInput input;
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

// The operation `op` names ("create", "list", "get", "pause", "resume", "delete") with its argument (the
// request JSON for create, the id for the others), through the server or on the local store. Answers in
// the API's JSON.
Result<Json> Run(const Target& t, const std::string& op, const std::string& arg) {
  const std::string server = t.server.empty() ? Env("WASMQ_SERVER") : t.server;
  const std::string token = t.token.empty() ? Env("WASMQ_TOKEN") : t.token;
  if (!server.empty()) {
    api::Client client({.server = server, .token = token});
    const std::string path = "/api/v1/schedules";
    if (op == "create") return client.Call("POST", path, arg);
    if (op == "list") return client.Call("GET", path);
    if (op == "get") return client.Call("GET", path + "/" + arg);
    if (op == "delete") return client.Call("DELETE", path + "/" + arg);
    return client.Call("POST", path + "/" + arg + "/" + op);
  }
  auto cfg = config::Load(t.input);
  if (!cfg) return queue::InvalidArgument(cfg.error().message);
  auto store = OpenConfiguredStore(*cfg);
  if (!store) return store.error();
  queue::ServiceOptions opts;
  opts.default_max_retries = cfg->max_retries;
  opts.default_timeout_ms = cfg->task_timeout_ms;
  for (const auto& [mode, path] : cfg->pipelines) opts.extra_modes.insert(mode);
  queue::TaskService tasks(**store, std::move(opts));
  schedule::ScheduleService svc(tasks, {});
  auto show = [&](const Result<queue::ScheduleInfo>& s) -> Result<Json> {
    if (!s) return s.error();
    return svc.ToJson(*s);
  };
  if (op == "create") {
    auto body = queue::ParseJson(arg);
    if (!body) return body.error();
    auto req = schedule::ScheduleRequestFromJson(*body);
    if (!req) return req.error();
    return show(svc.Create(*req, req->task.value("user_id", "")));
  }
  if (op == "list") {
    auto all = svc.List(nullptr);
    if (!all) return all.error();
    Json out = Json::array();
    for (const auto& s : *all) out.push_back(svc.ToJson(s));
    return Json{{"schedules", std::move(out)}};
  }
  if (op == "get") return show(svc.Get(arg));
  if (op == "pause") return show(svc.Pause(arg));
  if (op == "resume") return show(svc.Resume(arg));
  auto d = svc.Delete(arg);
  if (!d) return d.error();
  return Json{{"schedule_id", arg}, {"deleted", true}};
}

void PrintTable(const Json& list) {
  std::printf("%-40s %-16s %-18s %-7s %s\n", "SCHEDULE", "CRON", "TIMEZONE", "STATE", "NEXT RUN");
  for (const Json& s : list.value("schedules", Json::array())) {
    const Json& runs = s.value("next_runs", Json::array());
    std::printf("%-40s %-16s %-18s %-7s %s\n", s.value("schedule_id", "").c_str(), s.value("cron", "").c_str(),
                s.value("timezone", "").c_str(), s.value("paused", false) ? "paused" : "active",
                runs.empty() ? "-" : runs[0].get<std::string>().c_str());
  }
}

struct CreateArgs {
  std::string cron, timezone = "UTC", task, catch_up = "once", request;
  bool paused = false, json = false;
};

int Create(const Target& t, const CreateArgs& a) {
  Json body;
  if (!a.request.empty()) {
    auto j = queue::ParseJson(a.request);
    if (!j) return Report("create", queue::InvalidArgument("--request: " + j.error().message));
    body = std::move(*j);
  } else {
    auto task = queue::ParseJson(a.task.empty() ? "{}" : a.task);
    if (!task) return Report("create", queue::InvalidArgument("--task: " + task.error().message));
    body = {{"cron", a.cron}, {"timezone", a.timezone}, {"task", *task}, {"paused", a.paused},
            {"catch_up", a.catch_up}};
  }
  auto r = Run(t, "create", body.dump());
  if (!r) return Report("create", r.error());
  if (a.json) std::cout << r->dump(2) << "\n";
  else std::cout << r->value("schedule_id", "") << "\n";
  return 0;
}

}  // namespace

void AddScheduleCommand(CLI::App& app, int* exit_code) {
  CLI::App* schedule = app.add_subcommand("schedule", "Create, list, pause, resume and delete cron schedules");
  schedule->require_subcommand(1);
  auto t = std::make_shared<Target>();
  {
    auto a = std::make_shared<CreateArgs>();
    CLI::App* cmd = schedule->add_subcommand("create", "Create a schedule; prints its id");
    cmd->add_option("--cron", a->cron, "five fields: minute hour day-of-month month day-of-week (\"*/5 * * * *\")");
    cmd->add_option("--timezone", a->timezone, "IANA time zone the fields are read in [UTC]");
    cmd->add_option("--task", a->task, "the task to enqueue at each occurrence: a create request, JSON");
    cmd->add_option("--catch-up", a->catch_up, "missed occurrences after downtime: once or skip [once]");
    cmd->add_flag("--paused", a->paused, "create it paused");
    cmd->add_option("--request", a->request, "the whole schedule as JSON instead of the flags above");
    cmd->add_flag("--json", a->json, "print the created schedule as JSON");
    AddTargetFlags(cmd, t.get());
    cmd->callback([t, a, exit_code] { *exit_code = Create(*t, *a); });
  }
  {
    auto json = std::make_shared<bool>(false);
    CLI::App* cmd = schedule->add_subcommand("list", "List schedules (a table, or JSON with --json)");
    cmd->add_flag("--json", *json, "print the list as JSON");
    AddTargetFlags(cmd, t.get());
    cmd->callback([t, json, exit_code] {
      auto r = Run(*t, "list", "");
      if (!r) {
        *exit_code = Report("list", r.error());
        return;
      }
      if (*json) std::cout << r->dump(2) << "\n";
      else PrintTable(*r);
      *exit_code = 0;
    });
  }
  for (const char* op : {"get", "pause", "resume", "delete"}) {
    auto id = std::make_shared<std::string>();
    const std::string name = op;
    CLI::App* cmd = schedule->add_subcommand(
        name, name == "get"     ? "Print a schedule as JSON, with its next runs"
              : name == "pause" ? "Stop a schedule firing"
              : name == "resume" ? "Fire again, from the next occurrence after now"
                                 : "Delete a schedule");
    cmd->add_option("SCHEDULE_ID", *id, "the schedule")->required();
    AddTargetFlags(cmd, t.get());
    cmd->callback([t, id, name, exit_code] {
      auto r = Run(*t, name, *id);
      if (!r) {
        *exit_code = Report(name, r.error());
        return;
      }
      std::cout << r->dump(2) << "\n";
      *exit_code = 0;
    });
  }
}

}  // namespace wasmq::cli
