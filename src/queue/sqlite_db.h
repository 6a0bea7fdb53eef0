// File: src/queue/sqlite_db.h
//
// Internal to the queue part (include queue/queue.h instead): a thin RAII layer over the SQLite C API.
// A Db is one connection with a cache of prepared statements; Query borrows one of them and resets it
// when it goes out of scope, so a statement is compiled once per connection and reused.
//
// Threading: a Db is used by one thread at a time (the SqliteStore holds a mutex per connection).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "queue/error.h"

namespace wasmq::queue::detail {

// SQLite's result code as an Error: BUSY/LOCKED (the busy timeout ran out), I/O, full disk, read-only,
// cannot-open become Unavailable (the store is there but cannot serve now); the rest Internal.
Error SqliteError(sqlite3* db, int rc, std::string_view context);

class Query {
 public:
  Query(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  ~Query() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  // Parameters are 1-based (?1, ?2, ...).
  Query& Bind(int i, int64_t v) { return Check(sqlite3_bind_int64(stmt_, i, v)); }
  Query& Bind(int i, std::string_view v) {
    return Check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Query& BindReal(int i, double v) { return Check(sqlite3_bind_double(stmt_, i, v)); }
  Query& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Query& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }

  // true: a row is ready; false: done. Error on failure (also a failed bind before it).
  Result<bool> Step();
  // Runs to completion, ignoring rows.
  Result<void> Run();

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const { return sqlite3_column_double(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col))
             : std::string();
  }

 private:
  Query& Check(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

class Db {
 public:
  // Opens (creating when missing) the database file at `path` for reading and writing.
  static Result<std::unique_ptr<Db>> Open(const std::string& path);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more statements without results (schema, pragmas, BEGIN/COMMIT).
  Result<void> Exec(const char* sql);
  // Ends a transaction begun with BEGIN: COMMIT when `body` (what ran inside it) succeeded, else ROLLBACK
  // and body's error. A COMMIT that fails is rolled back too.
  Result<void> EndTransaction(Result<void> body);
  // A cached prepared statement for `sql`; the Query resets it when destroyed. Internal on a syntax
  // error (a bug).
  Result<std::unique_ptr<Query>> Prepare(const std::string& sql);
  int64_t Changes() const { return sqlite3_changes64(db_); }
  sqlite3* raw() const { return db_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace wasmq::queue::detail
