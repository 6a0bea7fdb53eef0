// File: src/worker/attempt.cc
//
// One attempt of a task (attempt.h).
#include "worker/attempt.h"

#include <filesystem>
#include <optional>
#include <thread>

#include "trace/trace.h"
#include "worker/backoff.h"

namespace wasmq::worker {

namespace {

using queue::TaskError;
namespace ec = queue::error_code;

constexpr size_t kStderrTail = 4096;
constexpr auto kProgressInterval = std::chrono::milliseconds(50);

// The module's stdout as a result: JSON when it parses as JSON, else the text; null when empty.
queue::Json OutputOf(const std::string& out) {
  size_t b = out.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return nullptr;
  auto j = queue::ParseJson(out);
  if (j) return std::move(*j);
  return SanitizeUtf8(out);
}

// The end of the module's stderr, saying so when the capture cap cut it (what is kept is its beginning).
std::string Tail(const std::string& s, uint64_t dropped) {
  std::string tail = SanitizeUtf8(s.size() <= kStderrTail ? s : s.substr(s.size() - kStderrTail));
  if (dropped > 0)
    tail += "\n[stderr cut at " + std::to_string(kMaxCaptureBytes) + " bytes: " + std::to_string(dropped) +
            " more bytes dropped]";
  return tail;
}

// Empties the attempt's /out (a partial output that must not stay on disk). False when something is left.
bool EmptyDir(const std::string& dir) {
  std::error_code ec;
  bool ok = true;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code rm;
    std::filesystem::remove_all(entry.path(), rm);
    ok = ok && !rm;
  }
  return ok && !ec;
}

// What went wrong in a run that did not exit 0, and whether another attempt could help.
TaskError Classify(const RunOutcome& o, StopReason reason, int64_t timeout_ms) {
  TaskError e;
  if (o.failure) {  // the pipeline's own wasmq.fail: its code and message, retryable as it said
    e.code = o.failure->code;
    e.message = o.failure->message;
    e.retryable = o.failure->retryable;
    return e;
  }
  if (o.exit_code) {
    e.code = ec::kExit;
    e.message = "the pipeline exited with status " + std::to_string(*o.exit_code);
    e.retryable = true;
    return e;
  }
  e.message = o.error.message;
  switch (o.error.kind) {
    case wasm::ErrorKind::Trap:
      e.code = ec::kTrap;
      e.retryable = true;
      break;
    case wasm::ErrorKind::Exhaustion:
    case wasm::ErrorKind::Resource:
      e.code = ec::kResource;
      e.retryable = true;
      break;
    case wasm::ErrorKind::Malformed:
    case wasm::ErrorKind::Invalid:
    case wasm::ErrorKind::Unlinkable:
      e.code = ec::kPipelineInvalid;  // the same module fails the same way every time
      e.retryable = false;
      break;
    case wasm::ErrorKind::Exit:
      e.code = ec::kExit;
      e.message = "the pipeline exited with status " + std::to_string(o.error.exit_code);
      e.retryable = true;
      break;
    case wasm::ErrorKind::Interrupted:
      if (reason == StopReason::Timeout) {
        e.code = ec::kTimeout;
        e.message = "the pipeline ran past its timeout of " + std::to_string(timeout_ms) + " ms";
      } else {
        e.code = ec::kInternal;
      }
      e.retryable = true;
      break;
  }
  return e;
}

// How the attempt ended, on its span. The attempt's span is the executor thread's current one whenever
// RecordFailure and Finish run (Execute opened it; no child span is open by then).
void AttemptOutcome(std::string_view outcome, const TaskError* error = nullptr) {
  trace::Span* span = trace::CurrentSpan();
  if (!span || !span->recording()) return;
  span->SetAttribute("wasmq.outcome", outcome);
  if (error) {
    span->SetAttribute("wasmq.error.code", error->code);
    span->SetError(error->code + ": " + error->message);
  }
}

// The attempt's span, a child of the request that created the task (its stored trace context) or a new
// trace for a task created without one. Queue wait: from when the task was ready (created, or its retry
// backoff over) to this claim.
trace::Span StartAttemptSpan(const queue::TaskInfo& task) {
  if (!trace::Enabled()) return {};
  auto parent = trace::ParseStored(task.trace_context);
  trace::Span span = trace::StartSpan("task.attempt", {.kind = trace::Kind::Consumer,
                                                       .parent = parent ? &*parent : nullptr, .root = true});
  if (!span.recording()) return span;
  span.SetAttribute("wasmq.task.id", task.task_id);
  span.SetAttribute("wasmq.mode", task.mode);
  span.SetAttribute("wasmq.attempt", task.attempt);
  const int64_t ready_at = std::max(task.created_at, task.run_at);
  if (task.started_at > 0 && ready_at > 0)
    span.SetAttribute("wasmq.queue_wait_ms", std::max<int64_t>(0, task.started_at - ready_at));
  return span;
}

}  // namespace

