// File: src/trace/internal.h
//
// Internal to the trace part: the process's one exporter, which spans are handed to when they end.
#pragma once

#include "trace/trace.h"

namespace wasmq::trace::internal {

// The sampler of the running tracer, or null when tracing is off (one atomic load).
const Sampler* ActiveSampler();
// Queues a finished, sampled span for export; dropped (and counted) when the queue is full or tracing
// has stopped. Never blocks on the network.
void Enqueue(SpanData&& span);

int64_t NowUnixNanos();

}  // namespace wasmq::trace::internal
