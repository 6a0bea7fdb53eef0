// File: src/queue/redis_scripts.h
//
// Internal to the Redis backend: the Lua scripts that make every state change atomic (Redis runs a script
// without interleaving any other command), and calling them by SHA.
//
// Each script is loaded once per server (SCRIPT LOAD) and called with EVALSHA. A restarted server has an
// empty script cache: EVALSHA then answers NOSCRIPT, and Call loads the scripts again and retries once.
//
// Every script takes ARGV[1] = key prefix, ARGV[2] = the calling store's origin id (its own events are not
// relayed back to it by pub/sub), ARGV[3] = now (ms since the epoch, from the store's clock); its own
// arguments follow from ARGV[4]. Keys are built inside the scripts from the prefix (one Redis, no cluster).
// The key layout and the event message format are documented at the top of redis_scripts.cc.
#pragma once

#include <string>
#include <vector>

#include "queue/redis_conn.h"

namespace wasmq::queue::detail {

enum class Script {
  Create,
  Claim,
  Heartbeat,
  Progress,
  Finish,
  Cancel,
  Owners,
  Recover,
  Cleanup,
  List,
  Stats,
  History,
  Requeue,
  Workers,
  Finished,
  CreateBatch,
  Batch,
  DeadLetters
};

// Loads every script on `c` (idempotent). Unavailable/Internal when the server refuses.
Result<void> LoadScripts(Connection& c);

// EVALSHA of `script` with `args` (prefix, origin and now first). Returns the script's reply; an error
// reply becomes Unavailable (server loading, out of memory, read-only replica) or Internal (a bug).
Result<Reply> CallScript(Connection& c, Script script, const std::vector<std::string>& args);

// The text shared by every script, and one script's own text: for a script of another file that goes on to
// do what one of these does in the same atomic step (redis_schedules.cc: a schedule firing ends by creating
// its task exactly as Create does).
const char* ScriptPrelude();
const char* ScriptBody(Script script);

}  // namespace wasmq::queue::detail
