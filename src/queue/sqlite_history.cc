// File: src/queue/sqlite_history.cc
//
// The SQLite store's history and dashboard views: a task's events (written by the triggers of
// sqlite_store.cc's kHistorySchema), the retry of a failed task, the worker registry, finished tasks in a
// window.
#include "queue/json.h"
#include "queue/sqlite_rows.h"
#include "queue/sqlite_store.h"

namespace wasmq::queue {

using detail::Query;
using detail::ReadTask;

Result<std::vector<HistoryEvent>> SqliteStore::History(std::string_view task_id) {
  base::MutexLock lock(rmu_);
  {
    auto q = rdb_->Prepare("SELECT 1 FROM tasks WHERE id = ?1");
    if (!q) return q.error();
    (*q)->Bind(1, task_id);
    auto row = (*q)->Step();
    if (!row) return row.error();
    if (!*row) return NotFound("no task " + std::string(task_id));
  }
  auto q = rdb_->Prepare(
      "SELECT at, kind, attempt, progress, info, detail FROM task_events WHERE task_id = ?1 ORDER BY rowid");
  if (!q) return q.error();
  (*q)->Bind(1, task_id);
  std::vector<HistoryEvent> out;
  for (;;) {
    auto row = (*q)->Step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({(*q)->Int(0), (*q)->Text(1), static_cast<int>((*q)->Int(2)), static_cast<int>((*q)->Int(3)),
                   (*q)->Text(4), (*q)->Text(5)});
  }
  return out;
}

Result<TaskInfo> SqliteStore::Requeue(std::string_view task_id) {
  Result<TaskInfo> out = Internal("unreachable");
  {
    base::MutexLock lock(wmu_);
    const int64_t now = options_.clock();
    auto q = wdb_->Prepare(
        std::string("UPDATE tasks SET status = 'pending', attempt = 0, progress = 0, current_step = '', "
                    "started_at = 0, finished_at = 0, run_at = ?2, updated_at = ?2, duration_ms = NULL, "
                    "result = NULL, error = NULL WHERE id = ?1 AND status = 'failed' RETURNING ") +
        detail::kTaskColumns);
    if (!q) return q.error();
    (*q)->Bind(1, task_id).Bind(2, now);
    auto row = (*q)->Step();
    if (!row) return row.error();
    if (!*row) {
      q->reset();
      auto cur = wdb_->Prepare("SELECT status FROM tasks WHERE id = ?1");
      if (!cur) return cur.error();
      (*cur)->Bind(1, task_id);
      auto r = (*cur)->Step();
      if (!r) return r.error();
      if (!*r) return NotFound("no task " + std::string(task_id));
      return Conflict("task " + std::string(task_id) + " is " + (*cur)->Text(0) + "; only a failed task can be retried");
    }
    out = ReadTask(**q);
    if (auto done = (*q)->Run(); !done) return done.error();
  }
  if (out) {
    waiters_.NotifyReady();
    hub_.Publish({TaskEvent{.kind = TaskEvent::Kind::Status, .task_id = out->task_id, .mode = out->mode,
                            .status = TaskStatus::Pending, .at = out->updated_at}});
  }
  return out;
}

Result<void> SqliteStore::PutWorker(const WorkerInfo& w) {
  base::MutexLock lock(wmu_);
  auto q = wdb_->Prepare(
      "INSERT INTO workers (id, owner, host, pid, started_at, last_heartbeat, concurrency, heartbeat_ms) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO UPDATE SET "
      "last_heartbeat = excluded.last_heartbeat, concurrency = excluded.concurrency, "
      "heartbeat_ms = excluded.heartbeat_ms");
  if (!q) return q.error();
  (*q)->Bind(1, w.id).Bind(2, w.owner).Bind(3, w.host).Bind(4, w.pid).Bind(5, w.started_at);
  (*q)->Bind(6, w.last_heartbeat).Bind(7, int64_t{w.concurrency}).Bind(8, w.heartbeat_ms);
  return (*q)->Run();
}

Result<std::vector<WorkerInfo>> SqliteStore::Workers() {
  const int64_t now = options_.clock();
  {
    // A worker not heard from for 3 of its rounds is gone: forget it.
    base::MutexLock lock(wmu_);
    auto q = wdb_->Prepare("DELETE FROM workers WHERE last_heartbeat + 3 * heartbeat_ms < ?1");
    if (!q) return q.error();
    (*q)->Bind(1, now);
    if (auto r = (*q)->Run(); !r) return r.error();
  }
  std::vector<WorkerInfo> out;
  base::MutexLock lock(rmu_);
  {
    auto q = rdb_->Prepare(
        "SELECT id, owner, host, pid, started_at, last_heartbeat, concurrency, heartbeat_ms FROM workers "
        "ORDER BY started_at, id");
    if (!q) return q.error();
    for (;;) {
      auto row = (*q)->Step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back({.id = (*q)->Text(0), .owner = (*q)->Text(1), .host = (*q)->Text(2), .pid = (*q)->Int(3),
                     .started_at = (*q)->Int(4), .last_heartbeat = (*q)->Int(5),
                     .concurrency = static_cast<int>((*q)->Int(6)), .heartbeat_ms = (*q)->Int(7)});
    }
  }
  auto q = rdb_->Prepare(
      "SELECT lease_owner, id, mode, started_at, progress FROM tasks WHERE status = 'processing' "
      "ORDER BY started_at");
  if (!q) return q.error();
  for (;;) {
    auto row = (*q)->Step();
    if (!row) return row.error();
    if (!*row) break;
    const std::string owner = (*q)->Text(0);
    for (WorkerInfo& w : out)
      if (w.owner == owner)
        w.running.push_back({(*q)->Text(1), (*q)->Text(2), (*q)->Int(3), static_cast<int>((*q)->Int(4))});
  }
  return out;
}

Result<std::vector<FinishedTask>> SqliteStore::Finished(int64_t from, int64_t to, const std::string* user) {
  base::MutexLock lock(rmu_);
  auto q = rdb_->Prepare(
      std::string("SELECT mode, status, finished_at, IFNULL(duration_ms, 0) FROM tasks WHERE status IN "
                  "('done', 'failed') AND finished_at >= ?1 AND finished_at < ?2") +
      (user ? " AND user_id = ?3" : "") + " ORDER BY finished_at");
  if (!q) return q.error();
  (*q)->Bind(1, from).Bind(2, to);
  if (user) (*q)->Bind(3, *user);
  std::vector<FinishedTask> out;
  for (;;) {
    auto row = (*q)->Step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({(*q)->Text(0), ParseStatus((*q)->Text(1)).value_or(TaskStatus::Failed), (*q)->Int(2),
                   (*q)->Int(3)});
  }
  return out;
}

}  // namespace wasmq::queue
