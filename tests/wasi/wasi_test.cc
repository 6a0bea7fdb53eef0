// File: tests/wasi/wasi_test.cc
//
// The wasmq_wasi library as an embedder (the worker) uses it: captured stdio, stdin fed from a string,
// exit codes through RunCommand, read-only preopens, interruption from another thread, and the full
// import list.
#include "wasi/wasi.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include "helpers.h"

namespace wasmq::wasi::testing {
namespace {

struct Loaded {
  wasm::Engine engine;
  std::shared_ptr<const wasm::Module> module;
  std::unique_ptr<wasm::Store> store;
  std::unique_ptr<Wasi> wasi;
  std::optional<wasm::Instance> instance;
};

// Compiles module `name`, creates a WASI context from `config` and instantiates.
std::unique_ptr<Loaded> Load(const std::string& name, WasiConfig config) {
  auto l = std::make_unique<Loaded>();
  std::string bytes = ReadFile(ModulePath(name));
  auto m = wasm::Module::Compile(
      l->engine, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  if (!m.ok()) return nullptr;
  l->module = *m;
  auto w = Wasi::Create(std::move(config));
  EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error().message);
  if (!w.ok()) return nullptr;
  l->wasi = std::move(*w);
  l->store = std::make_unique<wasm::Store>(l->engine);
  wasm::Imports imports;
  l->wasi->AddToImports(*l->store, imports);
  auto inst = l->store->Instantiate(*l->module, imports);
  EXPECT_TRUE(inst.ok()) << (inst.ok() ? "" : inst.error().message);
  if (!inst.ok()) return nullptr;
  l->instance = *inst;
  return l;
}

TEST(WasiTest, CapturesStdoutAndStderrAndFeedsStdin) {
  WasiConfig c;
  c.args = {"stdio"};
  c.stdin_mode = StdioMode::Capture;
  c.stdin_data = "task {\"id\": 1}";
  std::string streamed;
  c.on_stdout = [&](std::string_view s) { streamed.append(s); };
  auto l = Load("stdio", std::move(c));
  ASSERT_TRUE(l);
  auto code = RunCommand(*l->store, *l->instance);
  ASSERT_TRUE(code.ok()) << code.error().message;
  EXPECT_EQ(*code, 0u);
  EXPECT_EQ(l->wasi->stdout_data(), "stdin:14:TASK {\"ID\": 1}");
  EXPECT_EQ(l->wasi->stderr_data(), "to-stderr\n");
  EXPECT_EQ(streamed, l->wasi->stdout_data());
  EXPECT_FALSE(l->wasi->exit_code().has_value());  // _start returned
}

TEST(WasiTest, DefaultsShareNothingWithTheHost) {
  WasiConfig c;  // stdin Null, stdout/stderr Capture
  c.args = {"stdio"};
  auto l = Load("stdio", std::move(c));
  ASSERT_TRUE(l);
  auto code = RunCommand(*l->store, *l->instance);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0u);
  EXPECT_EQ(l->wasi->stdout_data(), "stdin:0:");
}

TEST(WasiTest, CaptureIsCappedAndCounted) {
  WasiConfig c;
  c.args = {"stdio", "big", "100000"};
  c.max_capture_bytes = 1000;
  size_t seen = 0;
  c.on_stdout = [&](std::string_view s) { seen += s.size(); };
  auto l = Load("stdio", std::move(c));
  ASSERT_TRUE(l);
  auto code = RunCommand(*l->store, *l->instance);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0u);  // the module saw every write succeed
  EXPECT_EQ(l->wasi->stdout_data(), std::string(1000, 'x'));
  EXPECT_EQ(l->wasi->stdout_dropped(), 99000u);
  EXPECT_EQ(seen, 100000u);
}

TEST(WasiTest, NullOutputDiscards) {
  WasiConfig c;
  c.args = {"stdio", "big", "5000"};
  c.stdout_mode = StdioMode::Null;
  auto l = Load("stdio", std::move(c));
  ASSERT_TRUE(l);
  auto code = RunCommand(*l->store, *l->instance);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0u);
  EXPECT_EQ(l->wasi->stdout_data(), "");
  EXPECT_EQ(l->wasi->stdout_dropped(), 0u);
}

