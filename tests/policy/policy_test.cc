// The policy part on real OPA-compiled policies (every case of ../shared/testdata/opa-wasm's
// expected.json) and on our own policy modules (modules/, cases.json: they call custom builtins through
// opa_builtin0..4), each on the opa_eval fast path and on the opa_eval_ctx_* path; entrypoints by name and
// id; a builtin the host lacks refuses the load; aborts; data replacement; the instance pool under
// concurrent decisions, with the heap reset so that thousands of decisions do not grow an instance.
#include "policy/policy.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "custom_builtins.h"

namespace wasmq::policy {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const fs::path kShared = fs::path(WASMQ_OPA_WASM_DIR) / "dotnet-opa-wasm";
const fs::path kModules = WASMQ_POLICY_MODULES;  // built from modules/*.c
const fs::path kCases = WASMQ_POLICY_CASES;

std::vector<uint8_t> ReadBytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

json ReadJson(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

// Options built field by field (designated initializers would have to name every member under -Wextra).
template <typename F>
Options Opt(F set) {
  Options o;
  set(o);
  return o;
}

std::shared_ptr<Policy> LoadOrDie(const fs::path& wasm, Options o = {}) {
  auto p = Policy::Load(ReadBytes(wasm), std::move(o));
  EXPECT_TRUE(p.ok()) << wasm << ": " << p.error().message;
  return p.ok() ? *p : nullptr;
}

struct Case {
  fs::path dir;  // where the case's wasm (and data/input files) are
  json spec;
  bool ctx_path;
  bool compiled = false;  // on the compiling tier (Compile::kAlways), opa_eval path only
};

// One compiled-code cache in the build tree for every run of this binary (ctest runs each case in its own
// process): each distinct policy is compiled once, the other cases load it. The cache's writes are atomic.
const std::string kCompileCacheDir = WASMQ_POLICY_COMPILE_CACHE;

std::vector<Case> AllCases() {
  std::vector<Case> out;
  const std::pair<fs::path, fs::path> sources[] = {{kShared, kShared / "expected.json"}, {kModules, kCases}};
  for (const auto& [dir, file] : sources) {
    if (!fs::exists(file)) continue;
    const json doc = ReadJson(file);  // (not ReadJson(file)["cases"]: the loop would outlive the temporary)
    for (const json& c : doc["cases"]) {
      for (bool ctx : {false, true}) out.push_back({dir, c, ctx});
      out.push_back({dir, c, false, true});
    }
  }
  return out;
}

class FixtureTest : public ::testing::TestWithParam<Case> {};

TEST_P(FixtureTest, MatchesExpectedResult) {
  const Case& c = GetParam();
  const json& spec = c.spec;
  Options o;
  o.ctx_path = c.ctx_path;
  if (c.compiled) {
    o.compile = Compile::kAlways;
    o.compile_cache_dir = kCompileCacheDir;
  }
  o.custom_builtins = testing::CustomBuiltins(spec["wasm"]);
  if (spec.contains("data_file"))
    o.data_json = ReadJson(c.dir / spec["data_file"].get<std::string>()).dump();
  else
    o.data_json = spec.value("data", json::object()).dump();
  std::string input = spec.contains("input_file")
                          ? ReadJson(c.dir / spec["input_file"].get<std::string>()).dump()
                          : spec.value("input", json::object()).dump();
  auto policy = LoadOrDie(c.dir / spec["wasm"].get<std::string>(), o);
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(policy->abi_major(), 1);
  EXPECT_EQ(policy->fast_path(), !c.ctx_path && policy->abi_minor() >= 2);
  if (spec.contains("entrypoints")) {
    std::map<std::string, int32_t> want = spec["entrypoints"];
    EXPECT_EQ(policy->entrypoints(), want);
  }
  int32_t ep = spec.value("entrypoint", 0);
  // Twice: the second decision runs on the reused instance, after the heap reset.
  for (int round = 0; round < 2; ++round) {
    auto r = policy->Eval(input, ep);
    if (spec.contains("expect_abort_prefix")) {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().kind, Error::Kind::Abort);
      EXPECT_EQ(r.error().message.rfind(spec["expect_abort_prefix"].get<std::string>(), 0), 0u)
          << r.error().message;
      continue;
    }
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(json::parse(*r), spec["result"]) << *r;
  }
  // An aborted instance is dropped, so only a policy that decided keeps its single instance.
  if (!spec.contains("expect_abort_prefix")) {
    EXPECT_EQ(policy->instances_created(), 1u);
  }
}

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.spec.dump() << (c.ctx_path ? " (ctx path)" : " (opa_eval)") << (c.compiled ? " compiled" : "");
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = info.param.spec["wasm"].get<std::string>();
  name = name.substr(0, name.find('.')) + "_" + std::to_string(info.index / 3) +
         (info.param.compiled ? "_compiled" : info.param.ctx_path ? "_ctx" : "_fast");
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTest, ::testing::ValuesIn(AllCases()), CaseName);