double Attempts::Random() {
  if (opt_.random) return opt_.random();
  base::MutexLock lock(rng_mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

void Attempts::RecordFailure(const std::shared_ptr<Held>& held, TaskError e) {
  const queue::TaskInfo& task = held->claimed.task;
  const std::string who = task.task_id + " (" + task.mode + ") attempt " + std::to_string(task.attempt);
  e.attempt = task.attempt;
  e.at = queue::NowMs();
  e.message = SanitizeUtf8(e.message);
  queue::Finish f;
  f.lease = held->claimed.lease;
  if (e.retryable && task.attempt <= task.max_retries) {
    int64_t delay = RetryDelayMs(task.attempt, opt_.retry_backoff_ms, opt_.retry_backoff_max_ms, Random());
    Log(who + " failed (" + e.code + ": " + e.message + "); retry in " + std::to_string(delay) + " ms");
    f.kind = queue::Finish::Kind::Retry;
    f.run_at = e.at + delay;
    AttemptOutcome("retry", &e);
  } else {
    Log(who + " failed (" + e.code + ": " + e.message + ")" + (e.retryable ? "; no retry left" : ""));
    f.kind = queue::Finish::Kind::Fail;
    AttemptOutcome("failed", &e);
  }
  f.error = std::move(e);
  recorder_.Record(held, std::move(f));
}

std::shared_ptr<const wasm::Module> Attempts::ResolveModule(const queue::TaskInfo& task, TaskError* error) {
  const Pipeline* pipeline = pipelines_.Find(task.mode);
  if (!pipeline) {
    *error = {.code = std::string(ec::kPipelineInvalid),
              .message = "no pipeline for mode " + task.mode + " in this worker"};
    return nullptr;
  }
  // A task may name its own module by OCI reference (config "module"), where --task-modules allows it.
  auto it = task.config.find("module");
  if (!task.config.is_object() || it == task.config.end()) return pipeline->module;
  auto named = it->is_string() ? pipelines_.TaskModule(it->get<std::string>())
                               : queue::Result<std::shared_ptr<const wasm::Module>>(
                                     queue::InvalidArgument("config.module must be an OCI reference string"));
  if (!named) {
    const queue::Code why = named.error().code;
    const bool pull_failed = why == queue::Code::Unavailable || why == queue::Code::NotFound;
    *error = {.code = std::string(IsModuleUntrusted(named.error()) ? ec::kModuleUntrusted
                                   : pull_failed                      ? ec::kModuleUnavailable
                                                                      : ec::kPipelineInvalid),
              .message = named.error().message,
              .retryable = why == queue::Code::Unavailable};
    return nullptr;
  }
  return *named;
}

std::optional<TaskDirs> Attempts::StageInputs(const queue::TaskInfo& task, int slot, TaskError* error) {
  auto dirs = workspace_.Prepare(task, slot, scratch_empty_[slot]);
  scratch_empty_[slot] = 0;  // until KeepOutputs empties it again
  if (dirs) return std::move(*dirs);
  // A missing or unusable input cannot succeed on a retry; a file-system failure might.
  const queue::Code why = dirs.error().code;
  bool bad_input = why == queue::Code::InvalidArgument || why == queue::Code::NotFound;
  *error = {.code = std::string(why == queue::Code::NotFound ? ec::kInputNotFound
                                : bad_input                  ? ec::kBadInput
                                                             : ec::kInternal),
            .message = dirs.error().message,
            .retryable = !bad_input};
  return std::nullopt;
}

RunRequest Attempts::BuildRequest(const std::shared_ptr<Held>& held, const wasm::Module& module,
                                  const TaskDirs& dirs) {
  const queue::TaskInfo& task = held->claimed.task;
  RunRequest req;
  req.engine = &pipelines_.engine();
  req.module = &module;
  req.stdin_data = queue::ToJson(task).dump();
  req.args = {task.mode};
  req.env = {"WASMQ_TASK_ID=" + task.task_id, "WASMQ_MODE=" + task.mode,
             "WASMQ_ATTEMPT=" + std::to_string(task.attempt)};
  req.dirs = dirs;
  req.control = &held->control;
  req.engines = opt_.engines;
  req.max_output_bytes = opt_.max_output_bytes;
  req.max_output_files = opt_.max_output_files;
  req.on_log = [this, held](int level, std::string_view text) {
    static constexpr const char* kLevels[] = {"debug", "info", "warn", "error"};
    const queue::TaskInfo& t = held->claimed.task;
    Log(t.task_id + " (" + t.mode + ") " + kLevels[level] + ": " + std::string(text));
  };
  // Progress goes to the store at most every kProgressInterval (a module may call it in a tight loop),
  // but at once when the step text changes; the final state is written by Complete anyway.
  req.on_progress = [this, held, last_step = std::string(),
                     last_write = std::chrono::steady_clock::time_point{}](int percent,
                                                                           std::string_view step) mutable {
    auto now = std::chrono::steady_clock::now();
    if (step == last_step && now - last_write < kProgressInterval) return true;
    last_step = step;
    last_write = now;
    auto r = store_.Progress(held->claimed.lease, percent, step);
    if (!r && r.error().code == queue::Code::Conflict) {
      held->control.Stop(WhyRefused(store_, held->claimed.task.task_id));
      return false;
    }
    if (!r) Log(held->claimed.task.task_id + ": progress not recorded: " + r.error().message);
    return true;
  };
  return req;
}

double Attempts::Execute(const std::shared_ptr<Held>& held, int slot) {
  const queue::TaskInfo& task = held->claimed.task;
  const int64_t timeout_ms = task.timeout_ms > 0 ? task.timeout_ms : opt_.default_timeout_ms;
  held_.Started(held, std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms));

  trace::Span span = StartAttemptSpan(task);
  trace::Scope scope(span);  // the spans below, engine calls and WASI-NN computes included, are its children

  TaskError error;
  std::shared_ptr<const wasm::Module> module;
  {
    trace::Span resolve = trace::StartSpan("pipeline.resolve");
    trace::Scope in_resolve(resolve);
    module = ResolveModule(task, &error);
    if (!module) resolve.SetError(error.code + ": " + error.message);
  }
  if (!module) {
    RecordFailure(held, std::move(error));
    return 0;
  }
  std::optional<TaskDirs> dirs;
  {
    trace::Span stage = trace::StartSpan("inputs.stage");
    dirs = StageInputs(task, slot, &error);
    if (!dirs) stage.SetError(error.code + ": " + error.message);
  }
  if (!dirs) {
    RecordFailure(held, std::move(error));
    return 0;
  }
  const RunRequest req = BuildRequest(held, *module, *dirs);
  const auto started = std::chrono::steady_clock::now();
  RunOutcome outcome;
  {
    trace::Span run = trace::StartSpan("wasm.run");
    trace::Scope in_run(run);
    outcome = RunPipeline(req);
    if (run.recording()) {
      if (outcome.exit_code) run.SetAttribute("wasmq.exit_code", *outcome.exit_code);
      if (outcome.instantiate_seconds > 0) run.SetAttribute("wasmq.instantiate_seconds", outcome.instantiate_seconds);
      if (outcome.failure) run.SetError(outcome.failure->code + ": " + outcome.failure->message);
      else if (!outcome.exit_code) run.SetError(outcome.error.message);
      else if (*outcome.exit_code != 0) run.SetError("exit status " + std::to_string(*outcome.exit_code));
    }
  }
  if (outcome.log_lines_dropped > 0)
    Log(task.task_id + " (" + task.mode + "): " + std::to_string(outcome.log_lines_dropped) +
        " log lines dropped (over " + std::to_string(kLogLinesPerSecond) + " per second)");
  if (opt_.on_instantiated && outcome.instantiate_seconds > 0)
    opt_.on_instantiated(task.mode, outcome.instantiate_seconds);
  const double run_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - started).count();
  scratch_empty_[slot] = Finish(held, *dirs, outcome);
  return run_us;
}

