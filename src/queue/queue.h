// File: src/queue/queue.h
//
// The queue part's public header: the task model and its JSON, ids, the Store interface and its backends,
// and the TaskService. Other parts include only this file.
//
//   auto store = wasmq::queue::OpenStore("sqlite:/var/lib/wasmq/tasks.db");   // Result<unique_ptr<Store>>
//   wasmq::queue::TaskService tasks(**store, {});
//   auto req = wasmq::queue::ParseCreateRequest(R"({"mode":"HEAD_SWAP","source_image":"img_…"})");
//   auto task = tasks.Create(*req);                                            // pending, task_YYYYMMDD_…
//   auto page = tasks.List({.status = wasmq::queue::TaskStatus::Done});
//
// See store.h for the lease and retry protocol, docs/queue.md for the model, schema and configuration.
#pragma once

#include "queue/error.h"
#include "queue/flows.h"
#include "queue/ids.h"
#include "queue/json.h"
#include "queue/model.h"
#include "queue/schedules.h"
#include "queue/service.h"
#include "queue/store.h"
