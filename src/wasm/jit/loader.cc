// File: src/wasm/jit/loader.cc
//
// Where compiled code comes from: the disk cache (an object file, loaded by object_load.cc without LLVM),
// else the compiler. Opens wasmq-jit.so (the compiler and LLVM) on the first compile, never at start-up
// nor for a cached module: linking LLVM into wasmq made every start ~45 ms slower (measured: `wasmq
// --version` 24 ms -> 71 ms median), and most runs never compile anything.
//
// kAuto compiles on one background thread. A compile nobody wants any more is cancelled (the compiler
// skips its remaining optional passes): when its module is dropped, or when the process exits. At exit
// the process does not wait for LLVM: if the compile has not ended within a short grace period the
// process ends with _exit (on_exit handler), so LLVM's static destructors never meet a running compile.
#include <cpuid.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
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

void StopAtExit(int status, void*);

std::atomic<bool> g_exiting{false};     // the process is exiting: every compile is cancelled
std::atomic<int> g_in_compiler{0};      // compiles inside wasmq-jit.so now

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
    if (auto fn = reinterpret_cast<JitCompileFn>(dlsym(library, WASMQ_JIT_COMPILE_SYMBOL))) {
      // Registered after LLVM's static destructors, so it runs before them.
      on_exit(StopAtExit, nullptr);
      return fn;
    }
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

namespace {

// ---- the cache ----------------------------------------------------------------------------------------

// The CPU the code was generated for (the compiler targets the host's features): vendor, family, model
// and every feature leaf, from cpuid, so that no LLVM is needed to find a cached object.
std::string CpuIdentity() {
  std::string out;
  auto leaf = [&](unsigned id, unsigned sub) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_count(id, sub, &a, &b, &c, &d) == 0) return;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%x:%x:%x:%x;", a, b, c, d);
    out += buf;
  };
  leaf(0, 0);
  // Leaf 1 without the APIC id and CLFLUSH/count fields of ebx (they differ between cores).
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) != 0) out += std::to_string(a) + ":" + std::to_string(c) + ":" + std::to_string(d) + ";";
  leaf(7, 0);
  leaf(7, 1);
  leaf(0xD, 1);
  leaf(0x80000001, 0);
  return out;
}

// Identifies this build of the compiler (a rebuilt wasmq-jit.so must not reuse older objects) without
// opening it: the size and modification time of the file that would be opened.
std::string CompilerIdentity() {
  for (const std::string& path : Candidates()) {
    struct stat st {};
    if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
      return std::to_string(st.st_size) + "." + std::to_string(st.st_mtim.tv_sec) + "." +
             std::to_string(st.st_mtim.tv_nsec);
  }
  return "none";
}

#ifndef WASMQ_LLVM_VERSION
#define WASMQ_LLVM_VERSION "unknown"
#endif

// SHA-256 of the module's bytes except the payloads of its data segments (their offsets and sizes stay
// in): compiled code never depends on what data segments hold, and hashing a 1 MiB data segment was most
// of a cached module's start (~0.6 ms).
std::string CodeDigest(const ModuleInfo& m) {
  std::vector<std::pair<uint32_t, uint32_t>> skip;
  for (const DataSegment& d : m.datas) skip.emplace_back(d.begin, d.size);
  std::sort(skip.begin(), skip.end());
  base::Sha256Hasher hasher;
  const char* bytes = reinterpret_cast<const char*>(m.bytes.data());
  size_t at = 0;
  for (const auto& [begin, size] : skip) {
    if (begin < at || begin + uint64_t{size} > m.bytes.size()) continue;  // overlapping: hashed whole
    hasher.Update(std::string_view(bytes + at, begin - at));
    const uint64_t len = size;
    hasher.Update(std::string_view(reinterpret_cast<const char*>(&len), sizeof len));
    at = begin + size;
  }
  hasher.Update(std::string_view(bytes + at, m.bytes.size() - at));
  return hasher.FinishHex();
}

