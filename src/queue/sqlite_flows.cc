// File: src/queue/sqlite_flows.cc
//
// The SQLite store's flows (flows.h): create with an idempotency key, tasks that wait on others, batches,
// dead letters. The tables and the triggers that resolve dependencies are kFlowsSchema (sqlite_store.cc).
// A create with a key or dependencies is one BEGIN IMMEDIATE transaction: the key is looked up and claimed,
// the dependencies checked and the task inserted with no other writer in between, whichever process (two
// `wasmq serve` on one file) is writing.
#include "queue/json.h"
#include "queue/sqlite_rows.h"
#include "queue/sqlite_store.h"

namespace wasmq::queue {

using detail::Query;
using detail::ReadTask;

namespace {

Error UnknownDependency(const std::string& id) {
  // The same words for another user's task as for an unknown id: ids cannot be probed.
  return InvalidArgument("depends_on: no task " + id);
}

}  // namespace

Result<void> SqliteStore::InsertTask(const TaskInfo& t, bool* waits) {
  Json waiting = Json::array();
  for (const std::string& dep : t.depends_on) {
    if (dep == t.task_id) return InvalidArgument("depends_on: a task cannot depend on itself");
    auto q = wdb_->Prepare("SELECT user_id, status FROM tasks WHERE id = ?1");
    if (!q) return q.error();
    (*q)->Bind(1, dep);
    auto row = (*q)->Step();
    if (!row) return row.error();
    if (!*row || (*q)->Text(0) != t.user_id) return UnknownDependency(dep);
    const std::string status = (*q)->Text(1);
    if (status == "failed" || status == "cancelled") {
      Error e = Conflict("depends_on: task " + dep + " is " + status);
      e.reason = std::string(reason::kDependencyFailed);
      return e;
    }
    if (status != "done") waiting.push_back(dep);
  }
  *waits = !waiting.empty();
  const int64_t run_at = t.run_at ? t.run_at : t.created_at;
  auto q = wdb_->Prepare(
      "INSERT INTO tasks (id, user_id, mode, status, priority, source_image, config, max_retries, "
      "timeout_ms, created_at, updated_at, run_at, trace_context, depends_on, waiting_on, held_run_at, "
      "batch_id) VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
  if (!q) return q.error();
  (*q)->Bind(1, t.task_id).Bind(2, t.user_id).Bind(3, t.mode).Bind(4, int64_t{t.priority}).Bind(5, t.source_image);
  (*q)->Bind(6, t.config.dump()).Bind(7, int64_t{t.max_retries}).Bind(8, t.timeout_ms).Bind(9, t.created_at);
  (*q)->Bind(10, *waits ? detail::kBlockedRunAt : run_at).Bind(11, t.trace_context);
  (*q)->Bind(12, t.depends_on.empty() ? std::string() : Json(t.depends_on).dump());
  (*q)->Bind(13, t.depends_on.empty() ? std::string() : waiting.dump());
  (*q)->Bind(14, *waits ? run_at : int64_t{0}).Bind(15, t.batch_id);
  if (auto r = (*q)->Run(); !r) {
    if (sqlite3_extended_errcode(wdb_->raw()) == SQLITE_CONSTRAINT_PRIMARYKEY)
      return Conflict("task " + t.task_id + " already exists");
    return r.error();
  }
  for (const Json& dep : waiting) {
    auto d = wdb_->Prepare("INSERT OR IGNORE INTO task_deps (dep_id, task_id) VALUES (?1, ?2)");
    if (!d) return d.error();
    (*d)->Bind(1, dep.get<std::string>()).Bind(2, t.task_id);
    if (auto r = (*d)->Run(); !r) return r;
  }
  return {};
}

Result<Submitted> SqliteStore::Submit(const TaskInfo& t, const SubmitOptions& o) {
  if (auto ok = CheckNew(t); !ok) return ok.error();
  Submitted out;
  bool waits = false;
  const bool keyed = !o.idempotency_key.empty();
  const UserLimits& lim = options_.fairness.For(t.user_id);
  // A pending or per-minute limit is checked in the insert's transaction: another process may create for
  // the same user at the same time.
  const bool limited = lim.max_pending > 0 || lim.per_minute > 0;
  const bool txn = keyed || !t.depends_on.empty() || limited;
  if (!txn) {
    // A plain INSERT: producers submitting at once share one commit (sqlite_group_commit.cc).
    if (auto r = CreateInGroup(t); !r) return r.error();
  } else {
    base::MutexLock lock(wmu_);
    const int64_t now = options_.clock();
    if (auto b = wdb_->Exec("BEGIN IMMEDIATE"); !b) return b.error();
    auto body = [&]() REQUIRES(wmu_) -> Result<void> {
      if (keyed) {
        auto q = wdb_->Prepare(
            "SELECT task_id, fingerprint, expires_at FROM idempotency_keys WHERE user_id = ?1 AND key = ?2");
        if (!q) return q.error();
        (*q)->Bind(1, t.user_id).Bind(2, o.idempotency_key);
        auto row = (*q)->Step();
        if (!row) return row.error();
        if (*row && (*q)->Int(2) > now) {
          const std::string id = (*q)->Text(0), fingerprint = (*q)->Text(1);
          q->reset();
          if (fingerprint != o.fingerprint) {
            Error e = Conflict("idempotency key '" + o.idempotency_key + "' was used for task " + id +
                               " with another request body");
            e.reason = std::string(reason::kIdempotencyConflict);
            return e;
          }
          auto g = wdb_->Prepare(std::string("SELECT ") + detail::kTaskColumns + " FROM tasks WHERE id = ?1");
          if (!g) return g.error();
          (*g)->Bind(1, id);
          auto found = (*g)->Step();
          if (!found) return found.error();
          if (*found) {  // else the task was cleaned up: the key is spent, a new task takes it
            auto existing = ReadTask(**g);
            if (!existing) return existing.error();
            out.task = std::move(*existing);
            out.existing = true;
            return {};
          }
        }
      }
      if (limited)
        if (auto a = AdmitUser(t.user_id, now); !a) return a;
      if (auto r = InsertTask(t, &waits); !r) return r;
      if (keyed) {
        auto q = wdb_->Prepare(
            "INSERT INTO idempotency_keys (user_id, key, task_id, fingerprint, expires_at) "
            "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user_id, key) DO UPDATE SET task_id = excluded.task_id, "
            "fingerprint = excluded.fingerprint, expires_at = excluded.expires_at");
        if (!q) return q.error();
        (*q)->Bind(1, t.user_id).Bind(2, o.idempotency_key).Bind(3, t.task_id).Bind(4, o.fingerprint);
        (*q)->Bind(5, now + std::max<int64_t>(1, o.idempotency_ttl_ms));
        if (auto r = (*q)->Run(); !r) return r;
      }
      return {};
    };
    if (auto r = wdb_->EndTransaction(body()); !r) return r.error();
  }
  if (out.existing) return out;
  out.task = t;
  if (out.task.run_at == 0) out.task.run_at = out.task.created_at;
  for (const std::string& dep : t.depends_on) out.task.waiting_on.push_back(dep);
  if (!waits) out.task.waiting_on.clear();
  if (!t.depends_on.empty() && waits) {
    // Read back: which of them are still to wait for is the store's answer (some may be done already).
    auto g = Get(t.task_id);
    if (g) out.task = std::move(*g);
  }
  if (!waits) waiters_.NotifyReady();
  hub_.PublishCreated(out.task);
  return out;
}

Result<void> SqliteStore::CreateBatch(const BatchInfo& batch, const std::vector<TaskInfo>& tasks) {
  for (const TaskInfo& t : tasks)
    if (auto ok = CheckNew(t); !ok) return ok;
  bool any_ready = false;
  {
    base::MutexLock lock(wmu_);
    if (auto b = wdb_->Exec("BEGIN IMMEDIATE"); !b) return b;
    auto body = [&]() REQUIRES(wmu_) -> Result<void> {
      Json ids = Json::array();
      for (const TaskInfo& t : tasks) {
        bool waits = false;
        if (auto r = InsertTask(t, &waits); !r) return r;
        any_ready = any_ready || !waits;
        ids.push_back(t.task_id);
      }
      auto q = wdb_->Prepare("INSERT INTO batches (id, user_id, created_at, task_ids) VALUES (?1, ?2, ?3, ?4)");
      if (!q) return q.error();
      (*q)->Bind(1, batch.batch_id).Bind(2, batch.user_id).Bind(3, batch.created_at).Bind(4, ids.dump());
      if (auto r = (*q)->Run(); !r) {
        if (sqlite3_extended_errcode(wdb_->raw()) == SQLITE_CONSTRAINT_PRIMARYKEY)
          return Conflict("batch " + batch.batch_id + " already exists");
        return r;
      }
      return {};
    };
    if (auto r = wdb_->EndTransaction(body()); !r) return r;
  }
  if (any_ready) waiters_.NotifyReady();
  for (const TaskInfo& t : tasks) hub_.PublishCreated(t);
  return {};
}

Result<BatchInfo> SqliteStore::GetBatch(std::string_view batch_id) {
  BatchInfo b;
  base::MutexLock lock(rmu_);
  {
    auto q = rdb_->Prepare("SELECT id, user_id, created_at, task_ids FROM batches WHERE id = ?1");
    if (!q) return q.error();
    (*q)->Bind(1, batch_id);
    auto row = (*q)->Step();
    if (!row) return row.error();
    if (!*row) return NotFound("no batch " + std::string(batch_id));
    b.batch_id = (*q)->Text(0);
    b.user_id = (*q)->Text(1);
    b.created_at = (*q)->Int(2);
    auto ids = ParseJson((*q)->Text(3));
    if (ids && ids->is_array())
      for (const Json& id : *ids) b.task_ids.push_back(id.get<std::string>());
  }
  auto q = rdb_->Prepare("SELECT status, progress FROM tasks WHERE batch_id = ?1");
  if (!q) return q.error();
  (*q)->Bind(1, batch_id);
  std::vector<std::pair<TaskStatus, int>> tasks;
  for (;;) {
    auto row = (*q)->Step();
    if (!row) return row.error();
    if (!*row) break;
    tasks.emplace_back(ParseStatus((*q)->Text(0)).value_or(TaskStatus::Pending), static_cast<int>((*q)->Int(1)));
  }
  TallyBatch(&b, tasks);
  return b;
}

Result<DeadLetterPage> SqliteStore::DeadLetters(const DeadLetterQuery& dq) {
  if (dq.page < 1 || dq.page_size < 1 || dq.page_size > kMaxPageSize)
    return InvalidArgument("page_size: must be from 1 to " + std::to_string(kMaxPageSize));
  DeadLetterPage out;
  out.page = dq.page;
  out.page_size = dq.page_size;
  std::string where = " WHERE status = 'failed'";
  if (!dq.user_id.empty()) where += " AND user_id = ?1";
  if (!dq.mode.empty()) where += " AND mode = ?2";
  if (!dq.error_code.empty()) where += " AND json_extract(error, '$.code') = ?3";
  auto bind = [&](Query& q) {
    if (!dq.user_id.empty()) q.Bind(1, dq.user_id);
    if (!dq.mode.empty()) q.Bind(2, dq.mode);
    if (!dq.error_code.empty()) q.Bind(3, dq.error_code);
  };
  base::MutexLock lock(rmu_);
  {
    auto q = rdb_->Prepare("SELECT COUNT(*) FROM tasks" + where);
    if (!q) return q.error();
    bind(**q);
    auto row = (*q)->Step();
    if (!row) return row.error();
    out.total = *row ? (*q)->Int(0) : 0;
  }
  auto q = rdb_->Prepare(std::string("SELECT ") + detail::kTaskColumns + " FROM tasks" + where +
                         " ORDER BY finished_at DESC, rowid DESC LIMIT ?4 OFFSET ?5");
  if (!q) return q.error();
  bind(**q);
  (*q)->Bind(4, int64_t{dq.page_size}).Bind(5, int64_t{dq.page - 1} * dq.page_size);
  for (;;) {
    auto row = (*q)->Step();
    if (!row) return row.error();
    if (!*row) break;
    auto t = ReadTask(**q);
    if (!t) return t.error();
    out.tasks.push_back(std::move(*t));
  }
  out.has_more = int64_t{dq.page} * dq.page_size < out.total;
  return out;
}

Result<std::vector<std::string>> SqliteStore::Dependents(std::string_view task_id) {
  auto q = wdb_->Prepare(
      "WITH RECURSIVE d(id) AS (SELECT task_id FROM task_deps WHERE dep_id = ?1 UNION "
      "SELECT task_deps.task_id FROM task_deps JOIN d ON task_deps.dep_id = d.id) SELECT id FROM d");
  if (!q) return q.error();
  (*q)->Bind(1, task_id);
  std::vector<std::string> out;
  for (;;) {
    auto row = (*q)->Step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back((*q)->Text(0));
  }
  return out;
}

Result<void> SqliteStore::DependentEvents(const std::vector<std::string>& ids, int64_t now,
                                          std::vector<TaskEvent>* events, bool* ready) {
  for (const std::string& id : ids) {
    auto q = wdb_->Prepare("SELECT mode, status, waiting_on, updated_at, attempt FROM tasks WHERE id = ?1");
    if (!q) return q.error();
    (*q)->Bind(1, id);
    auto row = (*q)->Step();
    if (!row) return row.error();
    if (!*row) continue;
    const std::string status = (*q)->Text(1), waiting = (*q)->Text(2);
    const bool released = status == "pending" && waiting == "[]";
    // Changed now, by the triggers (a dependent cancelled earlier by its user is not news).
    if ((!released && status != "cancelled") || (*q)->Int(3) != now) continue;
    *ready = *ready || released;
    events->push_back({.kind = TaskEvent::Kind::Status, .task_id = id, .mode = (*q)->Text(0),
                       .status = released ? TaskStatus::Pending : TaskStatus::Cancelled,
                       .attempt = static_cast<int>((*q)->Int(4)), .at = (*q)->Int(3)});
  }
  return {};
}

}  // namespace wasmq::queue
