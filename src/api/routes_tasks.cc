// File: src/api/routes_tasks.cc
//
// /api/v1/tasks…: submit, list, get, cancel, stats, and a done task's output files. Every task belongs to
// the user who submitted it (the token's `sub`; the anonymous user with auth off) and is invisible to
// everyone else but admins (IsAdmin): list filters by owner, and get / cancel / outputs answer 404 for
// another's task.
#include <algorithm>
#include <charconv>
#include <filesystem>

#include "api/content_type.h"
#include "api/envelope.h"
#include "api/handlers.h"
#include "api/multipart.h"
#include "api/query.h"
#include "storage/storage.h"
#include "trace/trace.h"

namespace wasmq::api {
namespace {

using queue::Json;

bool AuthOn(const ApiContext& ctx) { return ctx.config.auth_required; }

std::optional<int> ParseInt(std::string_view s, int lo, int hi) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return std::nullopt;
  return v;
}

}  // namespace

// Refuses a body that does not say it is JSON: a browser form cannot then post a task cross-site without a
// CORS preflight, and a client sending the wrong thing learns it at once.
std::optional<Response> RequireJson(const Request& req) {
  auto mt = ParseMediaType(req.Header("content-type"));
  if (!mt || (mt->type != "application/json" && !mt->type.ends_with("+json")))
    return Fail(415, code::kUnsupportedMediaType, "the body must be JSON (Content-Type: application/json)");
  return std::nullopt;
}

// A file the task refers to must be an upload of the caller: otherwise one user could have a pipeline read
// another's upload. Checked for source_image, for every config member named "*_image" (the worker stages
// those into /in: each must be exactly an upload id, not a name near one such as "img_….json", its
// metadata) and for any other config string shaped like a file id. An unknown id and another user's id get
// the same answer, word for word, so that ids cannot be probed.
std::optional<Response> CheckFileRefs(ApiContext& ctx, const Caller& caller, const queue::TaskCreateRequest& r) {
  auto check = [&](const std::string& field, const Json& value) -> std::optional<Response> {
    auto refuse = [&] {
      return Fail(422, code::kValidationFailed, field + ": must be the id of an image you uploaded");
    };
    if (!value.is_string() || !storage::IsFileIdShape(value.get_ref<const std::string&>())) return refuse();
    auto f = ctx.files.Stat(value.get_ref<const std::string&>());
    if (!f && f.error().code != queue::Code::NotFound) return FromError(f.error());
    if (!f || (AuthOn(ctx) && f->owner != caller.user)) return refuse();
    return std::nullopt;
  };
  if (!r.source_image.empty())
    if (auto bad = check("source_image", Json(r.source_image))) return bad;
  for (auto it = r.config.begin(); it != r.config.end(); ++it) {
    bool image = it.key().ends_with("_image");
    if (image || (it->is_string() && storage::IsFileIdShape(it->get_ref<const std::string&>())))
      if (auto bad = check("config." + it.key(), *it)) return bad;
  }
  return std::nullopt;
}

// The admission policy's say on a well-formed task (ApiConfig::admit_task): a 403 in the error envelope
// with the policy's message when it denies.
std::optional<Response> AdmitTask(ApiContext& ctx, const queue::Json& request, const Caller& caller) {
  if (!ctx.config.admit_task) return std::nullopt;
  auto stats = ctx.tasks.Stats();
  if (!stats) return FromError(stats.error());
  queue::Json input = {{"request", request},
                       {"user", caller.claims ? *caller.claims : queue::Json{{"sub", caller.user}}},
                       {"queue", queue::ToJson(*stats)}};
  if (auto denied = ctx.config.admit_task(input)) return Fail(403, code::kForbidden, *denied);
  return std::nullopt;
}