TEST(WasiTest, ExitCodeThroughRunCommand) {
  WasiConfig c;
  c.args = {"args_env", "exit", "7"};
  auto l = Load("args_env", std::move(c));
  ASSERT_TRUE(l);
  auto code = RunCommand(*l->store, *l->instance);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 7u);
  EXPECT_EQ(l->wasi->exit_code(), 7u);
}

TEST(WasiTest, ArgsAndEnvAreExactlyTheConfigs) {
  WasiConfig c;
  c.args = {"prog", "one", ""};
  c.env = {"MODE=HEAD_SWAP", "X="};
  auto l = Load("args_env", std::move(c));
  ASSERT_TRUE(l);
  ASSERT_TRUE(RunCommand(*l->store, *l->instance).ok());
  EXPECT_EQ(l->wasi->stdout_data(),
            "argc=3\nargv[0]=prog\nargv[1]=one\nargv[2]=\nenv:MODE=HEAD_SWAP\nenv:X=\nenvc=2\n");
}

TEST(WasiTest, ReadOnlyPreopen) {
  TempDir in, out;
  WriteFile(in / "data.txt", "input");
  WasiConfig c;
  c.args = {"readonly"};
  c.preopens = {{"/in", in.path(), true}, {"/out", out.path(), false}};
  auto l = Load("readonly", std::move(c));
  ASSERT_TRUE(l);
  auto code = RunCommand(*l->store, *l->instance);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0u) << l->wasi->stdout_data();
  EXPECT_NE(l->wasi->stdout_data().find(" checks, 0 failures"), std::string::npos) << l->wasi->stdout_data();
  EXPECT_EQ(ReadFile(in / "data.txt"), "input");
  EXPECT_FALSE(Exists(in / "new.txt"));
  EXPECT_EQ(ReadFile(out / "result.txt"), "done");
}

TEST(WasiTest, OutputQuotaIsEnforcedAndReported) {
  TempDir out;
  WasiConfig c;
  c.args = {"quota", "/out"};
  c.preopens = {{"/out", out.path(), false}};
  c.max_output_bytes = 65536;
  c.max_output_files = 8;
  auto l = Load("quota", std::move(c));
  ASSERT_TRUE(l);
  auto code = RunCommand(*l->store, *l->instance);
  ASSERT_TRUE(code.ok()) << code.error().message;
  EXPECT_EQ(*code, 0u) << l->wasi->stdout_data();
  EXPECT_NE(l->wasi->stdout_data().find(" checks, 0 failures"), std::string::npos) << l->wasi->stdout_data();
  ASSERT_TRUE(l->wasi->output_quota_exceeded());
  EXPECT_EQ(*l->wasi->output_quota_exceeded(), "more than 65536 bytes of output");  // the first refusal
  // What is left: f0, h (one file, two names), f2..f5, d; every data byte given back.
  EXPECT_EQ(l->wasi->output_files(), 7);
  EXPECT_EQ(l->wasi->output_bytes(), 5);
}

TEST(WasiTest, OutputQuotaCountsFromWhatWasThere) {
  TempDir out;
  WriteFile(out / "old.bin", std::string(100000, 'x'));  // more than the quota, before the run
  WasiConfig c;
  c.args = {"quota", "/out", "fill"};
  c.preopens = {{"/out", out.path(), false}};
  c.max_output_bytes = 65536;
  auto l = Load("quota", std::move(c));
  ASSERT_TRUE(l);
  auto code = RunCommand(*l->store, *l->instance);
  ASSERT_TRUE(code.ok()) << code.error().message;
  EXPECT_EQ(l->wasi->stdout_data(), "wrote 65536\n");
  EXPECT_TRUE(l->wasi->output_quota_exceeded());
  EXPECT_EQ(l->wasi->output_bytes(), 65536);
  EXPECT_EQ(l->wasi->output_files(), 1);  // big.bin; old.bin was there before
}

