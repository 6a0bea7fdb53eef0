// File: src/trace/settings.cc
//
// The exporter's settings from the standard OpenTelemetry environment variables (the SDK configuration
// specification): a bad value is a warning and the default is used.
#include <unistd.h>

#include <cstdlib>

#include "base/encoding.h"
#include "base/strings.h"
#include "trace/trace.h"

namespace wasmq::trace {
namespace {

using Getenv = std::function<std::optional<std::string>(const std::string&)>;

std::vector<std::pair<std::string, std::string>> KeyValueList(std::string_view text, std::vector<std::string>& warnings,
                                                              std::string_view variable) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    item = base::Trim(item);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string key(base::Trim(item.substr(0, eq)));
    if (eq == std::string_view::npos || key.empty()) {
      warnings.push_back(std::string(variable) + ": an entry without KEY=VALUE was ignored");
      continue;
    }
    std::string value(base::Trim(item.substr(eq + 1)));
    if (auto decoded = base::PercentDecode(value, false)) value = *decoded;
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

std::optional<int64_t> Number(const std::string& text, int64_t min, int64_t max) {
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < min || v > max) return std::nullopt;
  return v;
}

}  // namespace

Settings SettingsFromEnvironment(std::string_view default_service, const Getenv& getenv_fn) {
  Getenv get = getenv_fn ? getenv_fn : [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  auto text = [&](const char* name) { return get(name).value_or(""); };
  Settings s;
  auto number = [&](const char* name, int64_t min, int64_t max, int64_t fallback) {
    std::string v = text(name);
    if (v.empty()) return fallback;
    auto n = Number(v, min, max);
    if (!n) s.warnings.push_back(std::string(name) + "=" + v + ": not a number from " + std::to_string(min) +
                                 " to " + std::to_string(max) + "; using " + std::to_string(fallback));
    return n.value_or(fallback);
  };

  if (base::Lower(text("OTEL_SDK_DISABLED")) == "true") return s;
  if (std::string exporter = text("OTEL_TRACES_EXPORTER"); base::Lower(exporter) == "none") return s;
  if (std::string url = text("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); !url.empty()) {
    s.traces_url = url;
  } else if (std::string base_url = text("OTEL_EXPORTER_OTLP_ENDPOINT"); !base_url.empty()) {
    while (base_url.ends_with('/')) base_url.pop_back();
    s.traces_url = base_url + "/v1/traces";
  } else {
    return s;  // nowhere to send spans: off
  }
  if (!s.traces_url.starts_with("http://") && !s.traces_url.starts_with("https://")) {
    s.warnings.push_back("the OTLP endpoint must be an http:// or https:// URL; traces are off");
    s.traces_url.clear();
    return s;
  }
  s.enabled = true;

  std::string headers = text("OTEL_EXPORTER_OTLP_TRACES_HEADERS");
  if (headers.empty()) headers = text("OTEL_EXPORTER_OTLP_HEADERS");
  for (auto& [k, v] : KeyValueList(headers, s.warnings, "OTEL_EXPORTER_OTLP_HEADERS")) s.headers.push_back(k + ": " + v);
  const char* timeout_var =
      get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") ? "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT" : "OTEL_EXPORTER_OTLP_TIMEOUT";
  s.timeout = std::chrono::milliseconds(number(timeout_var, 1, 600'000, 10'000));
  s.delay = std::chrono::milliseconds(number("OTEL_BSP_SCHEDULE_DELAY", 1, 600'000, 5'000));
  s.max_queue = static_cast<size_t>(number("OTEL_BSP_MAX_QUEUE_SIZE", 1, 1'000'000, 2048));
  s.max_batch = static_cast<size_t>(number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 1, 1'000'000, 512));
  s.max_batch = std::min(s.max_batch, s.max_queue);

  if (std::string name = text("OTEL_TRACES_SAMPLER"); !name.empty()) {
    std::string arg = text("OTEL_TRACES_SAMPLER_ARG");
    if (auto sampler = ParseSampler(base::Lower(name), arg))
      s.sampler = *sampler;
    else
      s.warnings.push_back("OTEL_TRACES_SAMPLER=" + name + (arg.empty() ? "" : " (OTEL_TRACES_SAMPLER_ARG=" + arg + ")") +
                           ": not a sampler wasmq knows; using parentbased_always_on");
  }

  // The resource: service.name first (OTEL_SERVICE_NAME over OTEL_RESOURCE_ATTRIBUTES over the default).
  std::string service(default_service);
  Attributes others;
  for (auto& [k, v] : KeyValueList(text("OTEL_RESOURCE_ATTRIBUTES"), s.warnings, "OTEL_RESOURCE_ATTRIBUTES")) {
    if (k == "service.name")
      service = v;
    else
      others.emplace_back(k, v);
  }
  if (std::string name = text("OTEL_SERVICE_NAME"); !name.empty()) service = name;
  s.resource.emplace_back("service.name", service);
  auto has = [&](std::string_view key) {
    for (const auto& [k, v] : others)
      if (k == key) return true;
    return false;
  };
  if (!has("host.name")) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0 && host[0]) others.emplace_back("host.name", std::string(host));
  }
  if (!has("process.pid")) others.emplace_back("process.pid", static_cast<int64_t>(getpid()));
  others.emplace_back("telemetry.sdk.name", std::string("wasmq"));
  others.emplace_back("telemetry.sdk.language", std::string("cpp"));
  for (auto& kv : others) s.resource.push_back(std::move(kv));
  return s;
}

}  // namespace wasmq::trace
