// JSON: every type round-trips; bad input is refused with a message that names the field.
#include <gtest/gtest.h>

#include "queue/queue.h"

namespace wasmq::queue {
namespace {

// The error message for `body` as a create request ("" when it is accepted).
std::string CreateError(const std::string& body) {
  auto r = ParseCreateRequest(body);
  if (r) return "";
  EXPECT_EQ(r.error().code, Code::InvalidArgument);
  return r.error().message;
}

TEST(JsonTest, CreateRequestMinimalAndFull) {
  auto r = ParseCreateRequest(R"({"mode":"HEAD_SWAP"})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->mode, "HEAD_SWAP");
  EXPECT_EQ(r->priority, 0);
  EXPECT_TRUE(r->config.is_object());
  EXPECT_FALSE(r->max_retries);
  auto full = ParseCreateRequest(
      R"({"mode":"BACKGROUND_CHANGE","source_image":"img_20231117_abc123","config":{"reference_image":"img_456"},
          "priority":5,"max_retries":0,"timeout_ms":2500,"user_id":"user_abc123"})");
  ASSERT_TRUE(full.ok()) << full.error().message;
  EXPECT_EQ(full->source_image, "img_20231117_abc123");
  EXPECT_EQ(full->config["reference_image"], "img_456");
  EXPECT_EQ(full->priority, 5);
  EXPECT_EQ(full->max_retries, 0);
  EXPECT_EQ(full->timeout_ms, 2500);
  EXPECT_EQ(full->user_id, "user_abc123");
  auto again = CreateRequestFromJson(ToJson(*full));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(ToJson(*again), ToJson(*full));
}

TEST(JsonTest, CreateRequestErrorsNameTheField) {
  struct Case {
    const char* body;
    const char* starts_with;
  };
  const Case cases[] = {
      {R"({"mode":"HEAD_SWAP",)", "invalid JSON at byte"},
      {R"([1,2])", "body: must be an object"},
      {R"({})", "mode: is required"},
      {R"({"mode":7})", "mode: must be a string"},
      {R"({"mode":"head swap"})", "mode: must be 1-64 characters"},
      {R"({"mode":"HEAD_SWAP","priorty":1})", "priorty: unknown field"},
      {R"({"mode":"HEAD_SWAP","priority":500})", "priority: must be an integer from -100 to 100 (got 500)"},
      {R"({"mode":"HEAD_SWAP","priority":1.5})", "priority: must be an integer"},
      {R"({"mode":"HEAD_SWAP","priority":"1"})", "priority: must be an integer"},
      {R"({"mode":"HEAD_SWAP","max_retries":-1})", "max_retries: must be an integer from 0 to 100"},
      {R"({"mode":"HEAD_SWAP","timeout_ms":0})", "timeout_ms: must be an integer from 1 to"},
      {R"({"mode":"HEAD_SWAP","timeout_ms":18446744073709551615})", "timeout_ms: must be an integer"},
      {R"({"mode":"HEAD_SWAP","config":[]})", "config: must be an object"},
      {R"({"mode":"HEAD_SWAP","config":"x"})", "config: must be an object"},
      {R"({"mode":"HEAD_SWAP","source_image":"../etc/passwd"})", "source_image: must be a file id"},
      {R"({"mode":"HEAD_SWAP","source_image":".."})", "source_image: must be a file id"},
      {R"({"mode":"HEAD_SWAP","source_image":5})", "source_image: must be a string"},
      {R"({"mode":"HEAD_SWAP","user_id":"a b"})", "user_id: must be letters"},
  };
  for (const Case& c : cases) {
    std::string msg = CreateError(c.body);
    EXPECT_TRUE(msg.starts_with(c.starts_with)) << c.body << "\n  got: " << msg;
  }
  std::string big = R"({"mode":"HEAD_SWAP","config":{"x":")" + std::string(kMaxConfigBytes, 'a') + R"("}})";
  EXPECT_TRUE(CreateError(big).starts_with("config: must be at most"));
  // null means "not given".
  EXPECT_EQ(CreateError(R"({"mode":"HEAD_SWAP","priority":null,"config":null})"), "");
}

TaskInfo SampleTask() {
  TaskInfo t;
  t.task_id = "task_20231117_0123456789abcdef";
  t.user_id = "user_x";
  t.mode = "POSE_CHANGE";
  t.status = TaskStatus::Failed;
  t.priority = -3;
  t.source_image = "img_20231117_x";
  t.config = {{"pose", "sitting"}, {"n", 2}};
  t.progress = 40;
  t.current_step = "detecting";
  t.attempt = 2;
  t.max_retries = 1;
  t.timeout_ms = 5000;
  t.created_at = 1700208000000;
  t.started_at = 1700208000100;
  t.updated_at = 1700208000200;
  t.finished_at = 1700208000300;
  t.run_at = 1700208000000;
  t.result = TaskResult{{"a.png", "sub/b.json"}, Json{{"score", 0.5}}, 120};
  t.error = TaskError{"TRAP", "unreachable executed", 2, true, "stack:\n  f0", 1700208000300};
  return t;
}

TEST(JsonTest, TaskInfoRoundTrips) {
  TaskInfo t = SampleTask();
  Json j = ToJson(t);
  EXPECT_EQ(j["status"], "failed");
  EXPECT_EQ(j["created_at"], "2023-11-17T08:00:00.000Z");
  EXPECT_EQ(j["error"]["code"], "TRAP");
  auto back = TaskInfoFromJson(j);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(ToJson(*back), j);

  TaskInfo fresh;
  fresh.task_id = "task_1";
  fresh.mode = "HEAD_SWAP";
  fresh.created_at = 1;
  Json fj = ToJson(fresh);
  EXPECT_TRUE(fj["started_at"].is_null());
  EXPECT_TRUE(fj["result"].is_null());
  EXPECT_TRUE(fj["error"].is_null());
  EXPECT_TRUE(fj["user_id"].is_null());
  auto fback = TaskInfoFromJson(fj);
  ASSERT_TRUE(fback.ok()) << fback.error().message;
  EXPECT_FALSE(fback->result);
  EXPECT_EQ(fback->started_at, 0);
}

TEST(JsonTest, TaskInfoErrorsNameNestedFields) {
  Json j = ToJson(SampleTask());
  j["result"]["output_files"][1] = 7;
  EXPECT_EQ(TaskInfoFromJson(j).error().message, "result.output_files[1]: must be a string");
  j = ToJson(SampleTask());
  j["status"] = "running";
  EXPECT_TRUE(TaskInfoFromJson(j).error().message.starts_with("status: must be one of"));
  j = ToJson(SampleTask());
  j["created_at"] = "yesterday";
  EXPECT_TRUE(TaskInfoFromJson(j).error().message.starts_with("created_at: must be an ISO 8601 time"));
  j = ToJson(SampleTask());
  j["error"].erase("code");
  EXPECT_EQ(TaskInfoFromJson(j).error().message, "error.code: is required");
  j = ToJson(SampleTask());
  j["progress"] = 101;
  EXPECT_TRUE(TaskInfoFromJson(j).error().message.starts_with("progress: must be an integer from 0 to 100"));
  j = ToJson(SampleTask());
  j["added_by_a_newer_server"] = true;  // tolerated
  EXPECT_TRUE(TaskInfoFromJson(j).ok());
}

TEST(JsonTest, ListResponseAndSummaryRoundTrip) {
  TaskListResponse l;
  l.tasks = {Summarise(SampleTask()), Summarise(SampleTask())};
  l.total = 7;
  l.page = 2;
  l.page_size = 2;
  l.has_more = true;
  Json j = ToJson(l);
  EXPECT_EQ(j["tasks"].size(), 2u);
  EXPECT_FALSE(j["tasks"][0].contains("config"));  // a summary is short
  auto back = TaskListResponseFromJson(j);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(ToJson(*back), j);
  j["tasks"][1]["mode"] = "";
  EXPECT_TRUE(TaskListResponseFromJson(j).error().message.starts_with("tasks[1].mode:"));
}

TEST(JsonTest, StatsAndEvents) {
  QueueStats s;
  s.counts[TaskStatus::Done] = 3;
  s.queue_length = 2;
  s.modes["HEAD_SWAP"] = ModeStats{3, 1, 12.5, 20};
  Json j = ToJson(s);
  EXPECT_EQ(j["counts"]["pending"], 0);
  EXPECT_EQ(j["counts"]["done"], 3);
  EXPECT_EQ(j["modes"]["HEAD_SWAP"]["p95_ms"], 20.0);
  TaskEvent e;
  e.kind = TaskEvent::Kind::Progress;
  e.task_id = "task_1";
  e.progress = 50;
  e.at = 1700208000000;
  Json ej = ToJson(e);
  EXPECT_EQ(ej["type"], "progress");
  EXPECT_EQ(ej["progress"], 50);
}

// Issue 17: 70 000 '[' parsed fine and then overflowed the stack wherever the value was dumped or copied.
TEST(JsonTest, NestingPast64LevelsIsRefusedWhileParsing) {
  std::string deep = std::string(70'000, '[') + std::string(70'000, ']');
  auto r = ParseJson(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("nested deeper than 64 levels"), std::string::npos) << r.error().message;
  EXPECT_NE(CreateError(R"({"mode":"HEAD_SWAP","config":{"a":)" + deep + "}}").find("nested deeper"),
            std::string::npos);
  EXPECT_TRUE(ParseJson(std::string(64, '[') + std::string(64, ']')).ok());
  EXPECT_FALSE(ParseJson(std::string(65, '{') + std::string(65, '}')).ok());
  // Brackets inside strings are text, escaped quotes included.
  EXPECT_TRUE(ParseJson("[\"" + std::string(100, '[') + "\\\"{\"]").ok());
}

// A value built in memory, never parsed, is checked without serialising it (to preview it in a message or
// to measure the config's size) and without copying it: both recurse once per level.
TEST(JsonTest, DeepValuesAreCheckedWithoutSerialisingThem) {
  auto deep = [] {
    Json root = Json::array();
    Json* at = &root;
    for (int i = 0; i < 300'000; ++i) at = &at->emplace_back(Json::array());
    return root;
  };
  Json in_config = Json::object();
  in_config["mode"] = "HEAD_SWAP";
  in_config["config"] = Json::object();
  in_config["config"]["a"] = deep();
  auto c = CreateRequestFromJson(in_config);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("config"), std::string::npos) << c.error().message;
  Json as_priority = Json::object();
  as_priority["mode"] = "HEAD_SWAP";
  as_priority["priority"] = deep();
  auto p = CreateRequestFromJson(as_priority);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message, "priority: must be an integer from -100 to 100 (got an array of 1)");
}

}  // namespace
}  // namespace wasmq::queue

namespace wasmq::queue {
namespace {

// output_dir becomes a path under the task's directory: only the names the worker makes are read back.
TEST(JsonTest, ResultOutputDirIsOnlyAnAttemptDirectory) {
  TaskResult r{{"a.png"}, nullptr, 5, "out-12"};
  auto back = TaskResultFromJson(ToJson(r));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->output_dir, "out-12");
  EXPECT_FALSE(ToJson(TaskResult{}).contains("output_dir"));  // older results: absent, meaning "out"
  EXPECT_TRUE(TaskResultFromJson({{"output_files", {"a"}}, {"output_dir", "out"}}).ok());
  for (const Json& bad :
       {Json("../x"), Json("out-"), Json("out-1/../../y"), Json("/tmp"), Json(3), Json("in")}) {
    auto e = TaskResultFromJson({{"output_files", {"a"}}, {"output_dir", bad}});
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_NE(e.error().message.find("output_dir"), std::string::npos) << e.error().message;
  }
}

}  // namespace
}  // namespace wasmq::queue
