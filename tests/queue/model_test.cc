// Statuses, the transition table, mode names and times.
#include <gtest/gtest.h>

#include "queue/queue.h"

namespace wasmq::queue {
namespace {

using S = TaskStatus;

TEST(ModelTest, StatusNamesRoundTrip) {
  for (S s : kAllStatuses) EXPECT_EQ(ParseStatus(ToString(s)), s);
  EXPECT_EQ(ParseStatus("PENDING"), std::nullopt);
  EXPECT_EQ(ParseStatus(""), std::nullopt);
}

// Every one of the 25 (from, to) pairs: exactly the DESIGN.md transitions are legal.
TEST(ModelTest, TransitionTableIsExactlyTheDesign) {
  const std::set<std::pair<S, S>> legal = {
      {S::Pending, S::Processing}, {S::Pending, S::Cancelled},    {S::Processing, S::Done},
      {S::Processing, S::Failed},  {S::Processing, S::Cancelled}, {S::Processing, S::Pending},
  };
  for (S from : kAllStatuses) {
    for (S to : kAllStatuses) {
      bool expected = legal.count({from, to}) != 0;
      EXPECT_EQ(CanTransition(from, to), expected) << ToString(from) << " -> " << ToString(to);
      auto r = CheckTransition("task_x", from, to);
      EXPECT_EQ(r.ok(), expected);
      if (!expected) {
        EXPECT_EQ(r.error().code, Code::Conflict);
        EXPECT_NE(r.error().message.find(std::string(ToString(from))), std::string::npos);
      }
    }
  }
}

TEST(ModelTest, TerminalStatusesHaveNoWayOut) {
  for (S s : kAllStatuses) {
    bool any_out = false;
    for (S to : kAllStatuses) any_out = any_out || CanTransition(s, to);
    EXPECT_EQ(IsTerminal(s), !any_out) << ToString(s);
  }
}

TEST(ModelTest, ModeNames) {
  for (const std::string& m : BuiltinModes()) EXPECT_TRUE(IsValidModeName(m)) << m;
  EXPECT_EQ(BuiltinModes().size(), 3u);
  EXPECT_TRUE(IsValidModeName("thumbnail.v2-fast"));
  EXPECT_FALSE(IsValidModeName(""));
  EXPECT_FALSE(IsValidModeName("1ABC"));
  EXPECT_FALSE(IsValidModeName("a/b"));
  EXPECT_FALSE(IsValidModeName("a b"));
  EXPECT_FALSE(IsValidModeName(std::string(65, 'A')));
  EXPECT_TRUE(IsValidModeName(std::string(64, 'A')));
}

TEST(ModelTest, TimesFormatAndParse) {
  EXPECT_EQ(FormatTime(1700208000123), "2023-11-17T08:00:00.123Z");
  EXPECT_EQ(FormatTime(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(ParseTime("2023-11-17T08:00:00.123Z"), 1700208000123);
  EXPECT_EQ(ParseTime("2023-11-17T08:00:00Z"), 1700208000000);
  EXPECT_EQ(ParseTime("2023-11-17T09:00:00.5+01:00"), 1700208000500);
  EXPECT_EQ(ParseTime("2023-11-17 08:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseTime("2023-13-17T08:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseTime("2023-11-17T08:00:00"), std::nullopt);
  EXPECT_EQ(ParseTime("2023-11-17T08:00:00Zjunk"), std::nullopt);
  for (int64_t t : {int64_t{1}, int64_t{999}, NowMs()}) EXPECT_EQ(ParseTime(FormatTime(t)), t);
}

TEST(ModelTest, ErrorCodesMapToHttp) {
  EXPECT_EQ(HttpStatus(Code::InvalidArgument), 400);
  EXPECT_EQ(HttpStatus(Code::NotFound), 404);
  EXPECT_EQ(HttpStatus(Code::Conflict), 409);
  EXPECT_EQ(HttpStatus(Code::Unavailable), 503);
  EXPECT_EQ(HttpStatus(Code::Internal), 500);
  EXPECT_EQ(CodeName(Code::Conflict), "CONFLICT");
}

}  // namespace
}  // namespace wasmq::queue
