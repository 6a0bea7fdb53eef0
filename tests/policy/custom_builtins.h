// The custom builtins our policy modules in modules/ call (see modules/README.md), as policy_test.cc and
// policy_host.cc register them; differential.mjs registers the same ones with OPA's npm SDK.
#pragma once

#include <map>
#include <string>

#include "policy/policy.h"

namespace wasmq::policy::testing {

inline std::map<std::string, Builtin> CustomBuiltins(const std::string& wasm_name) {
  using nlohmann::json;
  auto str = [](const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
    return v.dump();
  };
  std::map<std::string, Builtin> b;
  b["custom.func"] = [](const std::vector<json>& a) -> std::optional<json> {
    return a.at(0).get<std::string>() + " Doe";
  };
  b["custom.func0"] = [](const std::vector<json>&) -> std::optional<json> { return 0; };
  b["custom.func1"] = [](const std::vector<json>& a) -> std::optional<json> { return a.at(0); };
  if (wasm_name.find("math_builtin") != std::string::npos) {
    b["custom.func2"] = [](const std::vector<json>& a) -> std::optional<json> {
      return a.at(0).get<double>() + a.at(1).get<double>();
    };
  } else {
    b["custom.func2"] = [](const std::vector<json>& a) -> std::optional<json> {
      return a.at(0).get<double>() < a.at(1).get<double>();
    };
  }
  b["custom.func3"] = [str](const std::vector<json>& a) -> std::optional<json> {
    return str(a.at(0)) + str(a.at(1)) + str(a.at(2));
  };
  b["custom.func4"] = [str](const std::vector<json>& a) -> std::optional<json> {
    std::string joined;
    for (const json& s : a.at(0)) {
      if (!joined.empty()) joined += ",";
      joined += str(s);
    }
    return joined + str(a.at(1)) + str(a.at(2)) + str(a.at(3));
  };
  return b;
}

}  // namespace wasmq::policy::testing
