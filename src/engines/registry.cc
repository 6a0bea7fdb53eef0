// File: src/engines/registry.cc — the engine config file and EngineRegistry.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engines/internal.h"
#include "json/json.h"
#include "trace/trace.h"

namespace wasmq::engines {

namespace fs = std::filesystem;

Fields::Fields(const Json& object, std::string path, std::string base_dir)
    : obj_(object), path_(std::move(path)), base_dir_(std::move(base_dir)) {}

Result<Fields> Fields::Of(const Json& object, std::string path, std::string base_dir) {
  if (!object.is_object()) return Error{path + ": must be a JSON object"};
  return Fields(object, std::move(path), std::move(base_dir));
}

Error Fields::Fail(const std::string& key, const std::string& what) const {
  return Error{path_ + (key.empty() ? "" : "." + key) + ": " + what};
}

Result<std::string> Fields::String(const char* key, std::optional<std::string> fallback) const {
  if (!Has(key)) {
    if (!fallback) return Fail(key, "is required");
    return *fallback;
  }
  if (!obj_[key].is_string()) return Fail(key, "must be a string");
  return obj_[key].get<std::string>();
}

Result<int64_t> Fields::Int(const char* key, int64_t fallback, int64_t min, int64_t max) const {
  if (!Has(key)) return fallback;
  const Json& v = obj_[key];
  if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max)
    return Fail(key, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  return v.get<int64_t>();
}

Result<bool> Fields::Bool(const char* key, bool fallback) const {
  if (!Has(key)) return fallback;
  if (!obj_[key].is_boolean()) return Fail(key, "must be true or false");
  return obj_[key].get<bool>();
}

Result<std::optional<Fields>> Fields::Object(const char* key) const {
  if (!Has(key)) return std::optional<Fields>();
  if (!obj_[key].is_object()) return Fail(key, "must be an object");
  return std::optional<Fields>(Fields(obj_[key], path_ + "." + key, base_dir_));
}

Result<std::string> Fields::Path(const char* key, std::optional<std::string> fallback) const {
  Result<std::string> p = String(key, std::move(fallback));
  if (!p) return p;
  if (p->empty()) return Fail(key, "must not be empty");
  if (fs::path(*p).is_relative() && !base_dir_.empty()) return (fs::path(base_dir_) / *p).string();
  return p;
}

Result<void> Fields::OnlyKeys(std::initializer_list<const char*> known) const {
  for (auto it = obj_.begin(); it != obj_.end(); ++it) {
    bool ok = std::any_of(known.begin(), known.end(), [&](const char* k) { return it.key() == k; });
    if (!ok) {
      std::string list;
      for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return Fail(it.key(), "unknown field (expected one of: " + list + ")");
    }
  }
  return {};
}

namespace {

bool IsEngineName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

Result<std::unique_ptr<Engine>> NewEngine(const Fields& f) {
  const Result<std::string> kind = f.String("kind");
  if (!kind) return kind.error();
  if (*kind == "builtin") {
    const Result<std::string> which = f.String("builtin", "face-detect");
    if (!which) return which.error();
    if (*which == "face-landmarks") return NewFaceLandmarksEngine(f);
    if (*which != "face-detect")
      return f.Fail("builtin", "unknown built-in engine \"" + *which + "\" (known: face-detect, face-landmarks)");
    return NewFaceDetectEngine(f);
  }
  if (*kind == "wasm") return NewWasmEngine(f);
  if (*kind == "http") return NewHttpEngine(f);
  if (*kind == "comfyui") return NewComfyUiEngine(f);
  return f.Fail("kind", "unknown kind \"" + *kind + "\" (expected builtin, wasm, http or comfyui)");
}

}  // namespace

struct RegistryBuilder {
  static std::unique_ptr<EngineRegistry> New() {
    return std::unique_ptr<EngineRegistry>(new EngineRegistry());
  }
  // The config document's limits and engines into `reg`.
  static Result<void> Read(EngineRegistry& reg, const Json& doc, const std::string& base_dir);
};

EngineRegistry::EngineRegistry() {
  static const Json kBuiltin = {{"kind", "builtin"}};
  // The built-in entry has no fields that could be wrong.
  engines_.emplace("face-detect", std::move(*NewFaceDetectEngine(*Fields::Of(kBuiltin, "face-detect", ""))));
  engines_.emplace("face-landmarks", std::move(*NewFaceLandmarksEngine(*Fields::Of(kBuiltin, "face-landmarks", ""))));
}

Result<std::unique_ptr<EngineRegistry>> EngineRegistry::Parse(std::string_view json_text,
                                                              const std::string& source) {
  std::string why;
  Json doc = wasmq::json::Parse(json_text, &why);
  if (doc.is_discarded()) return Error{"engine config " + source + ": not valid JSON (" + why + ")"};
  std::string base_dir;
  if (source.find('/') != std::string::npos) base_dir = fs::path(source).parent_path().string();
  auto reg = RegistryBuilder::New();
  reg->source_ = source;
  Result<void> read = RegistryBuilder::Read(*reg, doc, base_dir);
  if (!read) return Error{"engine config " + source + ": " + read.error().message};
  return reg;
}

Result<void> RegistryBuilder::Read(EngineRegistry& reg, const Json& doc, const std::string& base_dir) {
  Result<Fields> top = Fields::Of(doc, "(top level)", base_dir);
  if (!top) return top.error();
  if (auto r = top->OnlyKeys({"engines", "limits"}); !r) return r;
  Result<std::optional<Fields>> l = top->Object("limits");
  if (!l) return l.error();
  if (*l) {
    const Fields& f = **l;
    if (auto r = f.OnlyKeys({"max_request_json_bytes", "max_request_payload_bytes", "max_response_json_bytes",
                             "max_response_payload_bytes"});
        !r)
      return r;
    constexpr int64_t kMax = int64_t{1} << 31;  // what a wasm32 module can address, roughly
    const std::pair<const char*, size_t*> sizes[] = {
        {"max_request_json_bytes", &reg.limits_.max_request_json},
        {"max_request_payload_bytes", &reg.limits_.max_request_payload},
        {"max_response_json_bytes", &reg.limits_.max_response_json},
        {"max_response_payload_bytes", &reg.limits_.max_response_payload}};
    for (auto [key, field] : sizes) {
      const int64_t min = std::string_view(key).ends_with("_json_bytes") ? 2 : 0;  // "{}" at least
      Result<int64_t> v = f.Int(key, static_cast<int64_t>(*field), min, kMax);
      if (!v) return v.error();
      *field = static_cast<size_t>(*v);
    }
  }
  Result<std::optional<Fields>> engines = top->Object("engines");
  if (!engines) return engines.error();
  if (*engines) {
    for (auto it = doc["engines"].begin(); it != doc["engines"].end(); ++it) {
      if (!IsEngineName(it.key()))
        return Error{"engines." + it.key() + ": an engine name is 1-64 letters, digits, '-', '_' or '.'"};
      Result<Fields> f = Fields::Of(it.value(), "engines." + it.key(), base_dir);
      if (!f) return f.error();
      Result<std::unique_ptr<Engine>> engine = NewEngine(*f);
      if (!engine) return engine.error();
      reg.engines_[it.key()] = std::move(*engine);
    }
  }
  return {};
}

Result<std::unique_ptr<EngineRegistry>> EngineRegistry::Load(const std::string& path) {
  if (path.empty()) {
    auto reg = RegistryBuilder::New();
    reg->source_ = "(built-in engines only)";
    return reg;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    return Error{"engine config " + path + ": cannot read it (" +
                 (fs::exists(path, ec) ? "permission denied" : "no such file") + ")"};
  }
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

void EngineRegistry::Add(std::string name, std::unique_ptr<Engine> engine) {
  engines_[std::move(name)] = std::move(engine);
}

const Engine* EngineRegistry::Find(std::string_view name) const {
  auto it = engines_.find(name);
  return it == engines_.end() ? nullptr : it->second.get();
}

std::vector<std::string> EngineRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : engines_) out.push_back(name);
  return out;
}

