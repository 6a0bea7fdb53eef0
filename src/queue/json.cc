// File: src/queue/json.cc
//
// The validating readers throw a FieldError (internal to this file) from the first bad field; the public
// *FromJson functions catch it and return InvalidArgument. This keeps each reader a flat list of fields.
#include "queue/json.h"

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <set>

#include "json/json.h"

namespace wasmq::queue {
namespace {

struct FieldError {
  std::string message;
};

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

[[noreturn]] void Fail(const std::string& path, const std::string& what) {
  throw FieldError{(path.empty() ? std::string("body") : path) + ": " + what};
}

// What a message quotes of a bad value: never a serialisation of the whole (untrusted) value.
std::string Brief(const Json& v) { return json::Brief(v); }

const Json& RequireObject(const Json& j, const std::string& path) {
  if (!j.is_object()) Fail(path, "must be an object (got " + Brief(j) + ")");
  return j;
}

// The member `key`, or nullptr when it is absent or null.
const Json* Member(const Json& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

void RejectUnknown(const Json& obj, const std::string& path, std::initializer_list<std::string_view> known) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool ok = false;
    for (std::string_view k : known) ok = ok || it.key() == k;
    if (!ok) Fail(Join(path, it.key()), "unknown field");
  }
}

std::string String(const Json& obj, const std::string& path, std::string_view key, bool required,
                   size_t max_len = std::numeric_limits<size_t>::max()) {
  const Json* v = Member(obj, key);
  std::string p = Join(path, key);
  if (!v) {
    if (required) Fail(p, "is required");
    return {};
  }
  if (!v->is_string()) Fail(p, "must be a string (got " + Brief(*v) + ")");
  const std::string& s = v->get_ref<const std::string&>();
  if (s.size() > max_len) Fail(p, "must be at most " + std::to_string(max_len) + " bytes");
  return s;
}

std::optional<int64_t> Int(const Json& obj, const std::string& path, std::string_view key, int64_t lo,
                           int64_t hi, bool required) {
  const Json* v = Member(obj, key);
  std::string p = Join(path, key);
  auto range = "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  if (!v) {
    if (required) Fail(p, "is required");
    return std::nullopt;
  }
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(hi) || (lo > 0 && u < static_cast<uint64_t>(lo)))
      Fail(p, range + " (got " + Brief(*v) + ")");
    return static_cast<int64_t>(u);
  }
  if (!v->is_number_integer()) Fail(p, range + " (got " + Brief(*v) + ")");
  int64_t i = v->get<int64_t>();
  if (i < lo || i > hi) Fail(p, range + " (got " + Brief(*v) + ")");
  return i;
}

bool Bool(const Json& obj, const std::string& path, std::string_view key) {
  const Json* v = Member(obj, key);
  if (!v) return false;
  if (!v->is_boolean()) Fail(Join(path, key), "must be true or false (got " + Brief(*v) + ")");
  return v->get<bool>();
}

int64_t Time(const Json& obj, const std::string& path, std::string_view key, bool required) {
  const Json* v = Member(obj, key);
  std::string p = Join(path, key);
  if (!v) {
    if (required) Fail(p, "is required");
    return 0;
  }
  if (!v->is_string()) Fail(p, "must be an ISO 8601 time string (got " + Brief(*v) + ")");
  auto t = ParseTime(v->get_ref<const std::string&>());
  if (!t) Fail(p, "must be an ISO 8601 time such as 2023-11-17T08:30:00.000Z (got " + Brief(*v) + ")");
  return *t;
}

TaskStatus Status(const Json& obj, const std::string& path) {
  std::string s = String(obj, path, "status", true);
  auto st = ParseStatus(s);
  if (!st)
    Fail(Join(path, "status"),
         "must be one of pending, processing, done, failed, cancelled (got \"" + s + "\")");
  return *st;
}

std::string Mode(const Json& obj, const std::string& path) {
  std::string m = String(obj, path, "mode", true);
  if (!IsValidModeName(m))
    Fail(Join(path, "mode"),
         "must be 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter (got \"" + m + "\")");
  return m;
}

