// File: src/wasi/wasi.h
//
// WASI preview1 (`wasi_snapshot_preview1`) for command modules, on wasmq's engine.
//
//   wasi::WasiConfig config;
//   config.args = {"pipeline.wasm", "--fast"};
//   config.env = {"MODE=HEAD_SWAP"};
//   config.preopens = {{"/in", "/var/lib/wasmq/task_1/in", /*read_only=*/true},
//                      {"/out", "/var/lib/wasmq/task_1/out"}};
//   config.stdin_mode = wasi::StdioMode::Capture;            // fd 0 reads config.stdin_data
//   config.stdin_data = task_json;
//   auto ctx = wasi::Wasi::Create(std::move(config));        // opens the preopened directories
//   wasm::Imports imports;
//   (*ctx)->AddToImports(store, imports);                     // every wasi_snapshot_preview1 function
//   auto inst = store.Instantiate(*module, imports);
//   auto code = wasi::RunCommand(store, *inst);               // exit code, or the trap
//   std::string logs = (*ctx)->stderr_data();
//
// Those are the steps; RunCommand(CommandRequest) (command.h, included at the end of this header) does
// them all, under a deadline, cancellation, fuel and the engine's caps, with the embedder's own imports:
// what `wasmq run`, the worker and the `wasm` engine use.
//
// Sandbox: the module sees only what the config gives it. Its fd table is wasmq's own (0-2 stdio, 3..
// the preopens in order, then what it opens); no host fd is reachable. Every path is resolved by wasmq
// component by component beneath a preopened directory: absolute paths, `..` above the preopen and
// symlinks whose target leaves the preopen (also ones created while the module runs) fail with
// ENOTCAPABLE; the kernel never follows a symlink on the module's behalf. The module cannot create (or
// move or hard-link into place) a symlink whose target is absolute or climbs above its preopen either, so
// what it leaves behind is safe for the host to read -- though a host collecting results from a directory
// the module wrote should still open files with O_NOFOLLOW (a whole directory of relative links can be
// moved up). Rights are checked on every call. The environment holds only config.env.
//
// Output quota: with WasiConfig::max_output_bytes / max_output_files set, what the module adds to the
// preopened directories is bounded: a write, pwrite, allocate, set_size or truncating open that would make
// the files it can reach larger than the quota, and a create, mkdir, symlink or link past the file count,
// fail with EDQUOT and nothing changes. Removing or shrinking files gives the room back. The quota counts
// growth from the state at Create (a pre-filled directory does not count against it), by logical size (a
// sparse file counts as long as it is). output_quota_exceeded() tells the embedder that the module hit it.
//
// Threading: one Wasi context belongs to the thread that runs its store; Interrupt() may be called from
// any thread. The Wasi object must outlive every store it was added to.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wasm/wasm.h"

namespace wasmq::wasi {

// What a standard stream is connected to.
enum class StdioMode {
  Inherit,  // the host process's own fd 0/1/2
  Capture,  // stdin: reads WasiConfig::stdin_data; stdout/stderr: kept in a buffer (and the callback)
  Null,     // stdin: end of file at once; stdout/stderr: discarded
};

struct Preopen {
  std::string guest_path;  // the name the module sees (fd_prestat_dir_name), e.g. "/in" or "."
  std::string host_path;   // an existing host directory
  bool read_only = false;  // no right to write, create, rename, link or remove anything beneath it
};

struct WasiConfig {
  std::vector<std::string> args;  // argv; args[0] is the program name by convention
  std::vector<std::string> env;   // "KEY=VALUE" entries: the module's whole environment
  std::vector<Preopen> preopens;  // fds 3, 4, ... in this order

  // Defaults suit a worker: nothing of the host's stdio is shared.
  StdioMode stdin_mode = StdioMode::Null;
  StdioMode stdout_mode = StdioMode::Capture;
  StdioMode stderr_mode = StdioMode::Capture;
  std::string stdin_data;  // what fd 0 reads in Capture mode
  // Capture: at most this many bytes are kept per stream; the rest is dropped (and counted). A write is
  // still reported as complete to the module.
  size_t max_capture_bytes = 64u << 20;
  // Output quota (see above), 0 = unlimited: bytes the module may add to files beneath the preopens, and
  // names (files, directories, symlinks, links) it may add there.
  uint64_t max_output_bytes = 0;
  uint64_t max_output_files = 0;
  // Capture: called with every chunk the module writes (before the cap), e.g. to stream logs.
  std::function<void(std::string_view)> on_stdout;
  std::function<void(std::string_view)> on_stderr;
};

class WasiImpl;

class Wasi {
 public:
  // Opens every preopened directory. Error (ErrorKind::Resource) naming the preopen that cannot be used.
  static wasm::Result<std::unique_ptr<Wasi>> Create(WasiConfig config);
  ~Wasi();
  Wasi(const Wasi&) = delete;
  Wasi& operator=(const Wasi&) = delete;

  // Makes every wasi_snapshot_preview1 function, bound to this context, available through `imports`:
  // a resolver (wasm::Imports::AddResolver) creates in `store` only the functions an instantiated module
  // imports, from definitions shared by all contexts. Entries Add()ed for the same names take precedence.
  void AddToImports(wasm::Store& store, wasm::Imports& imports);

  // Makes a blocking WASI call (poll_oneoff sleeping, a read from inherited stdin) return at once with an
  // ErrorKind::Interrupted error, now and until ResetInterrupt(). Thread-safe. Pair it with
  // Store::Interrupt() to stop a module wherever it is.
  void Interrupt();
  void ResetInterrupt();

  // Captured output (Capture mode), and how many bytes the cap dropped.
  const std::string& stdout_data() const;
  const std::string& stderr_data() const;
  uint64_t stdout_dropped() const;
  uint64_t stderr_dropped() const;

  // Set once the output quota refused an operation (whatever the module did next): says which limit, e.g.
  // "more than 268435456 bytes of output".
  const std::optional<std::string>& output_quota_exceeded() const;
  // What the module has added so far (net: removals count back; negative when it removed more than it
  // added).
  int64_t output_bytes() const;
  int64_t output_files() const;

  // The code passed to proc_exit, once the module called it.
  std::optional<uint32_t> exit_code() const;

  WasiImpl& impl() { return *impl_; }

 private:
  explicit Wasi(std::unique_ptr<WasiImpl> impl);
  std::unique_ptr<WasiImpl> impl_;
};

// Runs a command module's `_start` in an instance the caller made (the last step of
// RunCommand(CommandRequest)). Returns the exit status: 0 when `_start` returns, proc_exit's code
// otherwise. Any other failure (trap, exhaustion, interruption) comes back as the engine's Error, with
// Store::last_backtrace() set. A module that exports no `_start` (of type () -> ()) is
// ErrorKind::Unlinkable.
wasm::Result<uint32_t> RunCommand(wasm::Store& store, const wasm::Instance& instance);

// The names of every function of wasi_snapshot_preview1 that AddToImports provides.
std::vector<std::string> FunctionNames();

}  // namespace wasmq::wasi

#include "wasi/command.h"  // RunCommand(CommandRequest), IsCommand, CommandCancel
