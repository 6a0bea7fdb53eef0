// File: src/queue/sqlite_group_commit.cc
//
// Group commit of the SQLite store's Creates (sqlite_store.h). A commit costs the same for one row as for
// dozens — the WAL frames of the pages it touched, and with sync_full an fsync — so producers that submit at
// once share one: while a leader writes a group, newcomers gather into the next. A lone producer is written
// at once, alone, as before (no waiting for company). Each Create still returns only after its own row is
// committed, with its own result (Conflict for an id that exists does not fail the others).
#include "queue/sqlite_store.h"

namespace wasmq::queue {

namespace {
// Beyond this a group's transaction holds the write lock long enough to delay the workers' claims.
constexpr size_t kMaxGroup = 256;
}  // namespace

Result<void> SqliteStore::CreateInGroup(const TaskInfo& t) {
  GroupedCreate me{&t};
  base::MutexLock lock(group_mu_);
  group_.push_back(&me);
  while (!me.written) {
    if (group_writing_) {
      group_cv_.Wait(lock);
      continue;
    }
    // Lead: write what has gathered (this task, and whoever joined while the last group was written).
    group_writing_ = true;
    std::vector<GroupedCreate*> group;
    const size_t n = std::min(group_.size(), kMaxGroup);
    group.assign(group_.begin(), group_.begin() + static_cast<std::ptrdiff_t>(n));
    group_.erase(group_.begin(), group_.begin() + static_cast<std::ptrdiff_t>(n));
    lock.Unlock();
    WriteGroup(group);
    lock.Lock();
    for (GroupedCreate* c : group) c->written = true;
    group_writing_ = false;
    group_cv_.NotifyAll();  // the written return; one of the rest leads the next group
  }
  return std::move(me.result);
}

void SqliteStore::WriteGroup(const std::vector<GroupedCreate*>& group) {
  base::MutexLock lock(wmu_);
  if (group.size() == 1) {  // its INSERT is a transaction of its own
    bool waits = false;  // grouped tasks have no dependencies (sqlite_flows.cc sends those alone)
    group[0]->result = InsertTask(*group[0]->task, &waits);
    return;
  }
  auto fail_all = [&](const Error& e) {
    for (GroupedCreate* c : group) c->result = e;
  };
  if (auto b = wdb_->Exec("BEGIN IMMEDIATE"); !b) return fail_all(b.error());
  for (GroupedCreate* c : group) {
    bool waits = false;
    c->result = InsertTask(*c->task, &waits);
    // A duplicate id fails its own INSERT only; any other failure (I/O, full disk) may have rolled the
    // transaction back: nobody's row is written.
    if (!c->result && c->result.error().code != Code::Conflict) {
      const Error e = c->result.error();
      (void)wdb_->Exec("ROLLBACK");
      return fail_all(e);
    }
  }
  if (auto c = wdb_->Exec("COMMIT"); !c) {
    (void)wdb_->Exec("ROLLBACK");
    fail_all(c.error());
  }
}

}  // namespace wasmq::queue
