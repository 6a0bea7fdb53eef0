// File: src/engines/wasm_engine.cc
//
// The `wasm` engine: another Wasm module, compiled once at start-up and run as a WASI command for each
// call on wasmq's own engine:
//   stdin        the request JSON;  argv [name];  no environment
//   /in/data     the request payload (read-only; absent without one)
//   /out         empty; /out/data, if the module writes it, is the response payload
//   stdout       the response JSON (must be a JSON object; empty = {})
//   exit 0       success; exit 2 = ENGINE_BAD_REQUEST (the module refused the request); any other exit, a
//                trap or running out of fuel = ENGINE_FAILED (with the stderr tail); past timeout_ms =
//                ENGINE_TIMEOUT (wasi::RunCommand's deadline: no thread of its own per call)
// The module gets nothing else but WASI-NN (docs/nn.md; its computes count against timeout_ms): no
// network, no `wasmq` imports, no other file.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engines/internal.h"
#include "json/json.h"
#include "nn/nn.h"
#include "wasi/wasi.h"
#include "wasm/wasm.h"

namespace wasmq::engines {

namespace fs = std::filesystem;

namespace {

// A temporary directory, removed with what is in it.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "wasmq-engine-XXXXXX").string();
    if (mkdtemp(tmpl.data())) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Tail(const std::string& s, size_t n = 1000) { return s.size() <= n ? s : s.substr(s.size() - n); }

class WasmEngine final : public Engine {
 public:
  WasmEngine(std::string name, std::unique_ptr<wasm::Engine> engine,
             std::shared_ptr<const wasm::Module> module, uint64_t fuel, int64_t timeout_ms)
      : name_(std::move(name)), engine_(std::move(engine)), module_(std::move(module)), fuel_(fuel) {
    timeout_ms_ = timeout_ms;
  }
  std::string_view kind() const override { return "wasm"; }

  Response Call(const Request& request, const CallContext& ctx) const override {
    ScratchDir dir;
    std::error_code ec;
    if (dir.path().empty()) return Failure(Status::Failed, "cannot create a scratch directory");
    const fs::path in = fs::path(dir.path()) / "in", out = fs::path(dir.path()) / "out";
    fs::create_directories(in, ec);
    if (!ec) fs::create_directories(out, ec);
    if (ec) return Failure(Status::Failed, "cannot create a scratch directory: " + ec.message());
    if (!request.payload.empty()) {
      std::ofstream data(in / "data", std::ios::binary);
      data.write(request.payload.data(), static_cast<std::streamsize>(request.payload.size()));
      if (!data) return Failure(Status::Failed, "cannot write the payload to the scratch directory");
    }

    wasi::CommandRequest command;
    command.engine = engine_.get();
    command.module = module_.get();
    command.wasi.args = {name_};
    command.wasi.preopens = {{"/in", in.string(), /*read_only=*/true}, {"/out", out.string(), false}};
    command.wasi.stdin_mode = wasi::StdioMode::Capture;
    command.wasi.stdin_data = request.json;
    command.wasi.max_capture_bytes = ctx.max_response_json + 1;
    command.fuel = fuel_;
    command.deadline = ctx.deadline;
    // A cancel interrupts the module wherever it is, as the deadline does.
    wasi::CommandCancel cancel;
    command.cancel = &cancel;
    nn::Instance nn;
    nn.SetDeadline(ctx.deadline);
    command.add_imports = [&nn](wasm::Store& store, wasm::Imports& imports) { nn.AddTo(store, imports); };
    const int cancel_id = ctx.cancel ? ctx.cancel->OnCancel([&cancel, &nn] {
      cancel.Cancel();
      nn.Interrupt();
    })
                                     : -1;
    wasi::CommandResult run = wasi::RunCommand(std::move(command));
    if (cancel_id >= 0) ctx.cancel->Remove(cancel_id);
    if (run.phase == wasi::CommandResult::Phase::Setup) return Failure(Status::Failed, run.error.message);

    const std::string stderr_tail = Tail(run.stderr_data);
    if (!run.exit_code) {
      if (run.error.kind == wasm::ErrorKind::Interrupted) {
        if (run.stopped_by == wasi::StopCause::Cancelled) return Failure(Status::Cancelled, "cancelled");
        if (run.stopped_by == wasi::StopCause::Deadline)
          return Failure(Status::Timeout, "the module ran past " + std::to_string(timeout_ms_) + " ms");
        return Failure(Status::Failed, "the module ran out of fuel (" + std::to_string(fuel_) + ")");
      }
      return Failure(Status::Failed,
                     run.error.message + (stderr_tail.empty() ? "" : "; stderr: " + stderr_tail));
    }
    const uint32_t code = *run.exit_code;
    if (code != 0)
      return Failure(code == 2 ? Status::BadRequest : Status::Failed,
                     "the module exited with status " + std::to_string(code) +
                         (stderr_tail.empty() ? "" : "; stderr: " + stderr_tail));
    Response r;
    r.json = std::move(run.stdout_data);
    if (run.stdout_dropped > 0)
      return Failure(Status::TooLarge, "the module's JSON answer is over the limit");
    if (r.json.find_first_not_of(" \t\r\n") == std::string::npos) r.json = "{}";
    Json parsed = wasmq::json::Parse(r.json);
    if (!parsed.is_object()) return Failure(Status::Failed, "the module's stdout is not a JSON object");
    const fs::path data = out / "data";
    if (fs::is_regular_file(fs::symlink_status(data, ec))) {
      if (fs::file_size(data, ec) > ctx.max_response_payload)
        return Failure(Status::TooLarge, "the module's /out/data is over the limit");
      std::ifstream f(data, std::ios::binary);
      std::stringstream s;
      s << f.rdbuf();
      r.payload = s.str();
    }
    return r;
  }