// Ids and file names end up in paths: letters, digits, '_', '-', '.', and not "." or "..".
bool SafeName(const std::string& s) {
  if (s == "." || s == "..") return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Json TimeOrNull(int64_t ms) { return ms ? Json(FormatTime(ms)) : Json(nullptr); }
Json StringOrNull(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

TaskCreateRequest ReadCreateRequest(const Json& j) {
  const std::string path;
  RequireObject(j, path);
  RejectUnknown(j, path,
                {"mode", "source_image", "config", "priority", "max_retries", "timeout_ms", "user_id", "run_at",
                 "delay_ms", "idempotency_key", "depends_on"});
  TaskCreateRequest r;
  r.mode = Mode(j, path);
  r.source_image = String(j, path, "source_image", false, kMaxIdLength);
  if (!SafeName(r.source_image))
    Fail("source_image",
         "must be a file id of letters, digits, '_', '-' and '.' (got \"" + r.source_image + "\")");
  if (const Json* c = Member(j, "config")) {
    if (!c->is_object()) Fail("config", "must be an object (got " + Brief(*c) + ")");
    // Measured and depth-checked without serialising or copying it: both recurse once per level.
    if (json::DeeperThan(*c, json::kMaxDepth - 1))
      Fail("config", "nested deeper than " + std::to_string(json::kMaxDepth) + " levels");
    if (json::DumpedSize(*c, kMaxConfigBytes) > kMaxConfigBytes)
      Fail("config", "must be at most " + std::to_string(kMaxConfigBytes) + " bytes of JSON");
    r.config = *c;
  }
  if (auto v = Int(j, path, "priority", kMinPriority, kMaxPriority, false)) r.priority = static_cast<int>(*v);
  if (auto v = Int(j, path, "max_retries", 0, kMaxRetriesLimit, false)) r.max_retries = static_cast<int>(*v);
  if (auto v = Int(j, path, "timeout_ms", 1, kMaxTimeoutMs, false)) r.timeout_ms = *v;
  r.run_at = Time(j, path, "run_at", false);
  if (auto v = Int(j, path, "delay_ms", 0, kMaxDelayMs, false)) r.delay_ms = *v;
  if (r.run_at && r.delay_ms) Fail("delay_ms", "give either run_at or delay_ms, not both");
  r.user_id = String(j, path, "user_id", false, kMaxIdLength);
  if (!SafeName(r.user_id))
    Fail("user_id", "must be letters, digits, '_', '-' and '.' (got \"" + r.user_id + "\")");
  r.idempotency_key = String(j, path, "idempotency_key", false, kMaxIdempotencyKey);
  for (char c : r.idempotency_key)
    if (c < 0x21 || c > 0x7e) Fail("idempotency_key", "must be printable ASCII without spaces");
  if (const Json* d = Member(j, "depends_on")) {
    if (!d->is_array()) Fail("depends_on", "must be an array of task ids");
    if (d->size() > kMaxDependencies)
      Fail("depends_on", "must list at most " + std::to_string(kMaxDependencies) + " task ids");
    for (size_t i = 0; i < d->size(); ++i) {
      const Json& id = (*d)[i];
      const std::string at = "depends_on[" + std::to_string(i) + "]";
      if (!id.is_string() || id.get_ref<const std::string&>().empty() ||
          id.get_ref<const std::string&>().size() > kMaxIdLength || !SafeName(id.get_ref<const std::string&>()))
        Fail(at, "must be a task id");
      if (std::find(r.depends_on.begin(), r.depends_on.end(), id.get<std::string>()) != r.depends_on.end())
        Fail(at, "is listed twice");
      r.depends_on.push_back(id.get<std::string>());
    }
  }
  return r;
}

TaskResult ReadResult(const Json& j, const std::string& path) {
  RequireObject(j, path);
  TaskResult r;
  if (const Json* files = Member(j, "output_files")) {
    if (!files->is_array()) Fail(Join(path, "output_files"), "must be an array of strings");
    for (size_t i = 0; i < files->size(); ++i) {
      const Json& f = (*files)[i];
      if (!f.is_string())
        Fail(Join(path, "output_files") + "[" + std::to_string(i) + "]", "must be a string");
      r.output_files.push_back(f.get<std::string>());
    }
  }
  if (auto it = j.find("output"); it != j.end()) r.output = *it;
  r.duration_ms = Int(j, path, "duration_ms", 0, std::numeric_limits<int64_t>::max(), false).value_or(0);
  if (const Json* dir = Member(j, "output_dir")) {
    // It becomes a path under the task's directory: only the names the worker makes.
    const std::string d = dir->is_string() ? dir->get<std::string>() : "";
    const bool digits = d.size() > 4 && d.size() <= 24 &&
                        std::all_of(d.begin() + 4, d.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!(d == "out" || (d.starts_with("out-") && digits)))
      Fail(Join(path, "output_dir"), "must be \"out\" or \"out-<digits>\"");
    r.output_dir = d;
  }
  return r;
}

TaskError ReadError(const Json& j, const std::string& path) {
  RequireObject(j, path);
  TaskError e;
  e.code = String(j, path, "code", true);
  e.message = String(j, path, "message", false);
  e.attempt = static_cast<int>(Int(j, path, "attempt", 0, 1'000'000, false).value_or(0));
  e.retryable = Bool(j, path, "retryable");
  e.stderr_tail = String(j, path, "stderr", false);
  e.at = Time(j, path, "at", false);
  return e;
}

TaskInfo ReadInfo(const Json& j, const std::string& path) {
  RequireObject(j, path);
  TaskInfo t;
  t.task_id = String(j, path, "task_id", true);
  t.user_id = String(j, path, "user_id", false);
  t.mode = Mode(j, path);
  t.status = Status(j, path);
  t.priority = static_cast<int>(Int(j, path, "priority", kMinPriority, kMaxPriority, false).value_or(0));
  t.source_image = String(j, path, "source_image", false);
  if (const Json* c = Member(j, "config")) {
    if (!c->is_object()) Fail(Join(path, "config"), "must be an object");
    t.config = *c;
  }
  t.progress = static_cast<int>(Int(j, path, "progress", 0, 100, false).value_or(0));
  t.current_step = String(j, path, "current_step", false);
  t.attempt = static_cast<int>(Int(j, path, "attempt", 0, 1'000'000, false).value_or(0));
  t.max_retries = static_cast<int>(Int(j, path, "max_retries", 0, kMaxRetriesLimit, false).value_or(0));
  t.timeout_ms = Int(j, path, "timeout_ms", 0, kMaxTimeoutMs, false).value_or(0);
  t.created_at = Time(j, path, "created_at", true);
  t.started_at = Time(j, path, "started_at", false);
  t.updated_at = Time(j, path, "updated_at", false);
  t.finished_at = Time(j, path, "finished_at", false);
  t.run_at = Time(j, path, "run_at", false);
  if (const Json* r = Member(j, "result")) t.result = ReadResult(*r, Join(path, "result"));
  if (const Json* e = Member(j, "error")) t.error = ReadError(*e, Join(path, "error"));
  auto ids = [&](const char* name, std::vector<std::string>* out) {
    if (const Json* a = Member(j, name); a && a->is_array())
      for (const Json& id : *a)
        if (id.is_string()) out->push_back(id.get<std::string>());
  };
  ids("depends_on", &t.depends_on);
  ids("waiting_on", &t.waiting_on);
  t.batch_id = String(j, path, "batch_id", false);
  return t;
}

TaskSummary ReadSummary(const Json& j, const std::string& path) {
  RequireObject(j, path);
  TaskSummary s;
  s.task_id = String(j, path, "task_id", true);
  s.mode = Mode(j, path);
  s.status = Status(j, path);
  s.priority = static_cast<int>(Int(j, path, "priority", kMinPriority, kMaxPriority, false).value_or(0));
  s.progress = static_cast<int>(Int(j, path, "progress", 0, 100, false).value_or(0));
  s.current_step = String(j, path, "current_step", false);
  s.created_at = Time(j, path, "created_at", true);
  s.updated_at = Time(j, path, "updated_at", false);
  s.finished_at = Time(j, path, "finished_at", false);
  s.run_at = Time(j, path, "run_at", false);
  return s;
}

template <typename T, typename F>
Result<T> Catch(F&& f) {
  try {
    return f();
  } catch (const FieldError& e) {
    return InvalidArgument(e.message);
  } catch (const nlohmann::json::exception& e) {  // a bug in a reader above, reported rather than thrown
    return InvalidArgument(std::string("body: ") + e.what());
  }
}

}  // namespace

Json ToJson(const TaskCreateRequest& r) {
  Json j = {{"mode", r.mode}, {"config", r.config}, {"priority", r.priority}};
  if (!r.source_image.empty()) j["source_image"] = r.source_image;
  if (r.max_retries) j["max_retries"] = *r.max_retries;
  if (r.timeout_ms) j["timeout_ms"] = *r.timeout_ms;
  if (r.run_at) j["run_at"] = FormatTime(r.run_at);
  if (r.delay_ms) j["delay_ms"] = *r.delay_ms;
  if (!r.user_id.empty()) j["user_id"] = r.user_id;
  if (!r.idempotency_key.empty()) j["idempotency_key"] = r.idempotency_key;
  if (!r.depends_on.empty()) j["depends_on"] = r.depends_on;
  return j;
}

Json ToJson(const TaskResult& r) {
  Json j = {{"output_files", r.output_files}, {"output", r.output}, {"duration_ms", r.duration_ms}};
  if (!r.output_dir.empty()) j["output_dir"] = r.output_dir;
  return j;
}

Json ToJson(const TaskError& e) {
  return {{"code", e.code},
          {"message", e.message},
          {"attempt", e.attempt},
          {"retryable", e.retryable},
          {"stderr", StringOrNull(e.stderr_tail)},
          {"at", TimeOrNull(e.at)}};
}

Json ToJson(const TaskInfo& t) {
  // Built member by member (moved in) rather than from an initializer list, which copies every value
  // twice: a worker serialises every task it runs (the module's stdin). Same document: keys are sorted.
  Json j = Json::object();
  auto& o = *j.get_ptr<Json::object_t*>();
  o.emplace("task_id", t.task_id);
  o.emplace("user_id", StringOrNull(t.user_id));
  o.emplace("mode", t.mode);
  o.emplace("status", ToString(t.status));
  o.emplace("priority", t.priority);
  o.emplace("source_image", StringOrNull(t.source_image));
  o.emplace("config", t.config);
  o.emplace("progress", t.progress);
  o.emplace("current_step", t.current_step);
  o.emplace("attempt", t.attempt);
  o.emplace("max_retries", t.max_retries);
  o.emplace("timeout_ms", t.timeout_ms);
  o.emplace("created_at", TimeOrNull(t.created_at));
  o.emplace("started_at", TimeOrNull(t.started_at));
  o.emplace("updated_at", TimeOrNull(t.updated_at));
  o.emplace("finished_at", TimeOrNull(t.finished_at));
  o.emplace("run_at", TimeOrNull(t.run_at));
  o.emplace("result", t.result ? ToJson(*t.result) : Json(nullptr));
  o.emplace("error", t.error ? ToJson(*t.error) : Json(nullptr));
  // Only on the tasks that have them: every other task's JSON stays as it was.
  if (!t.depends_on.empty()) {
    o.emplace("depends_on", t.depends_on);
    o.emplace("waiting_on", t.waiting_on);
  }
  if (!t.batch_id.empty()) o.emplace("batch_id", t.batch_id);
  return j;
}

Json ToJson(const TaskSummary& s) {
  return {{"task_id", s.task_id},
          {"mode", s.mode},
          {"status", ToString(s.status)},
          {"priority", s.priority},
          {"progress", s.progress},
          {"current_step", s.current_step},
          {"created_at", TimeOrNull(s.created_at)},
          {"updated_at", TimeOrNull(s.updated_at)},
          {"finished_at", TimeOrNull(s.finished_at)},
          {"run_at", TimeOrNull(s.run_at)}};
}

Json ToJson(const TaskListResponse& l) {
  Json tasks = Json::array();
  for (const TaskSummary& s : l.tasks) tasks.push_back(ToJson(s));
  return {{"tasks", std::move(tasks)},
          {"total", l.total},
          {"page", l.page},
          {"page_size", l.page_size},
          {"has_more", l.has_more}};
}

Json ToJson(const QueueStats& s) {
  Json counts = Json::object();
  for (TaskStatus st : kAllStatuses) {
    auto it = s.counts.find(st);
    counts[std::string(ToString(st))] = it == s.counts.end() ? 0 : it->second;
  }
  Json modes = Json::object();
  for (const auto& [mode, m] : s.modes)
    modes[mode] = {{"done", m.done}, {"failed", m.failed}, {"mean_ms", m.mean_ms}, {"p95_ms", m.p95_ms}};
  return {{"counts", std::move(counts)},
          {"queue_length", s.queue_length},
          {"delayed", s.delayed},
          {"processing", s.processing},
          {"modes", std::move(modes)}};
}

Json ToJson(const TaskEvent& e) {
  return {{"type", ToString(e.kind)},     {"task_id", e.task_id},   {"mode", e.mode},
          {"status", ToString(e.status)}, {"progress", e.progress}, {"current_step", e.current_step},
          {"attempt", e.attempt},         {"at", TimeOrNull(e.at)}};
}

Result<Json> ParseJson(std::string_view text) {
  std::string error;
  Json j = json::Parse(text, &error);
  if (j.is_discarded()) return InvalidArgument(error);
  return j;
}

Result<TaskCreateRequest> CreateRequestFromJson(const Json& j) {
  return Catch<TaskCreateRequest>([&] { return ReadCreateRequest(j); });
}

Result<TaskCreateRequest> ParseCreateRequest(std::string_view text) {
  auto j = ParseJson(text);
  if (!j) return j.error();
  return CreateRequestFromJson(*j);
}

Result<TaskResult> TaskResultFromJson(const Json& j) {
  return Catch<TaskResult>([&] { return ReadResult(j, ""); });
}
Result<TaskError> TaskErrorFromJson(const Json& j) {
  return Catch<TaskError>([&] { return ReadError(j, ""); });
}
Result<TaskInfo> TaskInfoFromJson(const Json& j) {
  return Catch<TaskInfo>([&] { return ReadInfo(j, ""); });
}
Result<TaskSummary> TaskSummaryFromJson(const Json& j) {
  return Catch<TaskSummary>([&] { return ReadSummary(j, ""); });
}

Result<TaskListResponse> TaskListResponseFromJson(const Json& j) {
  return Catch<TaskListResponse>([&] {
    RequireObject(j, "");
    TaskListResponse l;
    const Json* tasks = Member(j, "tasks");
    if (!tasks || !tasks->is_array()) Fail("tasks", "must be an array");
    for (size_t i = 0; i < tasks->size(); ++i)
      l.tasks.push_back(ReadSummary((*tasks)[i], "tasks[" + std::to_string(i) + "]"));
    l.total = Int(j, "", "total", 0, std::numeric_limits<int64_t>::max(), true).value_or(0);
    l.page = static_cast<int>(Int(j, "", "page", 1, std::numeric_limits<int>::max(), true).value_or(1));
    l.page_size = static_cast<int>(Int(j, "", "page_size", 1, kMaxPageSize, true).value_or(20));
    l.has_more = Bool(j, "", "has_more");
    return l;
  });
}

}  // namespace wasmq::queue
