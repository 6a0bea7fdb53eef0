// File: src/queue/sqlite_schedules.h
//
// Internal to the SQLite store: the schedules table (schema version 6), created by MigrateSchema.
#pragma once

namespace wasmq::queue::detail {

// One row per schedule; the partial index serves the firing loop's "what is due" (DueSchedules), over the
// unpaused ones only. `task` is the create request as JSON text.
inline constexpr const char* kScheduleSchema = R"sql(
CREATE TABLE IF NOT EXISTS schedules (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL DEFAULT '',
  cron         TEXT NOT NULL,
  timezone     TEXT NOT NULL,
  task         TEXT NOT NULL,
  paused       INTEGER NOT NULL DEFAULT 0,
  catch_up     TEXT NOT NULL DEFAULT 'once' CHECK (catch_up IN ('once', 'skip')),
  next_due     INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  last_run_at  INTEGER NOT NULL DEFAULT 0,
  last_task_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS schedules_due ON schedules (next_due) WHERE paused = 0;
)sql";

}  // namespace wasmq::queue::detail
