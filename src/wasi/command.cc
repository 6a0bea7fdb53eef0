// File: src/wasi/command.cc
#include <atomic>
#include <memory>
#include <utility>

#include "wasi/deadlines.h"
#include "wasi/wasi.h"

namespace wasmq::wasi {

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void InterruptRun(wasm::Store* store, Wasi* wasi) {
  store->Interrupt();
  wasi->Interrupt();
}

// While alive: the run's deadline is registered with the process's timer and its cancel is attached, so
// either interrupts the store and the WASI context. The destructor undoes both before the store goes.
class RunGuard {
 public:
  RunGuard(wasm::Store& store, Wasi& wasi, Clock::time_point deadline, CommandCancel* cancel)
      : cancel_(cancel) {
    if (deadline != Clock::time_point::max()) {
      deadline_ = DeadlineTimer::Process().Add(deadline, [this, store_ptr = &store, wasi_ptr = &wasi] {
        fired_.store(true);
        InterruptRun(store_ptr, wasi_ptr);
      });
    }
    if (cancel_) cancel_->Attach(&store, &wasi);
  }
  ~RunGuard() { Release(); }
  RunGuard(const RunGuard&) = delete;
  RunGuard& operator=(const RunGuard&) = delete;

  // Ends the guard early; afterwards fired() no longer changes.
  void Release() {
    if (deadline_) DeadlineTimer::Process().Remove(*deadline_);
    deadline_.reset();
    if (cancel_) cancel_->Detach();
    cancel_ = nullptr;
  }
  bool fired() const { return fired_.load(); }

 private:
  CommandCancel* cancel_;
  std::optional<DeadlineTimer::Key> deadline_;
  std::atomic<bool> fired_{false};
};

}  // namespace

std::optional<std::string> WhyNotCommand(const wasm::Module& module) {
  bool start = false, initialize = false;
  for (const auto& e : module.exports()) {
    start = start || (e.name == "_start" && e.kind == wasm::ExternKind::Func);
    initialize = initialize || e.name == "_initialize";
  }
  if (!start) return "exports no _start function";
  if (initialize)
    return "exports both _start and _initialize (a WASI module is a command or a reactor, not both)";
  return std::nullopt;
}

void CommandCancel::Cancel() {
  base::MutexLock lock(mu_);
  cancelled_ = true;
  if (store_) InterruptRun(store_, wasi_);
}

bool CommandCancel::cancelled() const {
  base::MutexLock lock(mu_);
  return cancelled_;
}

void CommandCancel::Attach(wasm::Store* store, Wasi* wasi) {
  base::MutexLock lock(mu_);
  store_ = store;
  wasi_ = wasi;
  if (cancelled_) InterruptRun(store_, wasi_);  // a Cancel() that came before the run
}

void CommandCancel::Detach() {
  base::MutexLock lock(mu_);
  store_ = nullptr;
  wasi_ = nullptr;
}

CommandResult RunCommand(CommandRequest req) {
  CommandResult out;
  std::unique_ptr<Wasi> own;  // declared before the store: it must outlive it
  Wasi* wasi = req.context;
  if (!wasi) {
    auto made = Wasi::Create(std::move(req.wasi));
    if (!made) {
      out.error = made.error();
      return out;
    }
    own = std::move(*made);
    wasi = own.get();
  }
  wasm::Store store(*req.engine);
  if (req.fuel > 0) store.SetFuel(req.fuel);
  wasm::Imports imports;
  wasi->AddToImports(store, imports);
  if (req.add_imports) req.add_imports(store, imports);

  RunGuard guard(store, *wasi, req.deadline, req.cancel);  // from here on the module may be stopped
  out.phase = CommandResult::Phase::Instantiate;
  const auto instantiating = Clock::now();
  auto inst = store.Instantiate(*req.module, imports);
  out.instantiate_seconds = SecondsSince(instantiating);
  auto run = [&]() -> wasm::Result<uint32_t> {
    if (!inst) return inst.error();
    out.phase = CommandResult::Phase::Run;
    if (req.entry) return req.entry(store, *inst);
    // Checked here rather than before instantiating, so that a link error is what a module with both
    // problems reports (as `wasmq run` always did).
    if (auto why = WhyNotCommand(*req.module))
      return wasm::MakeError(wasm::ErrorKind::Unlinkable, "the module " + *why);
    return RunCommand(store, *inst);  // checks _start's type
  };
  const auto running = Clock::now();
  wasm::Result<uint32_t> code = run();
  if (out.phase == CommandResult::Phase::Run) out.run_seconds = SecondsSince(running);
  guard.Release();

  if (code) {
    out.exit_code = *code;
  } else {
    out.error = code.error();
    out.backtrace = store.last_backtrace();
    if (out.error.kind == wasm::ErrorKind::Interrupted) {
      // The first cause wins when several raced: a cancel, then the deadline, then fuel.
      if (req.cancel && req.cancel->cancelled())
        out.stopped_by = StopCause::Cancelled;
      else if (guard.fired())
        out.stopped_by = StopCause::Deadline;
      else if (req.fuel > 0 &&
               (store.fuel_remaining() == 0 || out.error.message.find("fuel") != std::string::npos))
        out.stopped_by = StopCause::Fuel;
    }
  }
  out.stdout_data = wasi->stdout_data();
  out.stderr_data = wasi->stderr_data();
  out.stdout_dropped = wasi->stdout_dropped();
  out.stderr_dropped = wasi->stderr_dropped();
  out.output_quota_exceeded = wasi->output_quota_exceeded();
  return out;
}

}  // namespace wasmq::wasi