namespace {

Response Submit(ApiContext& ctx, const Request& req, const Caller& caller) {
  if (auto bad = RequireJson(req)) return std::move(*bad);
  auto json = queue::ParseJson(req.body);
  if (!json) return Fail(400, code::kMalformedJson, json.error().message);
  auto create = queue::CreateRequestFromJson(*json);
  if (!create) return FromError(create.error());
  // The Idempotency-Key header (IETF draft) and the body's idempotency_key are the same thing.
  if (std::string_view key = req.Header("idempotency-key"); !key.empty()) {
    if (!create->idempotency_key.empty() && create->idempotency_key != key)
      return Fail(422, code::kValidationFailed, "idempotency_key: differs from the Idempotency-Key header");
    bool printable = key.size() <= queue::kMaxIdempotencyKey;
    for (char c : key) printable = printable && c > 0x20 && c < 0x7f;
    if (!printable)
      return Fail(422, code::kValidationFailed, "Idempotency-Key: must be 1 to 255 printable ASCII characters");
    create->idempotency_key = std::string(key);
  }
  if (AuthOn(ctx)) {
    if (!create->user_id.empty() && create->user_id != caller.user)
      return Fail(422, code::kValidationFailed, "user_id: is the token's subject; it cannot name another user");
    create->user_id = caller.user;
  }
  if (auto bad = CheckFileRefs(ctx, caller, *create)) return std::move(*bad);
  if (auto denied = AdmitTask(ctx, *json, caller)) return std::move(*denied);
  // The worker's spans for this task continue the request's trace (App::Handle made its span current).
  if (auto here = trace::CurrentContext()) create->trace_context = trace::Serialize(*here);
  auto submitted = ctx.tasks.Submit(*create);
  if (!submitted) return FromError(submitted.error());
  // 200 and the same task when the key had already created it; 201 for a new one.
  Response r = Ok(TaskJson(ctx.config, submitted->task), submitted->existing ? 200 : 201);
  r.Set("Location", "/api/v1/tasks/" + submitted->task.task_id);
  if (submitted->existing) r.Set("Idempotent-Replayed", "true");
  return r;
}

Response List(ApiContext& ctx, const Request& req, const Caller& caller) {
  auto params = ParseQuery(req.query);
  if (!params) return Fail(400, code::kBadRequest, params.error().message);
  queue::ListQuery q;
  const bool admin = IsAdmin(ctx.config, caller);
  q.user_id = AuthOn(ctx) && !admin ? caller.user : "";
  for (const auto& [name, value] : *params) {
    if (name == "page") {
      auto v = ParseInt(value, 1, 1'000'000);
      if (!v) return Fail(422, code::kValidationFailed, "page: must be an integer from 1 to 1000000");
      q.page = *v;
    } else if (name == "page_size") {
      auto v = ParseInt(value, 1, queue::kMaxPageSize);
      if (!v)
        return Fail(422, code::kValidationFailed,
                    "page_size: must be an integer from 1 to " + std::to_string(queue::kMaxPageSize));
      q.page_size = *v;
    } else if (name == "status") {
      auto s = queue::ParseStatus(value);
      if (!s)
        return Fail(422, code::kValidationFailed,
                    "status: must be one of pending, processing, done, failed, cancelled");
      q.status = *s;
    } else if (name == "mode") {
      q.mode = value;
    } else if (name == "user" && admin) {  // an admin's filter; everyone else sees only their own anyway
      q.user_id = value;
    } else {
      return Fail(422, code::kValidationFailed,
                  "unknown query parameter '" + name.substr(0, 64) + "' (page, page_size, status, mode" +
                      (admin ? ", user)" : ")"));
    }
  }
  auto page = ctx.tasks.List(q);
  if (!page) return FromError(page.error());
  return Ok(queue::ToJson(*page));
}

Response Get(ApiContext& ctx, const PathParams& p, const Caller& caller) {
  auto t = GetOwnedTask(ctx, caller, p.Get("id"));
  if (!t) return FromError(t.error());
  return Ok(TaskWithHistoryJson(ctx, *t));
}

Response Cancel(ApiContext& ctx, const PathParams& p, const Caller& caller) {
  auto t = GetOwnedTask(ctx, caller, p.Get("id"));
  if (!t) return FromError(t.error());
  auto c = ctx.tasks.Cancel(t->task_id);
  if (!c) return FromError(c.error());
  return Ok(TaskJson(ctx.config, *c));
}

// With auth on, a user's own tasks only: the whole queue's counts would tell one customer about another's
// work. With auth off there is one user, and the figures are the queue's.
Response Stats(ApiContext& ctx, const Caller& caller) {
  auto s = AuthOn(ctx) && !IsAdmin(ctx.config, caller) ? ctx.tasks.UserStats(caller.user) : ctx.tasks.Stats();
  if (!s) return FromError(s.error());
  return Ok(queue::ToJson(*s));
}

// A done task's output file: only a name the task's result lists, read from the directory the result
// names (TASKS_DIR/<id>/out-<lease token>: the accepted attempt's, complete before the result was recorded;
// "out" for older results), and only if it is a regular file there, reached without following a symlink (a
// module may have planted one).
Response Output(ApiContext& ctx, const Request& req, const PathParams& p, const Caller& caller) {
  auto t = GetOwnedTask(ctx, caller, p.Get("id"));
  if (!t) return FromError(t.error());
  const std::string& name = p.Get("path");
  if (!t->result || std::find(t->result->output_files.begin(), t->result->output_files.end(), name) ==
                        t->result->output_files.end())
    return Fail(404, code::kNotFound, "task " + t->task_id + " has no output " + name.substr(0, 256));
  Response r;
  std::string type(ContentTypeForName(name));
  if (ctx.config.bucket) {
    // Object storage: the worker published the attempt's files before its result was recorded.
    const std::string key = storage::TaskOutputKey(t->task_id, t->result->output_dir, name);
    if (ctx.config.redirect_downloads) {
      r.status = 302;
      r.Set("Location", ctx.config.bucket->PresignGet(key, ctx.config.presign_ttl, type, ContentDisposition(type, name)));
      r.Set("Cache-Control", "private, no-store");  // the URL expires; the redirect must not outlive it
      return r;
    }
    auto object = ctx.config.bucket->Get(key);
    if (!object && object.error().code == queue::Code::NotFound)
      return Fail(404, code::kNotFound, "output " + name.substr(0, 256) + " is no longer stored");
    if (!object) return FromError(object.error());
    r.file = std::move(object->fd);
    r.file_size = object->size;
  } else {
    r.file = storage::OpenTaskOutput(ctx.config.tasks_dir, t->task_id, t->result->output_dir, name, &r.file_size);
    if (!r.file) return Fail(404, code::kNotFound, "output " + name.substr(0, 256) + " is no longer stored");
  }
  r.Set("Content-Disposition", ContentDisposition(type, name));
  r.Set("Content-Type", std::move(type));
  r.Set("Content-Security-Policy", "sandbox");
  r.Set("Cache-Control", "private, max-age=3600");
  return r;
}

}  // namespace

