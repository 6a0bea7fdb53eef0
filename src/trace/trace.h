// File: src/trace/trace.h
//
// OpenTelemetry traces, exported over OTLP/HTTP with the JSON encoding (POST {endpoint}/v1/traces). No C++
// SDK is packaged in Debian, so this part is a small one of its own: W3C trace context (`traceparent`,
// `tracestate`), a sampler, spans with attributes, events and a status, a per-thread current span, and a
// batching exporter on a background thread that sends through the one HTTP client (src/http).
//
//   trace::Span span = trace::StartSpan("engine.call", {.kind = trace::Kind::Client});
//   trace::Scope scope(span);            // children started on this thread while it lives hang under it
//   span.SetAttribute("wasmq.engine.name", name);
//   if (failed) span.SetError(message);
//   // the span ends (and is queued for export) when it is destroyed, or at End()
//
// Tracing is off until Start() is called with settings whose endpoint is set (SettingsFromEnvironment reads
// the standard OTEL_* variables). Off, StartSpan returns an empty span after one atomic load, and every
// call on it does nothing: no cost where nobody collects traces.
//
// A finished span goes to a bounded queue; when the queue is full the span is dropped and counted, never
// waited for, so a collector that is down or slow never delays a task. Shutdown() flushes what is queued,
// within a time budget.
#pragma once

#include <array>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace wasmq::trace {

// ---------------------------------------------------------------------------------------------------------
// Trace context (W3C Trace Context, level 1)

struct SpanContext {
  std::array<uint8_t, 16> trace_id{};
  std::array<uint8_t, 8> span_id{};
  uint8_t flags = 0;            // bit 0: sampled
  std::string trace_state = {};  // as received (at most 512 characters), passed on untouched
  bool remote = false;          // came from another process

  bool valid() const;  // neither id is all zeros
  bool sampled() const { return (flags & 1) != 0; }
  std::string TraceIdHex() const;  // 32 lower-case hex digits
  std::string SpanIdHex() const;   // 16
};

// "00-<32 hex trace id>-<16 hex span id>-<2 hex flags>". Refused: a version other than two lower-case hex
// digits or "ff", a version 00 header of any other length, an all-zero id, upper-case hex. A later version
// is read by its first four fields (what follows must start with '-'), as the recommendation says.
// `tracestate` is kept when the traceparent is valid and the state is at most 512 characters.
std::optional<SpanContext> ParseTraceparent(std::string_view traceparent, std::string_view tracestate = {});
std::string FormatTraceparent(const SpanContext& ctx);  // always version 00

// A context as one line of text, for storing with a task: the traceparent, then "\n" and the tracestate
// when there is one. Empty for an invalid context; ParseStored("") is nullopt.
std::string Serialize(const SpanContext& ctx);
std::optional<SpanContext> ParseStored(std::string_view text);

// ---------------------------------------------------------------------------------------------------------
// Sampling (OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG)

struct Sampler {
  enum class Root { AlwaysOn, AlwaysOff, Ratio };
  Root root = Root::AlwaysOn;  // the decision for a span without a parent (or for every span, not parent-based)
  double ratio = 1.0;          // Ratio: the share of trace ids sampled, 0..1
  bool parent_based = true;    // a span with a parent follows the parent's sampled flag

  // Whether a new span is recorded and exported; `parent` null for a root span.
  bool ShouldSample(const SpanContext* parent, const std::array<uint8_t, 16>& trace_id) const;
};
// always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off,
// parentbased_traceidratio (the argument: a ratio from 0 to 1, default 1); nullopt for anything else.
std::optional<Sampler> ParseSampler(std::string_view name, std::string_view arg);

// ---------------------------------------------------------------------------------------------------------
// Spans

enum class Kind { Internal, Server, Client, Producer, Consumer };
enum class StatusCode { Unset, Ok, Error };

using Value = std::variant<std::string, bool, int64_t, double>;
using Attributes = std::vector<std::pair<std::string, Value>>;

struct Event {
  std::string name;
  int64_t time_unix_nanos = 0;
  Attributes attributes = {};
};

// What a finished span holds, as the exporter encodes it.
struct SpanData {
  SpanContext context;
  std::array<uint8_t, 8> parent_span_id{};  // all zeros for a root span
  std::string name;
  Kind kind = Kind::Internal;
  int64_t start_unix_nanos = 0, end_unix_nanos = 0;
  Attributes attributes = {};
  std::vector<Event> events = {};
  StatusCode status = StatusCode::Unset;
  std::string status_message = {};
};