TEST(FixturesPresent, SharedFixturesAndOurModulesAreThere) {
  // The shared fixtures come from ../shared/testdata/opa-wasm (WASMQ_OPA_WASM_DIR), our modules from the
  // build (they need clang and wabt); without them the parameterised suite above would silently shrink.
  EXPECT_TRUE(fs::exists(kShared / "expected.json")) << kShared;
  for (const json& c : ReadJson(kCases)["cases"])
    EXPECT_TRUE(fs::exists(kModules / c["wasm"].get<std::string>())) << c["wasm"];
}

TEST(PolicyTest, OurModulesReportTheirAbiVersionAndPickThePath) {
  const auto all = testing::CustomBuiltins("builtin_calls.wasm");
  auto v13 = LoadOrDie(kModules / "builtin_calls.wasm", Opt([&](Options& o) { o.custom_builtins = all; }));
  auto v11 =
      LoadOrDie(kModules / "builtin_calls_abi11.wasm", Opt([&](Options& o) { o.custom_builtins = all; }));
  ASSERT_NE(v13, nullptr);
  ASSERT_NE(v11, nullptr);
  EXPECT_EQ(v13->abi_major(), 1);
  EXPECT_EQ(v13->abi_minor(), 3);
  EXPECT_TRUE(v13->fast_path());
  EXPECT_EQ(v11->abi_major(), 1);
  EXPECT_EQ(v11->abi_minor(), 1);
  EXPECT_FALSE(v11->fast_path());  // it exports no opa_eval
  // Both paths give the same answer, by name and by id.
  auto a = v13->Eval("{}", std::string_view("builtins/all"));
  auto b = v11->Eval("{}", std::string_view("1"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

TEST(PolicyTest, EntrypointsByNameAndId) {
  auto p = LoadOrDie(kShared / "multi.wasm");
  ASSERT_NE(p, nullptr);
  const std::string input = R"({"someProp": "thisValue", "anotherProp": "thatValue"})";
  auto by_name = p->Eval(input, std::string_view("example/one/myCompositeRule"));
  auto by_id = p->Eval(input, std::string_view("2"));
  ASSERT_TRUE(by_name.ok() && by_id.ok());
  EXPECT_EQ(*by_name, R"([{"result":true}])");
  EXPECT_EQ(*by_id, *by_name);
  auto missing = p->Eval(input, std::string_view("example/two"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, Error::Kind::Entrypoint);
  EXPECT_NE(missing.error().message.find("example/one"), std::string::npos) << missing.error().message;
  EXPECT_FALSE(p->Eval(input, 7).ok());
}

TEST(PolicyTest, RefusesAPolicyNeedingABuiltinItLacksAndNamesIt) {
  auto p = Policy::Load(ReadBytes(kModules / "builtin_calls.wasm"));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().kind, Error::Kind::Load);
  EXPECT_NE(p.error().message.find("the policy needs the builtin 'custom.func'"), std::string::npos)
      << p.error().message;
  // One missing among those given: that one is named.
  auto all = testing::CustomBuiltins("builtin_calls.wasm");
  all.erase("custom.func3");
  auto one = Policy::Load(ReadBytes(kModules / "builtin_calls.wasm"),
                          Opt([&](Options& o) { o.custom_builtins = all; }));
  ASSERT_FALSE(one.ok());
  EXPECT_NE(one.error().message.find("'custom.func3'"), std::string::npos) << one.error().message;
  // With the builtins given, it loads and reports which ones it needs, with the module's ids.
  auto ok = Policy::Load(ReadBytes(kModules / "builtin_calls.wasm"), Opt([](Options& o) {
                           o.custom_builtins = testing::CustomBuiltins("builtin_calls.wasm");
                         }));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ((*ok)->builtins().size(), 6u);
  EXPECT_EQ((*ok)->builtins().at("custom.func"), 0);
  EXPECT_EQ((*ok)->builtins().at("custom.func4"), 5);
}

TEST(PolicyTest, ABuiltinsErrorFailsTheDecision) {
  for (const char* wasm : {"builtin_calls.wasm", "builtin_calls_abi11.wasm"}) {
    Options o;
    o.custom_builtins = testing::CustomBuiltins(wasm);
    o.custom_builtins["custom.func"] = [](const std::vector<json>&) -> std::optional<json> {
      throw std::runtime_error("no Jane here");
    };
    auto p = LoadOrDie(kModules / wasm, std::move(o));
    ASSERT_NE(p, nullptr);
    auto r = p->Eval("{}");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, Error::Kind::Eval);
    EXPECT_NE(r.error().message.find("no Jane here"), std::string::npos) << r.error().message;
    // An undefined builtin result makes the rule undefined, not an error.
    Options u;
    u.custom_builtins = testing::CustomBuiltins(wasm);
    u.custom_builtins["custom.func"] = [](const std::vector<json>&) -> std::optional<json> {
      return std::nullopt;
    };
    auto q = LoadOrDie(kModules / wasm, std::move(u));
    auto r2 = q->Eval("{}");
    ASSERT_TRUE(r2.ok()) << r2.error().message;
    EXPECT_EQ(json::parse(*r2), json::parse(R"([{"result": {"someep": false}}])")) << wasm;
  }
}

TEST(PolicyTest, BuiltinsGetTheirArgumentsAsJson) {
  // What each builtin of builtin_calls receives, arity by arity, and that its answer is what the rule
  // puts in the result (the module copies the builtin's value into its result text).
  std::vector<std::pair<std::string, json>> seen;
  Options o;
  for (const auto& [name, fn] : testing::CustomBuiltins("builtin_calls.wasm")) {
    o.custom_builtins[name] = [&seen, name](const std::vector<json>& args) -> std::optional<json> {
      seen.emplace_back(name, json(args));
      return json{{"from", name}};  // an object, not the array json{"from", name} would be
    };
  }
  auto p = LoadOrDie(kModules / "builtin_calls.wasm", std::move(o));
  ASSERT_NE(p, nullptr);
  auto r = p->Eval("{}", 1);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::vector<std::pair<std::string, json>> want = {
      {"custom.func0", json::array()},
      {"custom.func1", {"s1"}},
      {"custom.func2", {1, 2}},
      {"custom.func3", {"s1", "s2", false}},
      {"custom.func4", {{"s1-1", "s1-2"}, "s2", "s3", "s4"}},
  };
  EXPECT_EQ(seen, want);
  EXPECT_EQ(json::parse(*r)[0]["result"]["result3"], json({{"from", "custom.func3"}})) << *r;
}

TEST(PolicyTest, RejectsWhatIsNoOpaPolicy) {
  auto p = Policy::Load(std::vector<uint8_t>{0, 'a', 's', 'm', 1, 0, 0, 0});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("env.memory"), std::string::npos) << p.error().message;
  auto garbage = Policy::Load(std::vector<uint8_t>{1, 2, 3});
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().kind, Error::Kind::Load);
}

