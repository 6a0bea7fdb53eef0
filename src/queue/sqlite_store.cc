// File: src/queue/sqlite_store.cc
//
// The SQLite store: opening and schema, the client operations (create, get, list, cancel, stats) and
// maintenance (lease recovery, cleanup). The worker operations are in sqlite_lease.cc. The schema is
// documented in docs/queue.md; keep the two in step.
#include "queue/sqlite_store.h"

#include <algorithm>

#include "queue/json.h"
#include "queue/sqlite_rows.h"
#include "queue/sqlite_schedules.h"
#include "queue/store_rules.h"

namespace wasmq::queue {

using detail::Db;
using detail::Query;
using detail::ReadTask;

namespace {

// 1: tasks. 2: task_events (with the triggers that write it) and workers. 3: tasks.trace_context.
// 4: fair hand-out (kFairSchema).
// 5: flows (kFlowsColumns, kFlowsSchema: dependencies, idempotency keys, batches).
// 6: schedules (sqlite_schedules.cc).
constexpr int kSchemaVersion = 6;
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
// Version 4: fairness (fairness.h, docs/queue.md "Fairness and per-user limits"). Pending tasks are handed
// out per user — tasks_fair orders one user's pending tasks by run_at − priority · kPriorityAgingMs (the
// expression must stay the very one the claim's ORDER BY names) — and tasks_due finds the next delayed task
// to wait for. They replace version 1's tasks_ready (priority DESC, run_at): one more partial index over the
// pending rows only. fair_users keeps each user's fair-queueing finish tag and per-minute token bucket;
// fair_clock the virtual time V. A task is claimable when `status = 'pending' AND run_at <= now`
// (kClaimable in sqlite_lease.cc): the one predicate any later "not yet" state joins.
constexpr const char* kFairSchema = R"sql(
DROP INDEX IF EXISTS tasks_ready;
CREATE INDEX IF NOT EXISTS tasks_fair ON tasks (user_id, (run_at - priority * 10000)) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS tasks_due ON tasks (run_at) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS fair_users (
  user_id   TEXT PRIMARY KEY,
  finish    REAL NOT NULL DEFAULT 0,
  tokens    REAL NOT NULL DEFAULT -1,
  tokens_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS fair_clock (id INTEGER PRIMARY KEY CHECK (id = 1), v REAL NOT NULL);
INSERT OR IGNORE INTO fair_clock (id, v) VALUES (1, 0);
)sql";
static_assert(kPriorityAgingMs == 10000, "kFairSchema's tasks_fair expression uses kPriorityAgingMs");

static_assert(kMaxProgressEvents == 200, "kHistorySchema's OFFSET keeps kMaxProgressEvents");

// Version 5, flows (docs/queue.md "Idempotency, flows, batches, dead letters"). A task waiting on
// dependencies is `pending` with a non-empty `waiting_on` (JSON array) and its run_at parked at
// kBlockedRunAt (sqlite_rows.h), its own run_at kept in held_run_at: so every claim path, which hands out
// only pending tasks with run_at <= now, passes it by without knowing of dependencies. task_deps maps a
// dependency to the tasks waiting for it.
constexpr const char* kFlowsColumns = R"sql(
ALTER TABLE tasks ADD COLUMN depends_on TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN waiting_on TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN held_run_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN batch_id TEXT NOT NULL DEFAULT '';
)sql";

// The dependencies are resolved by triggers, inside the very statement that finishes a dependency (any
// path: complete, fail, cancel, lease recovery): done takes it out of its dependents' waiting_on and
// releases those left with none (their run_at back); failed or cancelled cancels its pending dependents
// with DEPENDENCY_FAILED — which fires the trigger again for theirs (PRAGMA recursive_triggers, set on
// every connection; SQLite bounds the depth of a chain at 1000).
constexpr const char* kFlowsSchema = R"sql(
CREATE TABLE IF NOT EXISTS task_deps (
  dep_id  TEXT NOT NULL,
  task_id TEXT NOT NULL,
  PRIMARY KEY (dep_id, task_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency_keys (
  user_id     TEXT NOT NULL,
  key         TEXT NOT NULL,
  task_id     TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY (user_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  task_ids   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_batch ON tasks (batch_id) WHERE batch_id <> '';
CREATE TRIGGER IF NOT EXISTS task_deps_done AFTER UPDATE OF status ON tasks
WHEN NEW.status = 'done' AND OLD.status IS NOT 'done' BEGIN
  UPDATE tasks SET waiting_on = (SELECT json_group_array(value) FROM json_each(tasks.waiting_on)
                                 WHERE value <> NEW.id)
    WHERE id IN (SELECT task_id FROM task_deps WHERE dep_id = NEW.id) AND status = 'pending'
      AND waiting_on <> '';
  UPDATE tasks SET waiting_on = '[]', run_at = held_run_at, held_run_at = 0, updated_at = NEW.updated_at
    WHERE id IN (SELECT task_id FROM task_deps WHERE dep_id = NEW.id) AND status = 'pending'
      AND waiting_on = '[]';
  DELETE FROM task_deps WHERE dep_id = NEW.id;
END;
CREATE TRIGGER IF NOT EXISTS task_deps_failed AFTER UPDATE OF status ON tasks
WHEN NEW.status IN ('failed', 'cancelled') AND OLD.status NOT IN ('failed', 'cancelled') BEGIN
  UPDATE tasks SET status = 'cancelled', waiting_on = '[]', run_at = held_run_at, held_run_at = 0,
    finished_at = NEW.updated_at, updated_at = NEW.updated_at,
    error = json_object('code', 'DEPENDENCY_FAILED', 'message',
                        'task ' || NEW.id || ', which this task depends on, is ' || NEW.status,
                        'attempt', attempt, 'retryable', json('false'), 'stderr', NULL,
                        'at', strftime('%Y-%m-%dT%H:%M:%fZ', NEW.updated_at / 1000.0, 'unixepoch'))
    WHERE id IN (SELECT task_id FROM task_deps WHERE dep_id = NEW.id) AND status = 'pending';
  DELETE FROM task_deps WHERE dep_id = NEW.id;
END;
)sql";

Result<void> Pragmas(Db& db, bool sync_full) {
  std::string sql = "PRAGMA busy_timeout = " + std::to_string(kBusyTimeoutMs) + ";";
  sql += sync_full ? "PRAGMA synchronous = FULL;" : "PRAGMA synchronous = NORMAL;";
  sql += "PRAGMA temp_store = MEMORY;";
  sql += "PRAGMA recursive_triggers = ON;";  // kFlowsSchema's cancellation down a chain of dependents
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
    if (*version >= 1 && *version < 3)
      out = db.Exec("ALTER TABLE tasks ADD COLUMN trace_context TEXT NOT NULL DEFAULT ''");
    if (out) out = db.Exec(kSchema);
    if (out) out = db.Exec(kHistorySchema);
    // Version 3 → 4 (and any older file, after the steps above): the fair hand-out's indexes and tables.
    if (out) out = db.Exec(kFairSchema);
    // Version 5, flows: its columns by ALTER on any file that lacks them (a new file's kSchema does too).
    // Asked of the table, not of the version: they are added together, and a file may already have them.
    if (out) {
      auto q = db.Prepare("SELECT COUNT(*) FROM pragma_table_info('tasks') WHERE name = 'depends_on'");
      if (!q) {
        out = q.error();
      } else if (auto row = (*q)->Step(); !row) {
        out = row.error();
      } else {
        const bool has = *row && (*q)->Int(0) > 0;
        q->reset();
        if (!has) out = db.Exec(kFlowsColumns);
      }
    }
    if (out) out = db.Exec(kFlowsSchema);
    if (out) out = db.Exec(detail::kScheduleSchema);  // version 6
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

Result<void> SqliteStore::AdmitUser(const std::string& user, int64_t now) {
  const UserLimits& lim = options_.fairness.For(user);
  if (lim.max_pending > 0) {
    auto n = wdb_->Prepare(
        "SELECT COUNT(*) FROM tasks INDEXED BY tasks_fair WHERE status = 'pending' AND user_id = ?1");
    if (!n) return n.error();
    (*n)->Bind(1, user);
    auto row = (*n)->Step();
    if (!row) return row.error();
    if (*row && (*n)->Int(0) >= lim.max_pending) return detail::PendingLimitError(user, lim.max_pending);
  }
  if (lim.per_minute > 0) {
    double tokens = -1;
    int64_t tokens_at = 0;
    {
      auto q = wdb_->Prepare("SELECT tokens, tokens_at FROM fair_users WHERE user_id = ?1");
      if (!q) return q.error();
      (*q)->Bind(1, user);
      auto row = (*q)->Step();
      if (!row) return row.error();
      if (*row) tokens = (*q)->Double(0), tokens_at = (*q)->Int(1);
    }
    if (int64_t wait = detail::TakeToken(lim.per_minute, now, &tokens, &tokens_at))
      return detail::RateLimitError(user, lim.per_minute, wait);
    auto u = wdb_->Prepare(
        "INSERT INTO fair_users (user_id, tokens, tokens_at) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (user_id) DO UPDATE SET tokens = excluded.tokens, tokens_at = excluded.tokens_at");
    if (!u) return u.error();
    (*u)->Bind(1, user).BindReal(2, tokens).Bind(3, tokens_at);
    return (*u)->Run();
  }
  return {};
}

Result<void> SqliteStore::Create(const TaskInfo& t) {
  auto r = Submit(t, {});
  if (!r) return r.error();
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
  std::vector<TaskEvent> dependents;
  {
    base::MutexLock lock(wmu_);
    const int64_t now = options_.clock();
    auto waiting = Dependents(task_id);  // cancelled with it, by kFlowsSchema's trigger
    if (!waiting) return waiting.error();
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
      bool ready = false;
      if (auto e = DependentEvents(*waiting, now, &dependents, &ready); !e) return e.error();
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
  // A cancelled running task frees a slot of its user's running limit.
  if (out && options_.fairness.AnyRunningLimit()) waiters_.NotifyReady();
  if (out) hub_.PublishCancelled(*out);
  hub_.Publish(dependents);
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
    std::vector<std::string> waiting;
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
      // The tasks waiting on a processing task: a recovery that fails it cancels them (kFlowsSchema).
      {
        auto q = wdb_->Prepare(
            "SELECT DISTINCT dep_id FROM task_deps WHERE dep_id IN (SELECT id FROM tasks WHERE status = "
            "'processing' AND attempt > max_retries)");
        if (!q) return q.error();
        std::vector<std::string> deps;
        for (;;) {
          auto row = (*q)->Step();
          if (!row) return row.error();
          if (!*row) break;
          deps.push_back((*q)->Text(0));
        }
        q->reset();
        for (const std::string& dep : deps) {
          auto d = Dependents(dep);
          if (!d) return d.error();
          waiting.insert(waiting.end(), d->begin(), d->end());
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
      q->reset();
      bool ready = false;
      return DependentEvents(waiting, now, &events, &ready);
    };
    if (auto r = wdb_->EndTransaction(body()); !r) return r.error();
  }
  if (!report.requeued.empty() || (!report.failed.empty() && options_.fairness.AnyRunningLimit()))
    waiters_.NotifyReady();
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
  q->reset();
  // Spent idempotency keys go with the finished tasks (a key's own TTL has passed).
  auto keys = wdb_->Prepare("DELETE FROM idempotency_keys WHERE expires_at <= ?1");
  if (!keys) return keys.error();
  (*keys)->Bind(1, options_.clock());
  if (auto r = (*keys)->Run(); !r) return r.error();
  return ids;
}

}  // namespace wasmq::queue
