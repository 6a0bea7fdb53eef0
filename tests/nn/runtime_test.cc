// The runtime side: a compute stopped by the deadline or a cancel returns promptly (the forward pass
// finishing in the background), models shared across instances, the graph cache, the memory report, and
// the worker's wiring (a RunControl stop interrupts a compute).
#include <filesystem>
#include <fstream>
#include <thread>

#include "harness.h"
#include "base/digest.h"
#include "engines/engines.h"
#include "nn/internal.h"
#include "worker/runner.h"

namespace wasmq::nn::testing {
namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// How late a stop may come. It is a few ms on an idle machine (the waiter is woken at once); the bound
// leaves room for CI machines whose cores are all busy with other tests' forward passes.
constexpr double kPromptMs = 500;

TEST(NnRuntime, ComputePastTheDeadlineStopsPromptly) {
  NN_REQUIRE_MODELS();
  auto host = TestHost();
  const auto deadline = Clock::now() + std::chrono::milliseconds(400);
  NnRun run = RunNn(*host, {"slow"}, deadline);
  const double late_ms = MsSince(deadline);
  ASSERT_FALSE(run.result.exit_code.has_value()) << run.result.stdout_data;
  EXPECT_EQ(run.result.error.kind, wasm::ErrorKind::Interrupted) << run.result.error.message;
  EXPECT_EQ(run.result.stopped_by, wasi::StopCause::Deadline) << run.result.error.message;
  EXPECT_NE(run.result.stdout_data.find("computing"), std::string::npos);
  EXPECT_EQ(run.result.stdout_data.find("compute returned"), std::string::npos);
  std::cout << "stopped " << late_ms << " ms after the deadline\n";
  EXPECT_LT(late_ms, kPromptMs);
}

TEST(NnRuntime, CancelStopsAComputeMidWay) {
  NN_REQUIRE_MODELS();
  auto host = TestHost();
  Clock::time_point cancelled_at{};
  NnRun run = RunNn(*host, {"slow"}, Clock::time_point::max(), [&](Instance& nn, wasi::CommandCancel& cancel) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    cancelled_at = Clock::now();
    cancel.Cancel();
    nn.Interrupt();
  });
  const double late_ms = MsSince(cancelled_at);
  ASSERT_FALSE(run.result.exit_code.has_value()) << run.result.stdout_data;
  EXPECT_EQ(run.result.error.kind, wasm::ErrorKind::Interrupted);
  EXPECT_EQ(run.result.stopped_by, wasi::StopCause::Cancelled);
  EXPECT_NE(run.result.error.message.find("cancelled"), std::string::npos) << run.result.error.message;
  std::cout << "stopped " << late_ms << " ms after the cancel\n";
  EXPECT_LT(late_ms, kPromptMs);
}

