// File: src/trace/otlp_json.cc
//
// The OTLP/JSON encoding of spans (opentelemetry-proto's ExportTraceServiceRequest in the proto3 JSON
// mapping, with OTLP's exceptions): trace and span ids as lower-case hex, not base64; 64-bit integers and
// times in unix nanoseconds as decimal strings; enums as numbers; field names in lowerCamelCase.
#include <cmath>
#include <nlohmann/json.hpp>

#include "trace/trace.h"

namespace wasmq::trace {
namespace {

using Json = nlohmann::json;

Json AnyValue(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return {{"stringValue", *s}};
  if (const auto* b = std::get_if<bool>(&v)) return {{"boolValue", *b}};
  if (const auto* i = std::get_if<int64_t>(&v)) return {{"intValue", std::to_string(*i)}};
  double d = std::get<double>(v);
  if (!std::isfinite(d)) return {{"stringValue", std::isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity"}};
  return {{"doubleValue", d}};
}

Json KeyValues(const Attributes& attrs) {
  Json out = Json::array();
  for (const auto& [k, v] : attrs) out.push_back({{"key", k}, {"value", AnyValue(v)}});
  return out;
}

int KindNumber(Kind k) {
  switch (k) {
    case Kind::Internal: return 1;
    case Kind::Server: return 2;
    case Kind::Client: return 3;
    case Kind::Producer: return 4;
    case Kind::Consumer: return 5;
  }
  return 0;
}

Json SpanJson(const SpanData& s) {
  Json j = {{"traceId", s.context.TraceIdHex()},
            {"spanId", s.context.SpanIdHex()},
            {"name", s.name},
            {"kind", KindNumber(s.kind)},
            {"startTimeUnixNano", std::to_string(s.start_unix_nanos)},
            {"endTimeUnixNano", std::to_string(s.end_unix_nanos)},
            {"attributes", KeyValues(s.attributes)}};
  SpanContext parent;
  parent.trace_id = s.context.trace_id;
  parent.span_id = s.parent_span_id;
  if (parent.valid()) j["parentSpanId"] = parent.SpanIdHex();
  if (!s.context.trace_state.empty()) j["traceState"] = s.context.trace_state;
  if (!s.events.empty()) {
    Json events = Json::array();
    for (const Event& e : s.events)
      events.push_back({{"name", e.name},
                        {"timeUnixNano", std::to_string(e.time_unix_nanos)},
                        {"attributes", KeyValues(e.attributes)}});
    j["events"] = std::move(events);
  }
  Json status = Json::object();
  if (s.status != StatusCode::Unset) status["code"] = s.status == StatusCode::Ok ? 1 : 2;
  if (!s.status_message.empty()) status["message"] = s.status_message;
  j["status"] = std::move(status);
  return j;
}

}  // namespace

std::string EncodeOtlpJson(const Attributes& resource, const std::vector<SpanData>& spans) {
  Json list = Json::array();
  for (const SpanData& s : spans) list.push_back(SpanJson(s));
  Json body = {
      {"resourceSpans",
       Json::array({{{"resource", {{"attributes", KeyValues(resource)}}},
                     {"scopeSpans", Json::array({{{"scope", {{"name", "wasmq"}}}, {"spans", std::move(list)}}})}}})}};
  // Attribute text comes from requests and modules: replace invalid UTF-8 rather than throw.
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace wasmq::trace
