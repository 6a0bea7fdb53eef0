// File: src/api/handlers.h
//
// Internal to the api part: what the route handlers share, and the functions that add each group of
// routes to the table. Handlers run on the server's I/O threads, call the TaskService and the UploadStore
// synchronously, and answer with an envelope (envelope.h); none throws on bad input.
#pragma once

#include <atomic>
#include <optional>

#include "api/api.h"
#include "api/metrics.h"
#include "api/router.h"
#include "api/static_files.h"
#include "storage/storage.h"

namespace wasmq::api {

struct ApiContext {
  const ApiConfig& config;
  queue::TaskService& tasks;
  storage::UploadStore& files;
  Metrics& metrics;
  const StaticFiles& web;
  const std::atomic<bool>& draining;  // Stop() has begun: /readyz answers 503
};

void AddTaskRoutes(Router& router, ApiContext& ctx);    // routes_tasks.cc
void AddFileRoutes(Router& router, ApiContext& ctx);    // routes_files.cc
void AddSystemRoutes(Router& router, ApiContext& ctx);  // routes_system.cc: health, metrics, OpenAPI
void AddDashboardRoutes(Router& router, ApiContext& ctx);  // routes_dashboard.cc: pipelines, workers, retry, …
void AddFlowRoutes(Router& router, ApiContext& ctx);  // routes_flows.cc: batches, dead letters
void AddScheduleRoutes(Router& router, ApiContext& ctx);   // routes_schedules.cc: cron schedules

// What a submitted task goes through before it is created (routes_tasks.cc), shared with schedules, whose
// task template is checked the same way when the schedule is created: a JSON body (415 otherwise), file
// references that are the caller's own uploads (422), and the admission policy (403).
std::optional<Response> RequireJson(const Request& req);
std::optional<Response> CheckFileRefs(ApiContext& ctx, const Caller& caller, const queue::TaskCreateRequest& r);
std::optional<Response> AdmitTask(ApiContext& ctx, const queue::Json& request, const Caller& caller);

// Whether the caller may see every user's tasks: always with auth off, else a token with "admin": true.
bool IsAdmin(const ApiConfig& config, const Caller& caller);
// TaskJson plus the task's "attempts" and "timeline" (queue/history.h), as GET /api/v1/tasks/{id} shows it.
queue::Json TaskWithHistoryJson(ApiContext& ctx, const queue::TaskInfo& t);

// The task `id` if the caller may see it (an admin sees every task). Another user's task is NotFound with the very message an absent
// task gets, so that ids cannot be probed.
queue::Result<queue::TaskInfo> GetOwnedTask(ApiContext& ctx, const Caller& caller, std::string_view id);
// What a create request must pass besides its own validity (routes_tasks.cc): every file it names is an
// upload of the caller, and the admission policy admits it. The refusal, or nullopt.
std::optional<Response> CheckTaskRefsAndPolicy(ApiContext& ctx, const Caller& caller, const queue::Json& request,
                                               const queue::TaskCreateRequest& create);
// The same for a batch (routes_flows.cc).
queue::Result<queue::BatchInfo> GetOwnedBatch(ApiContext& ctx, const Caller& caller, std::string_view id);

// A task as the API shows it: the queue's TaskInfo JSON, plus result.output_urls for a done task; the
// server's directories (files_dir, tasks_dir) never appear in its error message or stderr.
queue::Json TaskJson(const ApiConfig& config, const queue::TaskInfo& t);
// `text` with every form of files_dir and tasks_dir (as configured, absolute, canonical) replaced by
// "<files>" and "<tasks>".
std::string WithoutServerPaths(const ApiConfig& config, std::string text);

// The published OpenAPI document (openapi.json, compiled in).
std::string_view OpenApiDocument();

}  // namespace wasmq::api