TEST(NnRuntime, WaitingForAPoolSlotIsInterruptible) {
  NN_REQUIRE_MODELS();
  auto host = TestHost({}, /*threads=*/1);
  // One instance holds the only slot with a long compute; the second waits for it and is cancelled.
  std::thread first([&] { RunNn(*host, {"slow"}, Clock::now() + std::chrono::seconds(30)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Clock::time_point cancelled_at{};
  NnRun second = RunNn(*host, {"slow"}, Clock::time_point::max(), [&](Instance& nn, wasi::CommandCancel& cancel) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancelled_at = Clock::now();
    cancel.Cancel();
    nn.Interrupt();
  });
  const double late_ms = MsSince(cancelled_at);
  first.join();
  EXPECT_EQ(second.result.stopped_by, wasi::StopCause::Cancelled);
  EXPECT_LT(late_ms, kPromptMs);
}

TEST(NnRuntime, ModelSharedAcrossInstancesIsLoadedOnce) {
  NN_REQUIRE_MODELS();
  auto host = TestHost();
  std::thread a([&] { EXPECT_EQ(*RunNn(*host, {"by_name"}).result.exit_code, 0u); });
  std::thread b([&] { EXPECT_EQ(*RunNn(*host, {"by_name"}).result.exit_code, 0u); });
  a.join();
  b.join();
  EXPECT_EQ(*RunNn(*host, {"by_name"}).result.exit_code, 0u);
  for (const ModelReport& m : host->models().Report()) {
    if (m.name != "affine") continue;
    EXPECT_TRUE(m.loaded);
    // One parse for the model; a second net only when both instances computed at the same moment.
    EXPECT_GE(m.nets, 1);
    EXPECT_LE(m.nets, 2);
    EXPECT_EQ(m.parses, static_cast<uint64_t>(m.nets));
    EXPECT_GT(m.bytes_per_net, 0u);
    EXPECT_EQ(m.resident_bytes, m.bytes_per_net * static_cast<uint64_t>(m.nets));
    std::cout << "affine: " << m.nets << " net(s) of " << m.bytes_per_net << " bytes\n";
    return;
  }
  FAIL() << "affine is not in the report";
}

TEST(NnRuntime, SameBytesShareOneParsedGraph) {
  NN_REQUIRE_MODELS();
  auto host = TestHost();
  EXPECT_EQ(*RunNn(*host, {"conv"}).result.exit_code, 0u);
  EXPECT_EQ(*RunNn(*host, {"conv"}).result.exit_code, 0u);
  int conv_graphs = 0;
  for (const ModelReport& m : host->models().Report())
    if (m.source == "bytes") {
      ++conv_graphs;
      EXPECT_EQ(m.parses, 1u);
      EXPECT_EQ(m.weight_bytes, 36u);  // the 3x3 kernel of f32
    }
  EXPECT_EQ(conv_graphs, 1);
  EXPECT_GT(host->models().MemoryBytes(), 0u);
}

TEST(NnRuntime, MemoryPerModel) {
  NN_REQUIRE_MODELS();
  Host host;
  ASSERT_TRUE(host.models().Add("weights=" + Model("weights.onnx")));
  ASSERT_EQ(host.models().Report().size(), 1u);
  EXPECT_FALSE(host.models().Report()[0].loaded);  // parsed on first use only
  EXPECT_EQ(host.models().MemoryBytes(), 0u);
  ASSERT_TRUE(host.impl().LoadByName("weights"));
  ASSERT_TRUE(host.impl().LoadByName("weights"));  // the same graph: no second parse
  const ModelReport m = host.models().Report()[0];
  EXPECT_TRUE(m.loaded);
  EXPECT_EQ(m.parses, 1u);
  EXPECT_EQ(m.weight_bytes, 512u * 512u * 4u);
  EXPECT_GE(m.bytes_per_net, m.weight_bytes);
  EXPECT_EQ(m.resident_bytes, m.bytes_per_net);  // the file's bytes are not kept: more nets re-read it
  EXPECT_EQ(host.models().MemoryBytes(), m.resident_bytes);
  std::cout << "weights.onnx (" << m.file_bytes << " bytes): " << m.bytes_per_net << " bytes per net\n";
}

TEST(NnRuntime, ModelsDirectoryIndexFiles) {
  NN_REQUIRE_MODELS();
  const std::string dir = ModelsDir() + "/index";
  std::filesystem::create_directories(dir);
  const std::string path = Model("affine.onnx");
  const auto size = std::filesystem::file_size(path);
  const std::vector<uint8_t> bytes = ReadBytes(path);
  std::ofstream(dir + "/affine.json") << R"({"name":"affine","digest":"sha256:)" << base::Sha256Hex(std::string(bytes.begin(), bytes.end()))
                                      << R"(","path":")" << path << R"(","media_type":"application/onnx","size":)" << size << "}";
  HostConfig config;
  config.models_dir = dir;
  Host host(config);
  EXPECT_EQ(*RunNn(host, {"by_name"}).result.exit_code, 0u);

  // A wrong digest, a relative path, a directory, bad JSON: refused, never loaded.
  for (const std::string& bad :
       {std::string(R"({"digest":"sha256:)") + std::string(64, '0') + R"(","path":")" + path + "\"}",
        std::string(R"({"path":"affine.onnx"})"), std::string(R"({"path":"/"})"), std::string("{not json"),
        std::string(R"({"name":"other","path":")") + path + "\"}"}) {
    SCOPED_TRACE(bad);
    std::ofstream(dir + "/affine.json") << bad;
    Host fresh(config);
    NnRun run = RunNn(fresh, {"by_name"});
    EXPECT_EQ(*run.result.exit_code, 1u);
    EXPECT_NE(run.result.stdout_data.find("= 5, want 0"), std::string::npos) << run.result.stdout_data;
    EXPECT_NE(run.last_error.find("affine.json"), std::string::npos) << run.last_error;
  }
}

