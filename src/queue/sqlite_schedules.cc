// File: src/queue/sqlite_schedules.cc
//
// The SQLite store's schedules. The claim of an occurrence (FireSchedule) is one BEGIN IMMEDIATE
// transaction: a compare-and-set of next_due, then the task's INSERT. SQLite serialises writers across
// processes, so two `wasmq serve` on one file (or two stores in one process) cannot both see the old
// next_due: the second's UPDATE matches no row and it does nothing.
#include "queue/json.h"
#include "queue/sqlite_store.h"

namespace wasmq::queue {

using detail::Db;
using detail::Query;

namespace {

constexpr const char* kColumns =
    "id, user_id, cron, timezone, task, paused, catch_up, next_due, created_at, updated_at, last_run_at, "
    "last_task_id";

Result<ScheduleInfo> ReadSchedule(Query& q) {
  ScheduleInfo s;
  s.schedule_id = q.Text(0);
  s.user_id = q.Text(1);
  s.cron = q.Text(2);
  s.timezone = q.Text(3);
  auto task = ParseJson(q.Text(4));
  if (!task) return Internal("schedule " + s.schedule_id + ": corrupt task: " + task.error().message);
  s.task = std::move(*task);
  s.paused = q.Int(5) != 0;
  s.catch_up = q.Text(6) == "skip" ? CatchUp::Skip : CatchUp::Once;
  s.next_due = q.Int(7);
  s.created_at = q.Int(8);
  s.updated_at = q.Int(9);
  s.last_run_at = q.Int(10);
  s.last_task_id = q.Text(11);
  return s;
}

// Every row `sql` selects (kColumns), binding ?1.. through `bind`.
Result<std::vector<ScheduleInfo>> ReadAll(Db& db, const std::string& sql, const std::function<void(Query&)>& bind) {
  auto q = db.Prepare(sql);
  if (!q) return q.error();
  bind(**q);
  std::vector<ScheduleInfo> out;
  for (;;) {
    auto row = (*q)->Step();
    if (!row) return row.error();
    if (!*row) return out;
    auto s = ReadSchedule(**q);
    if (!s) return s.error();
    out.push_back(std::move(*s));
  }
}

Result<ScheduleInfo> ReadOne(Db& db, std::string_view id) {
  auto all = ReadAll(db, std::string("SELECT ") + kColumns + " FROM schedules WHERE id = ?1",
                     [&](Query& q) { q.Bind(1, id); });
  if (!all) return all.error();
  if (all->empty()) return NotFound("no schedule " + std::string(id));
  return std::move(all->front());
}

}  // namespace

Result<void> SqliteStore::CreateSchedule(const ScheduleInfo& s) {
  base::MutexLock lock(wmu_);
  auto q = wdb_->Prepare(
      "INSERT INTO schedules (id, user_id, cron, timezone, task, paused, catch_up, next_due, created_at, "
      "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)");
  if (!q) return q.error();
  (*q)->Bind(1, s.schedule_id).Bind(2, s.user_id).Bind(3, s.cron).Bind(4, s.timezone).Bind(5, s.task.dump());
  (*q)->Bind(6, int64_t{s.paused}).Bind(7, ToString(s.catch_up)).Bind(8, s.next_due).Bind(9, s.created_at);
  if (auto r = (*q)->Run(); !r) {
    if (sqlite3_extended_errcode(wdb_->raw()) == SQLITE_CONSTRAINT_PRIMARYKEY)
      return Conflict("schedule " + s.schedule_id + " already exists");
    return r.error();
  }
  return {};
}

Result<ScheduleInfo> SqliteStore::GetSchedule(std::string_view id) {
  base::MutexLock lock(rmu_);
  return ReadOne(*rdb_, id);
}

Result<std::vector<ScheduleInfo>> SqliteStore::ListSchedules(const std::string* user) {
  base::MutexLock lock(rmu_);
  if (!user) return ReadAll(*rdb_, std::string("SELECT ") + kColumns + " FROM schedules ORDER BY rowid", [](Query&) {});
  return ReadAll(*rdb_, std::string("SELECT ") + kColumns + " FROM schedules WHERE user_id = ?1 ORDER BY rowid",
                 [&](Query& q) { q.Bind(1, *user); });
}

Result<ScheduleInfo> SqliteStore::SetSchedulePaused(std::string_view id, bool paused, int64_t next_due) {
  base::MutexLock lock(wmu_);
  auto q = wdb_->Prepare("UPDATE schedules SET paused = ?2, next_due = ?3, updated_at = ?4 WHERE id = ?1");
  if (!q) return q.error();
  (*q)->Bind(1, id).Bind(2, int64_t{paused}).Bind(3, next_due).Bind(4, options_.clock());
  if (auto r = (*q)->Run(); !r) return r.error();
  if (wdb_->Changes() == 0) return NotFound("no schedule " + std::string(id));
  return ReadOne(*wdb_, id);
}

Result<void> SqliteStore::DeleteSchedule(std::string_view id) {
  base::MutexLock lock(wmu_);
  auto q = wdb_->Prepare("DELETE FROM schedules WHERE id = ?1");
  if (!q) return q.error();
  (*q)->Bind(1, id);
  if (auto r = (*q)->Run(); !r) return r.error();
  if (wdb_->Changes() == 0) return NotFound("no schedule " + std::string(id));
  return {};
}

Result<std::vector<ScheduleInfo>> SqliteStore::DueSchedules(int64_t due_by, int limit) {
  base::MutexLock lock(rmu_);
  return ReadAll(*rdb_,
                 std::string("SELECT ") + kColumns +
                     " FROM schedules WHERE paused = 0 AND next_due <= ?1 ORDER BY next_due LIMIT ?2",
                 [&](Query& q) { q.Bind(1, due_by).Bind(2, int64_t{limit}); });
}

Result<bool> SqliteStore::FireSchedule(std::string_view id, int64_t expected_due, int64_t new_due,
                                       const TaskInfo* task) {
  if (task)
    if (auto ok = CheckNew(*task); !ok) return ok.error();
  {
    base::MutexLock lock(wmu_);
    if (auto b = wdb_->Exec("BEGIN IMMEDIATE"); !b) return b.error();
    auto body = [&]() REQUIRES(wmu_) -> Result<bool> {
      auto q = wdb_->Prepare(
          "UPDATE schedules SET next_due = ?3, updated_at = ?4, last_run_at = CASE WHEN ?5 = '' THEN "
          "last_run_at ELSE ?4 END, last_task_id = CASE WHEN ?5 = '' THEN last_task_id ELSE ?5 END "
          "WHERE id = ?1 AND next_due = ?2 AND paused = 0");
      if (!q) return q.error();
      (*q)->Bind(1, id).Bind(2, expected_due).Bind(3, new_due).Bind(4, options_.clock());
      (*q)->Bind(5, task ? task->task_id : std::string());
      if (auto r = (*q)->Run(); !r) return r.error();
      if (wdb_->Changes() == 0) return false;
      if (task) {
        bool waits = false;  // a schedule's task has no dependencies
        if (auto r = InsertTask(*task, &waits); !r) return r.error();
      }
      return true;
    };
    auto claimed = body();
    if (!claimed || !*claimed) {
      (void)wdb_->Exec("ROLLBACK");
      return claimed;
    }
    if (auto c = wdb_->Exec("COMMIT"); !c) {
      (void)wdb_->Exec("ROLLBACK");
      return c.error();
    }
  }
  if (task) {
    waiters_.NotifyReady();
    hub_.PublishCreated(*task);
  }
  return true;
}

}  // namespace wasmq::queue
