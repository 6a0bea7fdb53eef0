// File: tests/wasi/command_test.cc
//
// wasi::RunCommand, the one way wasmq runs a command module: deadlines (on the process's one timer thread,
// however many runs there are), cancellation from another thread, fuel, the engine's memory cap, the
// embedder's own imports, and the IsCommand rule on the cases the worker and the `wasm` engine used to
// disagree about.
#include <dirent.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "helpers.h"
#include "wasi/deadlines.h"
#include "wasi/wasi.h"

namespace wasmq::wasi::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::shared_ptr<const wasm::Module> Compile(const wasm::Engine& engine, const std::string& name) {
  std::string bytes = ReadFile(ModulePath(name));
  auto m = wasm::Module::Compile(
      engine, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  EXPECT_TRUE(m.ok()) << name << ": " << (m.ok() ? "" : m.error().message);
  return m.ok() ? *m : nullptr;
}

CommandRequest Request(const wasm::Engine& engine, const wasm::Module& module,
                       std::vector<std::string> args) {
  CommandRequest req;
  req.engine = &engine;
  req.module = &module;
  req.wasi.args = std::move(args);
  return req;
}

// The threads of this process, as the kernel counts them.
int ThreadCount() {
  DIR* d = opendir("/proc/self/task");
  if (!d) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// ---- IsCommand ----------------------------------------------------------------------------------------

TEST(CommandTest, IsCommandIsStartWithoutInitialize) {
  wasm::Engine engine;
  EXPECT_TRUE(IsCommand(*Compile(engine, "trap")));  // wasi-libc's command: _start only
  EXPECT_TRUE(IsCommand(*Compile(engine, "spin")));

  auto reactor = WhyNotCommand(*Compile(engine, "invoke_reactor"));  // _initialize only
  ASSERT_TRUE(reactor);
  EXPECT_EQ(*reactor, "exports no _start function");

  // The worker used to refuse it and the `wasm` engine to accept it: a _start that is no function.
  auto global = WhyNotCommand(*Compile(engine, "start_global"));
  ASSERT_TRUE(global);
  EXPECT_EQ(*global, "exports no _start function");

  // Both used to accept it: a module that says it is a command and a reactor.
  auto both = WhyNotCommand(*Compile(engine, "both_kinds"));
  ASSERT_TRUE(both);
  EXPECT_NE(both->find("both _start and _initialize"), std::string::npos) << *both;
}

TEST(CommandTest, ANonCommandIsRefusedBeforeItRuns) {
  wasm::Engine engine;
  for (const char* name : {"both_kinds", "start_global", "start_typed"}) {
    auto module = Compile(engine, name);
    CommandResult r = RunCommand(Request(engine, *module, {name}));
    EXPECT_FALSE(r.exit_code) << name;
    EXPECT_EQ(r.error.kind, wasm::ErrorKind::Unlinkable) << name << ": " << r.error.message;
    EXPECT_EQ(r.phase, CommandResult::Phase::Run) << name;  // it instantiated; its _start never ran
  }
  auto typed = Compile(engine, "start_typed");
  EXPECT_NE(RunCommand(Request(engine, *typed, {})).error.message.find("_start has type"), std::string::npos);
}

// ---- exit codes, capture, imports ---------------------------------------------------------------------

TEST(CommandTest, ExitCodeCaptureAndTiming) {
  wasm::Engine engine;
  auto module = Compile(engine, "trap");
  CommandResult ok = RunCommand(Request(engine, *module, {"trap", "ok"}));
  ASSERT_TRUE(ok.exit_code) << ok.error.message;
  EXPECT_EQ(*ok.exit_code, 0u);
  EXPECT_EQ(ok.stdout_data, "ok\n");
  EXPECT_EQ(ok.phase, CommandResult::Phase::Run);
  EXPECT_GT(ok.instantiate_seconds, 0);
  EXPECT_GT(ok.run_seconds, 0);

  CommandResult trap = RunCommand(Request(engine, *module, {"trap", "div"}));
  EXPECT_FALSE(trap.exit_code);
  EXPECT_EQ(trap.error.kind, wasm::ErrorKind::Trap);
  EXPECT_EQ(trap.stopped_by, StopCause::None);
  ASSERT_FALSE(trap.backtrace.empty());
  EXPECT_EQ(trap.backtrace[0].function, "divide");
}

TEST(CommandTest, TheEmbeddersImportsSitBesideWasi) {
  wasm::Engine engine;
  auto module = Compile(engine, "host_answer");
  CommandRequest req = Request(engine, *module, {});
  req.add_imports = [](wasm::Store& store, wasm::Imports& imports) {
    wasm::FuncInst* f = store.NewHostFunc(wasm::FuncType{{}, {wasm::ValType::I32}},
                                          [](wasm::HostContext&, uint64_t* slots) -> wasm::Result<void> {
                                            slots[0] = 42;
                                            return {};
                                          });
    imports.Add("host", "answer", wasm::Extern{wasm::ExternKind::Func, f});
  };
  CommandResult r = RunCommand(std::move(req));
  ASSERT_TRUE(r.exit_code) << r.error.message;
  EXPECT_EQ(*r.exit_code, 42u);

  // Without them the module does not link.
  CommandResult unlinked = RunCommand(Request(engine, *module, {}));
  EXPECT_EQ(unlinked.phase, CommandResult::Phase::Instantiate);
  EXPECT_EQ(unlinked.error.kind, wasm::ErrorKind::Unlinkable);
}

TEST(CommandTest, AnEntryRunsInsteadOfStart) {
  wasm::Engine engine;
  auto module = Compile(engine, "invoke_reactor");  // no _start: only an entry can run it
  CommandRequest req = Request(engine, *module, {});
  bool called = false;
  req.entry = [&](wasm::Store&, const wasm::Instance& inst) -> wasm::Result<uint32_t> {
    called = inst.GetFunc("_initialize") != nullptr;
    return 7u;
  };
  CommandResult r = RunCommand(std::move(req));
  EXPECT_TRUE(called);
  ASSERT_TRUE(r.exit_code) << r.error.message;
  EXPECT_EQ(*r.exit_code, 7u);
}

TEST(CommandTest, AMissingPreopenFailsTheSetup) {
  wasm::Engine engine;
  auto module = Compile(engine, "trap");
  CommandRequest req = Request(engine, *module, {"trap"});
  req.wasi.preopens = {{"/in", "/nonexistent/wasmq-command-test", true}};
  CommandResult r = RunCommand(std::move(req));
  EXPECT_EQ(r.phase, CommandResult::Phase::Setup);
  EXPECT_EQ(r.error.kind, wasm::ErrorKind::Resource);
  EXPECT_NE(r.error.message.find("/nonexistent/wasmq-command-test"), std::string::npos) << r.error.message;
}

// ---- limits -------------------------------------------------------------------------------------------

TEST(CommandTest, DeadlineStopsAnInfiniteLoop) {
  wasm::Engine engine;
  auto module = Compile(engine, "spin");
  CommandRequest req = Request(engine, *module, {});
  const auto t0 = Clock::now();
  req.deadline = t0 + 200ms;
  CommandResult r = RunCommand(std::move(req));
  const double took = SecondsSince(t0);
  EXPECT_FALSE(r.exit_code);
  EXPECT_EQ(r.error.kind, wasm::ErrorKind::Interrupted) << r.error.message;
  EXPECT_EQ(r.stopped_by, StopCause::Deadline);
  EXPECT_GE(took, 0.19);
  EXPECT_LT(took, 5.0);
  EXPECT_EQ(DeadlineTimer::Process().pending(), 0u);
}

TEST(CommandTest, DeadlineCutsABlockingWasiCallShort) {
  wasm::Engine engine;
  auto module = Compile(engine, "trap");
  CommandRequest req = Request(engine, *module, {"trap", "sleep"});  // nanosleep for an hour
  const auto t0 = Clock::now();
  req.deadline = t0 + 200ms;
  CommandResult r = RunCommand(std::move(req));
  EXPECT_EQ(r.error.kind, wasm::ErrorKind::Interrupted) << r.error.message;
  EXPECT_EQ(r.stopped_by, StopCause::Deadline);
  EXPECT_LT(SecondsSince(t0), 5.0);
}

TEST(CommandTest, APassedDeadlineStopsTheRunAtOnce) {
  wasm::Engine engine;
  auto module = Compile(engine, "spin");
  CommandRequest req = Request(engine, *module, {});
  req.deadline = Clock::now() - 1s;
  CommandResult r = RunCommand(std::move(req));
  EXPECT_EQ(r.stopped_by, StopCause::Deadline);
}

TEST(CommandTest, CancelFromAnotherThreadStopsTheRun) {
  wasm::Engine engine;
  auto module = Compile(engine, "trap");
  for (const char* what : {"spin", "sleep"}) {
    CommandCancel cancel;
    CommandRequest req = Request(engine, *module, {"trap", what});
    req.cancel = &cancel;
    req.deadline = Clock::now() + 60s;  // far away: the cancel, not the deadline, stops it
    std::thread canceller([&] {
      std::this_thread::sleep_for(50ms);  // let it start; the assertions do not depend on it
      cancel.Cancel();
    });
    const auto t0 = Clock::now();
    CommandResult r = RunCommand(std::move(req));
    canceller.join();
    EXPECT_EQ(r.error.kind, wasm::ErrorKind::Interrupted) << what << ": " << r.error.message;
    EXPECT_EQ(r.stopped_by, StopCause::Cancelled) << what;
    EXPECT_LT(SecondsSince(t0), 5.0) << what;
  }
  EXPECT_EQ(DeadlineTimer::Process().pending(), 0u);  // the far deadlines went with their runs
}

TEST(CommandTest, ACancelBeforeTheRunStopsItAsSoonAsItStarts) {
  wasm::Engine engine;
  auto module = Compile(engine, "spin");
  CommandCancel cancel;
  cancel.Cancel();
  CommandRequest req = Request(engine, *module, {});
  req.cancel = &cancel;
  CommandResult r = RunCommand(std::move(req));
  EXPECT_EQ(r.stopped_by, StopCause::Cancelled);
}

TEST(CommandTest, FuelStopsAnInfiniteLoop) {
  wasm::Engine engine;
  auto module = Compile(engine, "spin");
  CommandRequest req = Request(engine, *module, {});
  req.fuel = 100'000;
  CommandResult r = RunCommand(std::move(req));
  EXPECT_EQ(r.error.kind, wasm::ErrorKind::Interrupted);
  EXPECT_EQ(r.stopped_by, StopCause::Fuel);
}

TEST(CommandTest, TheEnginesMemoryCapHolds) {
  wasm::EngineConfig config;
  config.max_memory_bytes = 4u << 20;
  wasm::Engine engine(config);
  // Growth past the cap is refused (malloc returns NULL), the module goes on.
  auto trap = Compile(engine, "trap");
  CommandResult grow = RunCommand(Request(engine, *trap, {"trap", "grow"}));
  ASSERT_TRUE(grow.exit_code) << grow.error.message;
  int mib = -1;
  ASSERT_EQ(std::sscanf(grow.stdout_data.c_str(), "allocated %d MiB", &mib), 1) << grow.stdout_data;
  EXPECT_LT(mib, 4);
  // A module whose memory starts above the cap does not instantiate.
  auto bigmem = Compile(engine, "bigmem");
  CommandResult big = RunCommand(Request(engine, *bigmem, {"bigmem"}));
  EXPECT_EQ(big.phase, CommandResult::Phase::Instantiate);
  EXPECT_EQ(big.error.kind, wasm::ErrorKind::Resource) << big.error.message;
}

// ---- one timer thread ---------------------------------------------------------------------------------

// Many runs at once, each under its own deadline: the process gains the runs' own threads and at most the
// one timer thread, never a watchdog per run.
TEST(CommandTest, ConcurrentDeadlinesShareOneTimerThread) {
  wasm::Engine engine;
  auto module = Compile(engine, "spin");
  constexpr int kRuns = 8;
  const int before = ThreadCount();
  const bool timer_was_started = DeadlineTimer::Process().started();
  std::atomic<int> stopped_by_deadline{0};
  std::atomic<bool> done{false};
  int most = 0;
  std::thread sampler([&] {
    while (!done.load()) {
      most = std::max(most, ThreadCount());
      std::this_thread::sleep_for(5ms);
    }
  });
  std::vector<std::thread> runs;
  for (int i = 0; i < kRuns; ++i) {
    runs.emplace_back([&, i] {
      CommandRequest req = Request(engine, *module, {});
      req.deadline = Clock::now() + 300ms + 20ms * i;  // a different deadline each
      CommandResult r = RunCommand(std::move(req));
      stopped_by_deadline += r.stopped_by == StopCause::Deadline;
    });
  }
  for (std::thread& t : runs) t.join();
  done = true;
  sampler.join();
  EXPECT_EQ(stopped_by_deadline.load(), kRuns);
  EXPECT_TRUE(DeadlineTimer::Process().started());
  // Beyond the runs and the sampler: the timer thread, if this test started it, and nothing per run.
  EXPECT_LE(most, before + kRuns + 1 + (timer_was_started ? 0 : 1)) << "before: " << before;
  // (A watchdog thread per run would make that before + 2 * kRuns + 1.)
  EXPECT_GE(most, before + kRuns) << "the sampler saw the runs' threads";

  // One run after another: the thread count does not grow with the number of calls.
  const int settled = ThreadCount();
  for (int i = 0; i < 20; ++i) {
    CommandRequest req = Request(engine, *module, {});
    req.deadline = Clock::now() + 5ms;
    EXPECT_EQ(RunCommand(std::move(req)).stopped_by, StopCause::Deadline);
  }
  EXPECT_EQ(ThreadCount(), settled);
  EXPECT_EQ(DeadlineTimer::Process().pending(), 0u);
}

TEST(CommandTest, TheTimerFiresInOrderAndNotAfterRemove) {
  DeadlineTimer timer;
  std::mutex mu;
  std::vector<int> fired;
  const auto now = Clock::now();
  auto record = [&](int n) {
    return [&, n] {
      std::lock_guard lock(mu);
      fired.push_back(n);
    };
  };
  timer.Add(now + 60ms, record(3));
  DeadlineTimer::Key removed = timer.Add(now + 2s, record(99));
  timer.Add(now + 20ms, record(2));
  timer.Add(now - 1s, record(1));  // already due
  timer.Remove(removed);
  for (int i = 0; i < 500 && timer.pending() > 0; ++i) std::this_thread::sleep_for(2ms);
  std::lock_guard lock(mu);
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
}

}  // namespace
}  // namespace wasmq::wasi::testing
