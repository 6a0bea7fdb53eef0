// The SQLite store's own concerns; the Store contract it shares with Redis is tested in store_test.cc.
#include "queue/sqlite_store.h"

#include <gtest/gtest.h>

#include "helpers.h"

namespace wasmq::queue {
namespace {

using testing::TempDir;

TEST(SqliteStoreOpenTest, RefusesANewerSchemaAndBadUrls) {
  TempDir dir;
  {
    auto s = SqliteStore::Open(dir.file("t.db"));
    ASSERT_OK(s);
    ASSERT_OK(s->get() ? Result<void>() : Result<void>(Internal("x")));
  }
  {
    sqlite3* db;
    ASSERT_EQ(sqlite3_open(dir.file("t.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  auto s = SqliteStore::Open(dir.file("t.db"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Code::Unavailable);
  EXPECT_NE(s.error().message.find("newer"), std::string::npos);

  EXPECT_CODE(OpenStore("mysql://x"), Code::InvalidArgument);
  EXPECT_CODE(OpenStore("sqlite:"), Code::InvalidArgument);
  auto nested = OpenStore("sqlite:" + dir.file("a/b/c.db"));  // parent directories are created
  ASSERT_OK(nested);
  EXPECT_EQ((*nested)->backend(), "sqlite");
  EXPECT_CODE(OpenStore("sqlite:/proc/no/such/dir/x.db"), Code::Unavailable);
}


// A file of schema version 1 or 2 (before trace_context), or 3 (before flows), is upgraded in place when
// opened; its tasks keep everything and have no trace context. (history_test.cc checks what version 2 added
// on a version-1 file.)
TEST(SqliteStoreOpenTest, UpgradesVersion1And2Files) {
  for (int version : {1, 2, 3}) {
  SCOPED_TRACE("schema version " + std::to_string(version));
  TempDir dir;
  {
    auto s = SqliteStore::Open(dir.file("t.db"));
    ASSERT_OK(s);
    TaskInfo t;
    t.task_id = "task_old";
    t.mode = "HEAD_SWAP";
    t.created_at = t.updated_at = t.run_at = 1000;
    ASSERT_OK((*s)->Create(t));
  }
  {
    sqlite3* db;
    ASSERT_EQ(sqlite3_open(dir.file("t.db").c_str(), &db), SQLITE_OK);
    // What version 5 (flows) added, then what version 3 added.
    std::string sql =
        "DROP TRIGGER task_deps_done; DROP TRIGGER task_deps_failed; DROP INDEX tasks_by_batch; "
        "ALTER TABLE tasks DROP COLUMN depends_on; ALTER TABLE tasks DROP COLUMN waiting_on; "
        "ALTER TABLE tasks DROP COLUMN held_run_at; ALTER TABLE tasks DROP COLUMN batch_id; ";
    if (version < 3) sql += "ALTER TABLE tasks DROP COLUMN trace_context; ";
    sql += "PRAGMA user_version = " + std::to_string(version);
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  auto s = SqliteStore::Open(dir.file("t.db"));
  ASSERT_OK(s);
  auto old = (*s)->Get("task_old");
  ASSERT_OK(old);
  EXPECT_EQ(old->mode, "HEAD_SWAP");
  EXPECT_EQ(old->trace_context, "");
  TaskInfo t;
  t.task_id = "task_new";
  t.mode = "HEAD_SWAP";
  t.created_at = t.updated_at = t.run_at = 2000;
  t.trace_context = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  ASSERT_OK((*s)->Create(t));
  EXPECT_EQ((*s)->Get("task_new")->trace_context, t.trace_context);
  // And the flows work on the upgraded file.
  TaskInfo dep = t;
  dep.task_id = "task_dep";
  dep.depends_on = {"task_old"};
  auto waiting = (*s)->Submit(dep, {.idempotency_key = "k", .fingerprint = "f"});
  ASSERT_OK(waiting);
  EXPECT_EQ(waiting->task.waiting_on, std::vector<std::string>{"task_old"});
  }
}

}  // namespace
}  // namespace wasmq::queue
