// File: tests/wasi/run_test.cc
//
// `wasmq run` end to end: the test modules (modules/*.c, built for wasm32-wasi) run through the real
// binary, and the exit code, stdout, stderr and the host file system are checked.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>

#include "helpers.h"

namespace wasmq::wasi::testing {
namespace {

// A module's own "N checks, M failures" summary (check.h): all passed, and there were at least `min`.
void ExpectAllChecksPassed(const RunResult& r, int min_checks) {
  EXPECT_EQ(r.exit_code, 0) << "stdout:\n" << r.out << "\nstderr:\n" << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"((\d+) checks, (\d+) failures)"))) << r.out << r.err;
  EXPECT_GE(std::stoi(m[1]), min_checks);
  EXPECT_EQ(m[2], "0") << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
}

// ---- args, environment, exit status -------------------------------------------------------------------

TEST(RunTest, PassesArgsAfterTheModuleVerbatim) {
  const std::string mod = ModulePath("args_env");
  RunResult r = RunWasmq({"run", mod, "a", "b c", "--env", "-x"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "argc=5\nargv[0]=" + mod + "\nargv[1]=a\nargv[2]=b c\nargv[3]=--env\nargv[4]=-x\nenvc=0\n");
  EXPECT_EQ(r.err, "");
}

TEST(RunTest, EnvironmentIsOnlyWhatIsGiven) {
  RunResult r = RunWasmq({"run", "--env", "FOO=bar", "--env", "EMPTY=", "--env", "EQ=a=b", "--env",
                          "FROM_HOST", "--env", "UNSET_ON_HOST", ModulePath("args_env")},
                         "", {"FROM_HOST=hostvalue", "WASMQ_HOST_SECRET=leak"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("env:FOO=bar\nenv:EMPTY=\nenv:EQ=a=b\nenv:FROM_HOST=hostvalue\nenvc=4\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("WASMQ_HOST_SECRET"), std::string::npos);
  EXPECT_EQ(r.out.find("PATH="), std::string::npos);
}

TEST(RunTest, ExitCodeIsTheModules) {
  EXPECT_EQ(RunWasmq({"run", ModulePath("args_env")}).exit_code, 0);  // _start returns
  EXPECT_EQ(RunWasmq({"run", ModulePath("args_env"), "exit", "42"}).exit_code, 42);
  EXPECT_EQ(RunWasmq({"run", ModulePath("args_env"), "proc_exit", "7"}).exit_code, 7);
  EXPECT_EQ(RunWasmq({"run", ModulePath("args_env"), "exit", "255"}).exit_code, 255);
  RunResult neg = RunWasmq({"run", ModulePath("args_env"), "exit", "-1"});  // proc_exit(0xffffffff)
  EXPECT_EQ(neg.exit_code, 255);
  EXPECT_EQ(neg.err, "");
  EXPECT_EQ(RunWasmq({"run", ModulePath("args_env"), "proc_exit", "256"}).exit_code, 255);
}

// ---- files --------------------------------------------------------------------------------------------

TEST(RunTest, FileOperations) {
  TempDir dir;
  RunResult r = RunWasmq({"run", "--dir", "/sandbox:" + dir.path(), ModulePath("fs"), "/sandbox"});
  ExpectAllChecksPassed(r, 190);
  // What the module wrote is on the host, and nothing else is left behind.
  EXPECT_EQ(ReadFile(dir / "from_wasm.txt"), "written by wasm\n");
  EXPECT_EQ(ReadFile(dir / "a.txt"), "Jello");
  EXPECT_FALSE(Exists(dir / "d"));
  EXPECT_FALSE(Exists(dir / "link"));
}

// What the public WASI testsuite (tests/wasi/run-wasi-testsuite.sh) found: a trailing '/' on the new name
// of path_symlink / path_link, and the rights path_open's SYNC flags need (modules/paths.c).
TEST(RunTest, PathRulesFromTheWasiTestsuite) {
  TempDir dir;
  RunResult r = RunWasmq({"run", "--dir", "/s:" + dir.path(), ModulePath("paths"), "/s"});
  ExpectAllChecksPassed(r, 40);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(RunTest, DirWithoutGuestNameUsesTheHostPath) {
  TempDir dir;
  RunResult r = RunWasmq({"run", "--dir", dir.path(), ModulePath("fs"), dir.path()});
  ExpectAllChecksPassed(r, 190);
  EXPECT_EQ(ReadFile(dir / "from_wasm.txt"), "written by wasm\n");
}

// ---- the sandbox --------------------------------------------------------------------------------------

// The layout sandbox.c expects (see its header comment).
void PrepareSandbox(const TempDir& t) {
  const std::string box = t / "box";
  mkdir(box.c_str(), 0755);
  mkdir((box + "/sub").c_str(), 0755);
  WriteFile(t / "secret.txt", "TOP SECRET\n");
  WriteFile(box + "/inside.txt", "inside\n");
  ASSERT_EQ(symlink("/etc", (box + "/link_abs").c_str()), 0);
  ASSERT_EQ(symlink((t / "secret.txt").c_str(), (box + "/link_secret_abs").c_str()), 0);
  ASSERT_EQ(symlink("../secret.txt", (box + "/link_up").c_str()), 0);
  ASSERT_EQ(symlink("../../secret.txt", (box + "/sub/link_upup").c_str()), 0);
  ASSERT_EQ(symlink("../inside.txt", (box + "/sub/ok_link").c_str()), 0);
  ASSERT_EQ(symlink("sub", (box + "/dirlink").c_str()), 0);
  ASSERT_EQ(symlink("loop2", (box + "/loop1").c_str()), 0);
  ASSERT_EQ(symlink("loop1", (box + "/loop2").c_str()), 0);
}

TEST(RunTest, SandboxEscapesAreRefused) {
  TempDir t;
  PrepareSandbox(t);
  RunResult r =
      RunWasmq({"run", "--env", "ONLY=this", "--dir", "/box:" + (t / "box"), ModulePath("sandbox"), "/box"},
               "", {"WASMQ_HOST_SECRET=leak"});
  ExpectAllChecksPassed(r, 90);
  EXPECT_EQ(r.out.find("TOP SECRET"), std::string::npos);
  // Nothing was created, moved or removed outside the box.
  EXPECT_EQ(ReadFile(t / "secret.txt"), "TOP SECRET\n");
  for (const char* name : {"moved.txt", "newdir", "hard", "evil5"}) EXPECT_FALSE(Exists(t / name)) << name;
  for (const char* name : {"evil1", "evil2", "evil4", "sub/evil3", "stolen.txt", "mover", "mover_hard"})
    EXPECT_FALSE(Exists((t / "box") + "/" + name)) << name;
  EXPECT_TRUE(Exists(t / "box/sub/good"));
}

TEST(RunTest, SymlinksPlantedDuringTheRunCannotLeadOut) {
  TempDir t;
  const std::string box = t / "box";
  mkdir(box.c_str(), 0755);
  WriteFile(t / "secret.txt", "TOP SECRET\n");
  Process p({"run", "--dir", "/box:" + box, ModulePath("race"), "/box"});
  // Wait for the module to create its directories, then swap them for symlinks that point out.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!Exists(box + "/ready") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(Exists(box + "/ready"));
  ASSERT_EQ(rmdir((box + "/race_abs").c_str()), 0);
  ASSERT_EQ(symlink(t.path().c_str(), (box + "/race_abs").c_str()), 0);
  ASSERT_EQ(rmdir((box + "/race_rel").c_str()), 0);
  ASSERT_EQ(symlink("..", (box + "/race_rel").c_str()), 0);
  WriteFile(box + "/go", "");
  RunResult r = p.Wait();
  ExpectAllChecksPassed(r, 14);
  EXPECT_FALSE(Exists(t / "planted"));
}

// ---- clocks, random, poll, misc -----------------------------------------------------------------------

TEST(RunTest, ClocksRandomPollAndSockets) {
  RunResult r = RunWasmq({"run", ModulePath("clock_random")});
  ExpectAllChecksPassed(r, 45);
}

// ---- stdio --------------------------------------------------------------------------------------------

TEST(RunTest, StdinStdoutStderrAreTheProcesss) {
  RunResult r = RunWasmq({"run", ModulePath("stdio")}, "hello, wasm\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "stdin:12:HELLO, WASM\n");
  EXPECT_EQ(r.err, "to-stderr\n");
  RunResult empty = RunWasmq({"run", ModulePath("stdio")}, "");
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_EQ(empty.out, "stdin:0:");
  RunResult big = RunWasmq({"run", ModulePath("stdio"), "big", "1000000"});
  EXPECT_EQ(big.exit_code, 0);
  EXPECT_EQ(big.out.size(), 1000000u);
}

// ---- traps --------------------------------------------------------------------------------------------

// The first stderr line, and the function names of the backtrace in order.
struct TrapReport {
  std::string first_line;
  std::vector<std::string> frames;
};

TrapReport ParseTrap(const std::string& err) {
  TrapReport t;
  std::istringstream in(err);
  std::string line;
  std::getline(in, t.first_line);
  std::regex frame(R"(^  [0-9.]+: (\S+))");
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, frame)) t.frames.push_back(m[1]);
  }
  return t;
}

TEST(RunTest, TrapPrintsReasonAndNamedBacktrace) {
  RunResult r = RunWasmq({"run", ModulePath("trap"), "div"});
  EXPECT_EQ(r.exit_code, 134);
  EXPECT_EQ(r.out, "");
  TrapReport t = ParseTrap(r.err);
  EXPECT_EQ(t.first_line, "trap: integer divide by zero");
  EXPECT_NE(r.err.find("\nwasm backtrace:\n"), std::string::npos) << r.err;
  ASSERT_GE(t.frames.size(), 4u) << r.err;
  EXPECT_EQ(t.frames[0], "divide");
  EXPECT_EQ(t.frames[1], "compute");
  EXPECT_EQ(t.frames[2], "main");
  EXPECT_NE(std::find(t.frames.begin(), t.frames.end(), "_start"), t.frames.end()) << r.err;
}

TEST(RunTest, TrapKinds) {
  struct Case {
    const char* arg;
    const char* line;
    const char* innermost;
  } cases[] = {
      {"unreachable", "trap: unreachable", "reach_unreachable"},
      {"abort", "trap: unreachable", "abort"},
      {"oob", "trap: out of bounds memory access", "load_far"},
      {"stack", "trap: call stack exhausted", "recurse"},
  };
  for (const Case& c : cases) {
    RunResult r = RunWasmq({"run", ModulePath("trap"), c.arg});
    EXPECT_EQ(r.exit_code, 134) << c.arg;
    TrapReport t = ParseTrap(r.err);
    EXPECT_EQ(t.first_line, c.line) << c.arg;
    ASSERT_FALSE(t.frames.empty()) << c.arg << ": " << r.err;
    EXPECT_EQ(t.frames[0], c.innermost) << c.arg;
  }
  // A deep recursion is summarised, not 20000 lines long.
  RunResult deep = RunWasmq({"run", ModulePath("trap"), "stack"});
  EXPECT_LT(CountLines(deep.err), 60) << deep.err;
  EXPECT_NE(deep.err.find("recursive frames"), std::string::npos) << deep.err;
}

// ---- limits -------------------------------------------------------------------------------------------

TEST(RunTest, FuelStopsAnInfiniteLoop) {
  RunResult r = RunWasmq({"run", "--fuel", "1000000", ModulePath("trap"), "spin"});
  EXPECT_EQ(r.exit_code, 124) << r.err;
  TrapReport t = ParseTrap(r.err);
  EXPECT_EQ(t.first_line, "trap: interrupted (out of fuel: --fuel 1000000)");
  ASSERT_FALSE(t.frames.empty());
  EXPECT_EQ(t.frames[0], "spin");
  // Enough fuel lets a program finish.
  EXPECT_EQ(RunWasmq({"run", "--fuel", "100000000", ModulePath("trap"), "ok"}).exit_code, 0);
}

TEST(RunTest, TimeoutStopsAnInfiniteLoop) {
  RunResult r = RunWasmq({"run", "--timeout-ms", "300", ModulePath("trap"), "spin"});
  EXPECT_EQ(r.exit_code, 124) << r.err;
  EXPECT_EQ(ParseTrap(r.err).first_line, "trap: interrupted (timeout after 300 ms)");
  EXPECT_GE(r.seconds, 0.29);
  EXPECT_LT(r.seconds, 10.0);
}

TEST(RunTest, TimeoutStopsASleepingModule) {
  // The module sleeps for an hour inside poll_oneoff: the timeout must cut the host call short.
  RunResult r = RunWasmq({"run", "--timeout-ms", "200", ModulePath("trap"), "sleep"});
  EXPECT_EQ(r.exit_code, 124) << r.err;
  TrapReport t = ParseTrap(r.err);
  EXPECT_EQ(t.first_line, "trap: interrupted (timeout after 200 ms)");
  EXPECT_NE(std::find(t.frames.begin(), t.frames.end(), "sleep_forever"), t.frames.end()) << r.err;
  EXPECT_LT(r.seconds, 10.0);
}

TEST(RunTest, MaxMemoryRefusesGrowth) {
  RunResult capped = RunWasmq({"run", "--max-memory", "4MiB", ModulePath("trap"), "grow"});
  ASSERT_EQ(capped.exit_code, 0) << capped.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(capped.out, m, std::regex(R"(allocated (\d+) MiB)"))) << capped.out;
  EXPECT_LT(std::stoi(m[1]), 4);
  RunResult free = RunWasmq({"run", ModulePath("trap"), "grow"});
  EXPECT_EQ(free.out, "allocated 64 MiB\n");
}

TEST(RunTest, MaxMemoryRefusesAModuleThatStartsTooBig) {
  RunResult r = RunWasmq({"run", "--max-memory", "16MiB", ModulePath("bigmem")});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("exceeds the limit"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--max-memory 16MiB"), std::string::npos) << r.err;
  EXPECT_EQ(RunWasmq({"run", ModulePath("bigmem")}).exit_code, 0);
}

// ---- output quota -------------------------------------------------------------------------------------

TEST(RunTest, MaxOutputRefusesGrowthWithEdquot) {
  TempDir dir;
  RunResult r = RunWasmq({"run", "--max-output", "64KiB", "--max-output-files", "8", "--dir",
                          "/out:" + dir.path(), ModulePath("quota"), "/out"});
  // quota.c checks every refusal from the inside; it hit the quota, so wasmq run exits 123 saying so.
  EXPECT_EQ(r.exit_code, 123) << r.out << r.err;
  EXPECT_NE(r.out.find(" checks, 0 failures"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("more than 65536 bytes of output (--max-output 64KiB"), std::string::npos) << r.err;
}

TEST(RunTest, MaxOutputFailsAModuleThatIgnoresEdquot) {
  TempDir dir;
  RunResult r = RunWasmq(
      {"run", "--max-output", "64KiB", "--dir", "/out:" + dir.path(), ModulePath("quota"), "/out", "fill"});
  EXPECT_EQ(r.exit_code, 123) << r.err;
  EXPECT_EQ(r.out, "wrote 65536\n");
  EXPECT_EQ(std::filesystem::file_size(dir / "big.bin"), 65536u);
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  // Without the flag wasmq run sets no limit: the directories are the caller's own.
  TempDir free;
  RunResult f = RunWasmq({"run", "--dir", "/out:" + free.path(), ModulePath("quota"), "/out", "fill"});
  EXPECT_EQ(f.exit_code, 0) << f.err;
  EXPECT_EQ(f.out, "wrote 1048576\n");
  EXPECT_EQ(RunWasmq({"run", "--max-output", "lots", ModulePath("quota")}).exit_code, 2);
}

// ---- --invoke -----------------------------------------------------------------------------------------

TEST(RunTest, InvokeCallsAnExportWithTypedArgs) {
  const std::string mod = ModulePath("invoke_reactor");
  RunResult add = RunWasmq({"run", "--invoke", "add", mod, "2", "-5"});
  EXPECT_EQ(add.exit_code, 0) << add.err;
  EXPECT_EQ(add.out, "-3\n");
  EXPECT_EQ(RunWasmq({"run", "--invoke", "add", mod, "0xffffffff", "1"}).out, "0\n");
  EXPECT_EQ(RunWasmq({"run", "--invoke", "mul64", mod, "4294967296", "-3"}).out, "-12884901888\n");
  EXPECT_EQ(RunWasmq({"run", "--invoke", "half", mod, "3"}).out, "1.5\n");
  EXPECT_EQ(RunWasmq({"run", "--invoke", "halff", mod, "0.1"}).out, "0.05\n");
  // _initialize ran (the constructor), and WASI works inside the call
  EXPECT_EQ(RunWasmq({"run", "--invoke", "greet", mod}).out, "hello from greet (initialized=1)\n7\n");
  RunResult trap = RunWasmq({"run", "--invoke", "div0", mod, "1"});
  EXPECT_EQ(trap.exit_code, 134);
  EXPECT_EQ(ParseTrap(trap.err).first_line, "trap: integer divide by zero");
}

TEST(RunTest, InvokeArgumentErrors) {
  const std::string mod = ModulePath("invoke_reactor");
  RunResult few = RunWasmq({"run", "--invoke", "add", mod, "1"});
  EXPECT_EQ(few.exit_code, 2);
  EXPECT_NE(few.err.find("expects 2 argument(s)"), std::string::npos) << few.err;
  RunResult bad = RunWasmq({"run", "--invoke", "add", mod, "1", "x"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("'x' is not a valid i32"), std::string::npos) << bad.err;
  EXPECT_EQ(RunWasmq({"run", "--invoke", "add", mod, "1", "4294967296"}).exit_code, 2);
  RunResult none = RunWasmq({"run", "--invoke", "nope", mod});
  EXPECT_EQ(none.exit_code, 125);
  EXPECT_NE(none.err.find("no exported function 'nope'"), std::string::npos) << none.err;
  RunResult reactor = RunWasmq({"run", mod});  // no _start
  EXPECT_EQ(reactor.exit_code, 125);
  EXPECT_NE(reactor.err.find("no _start"), std::string::npos) << reactor.err;
}

// ---- load errors --------------------------------------------------------------------------------------

TEST(RunTest, LoadErrorsAreOneLineNamingTheProblem) {
  TempDir t;
  RunResult missing = RunWasmq({"run", t / "nope.wasm"});
  EXPECT_EQ(missing.exit_code, 125);
  EXPECT_EQ(missing.err, "wasmq: cannot read '" + (t / "nope.wasm") + "': No such file or directory\n");

  WriteFile(t / "junk.wasm", "this is not wasm");
  RunResult junk = RunWasmq({"run", t / "junk.wasm"});
  EXPECT_EQ(junk.exit_code, 125);
  EXPECT_EQ(CountLines(junk.err), 1) << junk.err;
  EXPECT_NE(junk.err.find("malformed module"), std::string::npos) << junk.err;

  // () -> i32 whose body returns nothing
  WriteFile(t / "invalid.wasm", std::string("\0asm\1\0\0\0\1\5\1\x60\0\1\x7f\3\2\1\0\n\4\1\2\0\x0b", 25));
  RunResult invalid = RunWasmq({"run", t / "invalid.wasm"});
  EXPECT_EQ(invalid.exit_code, 125);
  EXPECT_EQ(CountLines(invalid.err), 1) << invalid.err;
  EXPECT_NE(invalid.err.find("invalid module: type mismatch"), std::string::npos) << invalid.err;

  RunResult import = RunWasmq({"run", ModulePath("import_missing")});
  EXPECT_EQ(import.exit_code, 125);
  EXPECT_EQ(CountLines(import.err), 1) << import.err;
  EXPECT_NE(import.err.find("env.missing_fn"), std::string::npos) << import.err;

  RunResult dir = RunWasmq({"run", t.path()});
  EXPECT_EQ(dir.exit_code, 125);
  EXPECT_NE(dir.err.find("is a directory"), std::string::npos) << dir.err;
}

TEST(RunTest, UsageErrors) {
  TempDir t;
  const std::string mod = ModulePath("args_env");
  struct Case {
    std::vector<std::string> args;
    const char* message;
  } cases[] = {
      {{"run"}, "MODULE.wasm is required"},
      {{"run", "--bogus", mod}, "unknown option '--bogus'"},
      {{"run", "--fuel", "lots", mod}, "--fuel"},
      {{"run", "--max-memory", "12XB", mod}, "--max-memory"},
      {{"run", "--dir", t / "missing", mod}, "missing"},
      {{"run", "--dir", ":" + t.path(), mod}, "GUEST:HOST"},
      {{"run", "--env", "=x", mod}, "--env"},
  };
  for (const Case& c : cases) {
    RunResult r = RunWasmq(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args.back() << ": " << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace wasmq::wasi::testing
