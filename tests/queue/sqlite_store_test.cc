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

}  // namespace
}  // namespace wasmq::queue
