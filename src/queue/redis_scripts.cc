// File: src/queue/redis_scripts.cc
//
// The Redis store's Lua scripts. Keys, for prefix P (the seed's three first):
//
//   P:task:queue               List    ids of the tasks ready to run, in the order they became ready (the
//                                      seed's queue: LLEN is the queue length). Hand-out order is decided by
//                                      the ready sets below; a claim removes the id with LREM from the head,
//                                      where a FIFO claim finds it.
//   P:task:data:{id}           Hash    the task: every TaskInfo field, plus lease_owner, lease_token,
//                                      lease_expires_at, duration_ms and seq (creation order).
//   P:task:processing          Set     ids of the tasks in `processing`.
//   P:task:ready:{mode}        ZSet    ready tasks of a mode; score (100 - priority)·2^42 + run_at, member
//                                      "<seq as 12 hex digits>:<id>" so that equal scores keep creation
//                                      order.
//   P:task:delayed             ZSet    pending tasks waiting out a retry backoff, by run_at; a claim moves
//   the
//                                      due ones to their ready set.
//   P:task:leases              ZSet    processing tasks by lease expiry (the reaper's index).
//   P:task:status:{status}     ZSet    ids by seq, one set per status (counts, filtered lists).
//   P:task:all, P:task:mode:{mode}, P:task:user:{user}   ZSet   ids by seq (lists, newest first).
//   P:task:finished            ZSet    finished tasks by finished_at (cleanup).
//   P:task:durations:{mode}    ZSet    done tasks by duration_ms (stats: count, p95);
//   P:task:mode_stats:{mode}   Hash    duration_sum (stats: mean).
//   P:task:modes               Set     every mode ever submitted.  P:task:seq  String  the creation counter.
//   P:task:history:{id}        List    the task's events but progress (history.h), oldest first:
//                                      kind|at|attempt|progress|info|detail
//   P:task:progress:{id}       List    its last kMaxProgressEvents progress events: n|at|attempt|progress|step,
//                                      n = the length of its history list then (where it goes between them)
//   P:workers                  Hash    worker id → its WorkerInfo as JSON (the registry; heartbeats)
//   P:task:dependents:{id}     Set     ids of the pending tasks waiting for task id (flows: `resolve`)
//   P:task:idem:{user}:{key}   String  "<fingerprint>|<task id>", PX the key's TTL (idempotent create)
//   P:task:batch:{id}          Hash    user_id, created_at, task_ids (JSON array)
//   P:task:events              channel one message per committed change:
//                                      origin|kind|id|mode|status|progress|attempt|at|current_step
//
// A lease-guarded script first checks status = processing, lease_owner and lease_token; otherwise it changes
// nothing and answers {1, status, owner, token} ({2} for an unknown task). Success is {0, mode, attempt,
// progress, current_step, at}: what the caller needs to build the event it publishes in its own process.
// A finish also records `last_finish` = owner|token|kind in the task's hash, so that the same finish sent
// again because its outcome was unknown (a lost reply, a failed WAIT) is answered {3, …}: already applied,
// nothing changed. Sent again without that doubt, it is refused like any other write under a finished lease.
#include "queue/redis_scripts.h"

#include <array>

#include "base/mutex.h"

