// PipelineRegistry: the bounded cache of compiled task modules, and which modules it takes as pipelines.
#include <gtest/gtest.h>

#include "helpers.h"
#include "worker/registry.h"

namespace wasmq::worker {
namespace {

// The compiled task modules are kept least recently used out, within a count and a size.
TEST(RegistryTest, ModuleCacheIsBoundedByCountAndSizeLeastRecentlyUsedOut) {
  PipelineRegistry r;
  ASSERT_TRUE(r.Load({{"noop", testing::ModulePath("noop")}}).ok());
  const std::shared_ptr<const wasm::Module> m = r.Find("noop")->module;
  ModuleCache cache(3, 1000);
  cache.Put("a", m, 100);
  cache.Put("b", m, 100);
  cache.Put("c", m, 100);
  EXPECT_NE(cache.Get("a"), nullptr);  // a is now the most recently used; b the least
  cache.Put("d", m, 100);              // over the count: b goes
  EXPECT_EQ(cache.Get("b"), nullptr);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.bytes(), 300u);
  cache.Put("e", m, 850);  // over the count, c goes; then over the size, a goes; d stays
  EXPECT_EQ(cache.Get("c"), nullptr);
  EXPECT_EQ(cache.Get("a"), nullptr);
  EXPECT_NE(cache.Get("d"), nullptr);
  EXPECT_NE(cache.Get("e"), nullptr);
  EXPECT_EQ(cache.bytes(), 950u);
  cache.Put("huge", m, 1001);  // larger than the whole cache: not kept, and evicts nothing
  EXPECT_EQ(cache.Get("huge"), nullptr);
  EXPECT_EQ(cache.size(), 2u);
  cache.Put("d", m, 50);  // replacing an entry counts its new size once
  EXPECT_EQ(cache.bytes(), 900u);
  EXPECT_EQ(cache.size(), 2u);
}

// Minimal modules, assembled by hand: one function of type () -> () per name in `funcs` (exported under
// that name), or a global i32 exported as `_start` when `start_is_global`.
std::vector<uint8_t> ModuleExporting(const std::vector<std::string>& funcs, bool start_is_global = false) {
  std::vector<uint8_t> m = {0, 'a', 's', 'm', 1, 0, 0, 0};
  auto section = [&](uint8_t id, const std::vector<uint8_t>& body) {
    m.push_back(id);
    m.push_back(static_cast<uint8_t>(body.size()));
    m.insert(m.end(), body.begin(), body.end());
  };
  const auto n = static_cast<uint8_t>(funcs.size());
  std::vector<uint8_t> exports = {static_cast<uint8_t>(n + (start_is_global ? 1 : 0))};
  auto add_export = [&](const std::string& name, uint8_t kind, uint8_t index) {
    exports.push_back(static_cast<uint8_t>(name.size()));
    exports.insert(exports.end(), name.begin(), name.end());
    exports.push_back(kind);
    exports.push_back(index);
  };
  section(1, {1, 0x60, 0, 0});  // type 0: () -> ()
  std::vector<uint8_t> types = {n}, code = {n};
  for (uint8_t i = 0; i < n; ++i) {
    types.push_back(0);
    code.insert(code.end(), {2, 0, 0x0b});  // no locals, end
    add_export(funcs[i], 0, i);
  }
  section(3, types);
  if (start_is_global) {
    section(6, {1, 0x7f, 0, 0x41, 0, 0x0b});  // (global i32 (i32.const 0))
    add_export("_start", 3, 0);
  }
  section(7, exports);
  section(10, code);
  return m;
}

// wasi::IsCommand, the rule the `wasm` engine and `wasmq run` follow too.
TEST(RegistryTest, OnlyWasiCommandsArePipelines) {
  PipelineRegistry r;
  EXPECT_TRUE(r.AddBytes("ok", "ok.wasm", ModuleExporting({"_start"})).ok());
  auto reactor = r.AddBytes("reactor", "reactor.wasm", ModuleExporting({"_initialize"}));
  ASSERT_FALSE(reactor.ok());
  EXPECT_EQ(reactor.error().message,
            "pipeline reactor: reactor.wasm is not a WASI command: it exports no _start function");
  auto global = r.AddBytes("global", "global.wasm", ModuleExporting({}, /*start_is_global=*/true));
  ASSERT_FALSE(global.ok());
  EXPECT_NE(global.error().message.find("no _start function"), std::string::npos) << global.error().message;
  // Accepted until now: a module that is a command and a reactor at once.
  auto both = r.AddBytes("both", "both.wasm", ModuleExporting({"_start", "_initialize"}));
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.error().message.find("both _start and _initialize"), std::string::npos)
      << both.error().message;
  EXPECT_EQ(r.modes(), std::vector<std::string>{"ok"});
}

}  // namespace
}  // namespace wasmq::worker