// <first 32 hex digits of CodeDigest>-<SHA-256 of everything the code depends on>.o
std::string CachePath(const CompiledModule& module, const JitOptions& options) {
  static const std::string environment =
      std::string("llvm " WASMQ_LLVM_VERSION "|") + CpuIdentity() + "|" + CompilerIdentity();
  const std::string digest = CodeDigest(module.module);
  const JitLayout& layout = GetJitLayout();
  std::string key = digest + "|" + environment + "|" + (options.bounds_checks ? "checks" : "guards") + "|" +
                    std::string(reinterpret_cast<const char*>(&layout), sizeof layout);
  return options.cache_dir + "/" + digest.substr(0, 32) + "-" + base::Sha256Hex(key).substr(0, 32) + ".o";
}

bool ReadFile(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = fstat(fd, &st) == 0;
  if (ok) {
    out->resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (ok && got < out->size()) {
      ssize_t n = ::read(fd, out->data() + got, out->size() - got);
      if (n <= 0) ok = false;
      else got += static_cast<size_t>(n);
    }
  }
  ::close(fd);
  return ok;
}

void WriteFile(const std::string& path, const std::string& data) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  const std::string tmp = path + ".tmp" + std::to_string(::getpid()) + "." +
                          std::to_string(std::hash<std::thread::id>()(std::this_thread::get_id()));
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return;
  bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  ok = std::fclose(f) == 0 && ok;
  if (ok) std::filesystem::rename(tmp, path, ec);  // atomic: readers see the whole object or none
  if (!ok || ec) std::filesystem::remove(tmp, ec);
}

size_t WasmCodeBytes(const CompiledModule& module) {
  size_t n = 0;
  for (const FunctionBody& body : module.module.code) n += body.body_end - body.body_begin;
  return n;
}

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::shared_ptr<const JitCode> LoadCached(const CompiledModule& module, const std::string& path,
                                          std::chrono::steady_clock::time_point start) {
  std::string object;
  if (!ReadFile(path, &object)) return nullptr;
  auto loaded = LoadJitObject(object, module.funcs.size(), JitHelperSymbols());
  if (!loaded) return nullptr;  // unusable (an older loader's, damaged): compiled again and replaced
  auto code = std::const_pointer_cast<JitCode>(std::move(loaded).value());
  code->from_cache = true;
  code->wasm_code_bytes = WasmCodeBytes(module);
  code->compile_ms = MsSince(start);
  return code;
}

}  // namespace

std::shared_ptr<const JitCode> JitLoadCached(const CompiledModule& module, const JitOptions& options) {
  if (options.cache_dir.empty()) return nullptr;
  const auto start = std::chrono::steady_clock::now();
  return LoadCached(module, CachePath(module, options), start);
}

Result<std::shared_ptr<const JitCode>> JitCompile(const CompiledModule& module, const JitOptions& options,
                                                  const std::function<bool()>* cancelled) {
  const auto start = std::chrono::steady_clock::now();
  std::string cache_path;
  if (!options.cache_dir.empty()) {
    cache_path = CachePath(module, options);
    if (auto code = LoadCached(module, cache_path, start)) return code;
  }
  // Counted before anything of the compiler runs, and g_exiting checked after: an exiting process either
  // sees this compile (and waits for it, or _exits) or the compile sees the exit and never starts.
  struct InCompiler {
    InCompiler() { g_in_compiler.fetch_add(1); }
    ~InCompiler() { g_in_compiler.fetch_sub(1); }
  } in_compiler;
  if (g_exiting.load()) return MakeError(ErrorKind::Interrupted, "compiling tier: the process is exiting");
  const Result<JitCompileFn>& compiler = Compiler();
  if (!compiler) return compiler.error();
  JitRequest request;
  request.module = &module;
  request.options = options;
  request.layout = GetJitLayout();
  const std::function<bool()> stop = [cancelled] {
    return g_exiting.load(std::memory_order_relaxed) || (cancelled != nullptr && (*cancelled)());
  };
  request.cancelled = &stop;
  Result<std::string> object = MakeError(ErrorKind::Resource, "the compiler returned nothing");
  (*compiler)(&request, &object);
  if (!object) return object.error();
  auto loaded = LoadJitObject(*object, module.funcs.size(), JitHelperSymbols());
  if (!loaded) return loaded.error();
  if (!cache_path.empty()) WriteFile(cache_path, *object);
  auto code = std::const_pointer_cast<JitCode>(std::move(loaded).value());
  code->wasm_code_bytes = WasmCodeBytes(module);
  code->compile_ms = MsSince(start);
  return std::shared_ptr<const JitCode>(std::move(code));
}

}  // namespace wasmq::wasm

