// The engine config file: good and bad configs, and the registry's own checks around every call.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "../require_tool.h"
#include "engines/engines.h"

namespace wasmq::engines {
namespace {

std::string Upper() { return std::string(ENGINES_MODULES_DIR) + "/upper.wasm"; }

TEST(EngineRegistry, WithoutAConfigFileHasTheBuiltinFaceEngines) {
  auto r = EngineRegistry::Load("");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->names(), (std::vector<std::string>{"face-detect", "face-landmarks"}));
  EXPECT_EQ((*r)->Find("face-detect")->kind(), "builtin");
}

TEST(EngineRegistry, ReadsEveryKindFromTheFile) {
  WASMQ_REQUIRE(std::filesystem::exists(Upper()), "no wasm32-wasi toolchain: " << Upper() << " was not built");
  const std::string dir = (std::filesystem::temp_directory_path() / "wasmq-engines-registry").string();
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/workflow.json")
      << R"({"1":{"class_type":"LoadImage","inputs":{"image":"{{input_image}}"}}})";
  setenv("WASMQ_TEST_KEY", "k", 1);
  std::ofstream(dir + "/engines.json") << R"({
    "limits": {"max_response_payload_bytes": 1048576},
    "engines": {
      "my-api": {"kind": "http", "url": "https://api.example.com/v1/edit", "method": "POST",
                 "headers": {"Accept": "image/png"}, "auth": {"type": "bearer", "env": "WASMQ_TEST_KEY"},
                 "timeout_ms": 1000, "retries": 1, "retry_backoff_ms": 100, "request": "multipart"},
      "sd": {"kind": "comfyui", "url": "http://127.0.0.1:8188", "workflow": "workflow.json", "timeout_ms": 5000},
      "upper": {"kind": "wasm", "path": ")" + Upper() +
                                              R"(", "timeout_ms": 2000, "fuel": 1000000},
      "faces-alt": {"kind": "builtin", "builtin": "face-detect",
                    "cascade": "/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt.xml"}
    }})";
  auto r = EngineRegistry::Load(dir + "/engines.json");
  unsetenv("WASMQ_TEST_KEY");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->names(),
            (std::vector<std::string>{"face-detect", "face-landmarks", "faces-alt", "my-api", "sd", "upper"}));
  EXPECT_EQ((*r)->Find("my-api")->kind(), "http");
  EXPECT_EQ((*r)->Find("my-api")->timeout_ms(), 2 * 1000 + 100);  // both attempts and the wait
  EXPECT_EQ((*r)->Find("sd")->kind(), "comfyui");
  EXPECT_EQ((*r)->Find("upper")->kind(), "wasm");
  EXPECT_EQ((*r)->limits().max_response_payload, 1048576u);
  std::filesystem::remove_all(dir);
}

