// File: src/queue/sqlite_lease.cc
//
// The SQLite store's worker side: Dequeue (claim under a lease) and every lease-guarded write. Each is a
// single UPDATE whose WHERE clause carries the guard — `status = 'processing' AND lease_owner = ? AND
// lease_token = ?` — so checking the lease and applying the change are one atomic step; when the guard
// matches no row, LeaseError reads the row and LeaseRefusal (store_rules.h) says why. The waiting of a
// blocked Dequeue is ReadyWaiters' (waiters.h); only the claim and the other-process check are here.
//
// Every statement is stepped to SQLITE_DONE: in autocommit mode the commit happens then, and a failed
// commit (full disk, I/O error) must reach the caller rather than be lost in sqlite3_reset.
#include <algorithm>
#include <map>
#include <optional>

#include "queue/json.h"
#include "queue/sqlite_rows.h"
#include "queue/sqlite_store.h"
#include "queue/store_rules.h"

namespace wasmq::queue {

using detail::Query;
using detail::ReadTask;

namespace {

constexpr const char* kGuard =
    " WHERE id = ?1 AND status = 'processing' AND lease_owner = ?2 AND lease_token = ?3";
constexpr const char* kEventColumns = " RETURNING mode, attempt, progress, current_step, updated_at";

void BindLease(Query& q, const Lease& l) { q.Bind(1, l.task_id).Bind(2, l.owner).Bind(3, l.token); }

std::string ModeFilter(const DequeueRequest& req) {
  return req.modes.empty() ? "" : " AND mode IN (SELECT value FROM json_each(?4))";
}

}  // namespace

Error SqliteStore::LeaseError(const Lease& lease, TaskStatus to) {
  auto q = wdb_->Prepare("SELECT status, lease_owner, lease_token FROM tasks WHERE id = ?1");
  if (!q) return q.error();
  (*q)->Bind(1, lease.task_id);
  auto row = (*q)->Step();
  if (!row) return row.error();
  std::optional<detail::FoundTask> found;
  if (*row) found = detail::FoundTask{(*q)->Text(0), (*q)->Text(1), std::to_string((*q)->Int(2))};
  return detail::LeaseRefusal(lease, found, to, "the database");
}

bool SqliteStore::ExternalChange() {
  base::MutexLock lock(wmu_);
  auto q = wdb_->Prepare("PRAGMA data_version");
  if (!q) return true;
  auto row = (*q)->Step();
  if (!row || !*row) return true;
  int64_t v = (*q)->Int(0);
  bool changed = v != data_version_;
  data_version_ = v;
  return changed;
}

namespace {

// A task may be claimed when this holds (?2 = now). Any later "not yet" state of a pending task joins this
// one predicate (and tasks_fair's partial-index condition stays `status = 'pending'`).
constexpr const char* kClaimable = "status = 'pending' AND run_at <= ?2";

// One user's candidate for the next claim: the head of its pending tasks in within-user order.
struct FairCandidate {
  std::string user;
  const UserLimits* limits = nullptr;
  double finish = 0;  // fair-queueing finish tag (fair_users.finish)
  int running = 0;    // its tasks processing now (counted only when a running limit is set)
  bool has_head = false, dirty = false;
  int64_t rowid = 0, key = 0;  // the head task and its run_at − priority · kPriorityAgingMs
};

}  // namespace

// The fair claim (fairness.h): one transaction that lists the users with pending tasks (a skip-scan of
// tasks_fair, one index seek per user), takes each one's head, and hands out — one task at a time, up to
// max_tasks — the head of the user whose turn max(V, finish) comes first (ties: the older head), then
// moves that user's finish tag on by 1/weight and V to the turn served.
Result<std::vector<Claimed>> SqliteStore::TryClaim(const DequeueRequest& req, int64_t* next_due) {
  std::vector<Claimed> out;
  *next_due = 0;
  base::MutexLock lock(wmu_);
  const int64_t now = options_.clock();
  const std::string modes = req.modes.empty() ? std::string() : Json(req.modes).dump();
  const std::string mode_filter = ModeFilter(req);
  auto body = [&]() REQUIRES(wmu_) -> Result<void> {
    std::vector<FairCandidate> cands;
    // Fetches c's head (the first claimable task of the user in within-user order), or none.
    auto fetch_head = [&](FairCandidate& c) REQUIRES(wmu_) -> Result<void> {
      auto q = wdb_->Prepare(std::string("SELECT rowid, run_at - priority * 10000 FROM tasks INDEXED BY tasks_fair "
                                         "WHERE user_id = ?1 AND ") +
                             kClaimable + mode_filter + " ORDER BY run_at - priority * 10000, rowid LIMIT 1");
      if (!q) return q.error();
      (*q)->Bind(1, c.user).Bind(2, now);
      if (!modes.empty()) (*q)->Bind(4, modes);
      auto row = (*q)->Step();
      if (!row) return row.error();
      c.has_head = *row;
      if (*row) c.rowid = (*q)->Int(0), c.key = (*q)->Int(1);
      return {};
    };
    {
      auto first = wdb_->Prepare(
          "SELECT user_id FROM tasks INDEXED BY tasks_fair WHERE status = 'pending' ORDER BY user_id LIMIT 1");
      if (!first) return first.error();
      auto row = (*first)->Step();
      if (!row) return row.error();
      std::optional<std::string> user;
      if (*row) user = (*first)->Text(0);
      first->reset();
      while (user) {
        cands.push_back({.user = *user, .limits = &options_.fairness.For(*user)});
        auto next = wdb_->Prepare(
            "SELECT user_id FROM tasks INDEXED BY tasks_fair WHERE status = 'pending' AND user_id > ?1 "
            "ORDER BY user_id LIMIT 1");
        if (!next) return next.error();
        (*next)->Bind(1, *user);
        auto r = (*next)->Step();
        if (!r) return r.error();
        if (*r) user = (*next)->Text(0);
        else user.reset();
      }
    }
    if (cands.empty()) return {};
    for (FairCandidate& c : cands) {
      if (auto r = fetch_head(c); !r) return r;
      if (!c.has_head) continue;
      auto q = wdb_->Prepare("SELECT finish FROM fair_users WHERE user_id = ?1");
      if (!q) return q.error();
      (*q)->Bind(1, c.user);
      auto row = (*q)->Step();
      if (!row) return row.error();
      if (*row) c.finish = (*q)->Double(0);
    }
    if (options_.fairness.AnyRunningLimit()) {
      auto q = wdb_->Prepare(
          "SELECT user_id, COUNT(*) FROM tasks INDEXED BY tasks_running WHERE status = 'processing' GROUP BY "
          "user_id");
      if (!q) return q.error();
      std::map<std::string, int, std::less<>> running;
      for (;;) {
        auto row = (*q)->Step();
        if (!row) return row.error();
        if (!*row) break;
        running[(*q)->Text(0)] = static_cast<int>((*q)->Int(1));
      }
      for (FairCandidate& c : cands)
        if (auto it = running.find(c.user); it != running.end()) c.running = it->second;
    }
    double v = 0;
    {
      auto q = wdb_->Prepare("SELECT v FROM fair_clock WHERE id = 1");
      if (!q) return q.error();
      auto row = (*q)->Step();
      if (!row) return row.error();
      if (*row) v = (*q)->Double(0);
    }
    const double v_before = v;
    for (int n = 0; n < std::max(1, req.max_tasks); ++n) {
      FairCandidate* best = nullptr;
      double best_turn = 0;
      for (FairCandidate& c : cands) {
        if (!c.has_head) continue;
        if (c.limits->max_running > 0 && c.running >= c.limits->max_running) continue;
        const double turn = std::max(v, c.finish);
        if (!best || turn < best_turn || (turn == best_turn && (c.key < best->key ||
                                                                (c.key == best->key && c.rowid < best->rowid)))) {
          best = &c;
          best_turn = turn;
        }
      }
      if (!best) break;
      auto q = wdb_->Prepare(
          "UPDATE tasks SET status = 'processing', attempt = attempt + 1, lease_owner = ?1, "
          "lease_token = lease_token + 1, lease_expires_at = ?2 + ?3, started_at = ?2, updated_at = ?2, "
          "progress = 0, current_step = '' WHERE rowid = ?4 RETURNING " +
          std::string(detail::kTaskColumns));
      if (!q) return q.error();
      (*q)->Bind(1, req.owner).Bind(2, now).Bind(3, req.lease_ms).Bind(4, best->rowid);
      auto row = (*q)->Step();
      if (!row) return row.error();
      if (*row) {
        Claimed c;
        auto t = ReadTask(**q, &c.lease);
        if (!t) return t.error();
        c.task = std::move(*t);
        out.push_back(std::move(c));
      }
      if (auto r = (*q)->Run(); !r) return r;
      q->reset();
      v = best_turn;
      best->finish = best_turn + 1.0 / std::max(1e-6, best->limits->weight);
      best->running += 1;
      best->dirty = true;
      if (auto r = fetch_head(*best); !r) return r;
    }
    if (v != v_before) {
      auto q = wdb_->Prepare("UPDATE fair_clock SET v = ?1 WHERE id = 1");
      if (!q) return q.error();
      (*q)->BindReal(1, v);
      if (auto r = (*q)->Run(); !r) return r;
    }
    for (const FairCandidate& c : cands) {
      if (!c.dirty) continue;
      auto q = wdb_->Prepare(
          "INSERT INTO fair_users (user_id, finish) VALUES (?1, ?2) "
          "ON CONFLICT (user_id) DO UPDATE SET finish = excluded.finish");
      if (!q) return q.error();
      (*q)->Bind(1, c.user).BindReal(2, c.finish);
      if (auto r = (*q)->Run(); !r) return r;
    }
    return {};
  };
  if (auto b = wdb_->Exec("BEGIN IMMEDIATE"); !b) return b.error();
  if (auto r = body(); !r) {
    (void)wdb_->Exec("ROLLBACK");
    return r.error();
  }
  if (auto c = wdb_->Exec("COMMIT"); !c) {
    (void)wdb_->Exec("ROLLBACK");
    return c.error();
  }
  if (out.empty()) {
    // The next delayed task to wait for: only one due *later* (a due task held back by a running limit
    // is waited for by the finish that frees its user's slot, which wakes the waiters).
    auto q = wdb_->Prepare("SELECT MIN(run_at) FROM tasks INDEXED BY tasks_due WHERE status = 'pending' AND "
                           "run_at > ?2 AND run_at < " + std::to_string(detail::kBlockedRunAt) + mode_filter);
    if (!q) return q.error();
    (*q)->Bind(2, now);
    if (!modes.empty()) (*q)->Bind(4, modes);
    auto row = (*q)->Step();
    if (!row) return row.error();
    if (*row && !(*q)->IsNull(0)) *next_due = (*q)->Int(0);
  }
  return out;
}

Result<std::vector<Claimed>> SqliteStore::Dequeue(const DequeueRequest& req) {
  // In-process enqueues wake the wait at once; other processes' commits are looked for every external_poll_.
  return waiters_.Dequeue(req,
                          {.prepare = [this] { (void)ExternalChange(); },  // the baseline for the poll
                           .clock = options_.clock,
                           .try_claim = [&](int64_t* next_due) { return TryClaim(req, next_due); },
                           .poll = external_poll_,
                           .changed_elsewhere = [this] { return ExternalChange(); }},
                          hub_);
}

Result<int64_t> SqliteStore::Heartbeat(const Lease& lease, int64_t lease_ms) {
  base::MutexLock lock(wmu_);
  const int64_t expires = options_.clock() + lease_ms;
  auto q = wdb_->Prepare(std::string("UPDATE tasks SET lease_expires_at = ?4") + kGuard);
  if (!q) return q.error();
  BindLease(**q, lease);
  (*q)->Bind(4, expires);
  if (auto r = (*q)->Run(); !r) return r.error();
  if (wdb_->Changes() == 0) return LeaseError(lease, TaskStatus::Processing);
  return expires;
}

Result<void> SqliteStore::GuardedUpdate(const Lease& lease, TaskStatus to, const std::string& set,
                                        const std::function<void(Query&)>& bind, TaskEvent* e) {
  auto q = wdb_->Prepare("UPDATE tasks SET " + set + kGuard + kEventColumns);
  if (!q) return q.error();
  BindLease(**q, lease);
  bind(**q);
  auto row = (*q)->Step();
  if (!row) return row.error();
  if (!*row) return LeaseError(lease, to);
  *e = detail::GuardedEvent(lease, e->kind, to,
                            {(*q)->Text(0), static_cast<int>((*q)->Int(1)), static_cast<int>((*q)->Int(2)),
                             (*q)->Text(3), (*q)->Int(4)});
  return (*q)->Run();
}

Result<void> SqliteStore::Progress(const Lease& lease, int percent, std::string_view step) {
  if (auto ok = detail::CheckProgress(percent, &step); !ok) return ok;
  TaskEvent e;
  e.kind = TaskEvent::Kind::Progress;
  {
    base::MutexLock lock(wmu_);
    const int64_t now = options_.clock();
    if (auto r = GuardedUpdate(
            lease, TaskStatus::Processing, "progress = ?4, current_step = ?5, updated_at = ?6",
            [&](Query& q) { q.Bind(4, int64_t{percent}).Bind(5, step).Bind(6, now); }, &e);
        !r)
      return r.error();
  }
  hub_.Publish({e});
  return {};
}

Result<void> SqliteStore::ApplyFinish(const Finish& f, int64_t now, TaskEvent* e) {
  const Lease& lease = f.lease;
  switch (f.kind) {
    case Finish::Kind::Complete:
      return GuardedUpdate(
          lease, TaskStatus::Done,
          "status = 'done', progress = 100, result = ?4, finished_at = ?5, updated_at = ?5, "
          "duration_ms = ?5 - started_at, lease_owner = NULL, lease_expires_at = 0",
          [&](Query& q) { q.Bind(4, ToJson(f.result).dump()).Bind(5, now); }, e);
    case Finish::Kind::Fail:
      return GuardedUpdate(
          lease, TaskStatus::Failed,
          "status = 'failed', error = ?4, finished_at = ?5, updated_at = ?5, "
          "duration_ms = ?5 - started_at, lease_owner = NULL, lease_expires_at = 0",
          [&](Query& q) { q.Bind(4, ToJson(f.error).dump()).Bind(5, now); }, e);
    case Finish::Kind::Retry:
      return GuardedUpdate(
          lease, TaskStatus::Pending,
          "status = 'pending', error = ?4, run_at = ?5, updated_at = ?6, progress = 0, "
          "current_step = '', lease_owner = NULL, lease_expires_at = 0",
          [&](Query& q) { q.Bind(4, ToJson(f.error).dump()).Bind(5, std::max(f.run_at, now)).Bind(6, now); },
          e);
    case Finish::Kind::Release:
      // run_at is kept: the task goes back to the place in the queue it had.
      return GuardedUpdate(
          lease, TaskStatus::Pending,
          "status = 'pending', attempt = attempt - 1, updated_at = ?4, progress = 0, "
          "current_step = '', lease_owner = NULL, lease_expires_at = 0",
          [&](Query& q) { q.Bind(4, now); }, e);
  }
  return Internal("unknown finish kind");
}

std::vector<Result<void>> SqliteStore::FinishMany(const std::vector<Finish>& items) {
  std::vector<Result<void>> out;
  std::vector<TaskEvent> events;
  bool ready = false;
  const bool running_limits = options_.fairness.AnyRunningLimit();
  {
    base::MutexLock lock(wmu_);
    const int64_t now = options_.clock();
    // One item needs no explicit transaction: its UPDATE is one.
    const bool batch = items.size() > 1;
    if (batch) {
      if (auto b = wdb_->Exec("BEGIN IMMEDIATE"); !b)
        return std::vector<Result<void>>(items.size(), b.error());
    }
    for (const Finish& f : items) {
      TaskEvent e;
      // A task that ends may release or cancel the tasks waiting on it (kFlowsSchema's triggers).
      std::vector<std::string> waiting;
      if (f.kind == Finish::Kind::Complete || f.kind == Finish::Kind::Fail) {
        auto d = Dependents(f.lease.task_id);
        if (!d && batch) {
          (void)wdb_->Exec("ROLLBACK");
          return std::vector<Result<void>>(items.size(), d.error());
        }
        if (d) waiting = std::move(*d);
      }
      Result<void> r = ApplyFinish(f, now, &e);
      std::vector<TaskEvent> dependents;  // published after the task's own event
      if (r && !waiting.empty()) {
        bool released = false;
        if (auto de = DependentEvents(waiting, now, &dependents, &released); de) ready = ready || released;
      }
      // A failed statement inside the transaction (I/O, full disk) may have rolled it back: everything fails.
      if (!r && r.error().code != Code::Conflict && r.error().code != Code::NotFound && batch) {
        (void)wdb_->Exec("ROLLBACK");
        return std::vector<Result<void>>(items.size(), r.error());
      }
      if (r) {
        events.push_back(std::move(e));
        events.insert(events.end(), dependents.begin(), dependents.end());
        // A finished attempt frees a slot of its user's running limit: waiters held back by it try again.
        ready = ready || detail::MakesReady(f.kind) || running_limits;
      }
      out.push_back(std::move(r));
    }
    if (batch) {
      if (auto c = wdb_->Exec("COMMIT"); !c) {
        (void)wdb_->Exec("ROLLBACK");
        return std::vector<Result<void>>(items.size(), c.error());
      }
    }
  }
  if (ready) waiters_.NotifyReady();
  hub_.Publish(events);
  return out;
}

}  // namespace wasmq::queue
