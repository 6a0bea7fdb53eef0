// The wasm engine: a module compiled here for wasm32-wasi, run per call with the request on stdin and the
// payload in /in/data.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <tuple>

#include "../require_tool.h"
#include "engines/engines.h"

namespace wasmq::engines {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

std::unique_ptr<EngineRegistry> Registry(Json extra = Json::object()) {
  Json engine = {{"kind", "wasm"}, {"path", std::string(ENGINES_MODULES_DIR) + "/upper.wasm"}};
  engine.update(extra);
  auto r = EngineRegistry::Parse(Json{{"engines", {{"upper", engine}}}}.dump(), "test.json");
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(*r) : nullptr;
}

// Without clang for wasm32-wasi the build has no test module (CMake warns); skip rather than fail.
#define NEED_MODULE()                                                                      \
  WASMQ_REQUIRE(std::filesystem::exists(std::string(ENGINES_MODULES_DIR) + "/upper.wasm"), \
                "no wasm32-wasi toolchain: " ENGINES_MODULES_DIR "/upper.wasm was not built")

TEST(WasmEngine, RunsTheModuleWithTheRequestAndPayload) {
  NEED_MODULE();
  auto reg = Registry();
  Response r = reg->Call("upper", {R"({"k":"v"})", "hello wasm"});
  ASSERT_EQ(r.status, Status::Ok) << r.message;
  EXPECT_EQ(r.payload, "HELLO WASM");
  EXPECT_EQ(Json::parse(r.json), Json::parse(R"({"bytes":10,"request":{"k":"v"}})"));
  // No payload: no /in/data, no /out/data.
  Response empty = reg->Call("upper", {"{}", ""});
  ASSERT_EQ(empty.status, Status::Ok) << empty.message;
  EXPECT_TRUE(empty.payload.empty());
}

TEST(WasmEngine, ExitStatusTwoIsABadRequestAndATrapAFailure) {
  NEED_MODULE();
  auto reg = Registry();
  Response refused = reg->Call("upper", {R"({"refuse":true})", ""});
  EXPECT_EQ(refused.status, Status::BadRequest);
  EXPECT_NE(refused.message.find("refusing"), std::string::npos)
      << "stderr is in the message: " << refused.message;
  EXPECT_EQ(reg->Call("upper", {R"({"crash":true})", ""}).status, Status::Failed);
}

TEST(WasmEngine, ARunawayModuleIsStoppedByItsTimeoutOrFuel) {
  NEED_MODULE();
  auto t0 = std::chrono::steady_clock::now();
  Response r = Registry({{"timeout_ms", 200}})->Call("upper", {R"({"spin":true})", ""});
  EXPECT_EQ(r.status, Status::Timeout) << r.message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  Response fuel = Registry({{"fuel", 100000}})->Call("upper", {R"({"spin":true})", ""});
  EXPECT_EQ(fuel.status, Status::Failed);
  EXPECT_NE(fuel.message.find("fuel"), std::string::npos) << fuel.message;
}

TEST(WasmEngine, CancelStopsTheModule) {
  NEED_MODULE();
  auto reg = Registry();
  CancelToken cancel;
  std::thread stopper([&] {
    std::this_thread::sleep_for(50ms);  // let it start spinning; the assertion does not depend on it
    cancel.Cancel();
  });
  Response r = reg->Call("upper", {R"({"spin":true})", ""}, &cancel);
  stopper.join();
  EXPECT_EQ(r.status, Status::Cancelled);
}

// The module must be a WASI command by wasi::IsCommand, the worker's rule too. Until that rule, this engine
// took any export named _start (even a global) and a module that also exports _initialize.
TEST(WasmEngine, OnlyAWasiCommandIsAnEngine) {
  // Assembled by hand: type () -> (), then what each case exports.
  const std::string header("\0asm\1\0\0\0\1\4\1\x60\0\0", 14);
  const std::string two_funcs("\3\3\2\0\0", 5), body("\2\0\x0b", 3);
  const std::string both = header + two_funcs + std::string("\7\x18\2\6_start\0\0\x0b_initialize\0\1", 26) +
                           std::string("\x0a\7\2", 3) + body + body;
  const std::string global =
      header + std::string("\6\6\1\x7f\0\x41\0\x0b", 8) + std::string("\7\x0a\1\6_start\3\0", 12);
  const std::string dir = (std::filesystem::temp_directory_path() / "wasmq-engine-command-test").string();
  std::filesystem::create_directories(dir);
  for (const auto& [name, bytes, why] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"both", both, "both _start and _initialize"}, {"global", global, "no _start function"}}) {
    const std::string path = dir + "/" + name + ".wasm";
    std::ofstream(path, std::ios::binary) << bytes;
    Json engine = {{"kind", "wasm"}, {"path", path}};
    auto r = EngineRegistry::Parse(Json{{"engines", {{"e", engine}}}}.dump(), "test.json");
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_NE(r.error().message.find("is not a WASI command: it exports " + why), std::string::npos)
        << name << ": " << r.error().message;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace wasmq::engines
