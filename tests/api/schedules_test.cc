// File: tests/api/schedules_test.cc
//
// /api/v1/schedules over the real server: create (201, next_runs with the zone's offset), get, list,
// pause / resume, delete, validation, and ownership with auth on (a user sees only their own, an admin all).
#include "harness.h"

namespace wasmq::api::testing {
namespace {

const Json kSchedule = {{"cron", "*/5 * * * *"},
                        {"timezone", "Europe/Paris"},
                        {"task", {{"mode", "HEAD_SWAP"}, {"priority", 3}}},
                        {"catch_up", "skip"}};

class SchedulesTest : public ApiTest {
 protected:
  void SetUp() override { StartServer(); }
};

TEST_F(SchedulesTest, CreateGetPauseResumeDelete) {
  HttpReply r = Post("/api/v1/schedules", kSchedule);
  ASSERT_EQ(r.status, 201) << r.body;
  Json s = r.json()["data"];
  const std::string id = s["schedule_id"];
  EXPECT_TRUE(id.starts_with("sched_"));
  EXPECT_EQ(r.header("location"), "/api/v1/schedules/" + id);
  EXPECT_EQ(s["cron"], "*/5 * * * *");
  EXPECT_EQ(s["catch_up"], "skip");
  EXPECT_EQ(s["paused"], false);
  ASSERT_EQ(s["next_runs"].size(), 5u);
  const std::string first = s["next_runs"][0];
  // RFC 3339 with Paris's offset, five minutes apart.
  EXPECT_TRUE(first.ends_with("+01:00") || first.ends_with("+02:00")) << first;
  EXPECT_EQ(std::stoi(first.substr(14, 2)) % 5, 0) << first;

  r = Get("/api/v1/schedules/" + id);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["data"]["task"]["priority"], 3);

  r = Post("/api/v1/schedules/" + id + "/pause", nullptr);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["data"]["paused"], true);
  EXPECT_TRUE(r.json()["data"]["next_runs"].empty());
  r = Post("/api/v1/schedules/" + id + "/resume", nullptr);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["data"]["paused"], false);
  EXPECT_EQ(r.json()["data"]["next_runs"].size(), 5u);

  r = Get("/api/v1/schedules");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.json()["data"]["schedules"].size(), 1u);

  r = Http(port(), "DELETE", "/api/v1/schedules/" + id);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["data"]["deleted"], true);
  EXPECT_EQ(Get("/api/v1/schedules/" + id).status, 404);
  EXPECT_EQ(Http(port(), "DELETE", "/api/v1/schedules/" + id).status, 404);
  EXPECT_TRUE(Get("/api/v1/schedules").json()["data"]["schedules"].empty());
}

TEST_F(SchedulesTest, RefusesBadSchedulesNamingTheField) {
  auto refused = [&](Json body) {
    HttpReply r = Post("/api/v1/schedules", body);
    EXPECT_EQ(r.status, 422) << r.body;
    return r.json()["error"]["message"].get<std::string>();
  };
  Json bad = kSchedule;
  bad["cron"] = "* * * *";
  EXPECT_EQ(refused(bad), "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 4");
  bad = kSchedule;
  bad["timezone"] = "Mars/Base";
  EXPECT_NE(refused(bad).find("timezone: 'Mars/Base'"), std::string::npos);
  bad = kSchedule;
  bad["task"] = {{"mode", "HEAD_SWAP"}, {"priorty", 1}};
  EXPECT_NE(refused(bad).find("task."), std::string::npos);
  bad = kSchedule;
  bad["catch_up"] = "all";
  EXPECT_NE(refused(bad).find("catch_up:"), std::string::npos);
  bad = kSchedule;
  bad["every"] = 5;
  EXPECT_NE(refused(bad).find("unknown field 'every'"), std::string::npos);
  EXPECT_EQ(Http(port(), "POST", "/api/v1/schedules", kSchedule.dump(), {{"Content-Type", "text/plain"}}).status, 415);
}

class ScheduleOwnershipTest : public ApiTest {
 protected:
  void SetUp() override { StartServer({.auth_required = true}); }
  const std::string alice_ = Token("alice");
  const std::string bob_ = Token("bob");
  const std::string admin_ = SignToken(kSecret, "root", std::chrono::hours(1), /*admin=*/true);
};

TEST_F(ScheduleOwnershipTest, UsersSeeOnlyTheirOwnAdminsAll) {
  HttpReply r = Post("/api/v1/schedules", kSchedule, alice_);
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string id = r.json()["data"]["schedule_id"];
  EXPECT_EQ(r.json()["data"]["user_id"], "alice");
  ASSERT_EQ(Post("/api/v1/schedules", kSchedule, bob_).status, 201);

  EXPECT_EQ(Get("/api/v1/schedules", alice_).json()["data"]["schedules"].size(), 1u);
  EXPECT_EQ(Get("/api/v1/schedules", admin_).json()["data"]["schedules"].size(), 2u);
  // Bob cannot read, pause, resume or delete Alice's: 404, as for an absent one.
  EXPECT_EQ(Get("/api/v1/schedules/" + id, bob_).status, 404);
  EXPECT_EQ(Post("/api/v1/schedules/" + id + "/pause", nullptr, bob_).status, 404);
  EXPECT_EQ(Post("/api/v1/schedules/" + id + "/resume", nullptr, bob_).status, 404);
  EXPECT_EQ(Http(port(), "DELETE", "/api/v1/schedules/" + id, "", {{"Authorization", "Bearer " + bob_}}).status, 404);
  EXPECT_EQ(Get("/api/v1/schedules/" + id, alice_).status, 200);
  EXPECT_EQ(Get("/api/v1/schedules/" + id, admin_).status, 200);
  // The task template cannot name another owner.
  Json other = kSchedule;
  other["task"]["user_id"] = "bob";
  EXPECT_EQ(Post("/api/v1/schedules", other, alice_).status, 422);
  EXPECT_EQ(Get("/api/v1/schedules").status, 401);
}

}  // namespace
}  // namespace wasmq::api::testing
