// Fuzz target: the policy part (src/policy) — the loader and the OPA ABI as a host sees it, and the host
// builtins. The first byte picks the mode ('0' + n, so seeds stay readable); the rest is its input:
//
//   '0' module        raw bytes as a policy module                  Policy::Load, then one decision
//   '1' input         JSON text as the input of example/rbac/multi  Eval on both evaluation paths
//   '2' data          JSON text as rbac's data document             SetData, then a decision
//   '3' patch         "OFFSET(4 bytes LE)" + bytes written over a    Load + Eval: a policy that decodes but
//                     copy of example.wasm at OFFSET % size          whose data segments (the JSON it dumps,
//                                                                   its entrypoints) or code are corrupt
//   '4' builtin       "NAME\nARGS-JSON"                             the host builtin NAME on ARGS
//
// Policies come from WASMQ_OPA_WASM_DIR (../shared/testdata/opa-wasm); without them modes 1-3 do nothing.
// Every decision has a fuel limit, so a patched module that loops ends. Besides crashes and sanitizer
// reports, no exception may leave policy.h, and a successful decision must return JSON.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "policy/policy.h"

namespace {

using namespace wasmq::policy;
using nlohmann::json;

#define FUZZ_CHECK(cond)                                                                         \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      std::fprintf(stderr, "fuzz_policy: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                              \
    }                                                                                            \
  } while (0)

std::vector<uint8_t> ReadFixture(const char* name) {
  std::ifstream in(std::string(WASMQ_OPA_WASM_DIR) + "/dotnet-opa-wasm/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

Options Limited() {
  Options o;
  o.max_instances = 1;
  o.fuel = 2'000'000;
  o.max_memory_bytes = 64 << 20;
  o.println = [](std::string_view) {};
  return o;
}

std::shared_ptr<Policy> LoadFixture(const char* name, const std::string& data, bool ctx) {
  std::vector<uint8_t> bytes = ReadFixture(name);
  if (bytes.empty()) return nullptr;
  Options o = Limited();
  o.data_json = data;
  o.ctx_path = ctx;
  auto p = Policy::Load(bytes, std::move(o));
  FUZZ_CHECK(p.ok());  // the fixtures themselves always load
  return *p;
}

void CheckDecision(const Result<std::string>& r) {
  if (r.ok()) FUZZ_CHECK(json::accept(*r));
}

void Decide(Policy& p, std::string_view input) {
  for (const auto& [name, id] : p.entrypoints()) CheckDecision(p.Eval(input, id));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0] - '0';
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  static const std::string kRbacData = [] {
    std::ifstream in(std::string(WASMQ_OPA_WASM_DIR) + "/dotnet-opa-wasm/rbac_data.json");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  static const auto kExampleFast = LoadFixture("example.wasm", R"({"world": "world"})", false);
  static const auto kRbacFast = LoadFixture("rbac.wasm", kRbacData.empty() ? "{}" : kRbacData, false);
  static const auto kRbacCtx = LoadFixture("rbac.wasm", kRbacData.empty() ? "{}" : kRbacData, true);
  static const auto kMulti = LoadFixture("multi.wasm", "{}", false);
  static const std::vector<uint8_t> kExampleBytes = ReadFixture("example.wasm");

  try {
    switch (mode) {
      case 0: {
        auto p = Policy::Load(std::vector<uint8_t>(data + 1, data + size), Limited());
        if (p.ok()) Decide(**p, "{}");
        break;
      }
      case 1:
        for (const auto& p : {kExampleFast, kRbacFast, kRbacCtx, kMulti})
          if (p) Decide(*p, rest);
        break;
      case 2: {
        std::vector<uint8_t> bytes = ReadFixture("rbac.wasm");
        if (bytes.empty()) break;
        Options o = Limited();
        o.data_json = std::string(rest);
        auto p = Policy::Load(bytes, std::move(o));
        if (!p.ok()) {
          FUZZ_CHECK(p.error().kind == Error::Kind::Input || p.error().kind == Error::Kind::Eval);
          break;
        }
        Decide(**p, R"({"user": "eve", "action": "read", "type": "dog"})");
        (void)(*p)->SetData(rest);
        Decide(**p, R"({"user": "alice"})");
        break;
      }
      case 3: {
        if (kExampleBytes.empty() || rest.size() < 4) break;
        uint32_t offset = static_cast<uint8_t>(rest[0]) | static_cast<uint8_t>(rest[1]) << 8 |
                          static_cast<uint8_t>(rest[2]) << 16 |
                          static_cast<uint32_t>(static_cast<uint8_t>(rest[3])) << 24;
        std::vector<uint8_t> bytes = kExampleBytes;
        offset %= bytes.size();
        for (size_t i = 4; i < rest.size() && offset + i - 4 < bytes.size(); ++i)
          bytes[offset + i - 4] = static_cast<uint8_t>(rest[i]);
        Options o = Limited();
        o.data_json = R"({"world": "world"})";
        auto p = Policy::Load(bytes, std::move(o));
        if (p.ok()) Decide(**p, R"({"message": "world"})");
        break;
      }
      case 4: {
        size_t nl = rest.find('\n');
        if (nl == std::string_view::npos) break;
        const Builtin* fn = FindHostBuiltin(rest.substr(0, nl));
        json args = json::parse(rest.substr(nl + 1), nullptr, false);
        if (fn == nullptr || !args.is_array()) break;
        try {
          (void)(*fn)(args.get<std::vector<json>>());
        } catch (const std::exception&) {
          // A builtin's error fails the decision: allowed.
        }
        break;
      }
      default:
        break;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_policy: exception escaped policy.h: %s\n", e.what());
    std::abort();
  }
  return 0;
}
