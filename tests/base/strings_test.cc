#include "base/strings.h"

#include <gtest/gtest.h>

namespace wasmq::base {
namespace {

TEST(Strings, Lower) {
  EXPECT_EQ(Lower("Content-Type"), "content-type");
  EXPECT_EQ(Lower("GHCR.IO:5000"), "ghcr.io:5000");
  EXPECT_EQ(Lower("\xc3\x89"), "\xc3\x89");  // bytes past ASCII are left alone
}

TEST(Strings, Trim) {
  EXPECT_EQ(Trim("  a b \t\r\n"), "a b");
  EXPECT_EQ(Trim(" \t "), "");
  EXPECT_EQ(Trim(""), "");
  EXPECT_EQ(Trim(" \tx\r", " \t"), "x\r");  // HTTP's optional whitespace only
}

TEST(Strings, IEquals) {
  EXPECT_TRUE(IEquals("Bearer", "bEARER"));
  EXPECT_FALSE(IEquals("Bearer", "Bearer "));
  EXPECT_FALSE(IEquals("basic", "bearer"));
}

}  // namespace
}  // namespace wasmq::base
