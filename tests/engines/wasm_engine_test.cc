// The wasm engine: a module compiled here for wasm32-wasi, run per call with the request on stdin and the
// payload in /in/data.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

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
#define NEED_MODULE()                                                                    \
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

}  // namespace
}  // namespace wasmq::engines
