// File: src/trace/span.cc
//
// Spans: ids, the sampling decision, attributes and events, and the thread's current span.
#include <random>

#include "trace/internal.h"

namespace wasmq::trace {
namespace {

thread_local Span* current_span = nullptr;

// Ids need to be unique, not secret: a per-thread generator seeded once from the system's entropy.
std::mt19937_64& Generator() {
  thread_local std::mt19937_64 gen{[] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }()};
  return gen;
}

template <size_t N>
void RandomId(std::array<uint8_t, N>& out) {
  do {
    for (size_t i = 0; i < N; i += 8) {
      uint64_t x = Generator()();
      for (size_t j = 0; j < 8 && i + j < N; ++j) out[i + j] = static_cast<uint8_t>(x >> (8 * j));
    }
  } while ([&] {
    for (uint8_t b : out)
      if (b) return false;
    return true;
  }());
}

void Put(Attributes& attrs, std::string_view key, Value value) {
  for (auto& [k, v] : attrs)
    if (k == key) {
      v = std::move(value);
      return;
    }
  attrs.emplace_back(std::string(key), std::move(value));
}

}  // namespace

Span::Span(Span&& other) noexcept : data_(std::move(other.data_)), context_(std::move(other.context_)) {
  other.context_ = {};
}

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    End();
    data_ = std::move(other.data_);
    context_ = std::move(other.context_);
    other.context_ = {};
  }
  return *this;
}

void Span::SetName(std::string_view name) {
  if (data_) data_->name = std::string(name);
}
void Span::SetAttribute(std::string_view key, std::string_view value) {
  if (data_) Put(data_->attributes, key, std::string(value));
}
void Span::SetAttribute(std::string_view key, bool value) {
  if (data_) Put(data_->attributes, key, value);
}
void Span::SetAttribute(std::string_view key, double value) {
  if (data_) Put(data_->attributes, key, value);
}
void Span::SetInt(std::string_view key, int64_t value) {
  if (data_) Put(data_->attributes, key, value);
}
void Span::AddEvent(std::string_view name, Attributes attributes) {
  if (data_) data_->events.push_back({std::string(name), internal::NowUnixNanos(), std::move(attributes)});
}
void Span::SetError(std::string_view message) {
  if (!data_) return;
  data_->status = StatusCode::Error;
  data_->status_message = std::string(message.substr(0, 1024));
}
void Span::SetOk() {
  if (!data_) return;
  data_->status = StatusCode::Ok;
  data_->status_message.clear();
}

void Span::End() {
  if (!data_) return;
  data_->end_unix_nanos = internal::NowUnixNanos();
  internal::Enqueue(std::move(*data_));
  data_.reset();
}

Span StartSpan(std::string_view name, const SpanOptions& options) {
  const Sampler* sampler = internal::ActiveSampler();
  if (!sampler) return Span();
  const SpanContext* parent = options.parent;
  if (!parent && !options.root && current_span && current_span->context().valid())
    parent = &current_span->context();
  if (parent && !parent->valid()) parent = nullptr;

  Span span;
  SpanContext& ctx = span.context_;
  if (parent) {
    ctx.trace_id = parent->trace_id;
    ctx.trace_state = parent->trace_state;
  } else {
    RandomId(ctx.trace_id);
  }
  RandomId(ctx.span_id);
  ctx.flags = sampler->ShouldSample(parent, ctx.trace_id) ? 1 : 0;
  if (!ctx.sampled()) return span;
  span.data_ = std::make_unique<SpanData>();
  SpanData& d = *span.data_;
  d.context = ctx;
  if (parent) d.parent_span_id = parent->span_id;
  d.name = std::string(name);
  d.kind = options.kind;
  d.start_unix_nanos = internal::NowUnixNanos();
  return span;
}

Scope::Scope(Span& span) : previous_(current_span) { current_span = &span; }
Scope::~Scope() { current_span = previous_; }

Span* CurrentSpan() { return current_span; }

std::optional<SpanContext> CurrentContext() {
  if (!current_span || !current_span->context().valid()) return std::nullopt;
  return current_span->context();
}

}  // namespace wasmq::trace
