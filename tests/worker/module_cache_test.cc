// ModuleCache: the registry's bounded cache of compiled task modules.
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

}  // namespace
}  // namespace wasmq::worker