namespace wasmq::wasm {

namespace {

// One thread compiles kAuto modules, in the order they were compiled: it keeps the compiler off the
// threads that run tasks. Never destroyed (its thread is detached and may be inside LLVM at exit).
class BackgroundCompiler {
 public:
  // Drops the queued modules (they stay interpreted); the compile under way sees g_exiting.
  void Stop() {
    base::MutexLock lock(mu_);
    stop_ = true;
    for (auto& job : queue_) job.first->jit_pending.store(false, std::memory_order_relaxed);
    queue_.clear();
    cv_.NotifyAll();
  }

  void Add(std::shared_ptr<CompiledModule> module, JitOptions options) {
    base::MutexLock lock(mu_);
    if (stop_) return;  // stopped (the process is exiting): the module stays interpreted
    module->jit_pending.store(true, std::memory_order_relaxed);
    queue_.emplace_back(std::move(module), std::move(options));
    if (!started_) {
      started_ = true;
      // The compiler thread takes no process signals (SIGHUP, SIGTERM, ...): they belong to the program's own
      // handling. Created with them blocked, so it inherits the mask from its first instruction (a SIGHUP
      // delivered to it would otherwise end `wasmq serve`). Faults of its own (SIGSEGV, ...) stay deliverable.
      sigset_t all, old;
      sigfillset(&all);
      for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT}) sigdelset(&all, sig);
      pthread_sigmask(SIG_BLOCK, &all, &old);
      std::thread([this] { Loop(); }).detach();
      pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
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
      // Nobody else holds the module any more: its code would never run.
      const std::function<bool()> dropped = [&job] { return job.first.use_count() == 1; };
      if (auto code = JitCompile(m, job.second, &dropped)) {
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
  bool started_ GUARDED_BY(mu_) = false;
};

BackgroundCompiler& Background() {
  static BackgroundCompiler* compiler = new BackgroundCompiler;
  return *compiler;
}

// How long an exiting process gives a cancelled compile to end: it skips its remaining optional passes,
// which ends most compiles at once; one inside a huge function's required lowering may take longer.
constexpr auto kExitGrace = std::chrono::milliseconds(100);

// True when no compile is inside the compiler any more (within kExitGrace).
bool CancelCompiles() {
  g_exiting.store(true);
  Background().Stop();
  // One grace period from the first call (wasmq's main calls it, then the on_exit handler does).
  static const auto deadline = std::chrono::steady_clock::now() + kExitGrace;
  while (g_in_compiler.load() != 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Runs at exit before LLVM's static destructors (registered after them). A compile still inside LLVM
// would crash in them: the process ends here instead, with its status, its stdio flushed.
void StopAtExit(int status, void*) {
  if (CancelCompiles()) return;
  std::fflush(nullptr);
  _exit(status);
}

}  // namespace

void StopBackgroundCompiles() { CancelCompiles(); }

std::optional<Module::CompileStats> Module::compile_stats() const {
  const JitCode* code = impl_->jit_ready.load(std::memory_order_acquire);
  if (code == nullptr) return std::nullopt;
  return CompileStats{code->compile_ms, code->wasm_code_bytes, code->code_bytes, code->from_cache};
}

void JitCompileInBackground(std::shared_ptr<CompiledModule> module, JitOptions options) {
  // A cached module needs no compiler: its code is there before the first task.
  if (auto code = JitLoadCached(*module, options)) {
    module->jit = std::move(code);
    module->jit_ready.store(module->jit.get(), std::memory_order_release);
    return;
  }
  Background().Add(std::move(module), std::move(options));
}

}  // namespace wasmq::wasm
