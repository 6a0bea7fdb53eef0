// File: src/queue/redis_task.h
//
// Internal to the Redis backend: a task hash (HGETALL's field/value array) to a TaskInfo.
#pragma once

#include "queue/redis_conn.h"
#include "queue/store.h"

namespace wasmq::queue::detail {

// Decodes `fields` (HGETALL of P:task:data:{id}). `lease` (optional) receives the lease fields. Internal when
// a stored value does not decode: the hash was not written by wasmq.
Result<TaskInfo> ReadRedisTask(const redisReply* fields, Lease* lease = nullptr);

}  // namespace wasmq::queue::detail