struct SpanOptions {
  Kind kind = Kind::Internal;
  // The parent: this context when set; else the thread's current span (Scope) unless `root`.
  const SpanContext* parent = nullptr;
  bool root = false;
};

class Span {
 public:
  Span() = default;  // an empty span: records nothing, has no context
  Span(Span&& other) noexcept;
  Span& operator=(Span&& other) noexcept;
  ~Span() { End(); }

  // Whether this span is sampled and will be exported; the setters below do nothing otherwise.
  bool recording() const { return data_ != nullptr; }
  // Its context (invalid for an empty span). An unsampled span still has one, so that what it calls
  // follows its decision.
  const SpanContext& context() const { return context_; }

  void SetName(std::string_view name);
  void SetAttribute(std::string_view key, std::string_view value);
  void SetAttribute(std::string_view key, const char* value) { SetAttribute(key, std::string_view(value)); }
  void SetAttribute(std::string_view key, const std::string& value) { SetAttribute(key, std::string_view(value)); }
  void SetAttribute(std::string_view key, bool value);
  void SetAttribute(std::string_view key, double value);
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  void SetAttribute(std::string_view key, T value) {
    SetInt(key, static_cast<int64_t>(value));
  }
  void AddEvent(std::string_view name, Attributes attributes = {});
  void SetError(std::string_view message);  // status Error with this description
  void SetOk();
  // Ends it now (later calls do nothing); a sampled span is handed to the exporter.
  void End();

 private:
  friend Span StartSpan(std::string_view name, const SpanOptions& options);
  void SetInt(std::string_view key, int64_t value);

  std::unique_ptr<SpanData> data_;
  SpanContext context_;
};

// A new span, started now; empty when tracing is off.
Span StartSpan(std::string_view name, const SpanOptions& options = {});

// Makes `span` the thread's current span until destroyed (then the previous one is current again).
class Scope {
 public:
  explicit Scope(Span& span);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  Span* previous_;
};

// The thread's current span, or null. Its context is what outgoing requests carry (`traceparent`) and what
// log lines show.
Span* CurrentSpan();
// The current span's context when there is a valid one (tracing on and a span current).
std::optional<SpanContext> CurrentContext();

// ---------------------------------------------------------------------------------------------------------
// Export

struct Settings {
  bool enabled = false;          // an endpoint is set and the SDK is not disabled
  std::string traces_url = {};   // the full URL spans are POSTed to
  std::vector<std::string> headers = {};  // "Name: value" (may hold secrets: never logged)
  std::chrono::milliseconds timeout{10'000};
  Attributes resource = {};      // service.name first
  Sampler sampler = {};
  size_t max_queue = 2048;       // spans waiting for export; past it they are dropped
  size_t max_batch = 512;        // spans per request
  std::chrono::milliseconds delay{5'000};  // the longest a finished span waits before its batch is sent
  std::vector<std::string> warnings = {};  // values that were ignored, for the log
};

// Reads OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER (none: off), OTEL_EXPORTER_OTLP_ENDPOINT (+ "/v1/traces"),
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (as is), OTEL_EXPORTER_OTLP_[TRACES_]HEADERS (k=v,k=v, values
// percent-decoded), OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT (ms), OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
// OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG, OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_MAX_QUEUE_SIZE,
// OTEL_BSP_MAX_EXPORT_BATCH_SIZE. A bad value is a warning and its default is used, as the specification
// asks. `default_service` is service.name when OTEL_SERVICE_NAME and the resource attributes name none.
// `getenv` defaults to the process environment.
Settings SettingsFromEnvironment(std::string_view default_service,
                                 const std::function<std::optional<std::string>(const std::string&)>& getenv = {});

// Turns tracing on with these settings (nothing when !enabled) and starts the exporter's thread. `log`
// receives the exporter's rare complaints (a failed export, at most one line a minute). Call once, before
// the threads that make spans.
void Start(Settings settings, std::function<void(std::string_view)> log = {});
// Turns tracing off, sends what is queued (within `budget`) and stops the thread.
void Shutdown(std::chrono::milliseconds budget = std::chrono::milliseconds(5'000));
bool Enabled();

struct Stats {
  uint64_t exported = 0;        // spans the collector accepted
  uint64_t dropped = 0;         // spans lost: the queue was full
  uint64_t failed = 0;          // spans lost: their request failed
};
Stats ExportStats();

// The OTLP/JSON body (ExportTraceServiceRequest) for these spans under this resource: ids as hex strings,
// times as decimal strings of unix nanoseconds, attributes as typed AnyValues.
std::string EncodeOtlpJson(const Attributes& resource, const std::vector<SpanData>& spans);

}  // namespace wasmq::trace
