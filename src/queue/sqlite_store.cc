// File: src/queue/sqlite_store.cc
//
// The SQLite store: opening and schema, the client operations (create, get, list, cancel, stats) and
// maintenance (lease recovery, cleanup). The worker operations are in sqlite_lease.cc. The schema is
// documented in docs/queue.md; keep the two in step.
#include "queue/sqlite_store.h"

#include <algorithm>

#include "queue/json.h"
#include "queue/sqlite_rows.h"
#include "queue/store_rules.h"

namespace wasmq::queue {

using detail::Db;
using detail::Query;
using detail::ReadTask;

namespace {

// 1: tasks. 2: task_events (with the triggers that write it) and workers. 3: tasks.trace_context.
constexpr int kSchemaVersion = 3;
constexpr int kBusyTimeoutMs = 5000;

// Indexes: every index is written at every change of a row it covers, and with synchronous=NORMAL the cost
// of a commit is mostly the pages it writes to the WAL — so there are only two, both partial, covering only
// the rows that are in flight. tasks_ready (pending tasks, in hand-out order) serves Dequeue; tasks_running
// (processing tasks, by lease expiry) serves lease recovery. Both stay small however many finished tasks are
// kept. Measured on the schema without them: a full (status) index instead of tasks_running costs ~10% more
// per task. "Newest first" is rowid order (insertion order; a new rowid is always above every existing one),
// which needs no index; lists and counts of finished tasks scan the table, which is fine at the sizes a TTL
// keeps (a million rows scan in ~0.1 s).
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS tasks (
  id               TEXT PRIMARY KEY,
  user_id          TEXT NOT NULL DEFAULT '',
  mode             TEXT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending','processing','done','failed','cancelled')),
  priority         INTEGER NOT NULL DEFAULT 0,
  source_image     TEXT NOT NULL DEFAULT '',
  config           TEXT NOT NULL DEFAULT '{}',
  progress         INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  current_step     TEXT NOT NULL DEFAULT '',
  attempt          INTEGER NOT NULL DEFAULT 0,
  max_retries      INTEGER NOT NULL DEFAULT 0,
  timeout_ms       INTEGER NOT NULL DEFAULT 0,
  created_at       INTEGER NOT NULL,
  started_at       INTEGER NOT NULL DEFAULT 0,
  updated_at       INTEGER NOT NULL,
  finished_at      INTEGER NOT NULL DEFAULT 0,
  run_at           INTEGER NOT NULL,
  duration_ms      INTEGER,
  result           TEXT,
  error            TEXT,
  lease_owner      TEXT,
  lease_token      INTEGER NOT NULL DEFAULT 0,
  lease_expires_at INTEGER NOT NULL DEFAULT 0,
  trace_context    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS tasks_ready ON tasks (priority DESC, run_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS tasks_running ON tasks (lease_expires_at) WHERE status = 'processing';
)sql";

// Version 2. A task's history is written by triggers, inside the very statement that changes the task, so
// it can never disagree with the row and no write path has to remember it (docs/queue.md, "History"). The
// events of a task are its rows in rowid (insertion) order; the index serves reading one task's and bounding
// its progress events. A status change records its event kind from the old and new row: pending →
// processing "started" (with the lease owner), processing → pending "retry_scheduled" with the attempt's
// error (a lease recovery keeps the error column, and records LEASE_EXPIRED), or "handed_back" when the
// attempt was given back uncounted; failed → pending "retried" (Requeue).
constexpr const char* kHistorySchema = R"sql(
CREATE TABLE IF NOT EXISTS task_events (
  task_id  TEXT NOT NULL,
  at       INTEGER NOT NULL,
  kind     TEXT NOT NULL,
  attempt  INTEGER NOT NULL DEFAULT 0,
  progress INTEGER NOT NULL DEFAULT 0,
  info     TEXT NOT NULL DEFAULT '',
  detail   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS task_events_by_task ON task_events (task_id);
CREATE TRIGGER IF NOT EXISTS task_events_created AFTER INSERT ON tasks BEGIN
  INSERT INTO task_events (task_id, at, kind) VALUES (NEW.id, NEW.created_at, 'created');
END;
CREATE TRIGGER IF NOT EXISTS task_events_status AFTER UPDATE OF status ON tasks
WHEN NEW.status IS NOT OLD.status BEGIN
  INSERT INTO task_events (task_id, at, kind, attempt, progress, info, detail) VALUES (NEW.id, NEW.updated_at,
    CASE WHEN NEW.status = 'processing' THEN 'started'
         WHEN NEW.status = 'pending' AND OLD.status = 'failed' THEN 'retried'
         WHEN NEW.status = 'pending' AND NEW.attempt < OLD.attempt THEN 'handed_back'
         WHEN NEW.status = 'pending' THEN 'retry_scheduled'
         ELSE NEW.status END,
    CASE WHEN NEW.status = 'pending' AND OLD.status = 'processing' THEN OLD.attempt ELSE NEW.attempt END,
    CASE WHEN NEW.status = 'done' THEN 100 WHEN NEW.status IN ('processing', 'pending') THEN 0
         ELSE OLD.progress END,
    CASE WHEN NEW.status = 'processing' THEN IFNULL(NEW.lease_owner, '') ELSE '' END,
    CASE WHEN NEW.status = 'failed' OR (NEW.status = 'pending' AND OLD.status = 'processing'
                                        AND NEW.attempt >= OLD.attempt) THEN
      IFNULL(CASE WHEN NEW.error IS NOT OLD.error THEN NEW.error
                  ELSE json_object('code', 'LEASE_EXPIRED', 'message',
                         'the worker running this attempt stopped renewing its lease (' ||
                         IFNULL(OLD.lease_owner, '?') || ')', 'attempt', OLD.attempt,
                         'retryable', json('true'), 'stderr', NULL, 'at', NULL) END, '')
    ELSE '' END);
END;
CREATE TRIGGER IF NOT EXISTS task_events_progress AFTER UPDATE OF progress, current_step ON tasks
WHEN NEW.status = 'processing' AND OLD.status = 'processing' BEGIN
  INSERT INTO task_events (task_id, at, kind, attempt, progress, detail)
    VALUES (NEW.id, NEW.updated_at, 'progress', NEW.attempt, NEW.progress, NEW.current_step);
  DELETE FROM task_events WHERE task_id = NEW.id AND kind = 'progress' AND rowid <= (
    SELECT rowid FROM task_events WHERE task_id = NEW.id AND kind = 'progress'
    ORDER BY rowid DESC LIMIT 1 OFFSET 200);
END;
CREATE TRIGGER IF NOT EXISTS task_events_deleted AFTER DELETE ON tasks BEGIN
  DELETE FROM task_events WHERE task_id = OLD.id;
END;
CREATE TABLE IF NOT EXISTS workers (
  id             TEXT PRIMARY KEY,
  owner          TEXT NOT NULL,
  host           TEXT NOT NULL,
  pid            INTEGER NOT NULL,
  started_at     INTEGER NOT NULL,
  last_heartbeat INTEGER NOT NULL,
  concurrency    INTEGER NOT NULL,
  heartbeat_ms   INTEGER NOT NULL
);
)sql";
static_assert(kMaxProgressEvents == 200, "kHistorySchema's OFFSET keeps kMaxProgressEvents");

Result<void> Pragmas(Db& db, bool sync_full) {
  std::string sql = "PRAGMA busy_timeout = " + std::to_string(kBusyTimeoutMs) + ";";
  sql += sync_full ? "PRAGMA synchronous = FULL;" : "PRAGMA synchronous = NORMAL;";
  sql += "PRAGMA temp_store = MEMORY;";
  // Checkpoints (the only fsyncs under synchronous=NORMAL) every 4 MiB of WAL rather than every 1000 pages.
  sql += "PRAGMA wal_autocheckpoint = 4096;";
  return db.Exec(sql.c_str());
}

Result<int64_t> ScalarInt(Db& db, const std::string& sql) {
  auto q = db.Prepare(sql);
  if (!q) return q.error();
  auto row = (*q)->Step();
  if (!row) return row.error();
  return *row ? (*q)->Int(0) : 0;
}

// Creates the schema, or checks that the file's schema is one this wasmq understands. Under BEGIN
// IMMEDIATE so that two processes opening a new file at once do not both create it.
Result<void> MigrateSchema(Db& db) {
  // 1 KiB pages: a small commit writes a few whole pages to the WAL, and a task row is a few hundred bytes,
  // so smaller pages mean less to write per change (measured: ~35% faster commits than 4 KiB). It only
  // takes effect on a new, empty file, before WAL mode is set.
  if (auto r = db.Exec("PRAGMA page_size = 1024"); !r) return r;
  // WAL is a property of the file: set once, it stays for every later connection.
  auto mode = db.Prepare("PRAGMA journal_mode = WAL");
  if (!mode) return mode.error();
  auto r = (*mode)->Step();
  if (!r) return r.error();
  if (!*r || (*mode)->Text(0) != "wal")
    return Unavailable("sqlite: cannot switch the database to WAL mode (a network file system?)");
  mode->reset();
  if (auto b = db.Exec("BEGIN IMMEDIATE"); !b) return b;
  auto version = ScalarInt(db, "PRAGMA user_version");
  Result<void> out;
  if (!version) {
    out = version.error();
  } else if (*version > kSchemaVersion) {
    out = Unavailable("sqlite: the database has schema version " + std::to_string(*version) +
                      ", newer than this wasmq understands (" + std::to_string(kSchemaVersion) + ")");
  } else if (*version < kSchemaVersion) {
    // A new file (0) gets everything. An older one gains what each later version added and keeps its tasks:
    // the column by ALTER (versions 1 and 2 lack it), the rest because every CREATE is IF NOT EXISTS.
    if (*version >= 1) out = db.Exec("ALTER TABLE tasks ADD COLUMN trace_context TEXT NOT NULL DEFAULT ''");
    if (out) out = db.Exec(kSchema);
    if (out) out = db.Exec(kHistorySchema);
    if (out) out = db.Exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
  }
  if (!out) {
    (void)db.Exec("ROLLBACK");
    return out;
  }
  return db.Exec("COMMIT");
}

// Builds the WHERE clause of a list query; binds go to ?1..?3 (status, mode, user_id) when present.
std::string ListWhere(const ListQuery& q) {
  std::string where;
  auto add = [&](const char* cond) {
    where += where.empty() ? std::string(" WHERE ") + cond : std::string(" AND ") + cond;
  };
  if (q.status) add("status = ?1");
  if (!q.mode.empty()) add("mode = ?2");
  if (!q.user_id.empty()) add("user_id = ?3");
  return where;
}

void BindList(Query& q, const ListQuery& lq) {
  if (lq.status) q.Bind(1, ToString(*lq.status));
  if (!lq.mode.empty()) q.Bind(2, lq.mode);
  if (!lq.user_id.empty()) q.Bind(3, lq.user_id);
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, StoreOptions options) {
  auto wdb = Db::Open(path);
  if (!wdb) return wdb.error();
  if (auto r = Pragmas(**wdb, options.sync_full); !r) return r.error();
  if (auto r = MigrateSchema(**wdb); !r) return r.error();
  auto rdb = Db::Open(path);
  if (!rdb) return rdb.error();
  if (auto r = Pragmas(**rdb, options.sync_full); !r) return r.error();
  if (auto r = (*rdb)->Exec("PRAGMA query_only = 1"); !r) return r.error();
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(*wdb), std::move(*rdb), std::move(options)));
}

SqliteStore::SqliteStore(std::unique_ptr<Db> wdb, std::unique_ptr<Db> rdb, StoreOptions options)
    : options_(std::move(options)), wdb_(std::move(wdb)), rdb_(std::move(rdb)) {}

SqliteStore::~SqliteStore() = default;

Result<void> SqliteStore::Ping() {
  base::MutexLock lock(rmu_);
  auto v = ScalarInt(*rdb_, "SELECT COUNT(*) FROM sqlite_master");
  if (!v) return v.error();
  return {};
}

void SqliteStore::WakeWaiters() { waiters_.WakeAll(); }

Result<void> SqliteStore::Create(const TaskInfo& t) {
  if (auto ok = CheckNew(t); !ok) return ok;
  if (auto r = CreateInGroup(t); !r) return r;  // sqlite_group_commit.cc
  waiters_.NotifyReady();
  hub_.PublishCreated(t);
  return {};
}

Result<void> SqliteStore::InsertTask(const TaskInfo& t) {
  {
    auto q = wdb_->Prepare(
        "INSERT INTO tasks (id, user_id, mode, status, priority, source_image, config, max_retries, "
        "timeout_ms, "
        "created_at, updated_at, run_at, trace_context) VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, "
        "?11)");
    if (!q) return q.error();
    (*q)->Bind(1, t.task_id)
        .Bind(2, t.user_id)
        .Bind(3, t.mode)
        .Bind(4, int64_t{t.priority})
        .Bind(5, t.source_image);
    (*q)->Bind(6, t.config.dump())
        .Bind(7, int64_t{t.max_retries})
        .Bind(8, t.timeout_ms)
        .Bind(9, t.created_at);
    (*q)->Bind(10, t.run_at ? t.run_at : t.created_at).Bind(11, t.trace_context);
    if (auto r = (*q)->Run(); !r) {
      if (sqlite3_extended_errcode(wdb_->raw()) == SQLITE_CONSTRAINT_PRIMARYKEY)
        return Conflict("task " + t.task_id + " already exists");
      return r.error();
    }
  }
  return {};
}

Result<TaskInfo> SqliteStore::Get(std::string_view task_id) {
  base::MutexLock lock(rmu_);
  auto q = rdb_->Prepare(std::string("SELECT ") + detail::kTaskColumns + " FROM tasks WHERE id = ?1");
  if (!q) return q.error();
  (*q)->Bind(1, task_id);
  auto row = (*q)->Step();
  if (!row) return row.error();
  if (!*row) return NotFound("no task " + std::string(task_id));
  return ReadTask(**q);
}

Result<TaskListResponse> SqliteStore::List(const ListQuery& lq) {
  if (auto ok = detail::CheckPage(lq); !ok) return ok.error();
  TaskListResponse out;
  out.page = lq.page;
  out.page_size = lq.page_size;
  const std::string where = ListWhere(lq);
  base::MutexLock lock(rmu_);
  {
    auto q = rdb_->Prepare("SELECT COUNT(*) FROM tasks" + where);
    if (!q) return q.error();
    BindList(**q, lq);
    auto row = (*q)->Step();
    if (!row) return row.error();
    out.total = *row ? (*q)->Int(0) : 0;
  }
  auto q = rdb_->Prepare(std::string("SELECT ") + detail::kTaskColumns + " FROM tasks" + where +
                         " ORDER BY rowid DESC LIMIT ?4 OFFSET ?5");
  if (!q) return q.error();
  BindList(**q, lq);
  (*q)->Bind(4, int64_t{lq.page_size}).Bind(5, int64_t{lq.page - 1} * lq.page_size);
  for (;;) {
    auto row = (*q)->Step();
    if (!row) return row.error();
    if (!*row) break;
    auto t = ReadTask(**q);
    if (!t) return t.error();
    out.tasks.push_back(Summarise(*t));
  }
  out.has_more = int64_t{lq.page} * lq.page_size < out.total;
  return out;
}

Result<TaskInfo> SqliteStore::Cancel(std::string_view task_id) {
  Result<TaskInfo> out = Internal("unreachable");
  {
    base::MutexLock lock(wmu_);
    const int64_t now = options_.clock();
    auto q = wdb_->Prepare(
        "UPDATE tasks SET status = 'cancelled', finished_at = ?2, updated_at = ?2, lease_owner = NULL, "
        "lease_expires_at = 0, duration_ms = CASE WHEN started_at > 0 THEN ?2 - started_at END WHERE id = ?1 "
        "AND status IN (" +
        detail::FromStatusesSql(TaskStatus::Cancelled) + ") RETURNING " + detail::kTaskColumns);
    if (!q) return q.error();
    (*q)->Bind(1, task_id).Bind(2, now);
    auto row = (*q)->Step();
    if (!row) return row.error();
    if (*row) {
      out = ReadTask(**q);
      if (auto done = (*q)->Run(); !done) return done.error();
    } else {
      q->reset();
      auto cur = wdb_->Prepare("SELECT status FROM tasks WHERE id = ?1");
      if (!cur) return cur.error();
      (*cur)->Bind(1, task_id);
      auto r = (*cur)->Step();
      if (!r) return r.error();
      return detail::CancelRefusal(task_id, *r ? std::optional((*cur)->Text(0)) : std::nullopt,
                                   "the database");
    }
  }
  if (out) hub_.PublishCancelled(*out);
  return out;
}

Result<QueueStats> SqliteStore::Stats() { return StatsOf(nullptr); }

Result<QueueStats> SqliteStore::UserStats(std::string_view user_id) {
  const std::string user(user_id);
  return StatsOf(&user);
}

// Every query below takes the user filter as ?9 when there is one.
Result<QueueStats> SqliteStore::StatsOf(const std::string* user) {
  const std::string where = user ? " WHERE user_id = ?9" : "", and_user = user ? " AND user_id = ?9" : "";
  QueueStats s;
  for (TaskStatus st : kAllStatuses) s.counts[st] = 0;
  const int64_t now = options_.clock();
  base::MutexLock lock(rmu_);
  {
    auto q = rdb_->Prepare("SELECT status, COUNT(*) FROM tasks" + where + " GROUP BY status");
    if (!q) return q.error();
    if (user) (*q)->Bind(9, *user);
    for (;;) {
      auto row = (*q)->Step();
      if (!row) return row.error();
      if (!*row) break;
      if (auto st = ParseStatus((*q)->Text(0))) s.counts[*st] = (*q)->Int(1);
    }
  }
  {
    auto q = rdb_->Prepare("SELECT COUNT(*) FROM tasks WHERE status = 'pending' AND run_at <= ?1" + and_user);
    if (!q) return q.error();
    (*q)->Bind(1, now);
    if (user) (*q)->Bind(9, *user);
    auto row = (*q)->Step();
    if (!row) return row.error();
    s.queue_length = *row ? (*q)->Int(0) : 0;
  }
  s.delayed = s.counts[TaskStatus::Pending] - s.queue_length;
  s.processing = s.counts[TaskStatus::Processing];
  {
    auto q = rdb_->Prepare(
        "SELECT mode, SUM(status = 'done'), SUM(status = 'failed') FROM tasks "
        "WHERE status IN ('done', 'failed')" +
        and_user + " GROUP BY mode");
    if (!q) return q.error();
    if (user) (*q)->Bind(9, *user);
    for (;;) {
      auto row = (*q)->Step();
      if (!row) return row.error();
      if (!*row) break;
      ModeStats& m = s.modes[(*q)->Text(0)];
      m.done = (*q)->Int(1);
      m.failed = (*q)->Int(2);
    }
  }
  {
    // Nearest-rank p95: the value at rank ceil(0.95 n) = (95 n + 99) / 100 in integer arithmetic.
    auto q = rdb_->Prepare(
        "SELECT mode, duration_ms, mean FROM (SELECT mode, duration_ms, "
        "ROW_NUMBER() OVER (PARTITION BY mode ORDER BY duration_ms) AS rn, "
        "COUNT(*) OVER (PARTITION BY mode) AS n, AVG(duration_ms) OVER (PARTITION BY mode) AS mean "
        "FROM tasks WHERE status = 'done' AND duration_ms IS NOT NULL" +
        and_user + ") WHERE rn = (95 * n + 99) / 100");
    if (!q) return q.error();
    if (user) (*q)->Bind(9, *user);
    for (;;) {
      auto row = (*q)->Step();
      if (!row) return row.error();
      if (!*row) break;
      ModeStats& m = s.modes[(*q)->Text(0)];
      m.p95_ms = static_cast<double>((*q)->Int(1));
      m.mean_ms = (*q)->Double(2);
    }
  }
  return s;
}

Result<RecoveryReport> SqliteStore::RecoverLeases(
    const std::function<bool(std::string_view owner)>& owner_dead) {
  RecoveryReport report;
  std::vector<TaskEvent> events;
  {
    base::MutexLock lock(wmu_);
    const int64_t now = options_.clock();
    if (auto b = wdb_->Exec("BEGIN IMMEDIATE"); !b) return b.error();
    auto body = [&]() REQUIRES(wmu_) -> Result<void> {
      Json dead = Json::array();
      if (owner_dead) {
        auto q = wdb_->Prepare("SELECT DISTINCT lease_owner FROM tasks WHERE status = 'processing'");
        if (!q) return q.error();
        for (;;) {
          auto row = (*q)->Step();
          if (!row) return row.error();
          if (!*row) break;
          std::string owner = (*q)->Text(0);
          if (owner_dead(owner)) dead.push_back(owner);
        }
      }
      // A task with no attempt left fails; the others go back to pending at their old place (run_at kept).
      auto q = wdb_->Prepare(
          "UPDATE tasks SET "
          "status = CASE WHEN attempt > max_retries THEN 'failed' ELSE 'pending' END, "
          "error = CASE WHEN attempt > max_retries THEN json_object('code', 'LEASE_EXPIRED', 'message', "
          "'the worker running this attempt stopped renewing its lease (' || IFNULL(lease_owner, '?') || "
          "')', "
          "'attempt', attempt, 'retryable', json('false'), 'stderr', NULL, 'at', ?3) ELSE error END, "
          "finished_at = CASE WHEN attempt > max_retries THEN ?1 ELSE 0 END, "
          "duration_ms = CASE WHEN attempt > max_retries THEN ?1 - started_at END, "
          "updated_at = ?1, lease_owner = NULL, lease_expires_at = 0, progress = 0, current_step = '' "
          "WHERE status = 'processing' AND (lease_expires_at <= ?1 OR lease_owner IN (SELECT value FROM "
          "json_each(?2))) "
          "RETURNING id, status, mode, attempt");
      if (!q) return q.error();
      (*q)->Bind(1, now).Bind(2, dead.dump()).Bind(3, FormatTime(now));
      for (;;) {
        auto row = (*q)->Step();
        if (!row) return row.error();
        if (!*row) break;
        detail::NoteRecovered((*q)->Text(0), (*q)->Text(1), (*q)->Text(2), static_cast<int>((*q)->Int(3)),
                              now, &report, &events);
      }
      return {};
    };
    if (auto r = body(); !r) {
      (void)wdb_->Exec("ROLLBACK");
      return r.error();
    }
    if (auto c = wdb_->Exec("COMMIT"); !c) {
      (void)wdb_->Exec("ROLLBACK");
      return c.error();
    }
  }
  if (!report.requeued.empty()) waiters_.NotifyReady();
  hub_.Publish(events);
  return report;
}

Result<std::vector<std::string>> SqliteStore::Cleanup(int64_t finished_before, int limit) {
  std::vector<std::string> ids;
  base::MutexLock lock(wmu_);
  auto q = wdb_->Prepare(
      "DELETE FROM tasks WHERE rowid IN (SELECT rowid FROM tasks WHERE status IN ('done', 'failed', "
      "'cancelled') "
      "AND finished_at < ?1 LIMIT ?2) RETURNING id");
  if (!q) return q.error();
  (*q)->Bind(1, finished_before).Bind(2, int64_t{limit});
  for (;;) {
    auto row = (*q)->Step();
    if (!row) return row.error();
    if (!*row) break;
    ids.push_back((*q)->Text(0));
  }
  return ids;
}

}  // namespace wasmq::queue
