// File: src/queue/history.cc
#include "queue/history.h"

#include <charconv>

#include "queue/json.h"

namespace wasmq::queue {
namespace {

Json TimeOrNull(int64_t ms) { return ms ? Json(FormatTime(ms)) : Json(nullptr); }

// The stored TaskError JSON of a retry_scheduled or failed event; null when there is none.
Json ErrorOf(const HistoryEvent& e) {
  if (e.detail.empty()) return nullptr;
  auto j = ParseJson(e.detail);
  return j && j->is_object() ? *j : Json(nullptr);
}

// A failed attempt's outcome: "timeout" when the per-task timeout ended it.
std::string FailedOutcome(const Json& error) {
  if (error.is_object() && error.value("code", "") == error_code::kTimeout) return "timeout";
  return "failed";
}

}  // namespace

std::string OwnerHostPid(std::string_view owner) {
  WorkerInfo w = WorkerFromOwner(owner);
  return w.pid ? w.host + ":" + std::to_string(w.pid) : std::string(owner);
}

WorkerInfo WorkerFromOwner(std::string_view owner) {
  WorkerInfo w;
  w.owner = std::string(owner);
  w.id = w.owner;
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t slash = owner.find('/', start);
    parts.push_back(owner.substr(start, slash == std::string_view::npos ? owner.npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  int64_t pid = 0;
  if (parts.size() >= 4 && parts[0] == "wasmq" &&
      std::from_chars(parts[2].data(), parts[2].data() + parts[2].size(), pid).ec == std::errc()) {
    w.host = std::string(parts[1]);
    w.pid = pid;
    w.id = w.host + ":" + std::to_string(pid) + ":" + std::string(parts[3]);
  }
  return w;
}

Json AttemptsJson(const TaskInfo& task, const std::vector<HistoryEvent>& events) {
  Json out = Json::array();
  Json* open = nullptr;  // the attempt that has started and not ended yet
  auto close = [&](int64_t at, const std::string& outcome, Json error) {
    if (!open) return;
    (*open)["finished_at"] = FormatTime(at);
    (*open)["outcome"] = outcome;
    (*open)["error"] = std::move(error);
    open = nullptr;
  };
  for (const HistoryEvent& e : events) {
    if (e.kind == "started") {
      close(e.at, "handed_back", nullptr);  // an end that was not recorded (cannot happen; keeps it sane)
      out.push_back({{"attempt", e.attempt},
                     {"started_at", FormatTime(e.at)},
                     {"finished_at", nullptr},
                     {"outcome", "running"},
                     {"error", nullptr},
                     {"worker", e.info.empty() ? Json(nullptr) : Json(OwnerHostPid(e.info))}});
      open = &out.back();
    } else if (e.kind == "retry_scheduled" || e.kind == "failed") {
      Json error = ErrorOf(e);
      std::string outcome = FailedOutcome(error);
      close(e.at, outcome, std::move(error));
    } else if (e.kind == "handed_back") {
      close(e.at, "handed_back", nullptr);
    } else if (e.kind == "done") {
      close(e.at, "done", nullptr);
    } else if (e.kind == "cancelled") {
      close(e.at, "cancelled", nullptr);
    }
  }
  if (events.empty() && task.attempt > 0 && task.started_at > 0) {
    // Stored before history was recorded: the last attempt is all that is known.
    std::string outcome = task.status == TaskStatus::Processing ? "running"
                          : task.status == TaskStatus::Done     ? "done"
                          : task.status == TaskStatus::Cancelled ? "cancelled"
                          : task.status == TaskStatus::Failed
                              ? FailedOutcome(task.error ? ToJson(*task.error) : Json(nullptr))
                              : "handed_back";
    out.push_back({{"attempt", task.attempt},
                   {"started_at", FormatTime(task.started_at)},
                   {"finished_at", outcome == "running" ? Json(nullptr) : TimeOrNull(task.finished_at)},
                   {"outcome", outcome},
                   {"error", task.error && task.status == TaskStatus::Failed ? ToJson(*task.error) : Json(nullptr)},
                   {"worker", nullptr}});
  }
  return out;
}

Json TimelineJson(const TaskInfo& task, const std::vector<HistoryEvent>& events) {
  Json out = Json::array();
  auto entry = [](int64_t at, std::string_view kind, int attempt, int progress, std::string_view step) {
    return Json{{"at", FormatTime(at)}, {"kind", kind}, {"attempt", attempt}, {"progress", progress},
                {"step", step}};
  };
  for (const HistoryEvent& e : events) {
    if (e.kind == "progress") {
      out.push_back(entry(e.at, "progress", e.attempt, e.progress, e.detail));
    } else if (e.kind == "handed_back") {
      out.push_back(entry(e.at, "retry_scheduled", e.attempt, e.progress, "handed back (worker shutting down)"));
    } else if (e.kind == "retried") {
      out.push_back(entry(e.at, "retry_scheduled", 0, 0, "retried"));
    } else if (e.kind == "retry_scheduled" || e.kind == "failed") {
      Json error = ErrorOf(e);
      Json j = entry(e.at, e.kind, e.attempt, e.progress,
                     error.is_object() ? error.value("code", "") : std::string());
      j["error"] = std::move(error);
      out.push_back(std::move(j));
    } else {
      out.push_back(entry(e.at, e.kind, e.attempt, e.progress, ""));
    }
  }
  if (events.empty()) {
    out.push_back(entry(task.created_at, "created", 0, 0, ""));
    if (task.started_at) out.push_back(entry(task.started_at, "started", task.attempt, 0, ""));
    if (task.finished_at && IsTerminal(task.status))
      out.push_back(entry(task.finished_at, ToString(task.status), task.attempt, task.progress, ""));
  }
  return out;
}

}  // namespace wasmq::queue
