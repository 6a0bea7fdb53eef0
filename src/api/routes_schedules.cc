// File: src/api/routes_schedules.cc
//
// /api/v1/schedules…: cron schedules that enqueue a task at each occurrence (src/schedule). Ownership is
// the tasks' rule: a schedule belongs to the user who created it and is invisible to everyone else but
// admins (another user's schedule answers 404 word for word as an absent one). Its task template is
// checked when the schedule is created as a submission would be (file references, admission policy); each
// task it enqueues is its owner's.
#include <memory>

#include "api/envelope.h"
#include "api/handlers.h"
#include "schedule/schedule.h"

namespace wasmq::api {
namespace {

using queue::Json;
using Service = schedule::ScheduleService;

bool SeesAll(const ApiContext& ctx, const Caller& caller) {
  return !ctx.config.auth_required || IsAdmin(ctx.config, caller);
}

// The schedule `id` if the caller may see it.
queue::Result<queue::ScheduleInfo> GetOwned(ApiContext& ctx, Service& svc, const Caller& caller,
                                            std::string_view id) {
  auto s = svc.Get(id);
  if (!s) return s;
  if (!SeesAll(ctx, caller) && s->user_id != caller.user)
    return queue::NotFound("no schedule " + std::string(id.substr(0, 64)));
  return s;
}

Response Create(ApiContext& ctx, Service& svc, const Request& req, const Caller& caller) {
  if (auto bad = RequireJson(req)) return std::move(*bad);
  auto json = queue::ParseJson(req.body);
  if (!json) return Fail(400, code::kMalformedJson, json.error().message);
  auto sreq = schedule::ScheduleRequestFromJson(*json);
  if (!sreq) return FromError(sreq.error());
  auto task = queue::CreateRequestFromJson(sreq->task);
  if (!task) return Fail(422, code::kValidationFailed, "task." + task.error().message);
  if (auto bad = CheckFileRefs(ctx, caller, *task)) return std::move(*bad);
  if (auto denied = AdmitTask(ctx, sreq->task, caller)) return std::move(*denied);
  auto s = svc.Create(*sreq, ctx.config.auth_required ? caller.user : task->user_id);
  if (!s) return FromError(s.error());
  Response r = Ok(svc.ToJson(*s), 201);
  r.Set("Location", "/api/v1/schedules/" + s->schedule_id);
  return r;
}

Response List(ApiContext& ctx, Service& svc, const Caller& caller) {
  auto all = SeesAll(ctx, caller) ? svc.List(nullptr) : svc.List(&caller.user);
  if (!all) return FromError(all.error());
  Json out = Json::array();
  for (const auto& s : *all) out.push_back(svc.ToJson(s));
  return Ok(Json{{"schedules", std::move(out)}});
}

}  // namespace

void AddScheduleRoutes(Router& router, ApiContext& ctx) {
  // Stateless but for the clock; shared by the routes, alive as long as the router's handlers.
  auto svc = std::make_shared<Service>(ctx.tasks, schedule::ServiceOptions{});
  router.Add({"POST", "/api/v1/schedules", [&ctx, svc](const Request& r, const PathParams&, const Caller& c) {
                return Create(ctx, *svc, r, c);
              }});
  router.Add({"GET", "/api/v1/schedules", [&ctx, svc](const Request&, const PathParams&, const Caller& c) {
                return List(ctx, *svc, c);
              }});
  router.Add({"GET", "/api/v1/schedules/{id}", [&ctx, svc](const Request&, const PathParams& p, const Caller& c) {
                auto s = GetOwned(ctx, *svc, c, p.Get("id"));
                return s ? Ok(svc->ToJson(*s)) : FromError(s.error());
              }});
  router.Add({"POST", "/api/v1/schedules/{id}/pause",
              [&ctx, svc](const Request&, const PathParams& p, const Caller& c) {
                auto s = GetOwned(ctx, *svc, c, p.Get("id"));
                if (s) s = svc->Pause(s->schedule_id);
                return s ? Ok(svc->ToJson(*s)) : FromError(s.error());
              }});
  router.Add({"POST", "/api/v1/schedules/{id}/resume",
              [&ctx, svc](const Request&, const PathParams& p, const Caller& c) {
                auto s = GetOwned(ctx, *svc, c, p.Get("id"));
                if (s) s = svc->Resume(s->schedule_id);
                return s ? Ok(svc->ToJson(*s)) : FromError(s.error());
              }});
  router.Add({"DELETE", "/api/v1/schedules/{id}",
              [&ctx, svc](const Request&, const PathParams& p, const Caller& c) {
                auto s = GetOwned(ctx, *svc, c, p.Get("id"));
                if (!s) return FromError(s.error());
                if (auto d = svc->Delete(s->schedule_id); !d) return FromError(d.error());
                return Ok(Json{{"schedule_id", s->schedule_id}, {"deleted", true}});
              }});
}

}  // namespace wasmq::api
