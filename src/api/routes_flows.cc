// File: src/api/routes_flows.cc
//
// Batches and dead letters (docs/api.md "Batches", "Dead letters"). Ownership as for tasks: with auth on a
// caller sees only their own batches and failed tasks, an admin everything; another user's batch answers
// 404 with the words an unknown one gets. (Idempotency keys and depends_on are fields of the task create,
// routes_tasks.cc; the store does the rest.)
#include <charconv>

#include "api/envelope.h"
#include "api/handlers.h"
#include "api/query.h"

namespace wasmq::api {
namespace {

using queue::Json;

std::optional<int> ParseInt(std::string_view s, int lo, int hi) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return std::nullopt;
  return v;
}

bool RequiresJson(const Request& req) {
  std::string_view ct = req.Header("content-type");
  return ct.starts_with("application/json") || ct.find("+json") != std::string_view::npos;
}

Response CreateBatch(ApiContext& ctx, const Request& req, const Caller& caller) {
  if (!RequiresJson(req))
    return Fail(415, code::kUnsupportedMediaType, "the body must be JSON (Content-Type: application/json)");
  auto json = queue::ParseJson(req.body);
  if (!json) return Fail(400, code::kMalformedJson, json.error().message);
  if (!json->is_object() || !json->contains("tasks") || !(*json)["tasks"].is_array())
    return Fail(422, code::kValidationFailed, "tasks: must be an array of task create requests");
  for (auto it = json->begin(); it != json->end(); ++it)
    if (it.key() != "tasks") return Fail(422, code::kValidationFailed, "unknown field '" + it.key().substr(0, 64) + "' (tasks)");
  const Json& items = (*json)["tasks"];
  if (items.empty() || items.size() > queue::kMaxBatchSize)
    return Fail(422, code::kValidationFailed,
                "tasks: must hold 1 to " + std::to_string(queue::kMaxBatchSize) + " create requests");
  const std::string user = ctx.config.auth_required ? caller.user : "";
  std::vector<queue::TaskCreateRequest> reqs;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string at = "tasks[" + std::to_string(i) + "].";
    auto create = queue::CreateRequestFromJson(items[i]);
    if (!create) return Fail(422, code::kValidationFailed, at + create.error().message);
    if (ctx.config.auth_required && !create->user_id.empty() && create->user_id != caller.user)
      return Fail(422, code::kValidationFailed, at + "user_id: is the token's subject; it cannot name another user");
    create->user_id = user;
    if (auto bad = CheckTaskRefsAndPolicy(ctx, caller, items[i], *create)) return std::move(*bad);
    reqs.push_back(std::move(*create));
  }
  auto batch = ctx.tasks.CreateBatch(reqs, user);
  if (!batch) return FromError(batch.error());
  Response r = Ok(queue::ToJson(*batch), 201);
  r.Set("Location", "/api/v1/batches/" + batch->batch_id);
  return r;
}

Response GetBatch(ApiContext& ctx, const PathParams& p, const Caller& caller) {
  auto b = GetOwnedBatch(ctx, caller, p.Get("id"));
  if (!b) return FromError(b.error());
  return Ok(queue::ToJson(*b));
}

// The filter of both dead-letter routes, from query parameters or a JSON body's members.
std::optional<Response> ReadFilter(ApiContext& ctx, const Caller& caller,
                                   const std::vector<std::pair<std::string, std::string>>& params,
                                   queue::DeadLetterQuery* q, bool paged) {
  const bool admin = IsAdmin(ctx.config, caller);
  q->user_id = ctx.config.auth_required && !admin ? caller.user : "";
  for (const auto& [name, value] : params) {
    if (name == "mode") {
      q->mode = value;
    } else if (name == "error_code") {
      q->error_code = value;
    } else if (name == "user" && admin) {
      q->user_id = value;
    } else if (paged && name == "page") {
      auto v = ParseInt(value, 1, 1'000'000);
      if (!v) return Fail(422, code::kValidationFailed, "page: must be an integer from 1 to 1000000");
      q->page = *v;
    } else if (paged && name == "page_size") {
      auto v = ParseInt(value, 1, queue::kMaxPageSize);
      if (!v)
        return Fail(422, code::kValidationFailed,
                    "page_size: must be an integer from 1 to " + std::to_string(queue::kMaxPageSize));
      q->page_size = *v;
    } else {
      return Fail(422, code::kValidationFailed,
                  "unknown parameter '" + name.substr(0, 64) + "' (" + (paged ? "page, page_size, " : "") +
                      "mode, error_code" + (admin ? ", user)" : ")"));
    }
  }
  return std::nullopt;
}