TEST(PolicyTest, BadInputAndDataAreInputErrors) {
  auto p = LoadOrDie(kShared / "example.wasm");
  auto r = p->Eval("{not json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, Error::Kind::Input);
  auto d = Policy::Load(ReadBytes(kShared / "example.wasm"), Opt([](Options& o) { o.data_json = "[1,"; }));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().kind, Error::Kind::Input);
}

TEST(PolicyTest, SetDataAppliesToLaterDecisions) {
  for (bool ctx : {false, true}) {
    auto p = LoadOrDie(kShared / "example.wasm", Opt([&](Options& o) {
                         o.data_json = R"({"world": "world"})";
                         o.ctx_path = ctx;
                       }));
    EXPECT_EQ(*p->Eval(R"({"message": "mars"})"), R"([{"result":false}])");
    ASSERT_TRUE(p->SetData(R"({"world": "mars"})").ok());
    EXPECT_EQ(*p->Eval(R"({"message": "mars"})"), R"([{"result":true}])");
    EXPECT_FALSE(p->SetData("{").ok());
  }
}

TEST(PolicyTest, AnAbortedInstanceIsReplacedAndTheNextDecisionWorks) {
  auto p = LoadOrDie(kShared / "abort.wasm");
  for (int i = 0; i < 3; ++i) {
    auto r = p->Eval("{}", 0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, Error::Kind::Abort);
  }
  EXPECT_GE(p->instances_created(), 3u);
}

TEST(PolicyTest, ManyDecisionsReuseOneInstanceWithoutGrowingIt) {
  for (bool ctx : {false, true}) {
    auto p = LoadOrDie(kShared / "rbac.wasm", Opt([&](Options& o) {
                         o.data_json = ReadJson(kShared / "rbac_data.json").dump();
                         o.max_instances = 1;
                         o.max_memory_bytes = 4 << 20;  // a leak would hit it
                         o.ctx_path = ctx;
                       }));
    for (int i = 0; i < 20000; ++i) {
      auto r = p->Eval(i % 2 ? R"({"user": "alice", "action": "read", "type": "dog"})"
                             : R"({"user": "eve", "action": "update", "type": "dog"})");
      ASSERT_TRUE(r.ok()) << i << ": " << r.error().message;
      ASSERT_EQ(json::parse(*r)[0]["result"]["allow"], i % 2 == 1) << i;
    }
    EXPECT_EQ(p->instances_created(), 1u);
  }
}

