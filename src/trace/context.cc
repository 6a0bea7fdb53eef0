// File: src/trace/context.cc
//
// W3C trace context: parsing and formatting `traceparent`, the stored form, and the sampler's decision.
#include <cmath>
#include <cstdlib>

#include "trace/trace.h"

namespace wasmq::trace {
namespace {

constexpr size_t kTraceparentLength = 55;  // "00-" + 32 + "-" + 16 + "-" + 2
constexpr size_t kMaxTraceState = 512;     // the specification's limit on what a vendor must pass on

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is not allowed by the specification
}

template <size_t N>
bool ParseHex(std::string_view text, std::array<uint8_t, N>& out) {
  if (text.size() != 2 * N) return false;
  for (size_t i = 0; i < N; ++i) {
    int hi = HexDigit(text[2 * i]), lo = HexDigit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

template <size_t N>
std::string Hex(const std::array<uint8_t, N>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * N, '0');
  for (size_t i = 0; i < N; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

template <size_t N>
bool AllZero(const std::array<uint8_t, N>& bytes) {
  for (uint8_t b : bytes)
    if (b != 0) return false;
  return true;
}

}  // namespace

bool SpanContext::valid() const { return !AllZero(trace_id) && !AllZero(span_id); }
std::string SpanContext::TraceIdHex() const { return Hex(trace_id); }
std::string SpanContext::SpanIdHex() const { return Hex(span_id); }

std::optional<SpanContext> ParseTraceparent(std::string_view tp, std::string_view tracestate) {
  if (tp.size() < kTraceparentLength) return std::nullopt;
  std::array<uint8_t, 1> version{}, flags{};
  if (!ParseHex(tp.substr(0, 2), version) || version[0] == 0xff) return std::nullopt;
  if (version[0] == 0 && tp.size() != kTraceparentLength) return std::nullopt;
  if (tp.size() > kTraceparentLength && tp[kTraceparentLength] != '-') return std::nullopt;
  if (tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return std::nullopt;
  SpanContext ctx;
  if (!ParseHex(tp.substr(3, 32), ctx.trace_id) || !ParseHex(tp.substr(36, 16), ctx.span_id) ||
      !ParseHex(tp.substr(53, 2), flags))
    return std::nullopt;
  if (!ctx.valid()) return std::nullopt;
  // Version 00 defines only the sampled bit; a later version's other bits mean nothing to us.
  ctx.flags = flags[0] & 1;
  ctx.remote = true;
  if (tracestate.size() <= kMaxTraceState && tracestate.find('\n') == std::string_view::npos)
    ctx.trace_state = std::string(tracestate);
  return ctx;
}

std::string FormatTraceparent(const SpanContext& ctx) {
  std::array<uint8_t, 1> flags{ctx.flags};
  return "00-" + ctx.TraceIdHex() + "-" + ctx.SpanIdHex() + "-" + Hex(flags);
}

std::string Serialize(const SpanContext& ctx) {
  if (!ctx.valid()) return "";
  std::string out = FormatTraceparent(ctx);
  if (!ctx.trace_state.empty()) out += "\n" + ctx.trace_state;
  return out;
}

std::optional<SpanContext> ParseStored(std::string_view text) {
  size_t nl = text.find('\n');
  if (nl == std::string_view::npos) return ParseTraceparent(text);
  return ParseTraceparent(text.substr(0, nl), text.substr(nl + 1));
}

bool Sampler::ShouldSample(const SpanContext* parent, const std::array<uint8_t, 16>& trace_id) const {
  if (parent_based && parent && parent->valid()) return parent->sampled();
  switch (root) {
    case Root::AlwaysOn: return true;
    case Root::AlwaysOff: return false;
    case Root::Ratio: {
      // The trace id's last 8 bytes as a number, so that every process deciding on the same trace agrees.
      uint64_t x = 0;
      for (size_t i = 8; i < 16; ++i) x = (x << 8) | trace_id[i];
      // Compared as integers: a double has too few bits to tell neighbouring ids apart.
      constexpr uint64_t kTwo63 = uint64_t{1} << 63;
      const uint64_t bound = ratio >= 1.0 ? kTwo63 : static_cast<uint64_t>(ratio * 9223372036854775808.0);
      return (x >> 1) < bound;
    }
  }
  return true;
}

std::optional<Sampler> ParseSampler(std::string_view name, std::string_view arg) {
  Sampler s;
  std::string_view base = name;
  s.parent_based = base.starts_with("parentbased_");
  if (s.parent_based) base.remove_prefix(12);
  if (base == "always_on") {
    s.root = Sampler::Root::AlwaysOn;
  } else if (base == "always_off") {
    s.root = Sampler::Root::AlwaysOff;
  } else if (base == "traceidratio") {
    s.root = Sampler::Root::Ratio;
    if (!arg.empty()) {
      std::string text(arg);
      char* end = nullptr;
      double r = std::strtod(text.c_str(), &end);
      if (*end != '\0' || !(r >= 0.0 && r <= 1.0)) return std::nullopt;
      s.ratio = r;
    }
  } else {
    return std::nullopt;
  }
  return s;
}

}  // namespace wasmq::trace
