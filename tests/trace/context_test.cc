// The trace part's pure pieces: traceparent parsing and formatting, the sampler, the settings from the
// environment, the OTLP/JSON encoding.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "trace/trace.h"

namespace wasmq::trace {
namespace {

constexpr const char* kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(Traceparent, ParsesAValidHeader) {
  auto ctx = ParseTraceparent(kValid, "rojo=00f067aa0ba902b7");
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->TraceIdHex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(ctx->SpanIdHex(), "00f067aa0ba902b7");
  EXPECT_TRUE(ctx->sampled());
  EXPECT_TRUE(ctx->remote);
  EXPECT_EQ(ctx->trace_state, "rojo=00f067aa0ba902b7");
  EXPECT_EQ(FormatTraceparent(*ctx), kValid);
}

TEST(Traceparent, FlagsOtherThanSampledAreNotPassedOn) {
  auto unsampled = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(unsampled);
  EXPECT_FALSE(unsampled->sampled());
  auto more = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
  ASSERT_TRUE(more);
  EXPECT_TRUE(more->sampled());
  EXPECT_EQ(FormatTraceparent(*more), kValid);
}

TEST(Traceparent, RefusesBadVersionsIdsAndShapes) {
  for (const char* bad : {
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      // version ff is invalid
           "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      // not hex
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",      // all-zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",      // all-zero span id
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",      // upper case
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz",  // version 00 has 4 fields
           "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",      // dashes misplaced
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",      // flags not hex
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",         // too short
           "",
       })
    EXPECT_FALSE(ParseTraceparent(bad)) << bad;
}

TEST(Traceparent, ReadsALaterVersionByItsFirstFields) {
  auto later = ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next");
  ASSERT_TRUE(later);
  EXPECT_EQ(FormatTraceparent(*later), kValid);  // we speak version 00
  EXPECT_FALSE(ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x"));
}

TEST(Traceparent, StoredFormKeepsTheTraceState) {
  auto ctx = ParseTraceparent(kValid, "congo=t61rcWkgMzE");
  ASSERT_TRUE(ctx);
  std::string stored = Serialize(*ctx);
  EXPECT_EQ(stored, std::string(kValid) + "\ncongo=t61rcWkgMzE");
  auto back = ParseStored(stored);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->trace_state, "congo=t61rcWkgMzE");
  EXPECT_EQ(back->span_id, ctx->span_id);
  EXPECT_FALSE(ParseStored(""));
  EXPECT_EQ(Serialize(SpanContext{}), "");
  EXPECT_EQ(ParseTraceparent(kValid, std::string(600, 'a'))->trace_state, "");  // over 512: dropped
}

std::array<uint8_t, 16> TraceIdEndingWith(uint64_t low) {
  std::array<uint8_t, 16> id{};
  id[0] = 1;
  for (int i = 0; i < 8; ++i) id[15 - i] = static_cast<uint8_t>(low >> (8 * i));
  return id;
}

TEST(Sampler, ParsesTheStandardNames) {
  EXPECT_TRUE(ParseSampler("always_on", ""));
  EXPECT_TRUE(ParseSampler("parentbased_always_off", ""));
  auto ratio = ParseSampler("traceidratio", "0.25");
  ASSERT_TRUE(ratio);
  EXPECT_EQ(ratio->root, Sampler::Root::Ratio);
  EXPECT_DOUBLE_EQ(ratio->ratio, 0.25);
  EXPECT_FALSE(ratio->parent_based);
  EXPECT_FALSE(ParseSampler("traceidratio", "1.5"));
  EXPECT_FALSE(ParseSampler("traceidratio", "half"));
  EXPECT_FALSE(ParseSampler("jaeger_remote", ""));
}

TEST(Sampler, DecidesByRootParentAndRatio) {
  const auto id = TraceIdEndingWith(0);
  auto on = *ParseSampler("always_on", ""), off = *ParseSampler("always_off", "");
  EXPECT_TRUE(on.ShouldSample(nullptr, id));
  EXPECT_FALSE(off.ShouldSample(nullptr, id));

  SpanContext sampled = *ParseTraceparent(kValid);
  SpanContext unsampled = sampled;
  unsampled.flags = 0;
  auto pb_on = *ParseSampler("parentbased_always_on", ""), pb_off = *ParseSampler("parentbased_always_off", "");
  EXPECT_TRUE(pb_on.ShouldSample(nullptr, id));
  EXPECT_FALSE(pb_on.ShouldSample(&unsampled, id));
  EXPECT_TRUE(pb_off.ShouldSample(&sampled, id));
  EXPECT_FALSE(pb_off.ShouldSample(nullptr, id));
  EXPECT_TRUE(on.ShouldSample(&unsampled, id));  // not parent-based: the parent does not matter

  auto quarter = *ParseSampler("traceidratio", "0.25");
  EXPECT_TRUE(quarter.ShouldSample(nullptr, TraceIdEndingWith(0)));
  EXPECT_TRUE(quarter.ShouldSample(nullptr, TraceIdEndingWith((uint64_t{1} << 62) - 1)));
  EXPECT_FALSE(quarter.ShouldSample(nullptr, TraceIdEndingWith(uint64_t{1} << 62)));
  EXPECT_FALSE(quarter.ShouldSample(nullptr, TraceIdEndingWith(~uint64_t{0})));
  auto none = *ParseSampler("traceidratio", "0");
  EXPECT_FALSE(none.ShouldSample(nullptr, TraceIdEndingWith(0)));
  auto all = *ParseSampler("traceidratio", "1");
  EXPECT_TRUE(all.ShouldSample(nullptr, TraceIdEndingWith(~uint64_t{0})));
}

Settings FromEnv(std::map<std::string, std::string> env) {
  return SettingsFromEnvironment("wasmq", [env](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
}

TEST(Settings, OffWithoutAnEndpointOrWhenDisabled) {
  EXPECT_FALSE(FromEnv({}).enabled);
  EXPECT_FALSE(FromEnv({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, {"OTEL_SDK_DISABLED", "true"}}).enabled);
  EXPECT_FALSE(FromEnv({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, {"OTEL_TRACES_EXPORTER", "none"}}).enabled);
  Settings bad = FromEnv({{"OTEL_EXPORTER_OTLP_ENDPOINT", "c:4318"}});
  EXPECT_FALSE(bad.enabled);
  EXPECT_EQ(bad.warnings.size(), 1u);
}

TEST(Settings, ReadsTheStandardVariables) {
  Settings s = FromEnv({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"},
                        {"OTEL_EXPORTER_OTLP_HEADERS", "api-key=s%20ecret, x-tenant = t1"},
                        {"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"},
                        {"OTEL_SERVICE_NAME", "edge-1"},
                        {"OTEL_RESOURCE_ATTRIBUTES", "service.name=ignored,deployment.environment=prod"},
                        {"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"},
                        {"OTEL_TRACES_SAMPLER_ARG", "0.5"},
                        {"OTEL_BSP_SCHEDULE_DELAY", "200"}});
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.traces_url, "http://collector:4318/v1/traces");
  EXPECT_EQ(s.headers, (std::vector<std::string>{"api-key: s ecret", "x-tenant: t1"}));
  EXPECT_EQ(s.timeout.count(), 2500);
  EXPECT_EQ(s.delay.count(), 200);
  ASSERT_FALSE(s.resource.empty());
  EXPECT_EQ(s.resource[0].first, "service.name");
  EXPECT_EQ(std::get<std::string>(s.resource[0].second), "edge-1");
  EXPECT_EQ(std::get<std::string>(s.resource[1].second), "prod");
  EXPECT_TRUE(s.sampler.parent_based);
  EXPECT_EQ(s.sampler.root, Sampler::Root::Ratio);
  EXPECT_TRUE(s.warnings.empty());

  Settings direct = FromEnv({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:1"},
                             {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:2/custom/path"},
                             {"OTEL_EXPORTER_OTLP_TIMEOUT", "soon"},
                             {"OTEL_TRACES_SAMPLER", "sometimes"}});
  EXPECT_EQ(direct.traces_url, "http://b:2/custom/path");
  EXPECT_EQ(direct.timeout.count(), 10'000);
  EXPECT_EQ(std::get<std::string>(direct.resource[0].second), "wasmq");
  EXPECT_EQ(direct.warnings.size(), 2u);
}

TEST(OtlpJson, EncodesIdsTimesAttributesAndResource) {
  SpanData s;
  s.context = *ParseTraceparent(kValid, "k=v");
  s.context.span_id = {1, 2, 3, 4, 5, 6, 7, 8};
  s.parent_span_id = {0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
  s.name = "engine.call";
  s.kind = Kind::Client;
  s.start_unix_nanos = 1'700'000'000'123'456'789;
  s.end_unix_nanos = 1'700'000'000'223'456'789;
  s.attributes = {{"s", std::string("text")}, {"i", int64_t{-42}}, {"d", 0.5}, {"b", true}};
  s.events.push_back({"dequeued", 1'700'000'000'200'000'000, {{"wait_ms", int64_t{7}}}});
  s.status = StatusCode::Error;
  s.status_message = "boom";
  SpanData root;
  root.context = *ParseTraceparent(kValid);
  root.name = "root";

  auto j = nlohmann::json::parse(EncodeOtlpJson({{"service.name", std::string("wasmq")}}, {s, root}));
  const auto& rs = j["resourceSpans"][0];
  EXPECT_EQ(rs["resource"]["attributes"][0]["key"], "service.name");
  EXPECT_EQ(rs["resource"]["attributes"][0]["value"]["stringValue"], "wasmq");
  const auto& span = rs["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(rs["scopeSpans"][0]["scope"]["name"], "wasmq");
  EXPECT_EQ(span["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(span["spanId"], "0102030405060708");
  EXPECT_EQ(span["parentSpanId"], "00f067aa0ba902b7");
  EXPECT_EQ(span["traceState"], "k=v");
  EXPECT_EQ(span["kind"], 3);
  EXPECT_EQ(span["startTimeUnixNano"], "1700000000123456789");
  EXPECT_EQ(span["endTimeUnixNano"], "1700000000223456789");
  EXPECT_EQ(span["attributes"][0]["value"]["stringValue"], "text");
  EXPECT_EQ(span["attributes"][1]["value"]["intValue"], "-42");
  EXPECT_EQ(span["attributes"][2]["value"]["doubleValue"], 0.5);
  EXPECT_EQ(span["attributes"][3]["value"]["boolValue"], true);
  EXPECT_EQ(span["events"][0]["name"], "dequeued");
  EXPECT_EQ(span["events"][0]["timeUnixNano"], "1700000000200000000");
  EXPECT_EQ(span["events"][0]["attributes"][0]["value"]["intValue"], "7");
  EXPECT_EQ(span["status"]["code"], 2);
  EXPECT_EQ(span["status"]["message"], "boom");
  const auto& r = rs["scopeSpans"][0]["spans"][1];
  EXPECT_FALSE(r.contains("parentSpanId"));  // a root span has none
  EXPECT_EQ(r["status"], nlohmann::json::object());
}

TEST(Spans, AreEmptyAndFreeWhenTracingIsOff) {
  ASSERT_FALSE(Enabled());
  Span s = StartSpan("x");
  EXPECT_FALSE(s.recording());
  EXPECT_FALSE(s.context().valid());
  Scope scope(s);
  EXPECT_FALSE(CurrentContext());
  s.SetAttribute("k", 1);  // nothing happens
}

}  // namespace
}  // namespace wasmq::trace