std::optional<Response> CheckTaskRefsAndPolicy(ApiContext& ctx, const Caller& caller, const Json& request,
                                               const queue::TaskCreateRequest& create) {
  if (auto bad = CheckFileRefs(ctx, caller, create)) return bad;
  return AdmitTask(ctx, request, caller);
}

queue::Result<queue::TaskInfo> GetOwnedTask(ApiContext& ctx, const Caller& caller, std::string_view id) {
  auto t = ctx.tasks.Get(id);
  if (!t && t.error().code == queue::Code::InvalidArgument) return queue::NotFound("no task " + std::string(id.substr(0, 128)));
  if (t && ctx.config.auth_required && t->user_id != caller.user && !IsAdmin(ctx.config, caller)) return queue::NotFound("no task " + std::string(id));
  return t;
}

std::string WithoutServerPaths(const ApiConfig& config, std::string text) {
  // Longest first, so that a directory's absolute form is replaced before a relative tail of it could be.
  std::vector<std::pair<std::string, std::string>> paths;
  for (const auto& [dir, name] :
       {std::pair{config.files_dir, "<files>"}, std::pair{config.tasks_dir, "<tasks>"}}) {
    if (dir.empty()) continue;
    std::error_code ec;
    for (const std::filesystem::path& p : {std::filesystem::weakly_canonical(dir, ec),
                                           std::filesystem::absolute(dir, ec), std::filesystem::path(dir)})
      if (p.string().find('/') != std::string::npos) paths.emplace_back(p.lexically_normal().string(), name);
  }
  std::sort(paths.begin(), paths.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (const auto& [path, name] : paths) {
    std::string bare = path;
    while (bare.size() > 1 && bare.ends_with('/')) bare.pop_back();
    for (size_t at = text.find(bare); at != std::string::npos; at = text.find(bare, at + name.size()))
      text.replace(at, bare.size(), name);
  }
  return text;
}

Json TaskJson(const ApiConfig& config, const queue::TaskInfo& t) {
  Json j = queue::ToJson(t);
  // A task's error message is written by the worker (or the module), and may name where the server keeps
  // its files: the API does not pass that on.
  if (t.error && j["error"].is_object()) {
    j["error"]["message"] = WithoutServerPaths(config, t.error->message);
    if (j["error"]["stderr"].is_string())
      j["error"]["stderr"] = WithoutServerPaths(config, t.error->stderr_tail);
  }
  if (t.result && j["result"].is_object()) {
    Json urls = Json::array();
    for (const std::string& f : t.result->output_files) urls.push_back("/api/v1/tasks/" + t.task_id + "/outputs/" + f);
    j["result"]["output_urls"] = std::move(urls);
  }
  return j;
}

void AddTaskRoutes(Router& router, ApiContext& ctx) {
  router.Add({"POST", "/api/v1/tasks", [&ctx](const Request& r, const PathParams&, const Caller& c) { return Submit(ctx, r, c); }});
  router.Add({"GET", "/api/v1/tasks", [&ctx](const Request& r, const PathParams&, const Caller& c) { return List(ctx, r, c); }});
  router.Add({"GET", "/api/v1/tasks/stats",
              [&ctx](const Request&, const PathParams&, const Caller& c) { return Stats(ctx, c); }});
  router.Add({"GET", "/api/v1/tasks/{id}", [&ctx](const Request&, const PathParams& p, const Caller& c) { return Get(ctx, p, c); }});
  router.Add({"POST", "/api/v1/tasks/{id}/cancel",
              [&ctx](const Request&, const PathParams& p, const Caller& c) { return Cancel(ctx, p, c); }});
  router.Add({"GET", "/api/v1/tasks/{id}/outputs/{path...}",
              [&ctx](const Request& r, const PathParams& p, const Caller& c) { return Output(ctx, r, p, c); }});
}

}  // namespace wasmq::api