Response EngineRegistry::Call(std::string_view name, const Request& request,
                              const CancelToken* cancel) const {
  const Engine* engine = Find(name);
  if (!engine) {
    std::string known;
    for (const std::string& n : names()) known += (known.empty() ? "" : ", ") + n;
    return Failure(Status::Unknown,
                   "no engine \"" + std::string(name).substr(0, 64) + "\" (known: " + known + ")");
  }
  if (request.json.size() > limits_.max_request_json || request.payload.size() > limits_.max_request_payload)
    return Failure(Status::TooLarge, "the request to " + std::string(name) + " is over the size limit");
  if (!Json::accept(request.json.empty() ? std::string_view("{}") : std::string_view(request.json)))
    return Failure(Status::BadRequest, "the request to " + std::string(name) + " is not valid JSON");
  // A child of the run's span; http and comfyui engines pass it on as `traceparent` (http_call.cc).
  trace::Span span = trace::StartSpan("engine.call", {.kind = trace::Kind::Client});
  trace::Scope scope(span);
  if (span.recording()) {
    span.SetAttribute("wasmq.engine.name", name);
    span.SetAttribute("wasmq.engine.kind", engine->kind());
    span.SetAttribute("wasmq.engine.request_bytes", request.json.size() + request.payload.size());
  }
  Response r = CallEngine(*engine, name, request, cancel);
  if (span.recording()) {
    span.SetAttribute("wasmq.engine.status", CodeName(r.status));
    if (r.status != Status::Ok) span.SetError(r.message);
  }
  return r;
}

Response EngineRegistry::CallEngine(const Engine& engine, std::string_view name, const Request& request,
                                    const CancelToken* cancel) const {
  CallContext ctx;
  ctx.cancel = cancel;
  ctx.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(engine.timeout_ms());
  ctx.max_response_json = limits_.max_response_json;
  ctx.max_response_payload = limits_.max_response_payload;
  Request normalised = request;
  if (normalised.json.empty()) normalised.json = "{}";
  Response r = engine.Call(normalised, ctx);
  if (cancel && cancel->cancelled()) return Failure(Status::Cancelled, "cancelled");
  if (r.status == Status::Ok) {
    if (r.json.empty()) r.json = "{}";
    if (r.json.size() > limits_.max_response_json || r.payload.size() > limits_.max_response_payload)
      return Failure(Status::TooLarge, std::string(name) + " answered " + std::to_string(r.json.size()) +
                                           " bytes of JSON and " + std::to_string(r.payload.size()) +
                                           " of payload: over the size limit");
  }
  if (r.status != Status::Ok) r.message = std::string(name) + ": " + r.message;
  return r;
}

}  // namespace wasmq::engines