namespace wasmq::queue::detail {
namespace {

// Shared by every script.
constexpr const char* kPrelude = R"lua(
local P, ORIGIN, NOW = ARGV[1], ARGV[2], tonumber(ARGV[3])
local function K(s) return P .. ':task:' .. s end
local function D(id) return P .. ':task:data:' .. id end
-- Integers as text without exponent (tostring would round past 14 digits).
local function num(x) return string.format('%.0f', x) end
local NOW_TEXT = num(NOW)  -- formatted once per call, not per event of a batch
local function publish(kind, id, mode, status, progress, attempt, step)
  redis.call('PUBLISH', K('events'), ORIGIN .. '|' .. kind .. '|' .. id .. '|' .. mode .. '|' .. status ..
    '|' .. tostring(progress) .. '|' .. tostring(attempt) .. '|' .. NOW_TEXT .. '|' .. (step or ''))
end
-- One history event: a single RPUSH per change (progress has its own bounded list, see kProgress).
local function hist(id, kind, attempt, progress, info, detail)
  redis.call('RPUSH', K('history:' .. id), kind .. '|' .. NOW_TEXT .. '|' .. tostring(attempt) .. '|' ..
    tostring(progress) .. '|' .. (info or '') .. '|' .. (detail or ''))
end
-- One command for many members (ZREM/SREM key m..., ZADD key s m ...), in chunks that stay far below Lua's
-- stack limit: a batch's index writes cost one command each instead of one per task.
local function bulk(cmd, key, args)
  for i = 1, #args, 2000 do
    redis.call(cmd, key, unpack(args, i, math.min(i + 1999, #args)))
  end
end
local function qmember(seq, id) return string.format('%012x', tonumber(seq)) .. ':' .. id end
-- Within one user: run_at − priority · kPriorityAgingMs (fairness.h), oldest first.
local function qscore(priority, run_at) return run_at - priority * 10000 end
local function uid(id) return redis.call('HGET', D(id), 'user_id') or '' end
-- One user's ready set in a mode; the anonymous user ('') keeps the mode's own key.
local function rkey(mode, user)
  if user == '' then return K('ready:' .. mode) end
  return K('ready:' .. mode .. ':u:' .. user)
end
-- A pending task joins its user's ready set (and the seed's list) when due, else the delayed set.
local function enqueue(id, mode, priority, run_at, seq)
  if run_at <= NOW then
    local user = uid(id)
    redis.call('ZADD', rkey(mode, user), num(qscore(priority, run_at)), qmember(seq, id))
    if user ~= '' then redis.call('SADD', K('ready_users:' .. mode), user) end
    redis.call('RPUSH', K('queue'), id)
  else
    redis.call('ZADD', K('delayed'), num(run_at), id)
  end
end
local function unqueue(id, mode, seq)
  if redis.call('ZREM', rkey(mode, uid(id)), qmember(seq, id)) == 1 then
    redis.call('LREM', K('queue'), 1, id)
  else
    redis.call('ZREM', K('delayed'), id)
  end
end
-- Per-user counts of pending and processing tasks (the limits' pending_users and processing_users).
local function count_user(id, status, delta)
  if status ~= 'pending' and status ~= 'processing' then return end
  local h, u = K(status .. '_users'), uid(id)
  if redis.call('HINCRBY', h, u, delta) <= 0 then redis.call('HDEL', h, u) end
end
local function set_status(id, seq, from, to)
  redis.call('ZREM', K('status:' .. from), id)
  redis.call('ZADD', K('status:' .. to), seq, id)
  count_user(id, from, -1)
  count_user(id, to, 1)
end
-- The fields a lease-guarded write needs, or nil and the refusal.
local function guard(id, owner, token)
  local f = redis.call('HMGET', D(id), 'status', 'lease_owner', 'lease_token', 'mode', 'attempt', 'seq',
    'priority', 'run_at', 'started_at', 'progress', 'current_step')
  if not f[1] then return nil, {2} end
  if f[1] ~= 'processing' or f[2] ~= owner or f[3] ~= token then
    return nil, {1, f[1], f[2] or '', f[3] or '0'}
  end
  return f
end
-- Flows. A new task's dependencies (a JSON array, '' for none): the ids still to wait for, or nil and the
-- refusal ({3, id}: unknown or another user's; {4, id, status}: failed or cancelled).
local function check_deps(id, user, deps_json)
  local waiting = {}
  if deps_json == '' then return waiting end
  for _, dep in ipairs(cjson.decode(deps_json)) do
    local f = redis.call('HMGET', D(dep), 'status', 'user_id')
    if dep == id or not f[1] or (f[2] or '') ~= user then return nil, {3, dep} end
    if f[1] == 'failed' or f[1] == 'cancelled' then return nil, {4, dep, f[1]} end
    if f[1] ~= 'done' then waiting[#waiting + 1] = dep end
  end
  return waiting
end
-- Stores a new pending task from 12 arguments starting at ARGV[b] (id, user, mode, priority, source_image,
-- config, max_retries, timeout_ms, created_at, run_at, trace_context, depends_on JSON) and the ids it
-- waits for: a waiting task joins no ready or delayed set; each dependency's P:task:dependents:{id} names it.
local function create_task(b, waiting, batch)
  local id, user, mode, priority, run_at = ARGV[b], ARGV[b + 1], ARGV[b + 2], tonumber(ARGV[b + 3]),
    tonumber(ARGV[b + 9])
  local seq = redis.call('INCR', K('seq'))
  redis.call('HSET', D(id), 'id', id, 'user_id', user, 'mode', mode, 'status', 'pending', 'priority',
    ARGV[b + 3], 'source_image', ARGV[b + 4], 'config', ARGV[b + 5], 'progress', 0, 'current_step', '',
    'attempt', 0, 'max_retries', ARGV[b + 6], 'timeout_ms', ARGV[b + 7], 'created_at', ARGV[b + 8],
    'started_at', 0, 'updated_at', ARGV[b + 8], 'finished_at', 0, 'run_at', ARGV[b + 9], 'lease_owner', '',
    'lease_token', 0, 'lease_expires_at', 0, 'seq', seq)
  if ARGV[b + 10] ~= '' then redis.call('HSET', D(id), 'trace_context', ARGV[b + 10]) end
  if batch ~= '' then redis.call('HSET', D(id), 'batch_id', batch) end
  redis.call('ZADD', K('all'), seq, id)
  redis.call('ZADD', K('status:pending'), seq, id)
  count_user(id, 'pending', 1)
  redis.call('ZADD', K('mode:' .. mode), seq, id)
  if user ~= '' then redis.call('ZADD', K('user:' .. user), seq, id) end
  redis.call('SADD', K('modes'), mode)
  if ARGV[b + 11] ~= '' then
    redis.call('HSET', D(id), 'depends_on', ARGV[b + 11], 'waiting_on',
      #waiting > 0 and cjson.encode(waiting) or '[]')
  end
  if #waiting > 0 then
    for _, dep in ipairs(waiting) do redis.call('SADD', K('dependents:' .. dep), id) end
  else
    enqueue(id, mode, priority, run_at, seq)
  end
  hist(id, 'created', 0, 0)
  publish('created', id, mode, 'pending', 0, 0, '')
end
-- After task `id` became `status` (done, failed or cancelled): done leaves the waiting_on of the tasks
-- waiting for it and queues those left with none; failed or cancelled cancels them with DEPENDENCY_FAILED,
-- and so on down the chain. Their events go out under no origin, so every process relays them, this one too.
local resolve
resolve = function(id, status)
  local dk = K('dependents:' .. id)
  local ids = redis.call('SMEMBERS', dk)
  if #ids == 0 then return end
  redis.call('DEL', dk)
  for _, d in ipairs(ids) do
    local key = D(d)
    local f = redis.call('HMGET', key, 'status', 'waiting_on', 'mode', 'priority', 'run_at', 'seq', 'attempt')
    if f[1] == 'pending' and f[2] and f[2] ~= '[]' and f[2] ~= '' then
      if status == 'done' then
        local left = {}
        for _, w in ipairs(cjson.decode(f[2])) do if w ~= id then left[#left + 1] = w end end
        if #left == 0 then
          redis.call('HSET', key, 'waiting_on', '[]', 'updated_at', num(NOW))
          enqueue(d, f[3], tonumber(f[4]), tonumber(f[5]), f[6])
          redis.call('PUBLISH', K('events'), '|status|' .. d .. '|' .. f[3] .. '|pending|0|' .. f[7] .. '|' ..
            num(NOW) .. '|')
        else
          redis.call('HSET', key, 'waiting_on', cjson.encode(left))
        end
      else
        set_status(d, f[6], 'pending', 'cancelled')
        local err = cjson.encode({code = 'DEPENDENCY_FAILED', attempt = tonumber(f[7]), retryable = false,
          message = 'task ' .. id .. ', which this task depends on, is ' .. status})
        redis.call('HSET', key, 'status', 'cancelled', 'waiting_on', '[]', 'error', err, 'finished_at', num(NOW),
          'updated_at', num(NOW))
        redis.call('ZADD', K('finished'), num(NOW), d)
        hist(d, 'cancelled', f[7], 0)
        redis.call('PUBLISH', K('events'), '|status|' .. d .. '|' .. f[3] .. '|cancelled|0|' .. f[7] .. '|' ..
          num(NOW) .. '|')
        resolve(d, 'cancelled')
      end
    end
  end
end
)lua";

// ARGV: the 12 task arguments of create_task, then batch id, idempotency key ('' none), fingerprint, key
// TTL ms. {1} created | {0} the id exists | {3, dep} | {4, dep, status} (check_deps) | {5, task id} the key
// names another body | {6, {task fields}} the key's task, nothing created | {8} past the user's max_pending |
// {9, retry_after_ms} past its per_minute. Then max_pending and per_minute (0: no limit).
constexpr const char* kCreate = R"lua(
local id, user, key = ARGV[4], ARGV[5], ARGV[17]
local ik = K('idem:' .. user .. ':' .. key)
if key ~= '' then
  local v = redis.call('GET', ik)
  if v then
    local sep = string.find(v, '|', 1, true)
    local tid = string.sub(v, sep + 1)
    if string.sub(v, 1, sep - 1) ~= ARGV[18] then return {5, tid} end
    -- Else the key's task, unless it was cleaned up: then the key is spent and a new task takes it.
    if redis.call('EXISTS', D(tid)) == 1 then return {6, redis.call('HGETALL', D(tid))} end
  end
end
if redis.call('EXISTS', D(id)) == 1 then return {0} end
local waiting, refused = check_deps(id, user, ARGV[15])
if not waiting then return refused end
-- The user's limits (fairness.h): {8} past max_pending, {9, retry_after_ms} past per_minute.
local max_pending, per_minute = tonumber(ARGV[20] or '0'), tonumber(ARGV[21] or '0')
if max_pending > 0 and tonumber(redis.call('HGET', K('pending_users'), user) or '0') >= max_pending then
  return {8}
end
if per_minute > 0 then
  local b = redis.call('HMGET', K('rate:' .. user), 'tokens', 'at')
  local t = per_minute
  if b[1] then t = math.min(per_minute, tonumber(b[1]) + math.max(0, NOW - tonumber(b[2])) * per_minute / 60000) end
  if t < 1 then return {9, math.max(1, math.ceil((1 - t) * 60000 / per_minute))} end
  redis.call('HSET', K('rate:' .. user), 'tokens', tostring(t - 1), 'at', num(NOW))
  redis.call('PEXPIRE', K('rate:' .. user), 120000)
end
create_task(4, waiting, ARGV[16])
if key ~= '' then redis.call('SET', ik, ARGV[18] .. '|' .. id, 'PX', ARGV[19]) end
return {1}
)lua";

// ARGV: batch id, user, created_at, n, then n times the 12 task arguments of create_task. All or none: every
// task is checked before any is stored. {1} | {0, id} an id exists | {3, …} | {4, …} (check_deps) | {7} the
// batch id exists.
constexpr const char* kCreateBatch = R"lua(
local bid, n = ARGV[4], tonumber(ARGV[7])
if redis.call('EXISTS', K('batch:' .. bid)) == 1 then return {7} end
local waits, ids = {}, {}
for i = 0, n - 1 do
  local b = 8 + i * 12
  if redis.call('EXISTS', D(ARGV[b])) == 1 then return {0, ARGV[b]} end
  local waiting, refused = check_deps(ARGV[b], ARGV[b + 1], ARGV[b + 11])
  if not waiting then return refused end
  waits[#waits + 1] = waiting
  ids[#ids + 1] = ARGV[b]
end
for i = 0, n - 1 do create_task(8 + i * 12, waits[i + 1], bid) end
redis.call('HSET', K('batch:' .. bid), 'user_id', ARGV[5], 'created_at', ARGV[6], 'task_ids', cjson.encode(ids))
return {1}
)lua";

// ARGV: batch id. {0} unknown | {1, user, created_at, task_ids JSON, {status, progress}...}.
constexpr const char* kBatch = R"lua(
local b = redis.call('HMGET', K('batch:' .. ARGV[4]), 'user_id', 'created_at', 'task_ids')
if not b[3] then return {0} end
local rows = {}
for _, id in ipairs(cjson.decode(b[3])) do
  local f = redis.call('HMGET', D(id), 'status', 'progress')
  if f[1] then rows[#rows + 1] = {f[1], f[2]} end
end
return {1, b[1], b[2], b[3], rows}
)lua";

// ARGV: user, mode, error code ('' any), offset, count. Failed tasks, newest failure first.
// {total, {task fields}...}.
constexpr const char* kDeadLetters = R"lua(
local user, mode, code = ARGV[4], ARGV[5], ARGV[6]
local offset, count = tonumber(ARGV[7]), tonumber(ARGV[8])
local out, total, start = {0}, 0, 0
while true do
  local ids = redis.call('ZREVRANGE', K('finished'), start, start + 499)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local f = redis.call('HMGET', D(id), 'status', 'mode', 'user_id', 'error')
    local ok = f[1] == 'failed' and (user == '' or f[3] == user) and (mode == '' or f[2] == mode)
    if ok and code ~= '' then
      local e = f[4] and f[4] ~= '' and cjson.decode(f[4]) or {}
      ok = e.code == code
    end
    if ok then
      if total >= offset and total < offset + count then out[#out + 1] = redis.call('HGETALL', D(id)) end
      total = total + 1
    end
  end
  start = start + 500
end
out[1] = total
return out
)lua";

// ARGV: owner, lease_ms, max, limits (JSON: {"d": {"w": weight, "r": max_running}, "u": {user: {…}}},
// "any_r": whether any running limit is set), modes... (none: every mode). The fair claim (fairness.h):
// each user with ready tasks offers the head of its ready sets; the user whose turn max(V, finish) comes
// first (ties: the older head) is served, its finish moves on by 1/weight and V to that turn; repeated up
// to max. {1, {task fields...}...} or {0, next_due}.
constexpr const char* kClaim = R"lua(
local owner, lease_ms, max = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local limits = cjson.decode(ARGV[7])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K('delayed'), '-inf', num(NOW), 'LIMIT', 0, 1000)) do
  redis.call('ZREM', K('delayed'), id)
  local f = redis.call('HMGET', D(id), 'mode', 'priority', 'run_at', 'seq', 'status')
  if f[5] == 'pending' then enqueue(id, f[1], tonumber(f[2]), tonumber(f[3]), f[4]) end
end
local modes = {}
if #ARGV >= 8 then
  for i = 8, #ARGV do modes[#modes + 1] = ARGV[i] end
else
  modes = redis.call('SMEMBERS', K('modes'))
end
local fair = K('fair')
local cands, seen = {}, {}
local function add_user(u)
  if seen[u] then return end
  seen[u] = true
  local l = limits.u[u] or limits.d
  cands[#cands + 1] = {user = u, w = l.w, r = l.r, finish = tonumber(redis.call('HGET', fair, 'f:' .. u) or '0'),
    running = 0}
end
add_user('')
for _, m in ipairs(modes) do
  for _, u in ipairs(redis.call('SMEMBERS', K('ready_users:' .. m))) do add_user(u) end
end
local function head(c)
  c.score, c.member, c.mode = nil, nil, nil
  for _, m in ipairs(modes) do
    local r = redis.call('ZRANGE', rkey(m, c.user), 0, 0, 'WITHSCORES')
    if r[1] then
      local sc = tonumber(r[2])
      if not c.score or sc < c.score or (sc == c.score and r[1] < c.member) then
        c.score, c.member, c.mode = sc, r[1], m
      end
    elseif c.user ~= '' then
      redis.call('SREM', K('ready_users:' .. m), c.user)
    end
  end
end
for _, c in ipairs(cands) do
  head(c)
  if limits.any_r and c.score then
    c.running = tonumber(redis.call('HGET', K('processing_users'), c.user) or '0')
  end
end
local V = tonumber(redis.call('HGET', fair, 'V') or '0')
local V0 = V
local out = {}
local expires, now = num(NOW + lease_ms), num(NOW)
local queue, running, leases = K('queue'), K('processing'), K('leases')
for _ = 1, max do
  local best, best_turn = nil, 0
  for _, c in ipairs(cands) do
    if c.score and not (c.r > 0 and c.running >= c.r) then
      local turn = math.max(V, c.finish)
      if not best or turn < best_turn or (turn == best_turn and (c.score < best.score or
          (c.score == best.score and c.member < best.member))) then
        best, best_turn = c, turn
      end
    end
  end
  if not best then break end
  local member, mode = best.member, best.mode
  local id = string.sub(member, 14)
  local key = D(id)
  local f = redis.call('HMGET', key, 'seq', 'lease_token', 'attempt')
  local attempt = tonumber(f[3]) + 1
  redis.call('ZREM', rkey(mode, best.user), member)
  redis.call('LREM', queue, 1, id)
  set_status(id, f[1], 'pending', 'processing')
  redis.call('SADD', running, id)
  redis.call('ZADD', leases, expires, id)
  redis.call('HSET', key, 'status', 'processing', 'lease_owner', owner, 'lease_token', tonumber(f[2]) + 1,
    'attempt', attempt, 'lease_expires_at', expires, 'started_at', now, 'updated_at', now, 'progress', 0,
    'current_step', '')
  hist(id, 'started', attempt, 0, owner)
  publish('status', id, mode, 'processing', 0, attempt, '')
  out[#out + 1] = redis.call('HGETALL', key)
  V = best_turn
  best.finish = best_turn + 1 / best.w
  best.running = best.running + 1
  redis.call('HSET', fair, 'f:' .. best.user, tostring(best.finish))
  head(best)
end
if V ~= V0 then redis.call('HSET', fair, 'V', tostring(V)) end
if #out == 0 then
  local first = redis.call('ZRANGE', K('delayed'), 0, 0, 'WITHSCORES')
  return {0, first[2] or '0'}
end
return {1, out}
)lua";

// ARGV: id, owner, token, lease_ms.
constexpr const char* kHeartbeat = R"lua(
local id = ARGV[4]
local f, refused = guard(id, ARGV[5], ARGV[6])
if not f then return refused end
local expires = num(NOW + tonumber(ARGV[7]))
redis.call('HSET', D(id), 'lease_expires_at', expires)
redis.call('ZADD', K('leases'), expires, id)
return {0, f[4], f[5], f[10], f[11], expires}
)lua";

// ARGV: id, owner, token, percent, step.
constexpr const char* kProgress = R"lua(
local id = ARGV[4]
local f, refused = guard(id, ARGV[5], ARGV[6])
if not f then return refused end
redis.call('HSET', D(id), 'progress', ARGV[7], 'current_step', ARGV[8], 'updated_at', num(NOW))
local pk = K('progress:' .. id)
redis.call('RPUSH', pk, tostring(redis.call('LLEN', K('history:' .. id))) .. '|' .. num(NOW) .. '|' .. f[5] ..
  '|' .. ARGV[7] .. '|' .. ARGV[8])
redis.call('LTRIM', pk, -200, -1)
publish('progress', id, f[4], 'processing', ARGV[7], f[5], ARGV[8])
return {0, f[4], f[5], ARGV[7], ARGV[8], num(NOW)}
)lua";

// ARGV: n, then n items of 7: kind (complete|fail|retry|release), id, owner, token, payload (result or
// error JSON), run_at, maybe_applied ('1' when the caller sent this finish before and does not know whether
// it was applied). One reply per item, in order; {3, …} when a maybe_applied item had been applied.
constexpr const char* kFinish = R"lua(
local res = {}
local now = num(NOW)
local running, leases, finished = K('processing'), K('leases'), K('finished')
-- The index writes of the whole batch, made after the loop (nothing in it reads them): the tasks that left
-- processing, each new status's {seq, id...}, the finished tasks, and each mode's durations and their sum.
local left, to_status, ended, durations, duration_sum = {}, {}, {}, {}, {}
for i = 0, tonumber(ARGV[4]) - 1 do
  local b = 5 + i * 7
  local kind, id, payload = ARGV[b], ARGV[b + 1], ARGV[b + 4]
  local mark = ARGV[b + 2] .. '|' .. ARGV[b + 3] .. '|' .. kind
  local f, refused = guard(id, ARGV[b + 2], ARGV[b + 3])
  if not f then
    local last = redis.call('HMGET', D(id), 'last_finish', 'mode', 'attempt', 'progress', 'current_step',
      'updated_at')
    if ARGV[b + 6] == '1' and last[1] == mark then
      -- This very finish again (its reply was lost, or its WAIT timed out, and the caller retried): it was
      -- applied once, so it is answered as such, changing nothing. Writing the mark again puts this call's
      -- WAIT after the first write in the replication stream.
      redis.call('HSET', D(id), 'last_finish', mark)
      res[#res + 1] = {3, last[2], tonumber(last[3]), tonumber(last[4]), last[5], last[6]}
    else
      res[#res + 1] = refused
    end
  else
    -- last_finish = mark is written by the HSET of each kind below (one command less per finish).
    local key, mode, seq, attempt = D(id), f[4], f[6], tonumber(f[5])
    local status, progress, step = 'pending', 0, ''
    left[#left + 1] = id
    if kind == 'complete' or kind == 'fail' then
      local dur = NOW - tonumber(f[9])
      step = f[11]
      local field = 'result'
      if kind == 'complete' then
        status, progress = 'done', 100
        durations[mode] = durations[mode] or {}
        table.insert(durations[mode], dur)
        table.insert(durations[mode], id)
        duration_sum[mode] = (duration_sum[mode] or 0) + dur
      else
        status, progress, field = 'failed', tonumber(f[10]), 'error'
      end
      redis.call('HSET', key, 'status', status, 'progress', progress, field, payload, 'finished_at', now,
        'updated_at', now, 'duration_ms', dur, 'lease_owner', '', 'lease_expires_at', 0, 'last_finish', mark)
      ended[#ended + 1], ended[#ended + 2] = now, id
      hist(id, status, attempt, progress, '', kind == 'fail' and payload or '')
      resolve(id, status)
    elseif kind == 'retry' then
      local run_at = math.max(tonumber(ARGV[b + 5]), NOW)
      redis.call('HSET', key, 'status', 'pending', 'error', payload, 'run_at', num(run_at), 'updated_at',
        now, 'progress', 0, 'current_step', '', 'lease_owner', '', 'lease_expires_at', 0, 'last_finish', mark)
      enqueue(id, mode, tonumber(f[7]), run_at, seq)
      hist(id, 'retry_scheduled', attempt, 0, '', payload)
    else
      -- A hand-back: the attempt does not count, and run_at is kept (the task's old place in the queue).
      hist(id, 'handed_back', attempt, 0)
      attempt = attempt - 1
      redis.call('HSET', key, 'status', 'pending', 'attempt', attempt, 'updated_at', now, 'progress', 0,
        'current_step', '', 'lease_owner', '', 'lease_expires_at', 0, 'last_finish', mark)
      enqueue(id, mode, tonumber(f[7]), tonumber(f[8]), seq)
    end
    -- The per-user counts (fairness limits) move with the status; the status sets are written in bulk below.
    count_user(id, 'processing', -1)
    count_user(id, status, 1)
    to_status[status] = to_status[status] or {}
    table.insert(to_status[status], seq)
    table.insert(to_status[status], id)
    publish('status', id, mode, status, progress, attempt, step)
    res[#res + 1] = {0, mode, attempt, progress, step, now}
  end
end
bulk('SREM', running, left)
bulk('ZREM', leases, left)
bulk('ZREM', K('status:processing'), left)
for status, members in pairs(to_status) do bulk('ZADD', K('status:' .. status), members) end
bulk('ZADD', finished, ended)
for mode, members in pairs(durations) do
  bulk('ZADD', K('durations:' .. mode), members)
  redis.call('HINCRBY', K('mode_stats:' .. mode), 'duration_sum', duration_sum[mode])
end
return res
)lua";

// ARGV: id. {0, {task fields}} | {1, status} | {2}.
constexpr const char* kCancel = R"lua(
local id = ARGV[4]
local key = D(id)
local f = redis.call('HMGET', key, 'status', 'mode', 'seq', 'started_at', 'progress', 'attempt',
  'current_step')
if not f[1] then return {2} end
if f[1] ~= 'pending' and f[1] ~= 'processing' then return {1, f[1]} end
if f[1] == 'pending' then
  unqueue(id, f[2], f[3])
else
  redis.call('SREM', K('processing'), id)
  redis.call('ZREM', K('leases'), id)
end
set_status(id, f[3], f[1], 'cancelled')
redis.call('HSET', key, 'status', 'cancelled', 'finished_at', num(NOW), 'updated_at', num(NOW),
  'lease_owner', '', 'lease_expires_at', 0)
if tonumber(f[4]) > 0 then redis.call('HSET', key, 'duration_ms', num(NOW - tonumber(f[4]))) end
redis.call('ZADD', K('finished'), num(NOW), id)
hist(id, 'cancelled', f[6], f[5])
publish('status', id, f[2], 'cancelled', f[5], f[6], f[7])
local reply = redis.call('HGETALL', key)
resolve(id, 'cancelled')
return {0, reply}
)lua";

// The distinct lease owners of processing tasks.
constexpr const char* kOwners = R"lua(
local seen, out = {}, {}
for _, id in ipairs(redis.call('SMEMBERS', K('processing'))) do
  local o = redis.call('HGET', D(id), 'lease_owner')
  if o and o ~= '' and not seen[o] then
    seen[o] = true
    out[#out + 1] = o
  end
end
return out
)lua";

// ARGV: now as ISO 8601 text (for the error), dead owners... Puts back every processing task whose lease
// expired or whose owner is dead. Reply: {id, status, mode, attempt} per task.
constexpr const char* kRecover = R"lua(
local dead = {}
for i = 5, #ARGV do dead[ARGV[i]] = true end
local ids = redis.call('ZRANGEBYSCORE', K('leases'), '-inf', num(NOW))
if #ARGV >= 5 then
  local seen = {}
  for _, id in ipairs(ids) do seen[id] = true end
  for _, id in ipairs(redis.call('SMEMBERS', K('processing'))) do
    if not seen[id] and dead[redis.call('HGET', D(id), 'lease_owner') or ''] then ids[#ids + 1] = id end
  end
end
local out = {}
for _, id in ipairs(ids) do
  local key = D(id)
  local f = redis.call('HMGET', key, 'status', 'mode', 'priority', 'run_at', 'seq', 'attempt', 'max_retries',
    'lease_owner', 'started_at')
  redis.call('ZREM', K('leases'), id)
  if f[1] == 'processing' then
    redis.call('SREM', K('processing'), id)
    local attempt = tonumber(f[6])
    local status = 'pending'
    if attempt > tonumber(f[7]) then
      -- No attempt left: a task that kills its worker every time must not loop forever.
      status = 'failed'
      local err = cjson.encode({code = 'LEASE_EXPIRED', attempt = attempt, retryable = false, at = ARGV[4],
        message = 'the worker running this attempt stopped renewing its lease (' .. (f[8] or '?') .. ')'})
      redis.call('HSET', key, 'status', 'failed', 'error', err, 'finished_at', num(NOW), 'duration_ms',
        num(NOW - tonumber(f[9])))
      redis.call('ZADD', K('finished'), num(NOW), id)
      hist(id, 'failed', attempt, 0, '', err)
      resolve(id, 'failed')
    else
      redis.call('HSET', key, 'status', 'pending')
      enqueue(id, f[2], tonumber(f[3]), tonumber(f[4]), f[5])
      hist(id, 'retry_scheduled', attempt, 0, '', cjson.encode({code = 'LEASE_EXPIRED', attempt = attempt,
        retryable = true, at = ARGV[4],
        message = 'the worker running this attempt stopped renewing its lease (' .. (f[8] or '?') .. ')'}))
    end
    redis.call('HSET', key, 'updated_at', num(NOW), 'lease_owner', '', 'lease_expires_at', 0, 'progress', 0,
      'current_step', '')
    set_status(id, f[5], 'processing', status)
    publish('status', id, f[2], status, 0, attempt, '')
    out[#out + 1] = {id, status, f[2], attempt}
  end
end
return out
)lua";

// ARGV: finished_before, limit. Deletes finished tasks and every index entry; returns their ids.
constexpr const char* kCleanup = R"lua(
local ids = redis.call('ZRANGEBYSCORE', K('finished'), '-inf', '(' .. ARGV[4], 'LIMIT', 0, tonumber(ARGV[5]))
for _, id in ipairs(ids) do
  local key = D(id)
  local f = redis.call('HMGET', key, 'status', 'mode', 'user_id', 'duration_ms')
  redis.call('ZREM', K('finished'), id)
  redis.call('ZREM', K('all'), id)
  if f[1] then
    redis.call('ZREM', K('status:' .. f[1]), id)
    redis.call('ZREM', K('mode:' .. f[2]), id)
    if f[3] and f[3] ~= '' then redis.call('ZREM', K('user:' .. f[3]), id) end
    if redis.call('ZREM', K('durations:' .. f[2]), id) == 1 then
      redis.call('HINCRBY', K('mode_stats:' .. f[2]), 'duration_sum', num(0 - (tonumber(f[4]) or 0)))
    end
    redis.call('DEL', key, K('history:' .. id), K('progress:' .. id))
  end
end
return ids
)lua";

// ARGV: status, mode, user_id ('' = any), offset, count. Walks the smallest matching index newest first.
// Reply: {total, {task fields}...}.
constexpr const char* kList = R"lua(
local filters = {}
if ARGV[4] ~= '' then filters[#filters + 1] = {K('status:' .. ARGV[4]), 'status', ARGV[4]} end
if ARGV[5] ~= '' then filters[#filters + 1] = {K('mode:' .. ARGV[5]), 'mode', ARGV[5]} end
if ARGV[6] ~= '' then filters[#filters + 1] = {K('user:' .. ARGV[6]), 'user_id', ARGV[6]} end
local offset, count = tonumber(ARGV[7]), tonumber(ARGV[8])
local index, size = K('all'), nil
for _, f in ipairs(filters) do
  local n = redis.call('ZCARD', f[1])
  if size == nil or n < size then index, size = f[1], n end
end
local out = {0}
if #filters <= 1 then
  out[1] = redis.call('ZCARD', index)
  for _, id in ipairs(redis.call('ZREVRANGE', index, offset, offset + count - 1)) do
    out[#out + 1] = redis.call('HGETALL', D(id))
  end
  return out
end
local total, start = 0, 0
while true do
  local ids = redis.call('ZREVRANGE', index, start, start + 499)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local f = redis.call('HMGET', D(id), 'status', 'mode', 'user_id')
    local ok = (ARGV[4] == '' or f[1] == ARGV[4]) and (ARGV[5] == '' or f[2] == ARGV[5]) and
      (ARGV[6] == '' or f[3] == ARGV[6])
    if ok then
      if total >= offset and total < offset + count then out[#out + 1] = redis.call('HGETALL', D(id)) end
      total = total + 1
    end
  end
  start = start + 500
end
out[1] = total
return out
)lua";

// ARGV: '1' and a user id to count only that user's tasks (walking their index; the anonymous user "" has
// none, so every task is walked), else nothing.
// Reply: {{count per status in model order}, ready now, {{mode, done, failed, duration_sum, p95}...}}.
constexpr const char* kStats = R"lua(
if ARGV[4] == '1' then
  local user = ARGV[5]
  local index = user ~= '' and K('user:' .. user) or K('all')
  local by_status = {pending = 0, processing = 0, done = 0, failed = 0, cancelled = 0}
  local ready, per, modes, start = 0, {}, {}, 0
  while true do
    local ids = redis.call('ZRANGE', index, start, start + 499)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      local f = redis.call('HMGET', D(id), 'status', 'mode', 'user_id', 'run_at', 'duration_ms')
      if f[1] and (f[3] or '') == user then
        by_status[f[1]] = (by_status[f[1]] or 0) + 1
        if f[1] == 'pending' and (tonumber(f[4]) or 0) <= NOW then ready = ready + 1 end
        if f[1] == 'done' or f[1] == 'failed' then
          local m = modes[f[2]]
          if not m then
            m = {done = 0, failed = 0, durations = {}}
            modes[f[2]] = m
          end
          if f[1] == 'failed' then m.failed = m.failed + 1 end
          if f[1] == 'done' and f[5] and f[5] ~= '' then
            m.done = m.done + 1
            m.durations[#m.durations + 1] = tonumber(f[5])
          end
        end
      end
    end
    start = start + 500
  end
  for name, m in pairs(modes) do
    local sum, p95 = 0, 0
    for _, d in ipairs(m.durations) do sum = sum + d end
    if m.done > 0 then
      table.sort(m.durations)
      p95 = m.durations[math.floor((95 * m.done + 99) / 100)]
    end
    per[#per + 1] = {name, m.done, m.failed, num(sum), num(p95)}
  end
  return {{by_status.pending, by_status.processing, by_status.done, by_status.failed, by_status.cancelled}, ready, per}
end
local counts = {}
for _, s in ipairs({'pending', 'processing', 'done', 'failed', 'cancelled'}) do
  counts[#counts + 1] = redis.call('ZCARD', K('status:' .. s))
end
local ready = redis.call('ZCOUNT', K('delayed'), '-inf', num(NOW))
local per = {}
for _, m in ipairs(redis.call('SMEMBERS', K('modes'))) do
  ready = ready + redis.call('ZCARD', K('ready:' .. m))
  local done = redis.call('ZCARD', K('durations:' .. m))
  local failed = redis.call('ZINTERCARD', 2, K('status:failed'), K('mode:' .. m))
  if done > 0 or failed > 0 then
    local p95 = '0'
    if done > 0 then
      -- Nearest rank: ceil(0.95 n), 1-based.
      local rank = math.floor((95 * done + 99) / 100) - 1
      p95 = redis.call('ZRANGE', K('durations:' .. m), rank, rank, 'WITHSCORES')[2]
    end
    per[#per + 1] = {m, done, failed, redis.call('HGET', K('mode_stats:' .. m), 'duration_sum') or '0', p95}
  end
end
return {counts, ready, per}
)lua";

// ARGV: id. {0, {history entries}, {progress entries}} | {2}.
constexpr const char* kHistory = R"lua(
local id = ARGV[4]
if redis.call('EXISTS', D(id)) == 0 then return {2} end
return {0, redis.call('LRANGE', K('history:' .. id), 0, -1), redis.call('LRANGE', K('progress:' .. id), 0, -1)}
)lua";

// ARGV: id. A failed task back to pending (Store::Requeue). {0, {task fields}} | {1, status} | {2}.
constexpr const char* kRequeue = R"lua(
local id = ARGV[4]
local key = D(id)
local f = redis.call('HMGET', key, 'status', 'mode', 'seq', 'priority')
if not f[1] then return {2} end
if f[1] ~= 'failed' then return {1, f[1]} end
redis.call('ZREM', K('finished'), id)
set_status(id, f[3], 'failed', 'pending')
redis.call('HSET', key, 'status', 'pending', 'attempt', 0, 'progress', 0, 'current_step', '', 'started_at', 0,
  'finished_at', 0, 'run_at', num(NOW), 'updated_at', num(NOW))
redis.call('HDEL', key, 'error', 'result', 'duration_ms')
enqueue(id, f[2], tonumber(f[4]), NOW, f[3])
hist(id, 'retried', 0, 0)
publish('status', id, f[2], 'pending', 0, 0, '')
return {0, redis.call('HGETALL', key)}
)lua";

// Drops the workers not heard from for 3 of their heartbeat intervals. Reply: {{worker JSON...},
// {{lease_owner, id, mode, started_at, progress}...} of every processing task}.
constexpr const char* kWorkers = R"lua(
local reg = P .. ':workers'
local live = {}
local all = redis.call('HGETALL', reg)
for i = 1, #all, 2 do
  local w = cjson.decode(all[i + 1])
  if tonumber(w.last_heartbeat) + 3 * tonumber(w.heartbeat_ms) < NOW then
    redis.call('HDEL', reg, all[i])
  else
    live[#live + 1] = all[i + 1]
  end
end
local running = {}
for _, id in ipairs(redis.call('SMEMBERS', K('processing'))) do
  local f = redis.call('HMGET', D(id), 'lease_owner', 'id', 'mode', 'started_at', 'progress')
  if f[2] then running[#running + 1] = f end
end
return {live, running}
)lua";

// ARGV: from, to, user ('' and flag '0': every user). Done and failed tasks with from <= finished_at < to.
// Reply: {{mode, status, finished_at, duration_ms}...}.
constexpr const char* kFinished = R"lua(
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K('finished'), ARGV[4], '(' .. ARGV[5])) do
  local f = redis.call('HMGET', D(id), 'mode', 'status', 'finished_at', 'duration_ms', 'user_id')
  if (f[2] == 'done' or f[2] == 'failed') and (ARGV[7] ~= '1' or (f[5] or '') == ARGV[6]) then
    out[#out + 1] = {f[1], f[2], f[3], f[4] or '0'}
  end
end
return out
)lua";


struct ScriptText {
  const char* body;
};
constexpr std::array<ScriptText, 18> kScripts = {{{kCreate},
                                                  {kClaim},
                                                  {kHeartbeat},
                                                  {kProgress},
                                                  {kFinish},
                                                  {kCancel},
                                                  {kOwners},
                                                  {kRecover},
                                                  {kCleanup},
                                                  {kList},
                                                  {kStats},
                                                  {kHistory},
                                                  {kRequeue},
                                                  {kWorkers},
                                                  {kFinished},
                                                  {kCreateBatch},
                                                  {kBatch},
                                                  {kDeadLetters}}};

// SHA1s as the server reported them at the first load (they depend only on the text).
base::Mutex sha_mu;
std::array<std::string, kScripts.size()> shas GUARDED_BY(sha_mu);

bool IsUnavailableReply(const std::string& msg) {
  for (const char* prefix : {"LOADING", "BUSY", "OOM", "READONLY", "MASTERDOWN", "TRYAGAIN", "MISCONF"})
    if (msg.starts_with(prefix)) return true;
  return false;
}

}  // namespace

Result<void> LoadScripts(Connection& c) {
  std::vector<std::vector<std::string>> cmds;
  for (const ScriptText& s : kScripts) cmds.push_back({"SCRIPT", "LOAD", std::string(kPrelude) + s.body});
  auto replies = c.Pipeline(cmds);
  if (!replies) return replies.error();
  base::MutexLock lock(sha_mu);
  for (size_t i = 0; i < kScripts.size(); ++i) {
    const redisReply* r = (*replies)[i].get();
    if (r->type != REDIS_REPLY_STRING) {
      std::string msg = Str(r);
      return IsUnavailableReply(msg)
                 ? Unavailable("redis: " + msg)
                 : Internal("redis: cannot load script " + std::to_string(i) + ": " + msg);
    }
    shas[i] = Str(r);
  }
  return {};
}

const char* ScriptPrelude() { return kPrelude; }
const char* ScriptBody(Script script) { return kScripts[static_cast<size_t>(script)].body; }

Result<Reply> CallScript(Connection& c, Script script, const std::vector<std::string>& args) {
  const size_t index = static_cast<size_t>(script);
  for (int attempt = 0;; ++attempt) {
    std::vector<std::string> cmd;
    cmd.reserve(args.size() + 3);
    {
      base::MutexLock lock(sha_mu);
      cmd.push_back("EVALSHA");
      cmd.push_back(shas[index]);
    }
    if (cmd[1].empty()) {
      if (auto r = LoadScripts(c); !r) return r.error();
      continue;
    }
    cmd.push_back("0");
    cmd.insert(cmd.end(), args.begin(), args.end());
    auto reply = c.Command(cmd);
    if (!reply) return reply.error();
    if ((*reply)->type != REDIS_REPLY_ERROR) return reply;
    std::string msg = Str(reply->get());
    // A restarted (or flushed) server forgot the scripts: load them again, once.
    if (msg.starts_with("NOSCRIPT") && attempt == 0) {
      if (auto r = LoadScripts(c); !r) return r.error();
      continue;
    }
    if (IsUnavailableReply(msg)) return Unavailable("redis: " + msg);
    return Internal("redis script failed: " + msg);
  }
}

}  // namespace wasmq::queue::detail
