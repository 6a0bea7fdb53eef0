// policy_host: the C++ side of the differential test (differential.mjs) for what `wasmq policy eval`
// cannot do from the command line: policies that call custom builtins (registered as in
// custom_builtins.h) and direct calls of the host builtins (sprintf, regex.split, json.is_valid, yaml.*).
//
// stdin:  {"cases": [{"wasm": PATH, "data": …, "input": …, "entrypoint": N}],
//          "builtin_calls": [{"name": "sprintf", "args": […]}]}
// stdout: {"cases": [{"result": RESULT-SET} | {"abort": MESSAGE} | {"error": MESSAGE}],
//          "builtin_calls": [{"result": …} | {"undefined": true} | {"error": MESSAGE}]}
#include <fstream>
#include <iostream>
#include <iterator>

#include "custom_builtins.h"
#include "policy/policy.h"

using nlohmann::json;
namespace policy = wasmq::policy;

int main() {
  std::string text{std::istreambuf_iterator<char>(std::cin), {}};
  json req = json::parse(text, nullptr, false);
  if (req.is_discarded()) {
    std::cerr << "policy_host: stdin is not JSON\n";
    return 2;
  }
  json out = {{"cases", json::array()}, {"builtin_calls", json::array()}};
  for (const json& c : req.value("cases", json::array())) {
    std::string path = c.at("wasm").get<std::string>();
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
    policy::Options o;
    o.data_json = c.value("data", json::object()).dump();
    o.custom_builtins = policy::testing::CustomBuiltins(path);
    o.max_instances = 1;
    auto p = policy::Policy::Load(bytes, std::move(o));
    if (!p) {
      out["cases"].push_back(
          {{p.error().kind == policy::Error::Kind::Abort ? "abort" : "error", p.error().message}});
      continue;
    }
    auto r = (*p)->Eval(c.value("input", json::object()).dump(), c.value("entrypoint", 0));
    if (!r)
      out["cases"].push_back(
          {{r.error().kind == policy::Error::Kind::Abort ? "abort" : "error", r.error().message}});
    else
      out["cases"].push_back({{"result", json::parse(*r)}});
  }
  for (const json& call : req.value("builtin_calls", json::array())) {
    const policy::Builtin* fn = policy::FindHostBuiltin(call.at("name").get<std::string>());
    if (fn == nullptr) {
      out["builtin_calls"].push_back({{"error", "no such builtin"}});
      continue;
    }
    try {
      auto r = (*fn)(call.at("args").get<std::vector<json>>());
      if (r)
        out["builtin_calls"].push_back({{"result", *r}});
      else
        out["builtin_calls"].push_back({{"undefined", true}});
    } catch (const std::exception& e) {
      out["builtin_calls"].push_back({{"error", e.what()}});
    }
  }
  std::cout << out.dump() << "\n";
  return 0;
}