Response DeadLetters(ApiContext& ctx, const Request& req, const Caller& caller) {
  auto params = ParseQuery(req.query);
  if (!params) return Fail(400, code::kBadRequest, params.error().message);
  queue::DeadLetterQuery q;
  if (auto bad = ReadFilter(ctx, caller, *params, &q, true)) return std::move(*bad);
  auto page = ctx.tasks.DeadLetters(q);
  if (!page) return FromError(page.error());
  Json tasks = Json::array();
  for (const queue::TaskInfo& t : page->tasks) tasks.push_back(TaskWithHistoryJson(ctx, t));
  return Ok({{"tasks", std::move(tasks)},
             {"total", page->total},
             {"page", page->page},
             {"page_size", page->page_size},
             {"has_more", page->has_more}});
}

// {"task_ids": [...]} retries those (each refused with NOT_FAILED unless failed); else the filter
// {"mode", "error_code", "limit"} retries every matching dead letter (at most limit, default 1000).
Response RetryDeadLetters(ApiContext& ctx, const Request& req, const Caller& caller) {
  Json body = Json::object();
  if (!req.body.empty()) {
    if (!RequiresJson(req))
      return Fail(415, code::kUnsupportedMediaType, "the body must be JSON (Content-Type: application/json)");
    auto json = queue::ParseJson(req.body);
    if (!json) return Fail(400, code::kMalformedJson, json.error().message);
    if (!json->is_object()) return Fail(422, code::kValidationFailed, "the body must be an object");
    body = std::move(*json);
  }
  Json retried = Json::array(), refused = Json::array();
  auto refuse = [&](const std::string& id, std::string_view code, const std::string& message) {
    refused.push_back({{"task_id", id}, {"code", code}, {"message", message}});
  };
  if (body.contains("task_ids")) {
    const Json& ids = body["task_ids"];
    if (!ids.is_array() || ids.size() > 1000 || body.size() != 1)
      return Fail(422, code::kValidationFailed, "task_ids: must be an array of at most 1000 task ids, alone");
    for (const Json& id : ids) {
      if (!id.is_string()) return Fail(422, code::kValidationFailed, "task_ids: must hold strings");
      auto t = GetOwnedTask(ctx, caller, id.get<std::string>());
      if (!t) {
        refuse(id.get<std::string>(), code::kNotFound, t.error().message);
        continue;
      }
      auto r = ctx.tasks.store().Requeue(t->task_id);
      if (r) retried.push_back(t->task_id);
      else refuse(t->task_id, r.error().code == queue::Code::Conflict ? "NOT_FAILED" : "ERROR", r.error().message);
    }
    return Ok({{"retried", std::move(retried)}, {"refused", std::move(refused)}});
  }
  std::vector<std::pair<std::string, std::string>> params;
  int limit = 1000;
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() == "limit") {
      if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 10'000)
        return Fail(422, code::kValidationFailed, "limit: must be an integer from 1 to 10000");
      limit = it->get<int>();
      continue;
    }
    if (!it->is_string()) return Fail(422, code::kValidationFailed, it.key().substr(0, 64) + ": must be a string");
    params.emplace_back(it.key(), it->get<std::string>());
  }
  queue::DeadLetterQuery q;
  if (auto bad = ReadFilter(ctx, caller, params, &q, false)) return std::move(*bad);
  auto report = ctx.tasks.RetryDeadLetters(q, limit);
  if (!report) return FromError(report.error());
  for (const std::string& id : report->retried) retried.push_back(id);
  for (const auto& [id, e] : report->refused)
    refuse(id, e.code == queue::Code::Conflict ? "NOT_FAILED" : "ERROR", e.message);
  return Ok({{"retried", std::move(retried)}, {"refused", std::move(refused)}});
}

}  // namespace

queue::Result<queue::BatchInfo> GetOwnedBatch(ApiContext& ctx, const Caller& caller, std::string_view id) {
  if (id.size() > 128) return queue::NotFound("no batch " + std::string(id.substr(0, 128)));
  auto b = ctx.tasks.GetBatch(id);
  if (b && ctx.config.auth_required && b->user_id != caller.user && !IsAdmin(ctx.config, caller))
    return queue::NotFound("no batch " + std::string(id));
  return b;
}

void AddFlowRoutes(Router& router, ApiContext& ctx) {
  router.Add({"POST", "/api/v1/batches",
              [&ctx](const Request& r, const PathParams&, const Caller& c) { return CreateBatch(ctx, r, c); }});
  router.Add({"GET", "/api/v1/batches/{id}",
              [&ctx](const Request&, const PathParams& p, const Caller& c) { return GetBatch(ctx, p, c); }});
  router.Add({"GET", "/api/v1/dead-letters",
              [&ctx](const Request& r, const PathParams&, const Caller& c) { return DeadLetters(ctx, r, c); }});
  router.Add({"POST", "/api/v1/dead-letters/retry",
              [&ctx](const Request& r, const PathParams&, const Caller& c) { return RetryDeadLetters(ctx, r, c); }});
}

}  // namespace wasmq::api