TEST(WasiTest, MissingPreopenIsAnErrorNamingIt) {
  WasiConfig c;
  c.preopens = {{"/in", "/nonexistent/wasmq/dir", false}};
  auto w = Wasi::Create(std::move(c));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("/nonexistent/wasmq/dir"), std::string::npos);
  EXPECT_NE(w.error().message.find("/in"), std::string::npos);
}

TEST(WasiTest, InterruptStopsASleepingModule) {
  WasiConfig c;
  c.args = {"trap", "sleep"};
  auto l = Load("trap", std::move(c));
  ASSERT_TRUE(l);
  auto start = std::chrono::steady_clock::now();
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    l->store->Interrupt();
    l->wasi->Interrupt();
  });
  auto code = RunCommand(*l->store, *l->instance);
  stopper.join();
  ASSERT_FALSE(code.ok());
  EXPECT_EQ(code.error().kind, wasm::ErrorKind::Interrupted);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(WasiTest, InterruptStopsASpinningModule) {
  WasiConfig c;
  c.args = {"trap", "spin"};
  auto l = Load("trap", std::move(c));
  ASSERT_TRUE(l);
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    l->store->Interrupt();
    l->wasi->Interrupt();
  });
  auto code = RunCommand(*l->store, *l->instance);
  stopper.join();
  ASSERT_FALSE(code.ok());
  EXPECT_EQ(code.error().kind, wasm::ErrorKind::Interrupted);
  ASSERT_FALSE(l->store->last_backtrace().empty());
  EXPECT_EQ(l->store->last_backtrace()[0].function, "spin");
}

TEST(WasiTest, ProvidesEveryPreview1Function) {
  const std::set<std::string> expected = {"args_get",
                                          "args_sizes_get",
                                          "environ_get",
                                          "environ_sizes_get",
                                          "clock_res_get",
                                          "clock_time_get",
                                          "fd_advise",
                                          "fd_allocate",
                                          "fd_close",
                                          "fd_datasync",
                                          "fd_fdstat_get",
                                          "fd_fdstat_set_flags",
                                          "fd_fdstat_set_rights",
                                          "fd_filestat_get",
                                          "fd_filestat_set_size",
                                          "fd_filestat_set_times",
                                          "fd_pread",
                                          "fd_prestat_get",
                                          "fd_prestat_dir_name",
                                          "fd_pwrite",
                                          "fd_read",
                                          "fd_readdir",
                                          "fd_renumber",
                                          "fd_seek",
                                          "fd_sync",
                                          "fd_tell",
                                          "fd_write",
                                          "path_create_directory",
                                          "path_filestat_get",
                                          "path_filestat_set_times",
                                          "path_link",
                                          "path_open",
                                          "path_readlink",
                                          "path_remove_directory",
                                          "path_rename",
                                          "path_symlink",
                                          "path_unlink_file",
                                          "poll_oneoff",
                                          "proc_exit",
                                          "proc_raise",
                                          "sched_yield",
                                          "random_get",
                                          "sock_accept",
                                          "sock_recv",
                                          "sock_send",
                                          "sock_shutdown"};
  std::vector<std::string> names = FunctionNames();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), expected);
  EXPECT_EQ(names.size(), expected.size());
  // all_imports.wasm imports all 46 with wasi-libc's witx-generated signatures: it links, so each one is
  // provided with the right type.
  WasiConfig c;
  c.args = {"all_imports"};
  auto l = Load("all_imports", std::move(c));
  ASSERT_TRUE(l);
  std::set<std::string> imported;
  for (const auto& imp : l->module->imports()) {
    EXPECT_EQ(imp.module, "wasi_snapshot_preview1");
    imported.insert(imp.name);
  }
  EXPECT_EQ(imported, expected);
  auto code = RunCommand(*l->store, *l->instance);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 46u);
}

}  // namespace
}  // namespace wasmq::wasi::testing
