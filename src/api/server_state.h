// File: src/api/server_state.h
//
// Internal to the api part: what every connection of one server shares. Owned by ApiServer::Impl, which
// outlives every session (it joins the I/O threads and destroys the io_context before it goes).
#pragma once

#include <atomic>

#include "api/api.h"
#include "api/app.h"
#include "api/metrics.h"
#include "api/sessions.h"
#include "api/watch_hub.h"

namespace wasmq::api {

struct ServerState {
  const ApiConfig& config;
  App& app;
  WatchHub& hub;
  queue::TaskService& tasks;
  Metrics& metrics;
  SessionSet& sessions;
  std::atomic<bool>& draining;
};

}  // namespace wasmq::api