// Each bad config stops start-up with a message naming the file and the field.
TEST(EngineRegistry, BadConfigsAreRefusedNamingTheField) {
  struct Case {
    const char* json;
    const char* error;
  };
  const Case cases[] = {
      {"{", "not valid JSON"},
      {"[]", "(top level): must be a JSON object"},
      {R"({"engine":{}})", "(top level).engine: unknown field (expected one of: engines, limits)"},
      {R"({"engines":{"x":{"kind":"gpu"}}})",
       "engines.x.kind: unknown kind \"gpu\" (expected builtin, wasm, http or comfyui)"},
      {R"({"engines":{"x":{}}})", "engines.x.kind: is required"},
      {R"({"engines":{"x":{"kind":"http"}}})", "engines.x.url: is required"},
      {R"({"engines":{"x":{"kind":"http","url":"ftp://h"}}})",
       "engines.x.url: must start with http:// or https://"},
      {R"({"engines":{"x":{"kind":"http","url":"http://h","timeout_ms":"5s"}}})",
       "engines.x.timeout_ms: must be an integer from 1 to 3600000"},
      {R"({"engines":{"x":{"kind":"http","url":"http://h","retrys":2}}})", "engines.x.retrys: unknown field"},
      {R"({"engines":{"x":{"kind":"http","url":"http://h","request":"form"}}})",
       "engines.x.request: must be \"body\" or \"multipart\""},
      {R"({"engines":{"x":{"kind":"http","url":"http://h","auth":{"type":"basic","env":"HOME"}}}})",
       "engines.x.auth.type: must be \"bearer\" or \"header\""},
      {R"({"engines":{"x":{"kind":"wasm","path":"/no/such.wasm"}}})",
       "engines.x.path: cannot read /no/such.wasm"},
      {R"({"engines":{"x":{"kind":"comfyui","url":"http://h"}}})", "engines.x.workflow: is required"},
      {R"({"engines":{"x":{"kind":"comfyui","url":"http://h","workflow":"/no/wf.json"}}})",
       "engines.x.workflow: cannot read /no/wf.json"},
      {R"({"engines":{"x":{"kind":"builtin","builtin":"ocr"}}})",
       "engines.x.builtin: unknown built-in engine"},
      {R"({"engines":{"a b":{"kind":"builtin"}}})", "engines.a b: an engine name is 1-64 letters"},
      {R"({"limits":{"max_request_json_bytes":-1}})",
       "(top level).limits.max_request_json_bytes: must be an integer"},
  };
  for (const Case& c : cases) {
    auto r = EngineRegistry::Parse(c.json, "/etc/wasmq/engines.json");
    EXPECT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.error().message.rfind("engine config /etc/wasmq/engines.json: ", 0), 0u) << r.error().message;
    EXPECT_NE(r.error().message.find(c.error), std::string::npos) << c.json << "\n  gave: " << r.error().message;
  }
  auto missing = EngineRegistry::Load("/no/such/engines.json");
  EXPECT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "engine config /no/such/engines.json: cannot read it (no such file)");
}

// Issue 17: JSON nested past 64 levels is refused while it is read, in the config file and in what a
// pipeline sends an engine.
TEST(EngineRegistry, DeepNestingIsRefusedWhileParsing) {
  std::string deep = std::string(70'000, '[') + std::string(70'000, ']');
  auto r = EngineRegistry::Parse(R"({"engines":{"x":{"kind":"builtin","options":)" + deep + "}}}", "e.json");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("nested deeper than 64 levels"), std::string::npos) << r.error().message;
  auto ok = EngineRegistry::Parse("{}", "e.json");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  Response reply = (*ok)->Call("face-detect", {R"({"image":)" + deep + "}", "x"});
  EXPECT_EQ(reply.status, Status::BadRequest);
}

TEST(EngineRegistry, CallChecksTheNameTheJsonAndTheLimits) {
  auto r = EngineRegistry::Parse(R"({"limits":{"max_request_json_bytes":64,"max_request_payload_bytes":10}})",
                                 "e.json");
  ASSERT_TRUE(r.ok()) << r.error().message;
  Response unknown = (*r)->Call("nope", {"{}", ""});
  EXPECT_EQ(unknown.status, Status::Unknown);
  EXPECT_EQ(unknown.message, "no engine \"nope\" (known: face-detect, face-landmarks)");
  EXPECT_EQ((*r)->Call("face-detect", {std::string(100, ' '), ""}).status, Status::TooLarge);
  EXPECT_EQ((*r)->Call("face-detect", {"{}", std::string(11, 'x')}).status, Status::TooLarge);
  EXPECT_EQ((*r)->Call("face-detect", {"{not json", "x"}).status, Status::BadRequest);
  EXPECT_EQ(CodeName(Status::Timeout), "ENGINE_TIMEOUT");
  EXPECT_EQ(CodeName(Status::TooLarge), "ENGINE_TOO_LARGE");
}

TEST(CancelToken, CallbacksRunOnCancelAndSleepsEndAtOnce) {
  CancelToken t;
  int called = 0;
  int id = t.OnCancel([&] { ++called; });
  std::thread canceller([&] { t.Cancel(); });
  EXPECT_FALSE(t.SleepFor(std::chrono::seconds(30)));  // returns when cancelled, not after 30 s
  canceller.join();
  EXPECT_EQ(called, 1);
  t.Remove(id);
  t.OnCancel([&] { ++called; });  // already cancelled: runs at once
  EXPECT_EQ(called, 2);
  EXPECT_TRUE(t.cancelled());
}

}  // namespace
}  // namespace wasmq::engines
