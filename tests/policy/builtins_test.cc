// The host builtins (sprintf, regex.split, json.is_valid, yaml.*) called directly, against what OPA's npm
// SDK answers for the same arguments (the expected column was produced by the SDK's builtins on node;
// differential.mjs re-checks the same calls live). An "error" row only checks that ours fails too.
#include <gtest/gtest.h>

#include "policy/policy.h"

namespace wasmq::policy {
namespace {

using nlohmann::json;

struct BuiltinCase {
  const char* name;
  const char* args;
  const char* expected;  // {"result": …} | {"undefined": true} | {"error": …}
};

const BuiltinCase kCases[] = {
    {"sprintf", R"J(["%s has %d items costing %.2f", ["cart", 3, 9.5]])J",
     R"J({"result": "cart has 3 items costing 9.50"})J"},
    {"sprintf", R"J(["%5d|%-5d|%05d|%+d", [3, 4, 42, 5]])J", R"J({"result": "    3|4    |00042|+5"})J"},
    {"sprintf", R"J(["%x %X %o %b %u", [255, 255, 8, -5, -1]])J",
     R"J({"result": "ff FF 10 -101 4294967295"})J"},
    {"sprintf", R"J(["%s %s %s %s", [1.5, [1, 2, "a"], {"a": 1}, null]])J",
     R"J({"result": "1.5 1,2,a [object Object] null"})J"},
    {"sprintf", R"J(["%e %.3e %g %.3g %f", [12345.678, 12345.678, 0.0001, 3.14159, -1.5]])J",
     R"J({"result": "1.2345678e+4 1.235e+4 0.0001 3.14 -1.5"})J"},
    {"sprintf", R"J(["%2$s %1$s %T %T %t %t", ["a", "b", "x", [1], [], ""]])J",
     R"J({"result": "b a string string true true"})J"},
    {"sprintf", R"J(["%j|%s|%s", [{"a": [1, 2]}, 1e+21, 123456789012]])J",
     R"J({"result": "{\"a\":[1,2]}|1e+21|123456789012"})J"},
    {"sprintf", R"J(["100%% %c %.2s %'*8s %v", [65, "abcdef", "x", true]])J",
     R"J({"result": "100% A ab *******x true"})J"},
    {"sprintf", R"J(["%s and %s", ["only one"]])J", R"J({"result": "only one and undefined"})J"},
    {"sprintf", R"J(["%d", ["abc"]])J",
     R"J({"error": "TypeError: [sprintf] expecting number but found string"})J"},
    {"regex.split", R"J(["a.b", "xa1bya2bz"])J", R"J({"result": ["x", "y", "z"]})J"},
    {"regex.split", R"J(["\\s*,\\s*", "a , b,c ,d"])J", R"J({"result": ["a", "b", "c", "d"]})J"},
    {"regex.split", R"J(["(-)", "1-2-3"])J", R"J({"result": ["1", "-", "2", "-", "3"]})J"},
    {"regex.split", R"J(["", "abc"])J", R"J({"result": ["a", "b", "c"]})J"},
    {"regex.split", R"J(["x*", "axbxxc"])J", R"J({"result": ["a", "b", "c"]})J"},
    {"regex.split", R"J(["a", ""])J", R"J({"result": [""]})J"},
    {"regex.split", R"J(["(a)|(b)", "1a2b3"])J", R"J({"result": ["1", "a", null, "2", null, "b", "3"]})J"},
    {"json.is_valid", R"J(["{\"a\": [1, 2]}"])J", R"J({"result": true})J"},
    {"json.is_valid", R"J(["{a: 1}"])J", R"J({"result": false})J"},
    {"json.is_valid", R"J([5])J", R"J({"undefined": true})J"},
    {"yaml.is_valid", R"J(["a: 1\nb: [x, y]\n"])J", R"J({"result": true})J"},
    {"yaml.is_valid", R"J(["a: [1, 2\n"])J", R"J({"result": false})J"},
    {"yaml.marshal",
     R"J([{"a": 1, "b": ["x", "y"], "c": {"d": true, "e": null}, "f": "123", "g": 1.5, "h": ""}])J",
     R"J({"result": "a: 1\nb:\n  - x\n  - y\nc:\n  d: true\n  e: null\nf: \"123\"\ng: 1.5\nh: \"\"\n"})J"},
    {"yaml.marshal", R"J([[1, "two", {"three": 3}]])J", R"J({"result": "- 1\n- two\n- three: 3\n"})J"},
    {"yaml.unmarshal", R"J(["a: 1\nb: [x, 'y', \"2\"]\nc: {d: true, e: null, f: 1.5}\ng: ~\nh: 0x1f\n"])J",
     R"J({"result": {"a": 1, "b": ["x", "y", "2"], "c": {"d": true, "e": null, "f": 1.5}, "g": null, "h": 31}})J"},
    {"yaml.unmarshal", R"J(["- 1\n- two\n- three: 3\n"])J", R"J({"result": [1, "two", {"three": 3}]})J"},
    {"yaml.unmarshal", R"J(["a: [1, 2\n"])J", R"J({"undefined": true})J"},
};

TEST(BuiltinsTest, AgreeWithTheNpmSdk) {
  for (const BuiltinCase& c : kCases) {
    const Builtin* fn = FindHostBuiltin(c.name);
    ASSERT_NE(fn, nullptr) << c.name;
    json want = json::parse(c.expected);
    json got;
    try {
      auto r = (*fn)(json::parse(c.args).get<std::vector<json>>());
      got = r ? json{{"result", *r}} : json{{"undefined", true}};
    } catch (const std::exception& e) {
      got = {{"error", e.what()}};
    }
    if (want.contains("error"))
      EXPECT_TRUE(got.contains("error")) << c.name << " " << c.args << " -> " << got.dump();
    else
      EXPECT_EQ(got, want) << c.name << " " << c.args;
  }
}

TEST(BuiltinsTest, TheSdksSetIsThere) {
  std::vector<std::string> want = {"json.is_valid", "regex.split",  "sprintf",
                                   "yaml.is_valid", "yaml.marshal", "yaml.unmarshal"};
  EXPECT_EQ(HostBuiltinNames(), want);
  EXPECT_EQ(FindHostBuiltin("http.send"), nullptr);
}

TEST(BuiltinsTest, HostileYamlIsRefusedNotExpanded) {
  // "Billion laughs": nine levels of ten aliases each would be 10^9 nodes.
  std::string doc = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c, ++prev) {
    doc += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) doc += std::string(i ? ", *" : "*") + prev;
    doc += "]\n";
  }
  const Builtin* unmarshal = FindHostBuiltin("yaml.unmarshal");
  auto r = (*unmarshal)({json(doc)});
  EXPECT_FALSE(r.has_value());
  EXPECT_EQ((*FindHostBuiltin("yaml.is_valid"))({json(doc)}), json(false));
}

TEST(BuiltinsTest, BadRegexIsAnError) {
  EXPECT_THROW((*FindHostBuiltin("regex.split"))({json("(unclosed"), json("x")}), std::exception);
}

TEST(BuiltinsTest, RegexSplitRefusesInputsItsEngineCouldNotBound) {
  // libstdc++'s matcher recurses per character; a long subject must fail the decision, not the stack.
  const Builtin& split = *FindHostBuiltin("regex.split");
  EXPECT_THROW(split({json("(a|b)*c"), json(std::string(20000, 'a'))}), std::exception);
  EXPECT_THROW(split({json(std::string(2000, 'a')), json("a")}), std::exception);
  EXPECT_EQ(*split({json(","), json(std::string(9999, 'a') + ",")}),
            json::array({std::string(9999, 'a'), ""}));
}

}  // namespace
}  // namespace wasmq::policy