 private:
  std::string name_;
  std::unique_ptr<wasm::Engine> engine_;
  std::shared_ptr<const wasm::Module> module_;
  uint64_t fuel_;
};

}  // namespace

Result<std::unique_ptr<Engine>> NewWasmEngine(const Fields& f) {
  if (auto r = f.OnlyKeys({"kind", "path", "fuel", "timeout_ms", "max_memory_bytes"}); !r) return r.error();
  const Result<std::string> path = f.Path("path");
  if (!path) return path.error();
  std::ifstream in(*path, std::ios::binary);
  if (!in) return f.Fail("path", "cannot read " + *path);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  wasm::EngineConfig config;
  config.compile = wasm::CompileMode::kAuto;  // as the pipelines: interpreted until compiled (no disk cache)
  const Result<int64_t> max_memory =
      f.Int("max_memory_bytes", 256 << 20, 65'536, static_cast<int64_t>(config.max_memory_bytes));
  if (!max_memory) return max_memory.error();
  config.max_memory_bytes = static_cast<uint64_t>(*max_memory);
  auto engine = std::make_unique<wasm::Engine>(config);
  auto module = wasm::Module::Compile(*engine, bytes);
  if (!module) return f.Fail("path", *path + " is not a valid WebAssembly module: " + module.error().message);
  if (auto why = wasi::WhyNotCommand(**module))
    return f.Fail("path", *path + " is not a WASI command: it " + *why);
  const Result<int64_t> fuel = f.Int("fuel", 0, 0, INT64_MAX);
  if (!fuel) return fuel.error();
  const Result<int64_t> timeout_ms = f.Int("timeout_ms", 60'000, 1, 3'600'000);
  if (!timeout_ms) return timeout_ms.error();
  std::string name = f.path().substr(f.path().find('.') + 1);
  return std::unique_ptr<Engine>(std::make_unique<WasmEngine>(name, std::move(engine), std::move(*module),
                                                              static_cast<uint64_t>(*fuel), *timeout_ms));
}

}  // namespace wasmq::engines
