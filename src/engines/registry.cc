// File: src/engines/registry.cc — the engine config file and EngineRegistry.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engines/internal.h"
#include "json/json.h"

namespace wasmq::engines {

namespace fs = std::filesystem;

Fields::Fields(const Json& object, std::string path, std::string base_dir)
    : obj_(object), path_(std::move(path)), base_dir_(std::move(base_dir)) {
  if (!obj_.is_object()) throw ConfigError(path_ + ": must be a JSON object");
}

void Fields::Fail(const std::string& key, const std::string& what) const {
  throw ConfigError(path_ + (key.empty() ? "" : "." + key) + ": " + what);
}

std::string Fields::String(const char* key, std::optional<std::string> fallback) const {
  if (!Has(key)) {
    if (!fallback) Fail(key, "is required");
    return *fallback;
  }
  if (!obj_[key].is_string()) Fail(key, "must be a string");
  return obj_[key].get<std::string>();
}

int64_t Fields::Int(const char* key, int64_t fallback, int64_t min, int64_t max) const {
  if (!Has(key)) return fallback;
  const Json& v = obj_[key];
  if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max)
    Fail(key, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  return v.get<int64_t>();
}

bool Fields::Bool(const char* key, bool fallback) const {
  if (!Has(key)) return fallback;
  if (!obj_[key].is_boolean()) Fail(key, "must be true or false");
  return obj_[key].get<bool>();
}

std::optional<Fields> Fields::Object(const char* key) const {
  if (!Has(key)) return std::nullopt;
  if (!obj_[key].is_object()) Fail(key, "must be an object");
  return Fields(obj_[key], path_ + "." + key, base_dir_);
}

std::string Fields::Path(const char* key, std::optional<std::string> fallback) const {
  std::string p = String(key, std::move(fallback));
  if (p.empty()) Fail(key, "must not be empty");
  if (fs::path(p).is_relative() && !base_dir_.empty()) p = (fs::path(base_dir_) / p).string();
  return p;
}

void Fields::OnlyKeys(std::initializer_list<const char*> known) const {
  for (auto it = obj_.begin(); it != obj_.end(); ++it) {
    bool ok = std::any_of(known.begin(), known.end(), [&](const char* k) { return it.key() == k; });
    if (!ok) {
      std::string list;
      for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      Fail(it.key(), "unknown field (expected one of: " + list + ")");
    }
  }
}

namespace {

bool IsEngineName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

std::unique_ptr<Engine> NewEngine(const Fields& f) {
  const std::string kind = f.String("kind");
  if (kind == "builtin") {
    const std::string which = f.String("builtin", "face-detect");
    if (which != "face-detect")
      f.Fail("builtin", "unknown built-in engine \"" + which + "\" (known: face-detect)");
    return NewFaceDetectEngine(f);
  }
  if (kind == "wasm") return NewWasmEngine(f);
  if (kind == "http") return NewHttpEngine(f);
  if (kind == "comfyui") return NewComfyUiEngine(f);
  f.Fail("kind", "unknown kind \"" + kind + "\" (expected builtin, wasm, http or comfyui)");
}

}  // namespace

struct RegistryBuilder {
  static std::unique_ptr<EngineRegistry> New() {
    return std::unique_ptr<EngineRegistry>(new EngineRegistry());
  }
};

EngineRegistry::EngineRegistry() {
  static const Json kBuiltin = {{"kind", "builtin"}};
  engines_.emplace("face-detect", NewFaceDetectEngine(Fields(kBuiltin, "face-detect", "")));
}

LoadResult EngineRegistry::Parse(std::string_view json_text, const std::string& source) {
  LoadResult out;
  std::string why;
  Json doc = wasmq::json::Parse(json_text, &why);
  if (doc.is_discarded()) {
    out.error = "engine config " + source + ": not valid JSON (" + why + ")";
    return out;
  }
  std::string base_dir;
  if (source.find('/') != std::string::npos) base_dir = fs::path(source).parent_path().string();
  auto reg = RegistryBuilder::New();
  reg->source_ = source;
  try {
    Fields top(doc, "(top level)", base_dir);
    top.OnlyKeys({"engines", "limits"});
    if (auto l = top.Object("limits")) {
      l->OnlyKeys({"max_request_json_bytes", "max_request_payload_bytes", "max_response_json_bytes",
                   "max_response_payload_bytes"});
      constexpr int64_t kMax = int64_t{1} << 31;  // what a wasm32 module can address, roughly
      reg->limits_.max_request_json =
          l->Int("max_request_json_bytes", int64_t(reg->limits_.max_request_json), 2, kMax);
      reg->limits_.max_request_payload =
          l->Int("max_request_payload_bytes", int64_t(reg->limits_.max_request_payload), 0, kMax);
      reg->limits_.max_response_json =
          l->Int("max_response_json_bytes", int64_t(reg->limits_.max_response_json), 2, kMax);
      reg->limits_.max_response_payload =
          l->Int("max_response_payload_bytes", int64_t(reg->limits_.max_response_payload), 0, kMax);
    }
    if (auto engines = top.Object("engines")) {
      for (auto it = doc["engines"].begin(); it != doc["engines"].end(); ++it) {
        if (!IsEngineName(it.key()))
          throw ConfigError("engines." + it.key() +
                            ": an engine name is 1-64 letters, digits, '-', '_' or '.'");
        Fields f(it.value(), "engines." + it.key(), base_dir);
        reg->engines_[it.key()] = NewEngine(f);
      }
    }
  } catch (const ConfigError& e) {
    out.error = "engine config " + source + ": " + e.what();
    return out;
  }
  out.registry = std::move(reg);
  return out;
}

LoadResult EngineRegistry::Load(const std::string& path) {
  if (path.empty()) {
    LoadResult out;
    out.registry = RegistryBuilder::New();
    out.registry->source_ = "(built-in engines only)";
    return out;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    LoadResult out;
    out.error = "engine config " + path + ": cannot read it (" +
                (fs::exists(path, ec) ? "permission denied" : "no such file") + ")";
    return out;
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
  CallContext ctx;
  ctx.cancel = cancel;
  ctx.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(engine->timeout_ms());
  ctx.max_response_json = limits_.max_response_json;
  ctx.max_response_payload = limits_.max_response_payload;
  Request normalised = request;
  if (normalised.json.empty()) normalised.json = "{}";
  Response r = engine->Call(normalised, ctx);
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