TEST(PolicyTest, ConcurrentDecisionsUseAPoolOfInstances) {
  auto p = LoadOrDie(kShared / "rbac.wasm", Opt([](Options& o) {
                       o.data_json = ReadJson(kShared / "rbac_data.json").dump();
                       o.max_instances = 4;
                     }));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        bool admin = (i + t) % 2 == 0;
        auto r = p->Eval(admin ? R"({"user": "alice", "action": "update", "type": "cat"})"
                               : R"({"user": "eve", "action": "update", "type": "cat"})");
        if (!r.ok() || json::parse(*r)[0]["result"]["allow"] != admin) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GE(p->instances_created(), 1u);
  EXPECT_LE(p->instances_created(), 4u);
}

TEST(PolicyTest, AnInputLargerThanTheMemoryGrowsItAndLaterDecisionsStillWork) {
  for (bool ctx : {false, true}) {
    auto p = LoadOrDie(kShared / "rbac.wasm", Opt([&](Options& o) {
                         o.data_json = ReadJson(kShared / "rbac_data.json").dump();
                         o.ctx_path = ctx;
                       }));
    json big = {{"user", "alice"}, {"action", "read"}, {"type", "dog"}};
    big["pad"] = json::array();
    for (int i = 0; i < 20000; ++i) big["pad"].push_back(std::string(100, 'x'));  // ~2 MB
    auto r = p->Eval(big.dump(), std::string_view("app/rbac/allow"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(*r, R"([{"result":true}])");
    auto small =
        p->Eval(R"({"user": "eve", "action": "update", "type": "dog"})", std::string_view("app/rbac/allow"));
    ASSERT_TRUE(small.ok()) << small.error().message;
    EXPECT_EQ(*small, R"([{"result":false}])");
    EXPECT_EQ(p->instances_created(), 1u);
  }
}

// Sets the i32.const initialiser of global `index` in a module's global section (a one-byte LEB128
// value, as OPA's ABI version globals are), to test the version-gated paths on real policies.
std::vector<uint8_t> WithGlobal(std::vector<uint8_t> bytes, uint32_t index, uint8_t value) {
  auto leb = [&](size_t& at) {
    uint32_t v = 0;
    for (int shift = 0;; shift += 7) {
      uint8_t b = bytes.at(at++);
      v |= static_cast<uint32_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  size_t at = 8;
  while (at < bytes.size()) {
    uint8_t id = bytes[at++];
    size_t size = leb(at), end = at + size;
    if (id == 6) {
      uint32_t count = leb(at);
      for (uint32_t g = 0; g < count; ++g) {
        at += 2;  // value type, mutability
        EXPECT_EQ(bytes.at(at), 0x41) << "global " << g << " is not an i32.const";
        ++at;
        if (g == index) {
          EXPECT_EQ(bytes.at(at) & 0x80, 0) << "not a one-byte LEB128";
          bytes.at(at) = value;
          return bytes;
        }
        leb(at);
        ++at;  // end
      }
    }
    at = end;
  }
  ADD_FAILURE() << "no global " << index;
  return bytes;
}

TEST(PolicyTest, TheAbiVersionPicksThePathAndAnotherMajorIsRefused) {
  // example.wasm exports opa_wasm_abi_version as global 1 and opa_wasm_abi_minor_version as global 2.
  std::vector<uint8_t> bytes = ReadBytes(kShared / "example.wasm");
  auto v13 = Policy::Load(bytes);
  ASSERT_TRUE(v13.ok());
  ASSERT_EQ((*v13)->abi_minor(), 3);
  EXPECT_TRUE((*v13)->fast_path());

  auto v11 =
      Policy::Load(WithGlobal(bytes, 2, 1), Opt([](Options& o) { o.data_json = R"({"world": "world"})"; }));
  ASSERT_TRUE(v11.ok()) << v11.error().message;
  EXPECT_EQ((*v11)->abi_minor(), 1);
  EXPECT_FALSE((*v11)->fast_path());  // before 1.2: the opa_eval_ctx_* path
  EXPECT_EQ(*(*v11)->Eval(R"({"message": "world"})"), R"([{"result":true}])");

  auto v2 = Policy::Load(WithGlobal(bytes, 1, 2));
  ASSERT_FALSE(v2.ok());
  EXPECT_EQ(v2.error().kind, Error::Kind::Load);
  EXPECT_NE(v2.error().message.find("ABI version 2"), std::string::npos) << v2.error().message;
}

TEST(PolicyTest, FuelBoundsADecision) {
  auto p = LoadOrDie(kShared / "rbac.wasm", Opt([](Options& o) {
                       o.data_json = ReadJson(kShared / "rbac_data.json").dump();
                       o.fuel = 10;
                     }));
  auto r = p->Eval(R"({"user": "eve", "action": "update", "type": "dog"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, Error::Kind::Eval);
}

}  // namespace
}  // namespace wasmq::policy