TEST(NnRuntime, WorkerStopInterruptsACompute) {
  NN_REQUIRE_MODELS();
  HostConfig config;
  Host& host = ConfigureDefaultHost(config);  // the worker's runs use the process's host
  ASSERT_TRUE(host.models().Add("slow=" + Model("slow.onnx")));
  const std::string dir = ModelsDir() + "/task";
  std::filesystem::create_directories(dir + "/in");
  std::filesystem::create_directories(dir + "/out");
  worker::RunControl control;
  worker::RunRequest req;
  req.engine = &TestModule().engine;
  req.module = TestModule().module.get();
  req.args = {"nn_abi.wasm", "slow"};
  req.dirs = {dir + "/in", dir + "/out"};
  req.control = &control;
  Clock::time_point stopped_at{};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    stopped_at = Clock::now();
    control.Stop(worker::StopReason::Timeout);
  });
  worker::RunOutcome out = worker::RunPipeline(req);
  const double late_ms = MsSince(stopped_at);
  stopper.join();
  EXPECT_FALSE(out.exit_code.has_value()) << out.stdout_data;
  EXPECT_EQ(out.error.kind, wasm::ErrorKind::Interrupted) << out.error.message;
  EXPECT_NE(out.stdout_data.find("computing"), std::string::npos) << out.stdout_data;
  std::cout << "worker run stopped " << late_ms << " ms after RunControl::Stop\n";
  EXPECT_LT(late_ms, kPromptMs);
}

// The `wasm` engine's modules get WASI-NN too, under the engine's timeout and the caller's cancel. Run as an
// engine the module's argv is [NAME]: nn_abi.c takes the engine's name as its scenario.
TEST(NnRuntime, WasmEngineModulesGetWasiNn) {
  NN_REQUIRE_MODELS();
  Host& host = ConfigureDefaultHost({});
  ASSERT_TRUE(host.models().Add("slow=" + Model("slow.onnx")));
  ASSERT_TRUE(host.models().Add("affine=" + Model("affine.onnx")));
  auto registry = engines::EngineRegistry::Parse(
      std::string(R"({"engines":{"slow":{"kind":"wasm","timeout_ms":400,"path":")") + NN_MODULE +
          R"("},"by_name":{"kind":"wasm","path":")" + NN_MODULE + R"("}}})",
      "test.json");
  ASSERT_TRUE(registry) << registry.error().message;
  // Linked and computed: the module ran to its end (its text is no JSON object, which the engine says).
  engines::Response ok = (*registry)->Call("by_name", {"{}", ""});
  EXPECT_NE(ok.message.find("not a JSON object"), std::string::npos) << ok.message;

  const auto t0 = Clock::now();
  engines::Response slow = (*registry)->Call("slow", {"{}", ""});
  const double ms = MsSince(t0);
  EXPECT_EQ(slow.status, engines::Status::Timeout) << slow.message;
  std::cout << "the slow engine call ended after " << ms << " ms (timeout 400 ms)\n";
  EXPECT_LT(ms, 400 + kPromptMs);

  engines::CancelToken cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel.Cancel();
  });
  const auto t1 = Clock::now();
  engines::Response cancelled = (*registry)->Call("slow", {"{}", ""}, &cancel);
  canceller.join();
  EXPECT_EQ(cancelled.status, engines::Status::Cancelled) << cancelled.message;
  EXPECT_LT(MsSince(t1), 200 + kPromptMs);
}

}  // namespace
}  // namespace wasmq::nn::testing
