// policy::ParseDecision and policy::ReloadablePolicy (policy.h, "gates"): the decision shapes a gate
// accepts, and a reload swapping the policy while decisions run on other threads (none fails, each sees
// either the old policy or the new one, and after the reload only the new one).
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "policy/policy.h"

namespace wasmq::policy {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> Bytes(const std::string& name) {
  std::ifstream in(fs::path(WASMQ_POLICY_MODULES) / (name + ".wasm"), std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

TEST(ParseDecision, BooleansObjectsAndUndefined) {
  auto yes = ParseDecision(R"([{"result": true}])");
  ASSERT_TRUE(yes);
  EXPECT_TRUE(yes->allow);
  auto no = ParseDecision(R"([{"result": false}])");
  ASSERT_TRUE(no);
  EXPECT_FALSE(no->allow);
  EXPECT_EQ(no->message, "denied by the policy");
  auto msg = ParseDecision(R"([{"result": {"allow": false, "message": "queue full"}}])");
  ASSERT_TRUE(msg);
  EXPECT_FALSE(msg->allow);
  EXPECT_EQ(msg->message, "queue full");
  auto undefined = ParseDecision("[]");
  ASSERT_TRUE(undefined);
  EXPECT_FALSE(undefined->allow);
  EXPECT_NE(undefined->message.find("undefined"), std::string::npos);
  for (const char* bad : {R"([{"result": 1}])", R"([{"result": {"message": "x"}}])",
                          R"([{"result": {"allow": true, "message": 3}}])", R"({"result": true})", "nope",
                          R"([{"result": true}, {"result": false}])"}) {
    auto d = ParseDecision(bad);
    EXPECT_FALSE(d) << bad;
    if (!d) {
      EXPECT_EQ(d.error().kind, Error::Kind::Eval);
    }
  }
}

TEST(ReloadablePolicy, SwapsWhileDecisionsRun) {
  std::atomic<int> which{0};  // 0: deny loop (policy-a), 1: deny slow (policy-b)
  auto p = ReloadablePolicy::Open(
      "admission policy test",
      [&]() -> Result<std::vector<uint8_t>> {
        if (which == 2) return std::vector<uint8_t>{0, 'a', 's', 'm'};  // a half-written file
        return Bytes(which == 0 ? "admission_deny_loop" : "admission_deny_slow");
      },
      "");
  ASSERT_TRUE(p) << p.error().message;
  auto slow_allowed = [&] {
    auto d = (*p)->Decide(R"({"request": {"mode": "slow"}})");
    EXPECT_TRUE(d) << (d ? "" : d.error().message);
    return d && d->allow;
  };
  EXPECT_TRUE(slow_allowed());
  auto loop = (*p)->Decide(R"({"request": {"mode": "loop"}})");
  ASSERT_TRUE(loop);
  EXPECT_FALSE(loop->allow);
  EXPECT_EQ(loop->message, "mode loop is not admitted by policy-a");

  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> deciders;
  for (int t = 0; t < 4; ++t)
    deciders.emplace_back([&] {
      while (!stop)
        if (!(*p)->Decide(R"({"request": {"mode": "slow"}})")) ++failures;
    });
  which = 1;
  ASSERT_TRUE((*p)->Reload());
  EXPECT_EQ((*p)->generation(), 2u);
  EXPECT_FALSE(slow_allowed());
  stop = true;
  for (auto& t : deciders) t.join();
  EXPECT_EQ(failures, 0);

  // A reload that fails keeps the current policy; a policy that never loaded is an error at Open.
  which = 2;
  auto failed = (*p)->Reload();
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find("admission policy test"), std::string::npos);
  EXPECT_FALSE(slow_allowed());
  EXPECT_FALSE(ReloadablePolicy::Open("x", [] { return Result<std::vector<uint8_t>>(std::vector<uint8_t>{1}); }, ""));
  which = 0;
  ASSERT_TRUE((*p)->Reload());
  EXPECT_TRUE(slow_allowed());
}

}  // namespace
}  // namespace wasmq::policy