bool Attempts::Finish(const std::shared_ptr<Held>& held, const TaskDirs& dirs, const RunOutcome& o) {
  const queue::TaskInfo& task = held->claimed.task;
  const StopReason reason = held->control.reason();
  const std::string who = task.task_id + " (" + task.mode + ") attempt " + std::to_string(task.attempt);
  // A module that ran to its end (or failed itself) counts, even when a stop request raced with its last
  // instructions.
  const bool ended = o.exit_code || o.failure;
  if (!ended && (reason == StopReason::Cancelled || reason == StopReason::LeaseLost)) {
    Log(who + ": stopped (" + std::string(ToString(reason)) + "); nothing recorded");
    AttemptOutcome(reason == StopReason::Cancelled ? "cancelled" : "lease_lost");
    ++(reason == StopReason::Cancelled ? counters_.cancelled : counters_.lost);
    held_.Forget(held);
    return false;
  }
  queue::Finish f;
  f.lease = held->claimed.lease;
  if (!ended && reason == StopReason::Shutdown) {
    f.kind = queue::Finish::Kind::Release;
    AttemptOutcome("handed_back");
    recorder_.Record(held, std::move(f));
    return false;
  }
  // Over the output quota, whatever the module made of its EDQUOT (it may have exited 0 with half a file),
  // or a result (stdout) past the capture cap: the same module on the same input does it again.
  if (o.output_quota_exceeded || (o.exit_code && *o.exit_code == 0 && o.stdout_dropped > 0)) {
    TaskError e{.code = std::string(ec::kOutputTooLarge), .retryable = false};
    if (o.output_quota_exceeded) {
      e.message = "the pipeline wrote " + *o.output_quota_exceeded + " to /out (limits: WASMQ_MAX_OUTPUT " +
                  std::to_string(opt_.max_output_bytes) + " bytes, WASMQ_MAX_OUTPUT_FILES " +
                  std::to_string(opt_.max_output_files) + "); its partial output was removed";
    } else {
      e.message = "the pipeline's result (stdout) is larger than " + std::to_string(kMaxCaptureBytes) +
                  " bytes; write large results to /out";
    }
    e.stderr_tail = Tail(o.stderr_data, o.stderr_dropped);
    const bool emptied = EmptyDir(dirs.out);
    RecordFailure(held, std::move(e));
    return emptied;
  }
  if (o.exit_code && *o.exit_code == 0) {
    // Kept in this attempt's own directory; the result names it, and the store's answer decides whether it
    // is published or deleted (recorder.cc).
    auto kept = workspace_.KeepOutputs(task, dirs, held->claimed.lease.token);
    if (!kept) {
      RecordFailure(held,
                    {.code = std::string(ec::kInternal), .message = kept.error().message, .retryable = true});
      return false;
    }
    f.kind = queue::Finish::Kind::Complete;
    AttemptOutcome("done");
    f.result = queue::TaskResult{std::move(kept->files), OutputOf(o.stdout_data), o.duration_ms, kept->dir};
    recorder_.Record(held, std::move(f));
    return true;  // KeepOutputs left the scratch empty
  }
  const int64_t timeout_ms = task.timeout_ms > 0 ? task.timeout_ms : opt_.default_timeout_ms;
  TaskError e = Classify(o, reason, timeout_ms);
  e.stderr_tail = Tail(o.stderr_data, o.stderr_dropped);
  RecordFailure(held, std::move(e));
  return false;
}

}  // namespace wasmq::worker
