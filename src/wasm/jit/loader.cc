// File: src/wasm/jit/loader.cc
//
// Opens wasmq-jit.so (the compiler and LLVM) on the first compile, never at start-up: linking LLVM into
// wasmq made every start ~45 ms slower (measured: `wasmq --version` 24 ms -> 71 ms median), and most runs
// of the interpreter tier never compile anything.
#include <dlfcn.h>

#include <cstdlib>
#include <deque>
#include <filesystem>
#include <thread>

#include "base/digest.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "wasm/jit/jit.h"

namespace wasmq::wasm {

namespace {

// Where wasmq-jit.so is looked for, in order: $WASMQ_JIT_LIB; next to the running binary; ../lib/wasmq/
// from it (an installed layout); the build tree (tests run from other folders).
std::vector<std::string> Candidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("WASMQ_JIT_LIB"); env && *env) out.emplace_back(env);
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back((exe.parent_path() / "wasmq-jit.so").string());
    out.push_back((exe.parent_path().parent_path() / "lib/wasmq/wasmq-jit.so").string());
  }
#ifdef WASMQ_JIT_BUILD_PATH
  out.emplace_back(WASMQ_JIT_BUILD_PATH);
#endif
  return out;
}

Result<JitCompileFn> Open() {
  std::string tried;
  for (const std::string& path : Candidates()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) continue;
    void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);  // stays open for the process's life
    if (library == nullptr) {
      tried += std::string(tried.empty() ? "" : "; ") + dlerror();
      continue;
    }
    if (auto fn = reinterpret_cast<JitCompileFn>(dlsym(library, WASMQ_JIT_COMPILE_SYMBOL))) return fn;
    tried += std::string(tried.empty() ? "" : "; ") + path + " lacks " WASMQ_JIT_COMPILE_SYMBOL;
  }
  return MakeError(ErrorKind::Resource,
                   "the compiling tier is not available: cannot load wasmq-jit.so" +
                       (tried.empty() ? std::string(" (not found next to the binary; set WASMQ_JIT_LIB)")
                                      : " (" + tried + ")"));
}

}  // namespace

// The compiler, opened on first use (thread-safe, tried once).
const Result<JitCompileFn>& Compiler() {
  static const Result<JitCompileFn> compiler = Open();
  return compiler;
}

Result<std::shared_ptr<const JitCode>> JitCompile(const CompiledModule& module, const JitOptions& options) {
  const Result<JitCompileFn>& compiler = Compiler();
  if (!compiler) return compiler.error();
  JitRequest request;
  request.module = &module;
  request.options = options;
  request.helpers = &JitHelperSymbols();
  request.layout = GetJitLayout();
  if (!options.cache_dir.empty()) {
    const auto& bytes = module.module.bytes;
    request.module_digest =
        base::Sha256Hex(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }
  Result<std::shared_ptr<const JitCode>> out = MakeError(ErrorKind::Resource, "the compiler returned nothing");
  (*compiler)(&request, &out);
  return out;
}

}  // namespace wasmq::wasm

namespace wasmq::wasm {

namespace {

// One thread compiles kAuto modules, in the order they were compiled: it keeps the compiler off the
// threads that run tasks, and a process that exits waits only for the module being compiled.
class BackgroundCompiler {
 public:
  ~BackgroundCompiler() { Stop(); }

  // Drops the queued modules (they stay interpreted) and waits for the one being compiled.
  void Stop() {
    {
      base::MutexLock lock(mu_);
      stop_ = true;
      for (auto& job : queue_) job.first->jit_pending.store(false, std::memory_order_relaxed);
      queue_.clear();
    }
    cv_.NotifyAll();
    if (thread_.joinable()) thread_.join();
  }

  void Add(std::shared_ptr<CompiledModule> module, JitOptions options) {
    base::MutexLock lock(mu_);
    if (stop_) return;  // stopped (the process is exiting): the module stays interpreted
    module->jit_pending.store(true, std::memory_order_relaxed);
    queue_.emplace_back(std::move(module), std::move(options));
    if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
    cv_.NotifyOne();
  }

 private:
  void Loop() {
    for (;;) {
      std::pair<std::shared_ptr<CompiledModule>, JitOptions> job;
      {
        base::MutexLock lock(mu_);
        cv_.Wait(lock, [this]() REQUIRES(mu_) { return stop_ || !queue_.empty(); });
        if (stop_) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      CompiledModule& m = *job.first;
      if (auto code = JitCompile(m, job.second)) {
        m.jit = std::move(code).value();
        m.jit_ready.store(m.jit.get(), std::memory_order_release);
      }
      m.jit_pending.store(false, std::memory_order_release);
    }
  }

  base::Mutex mu_;
  base::CondVar cv_;
  std::deque<std::pair<std::shared_ptr<CompiledModule>, JitOptions>> queue_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

BackgroundCompiler& Background() {
  static BackgroundCompiler compiler;
  return compiler;
}

}  // namespace

void StopBackgroundCompiles() { Background().Stop(); }

void JitCompileInBackground(std::shared_ptr<CompiledModule> module, JitOptions options) {
  Background().Add(std::move(module), std::move(options));
}

}  // namespace wasmq::wasm
