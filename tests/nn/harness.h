// Shared by the nn tests: the ONNX models (made once per test process by make_models.py), the compiled
// test module (modules/nn_abi.c), and a run of it as a WASI command with an nn::Instance of a given host.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "nn/nn.h"
#include "../require_tool.h"
#include "wasi/wasi.h"
#include "wasm/wasm.h"

namespace wasmq::nn::testing {

namespace fs = std::filesystem;

// The directory of the generated models, or "" when python3-onnx is missing.
inline const std::string& ModelsDir() {
  static const std::string dir = [] {
    std::string tmpl = (fs::temp_directory_path() / "wasmq-nn-models-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) return std::string();
    const std::string cmd = "/usr/bin/python3 " NN_MAKE_MODELS " " + tmpl + " > " + tmpl + "/make.log 2>&1";
    if (std::system(cmd.c_str()) != 0) return std::string();
    return tmpl;
  }();
  return dir;
}

inline std::string Model(const std::string& name) { return ModelsDir() + "/" + name; }

#define NN_REQUIRE_MODELS()                                                                     \
  WASMQ_REQUIRE(!::wasmq::nn::testing::ModelsDir().empty(),                                     \
                "python3-onnx is missing (Debian: python3-onnx): cannot make the test models"); \
  WASMQ_REQUIRE(fs::exists(NN_MODULE), "the wasm32-wasi test module was not built")

inline std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Compiled {
  wasm::Engine engine;
  std::shared_ptr<const wasm::Module> module;
};

inline const Compiled& TestModule() {
  static const Compiled* c = [] {
    auto* out = new Compiled();
    auto m = wasm::Module::Compile(out->engine, ReadBytes(NN_MODULE));
    if (m) out->module = *m;
    return out;
  }();
  return *c;
}

// A host that knows the test models `affine` and `slow` by name.
inline std::unique_ptr<Host> TestHost(Limits limits = {}, int threads = 2) {
  HostConfig config;
  config.threads = threads;
  config.limits = limits;
  auto host = std::make_unique<Host>(config);
  EXPECT_TRUE(host->models().Add("affine=" + Model("affine.onnx")));
  EXPECT_TRUE(host->models().Add("slow=" + Model("slow.onnx")));
  return host;
}

struct NnRun {
  wasi::CommandResult result;
  std::string last_error;
  uint64_t bytes_held = 0;
  double seconds = 0;
};

// Runs nn_abi.wasm with `args` (after the program name) on `host`; `during` (if set) runs on another thread
// with the instance and the command's cancel while the module runs.
inline NnRun RunNn(Host& host, std::vector<std::string> args,
                   std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max(),
                   std::function<void(Instance&, wasi::CommandCancel&)> during = nullptr,
                   std::vector<std::string> env = {}) {
  const Compiled& c = TestModule();
  Instance nn(host);
  nn.SetDeadline(deadline);
  wasi::CommandCancel cancel;
  wasi::CommandRequest req;
  req.engine = &c.engine;
  req.module = c.module.get();
  req.wasi.args = {"nn_abi.wasm"};
  req.wasi.args.insert(req.wasi.args.end(), args.begin(), args.end());
  req.wasi.env = std::move(env);
  req.wasi.preopens = {{"/models", ModelsDir(), /*read_only=*/true}};
  req.deadline = deadline;
  req.cancel = &cancel;
  req.add_imports = [&nn](wasm::Store& s, wasm::Imports& i) { nn.AddTo(s, i); };
  std::thread other;
  if (during) other = std::thread([&] { during(nn, cancel); });
  const auto t0 = std::chrono::steady_clock::now();
  NnRun out;
  out.result = wasi::RunCommand(std::move(req));
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (other.joinable()) other.join();
  out.last_error = nn.last_error();
  out.bytes_held = nn.bytes_held();
  return out;
}

}  // namespace wasmq::nn::testing
