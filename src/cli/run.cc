// File: src/cli/run.cc
//
// `wasmq run [OPTIONS] MODULE.wasm [ARGS...]`: runs a WASI command module on wasmq's engine, with the
// process's own stdin/stdout/stderr, only the environment variables and directories given on the command
// line, and optional fuel, wall-clock and memory limits. `--invoke FUNC` calls one exported function with
// ARGS parsed per its parameter types and prints its results, one per line. Both run through
// wasi::RunCommand (--timeout-ms is its deadline, --invoke its entry); this file is options and reporting.
//
// Options stop at MODULE: everything after it belongs to the module (or to FUNC), even words that look
// like wasmq options.
//
// Exit codes:
//   N    the module's exit status: 0 when `_start` returns, proc_exit's code otherwise (a code above 255,
//        e.g. exit(-1), becomes 255)
//   2    usage error: bad option or option value, --dir that is not a directory, wrong --invoke arguments
//   123  the module went over --max-output / --max-output-files (it got EDQUOT; said on stderr), whatever
//        its own status
//   124  interrupted: --timeout-ms elapsed or --fuel ran out ("trap: interrupted (...)" + backtrace)
//   125  the module could not be started: file unreadable, malformed or invalid module, missing or
//        mistyped import, memory above --max-memory, no _start / no such --invoke function, or refused by
//        --trust-policy (unsigned, bad signature, no rule for it)
//   134  trap ("trap: <reason>" and the Wasm backtrace on stderr)
//
// WASI-NN (docs/nn.md): the module may import wasi_ephemeral_nn; --nn-model NAME=PATH gives it models by
// name (load_by_name), besides those of the models directory (<cache-dir>/models/NAME.json). A compute
// counts against --timeout-ms. --verbose reports the tier (compile time, ms per 100 KiB), the models and the
// memory they hold after the run.
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "base/units.h"
#include "cli/commands.h"
#ifndef WASMQ_ENGINE_ONLY
#include "cli/lifecycle.h"
#include "cli/models.h"
#include "nn/nn.h"
#endif
#include "wasi/wasi.h"
#include "wasm/wasm.h"

namespace wasmq::cli {
namespace {

constexpr int kExitUsage = 2;
constexpr int kExitOutputQuota = 123;
constexpr int kExitInterrupted = 124;
constexpr int kExitCannotStart = 125;
constexpr int kExitTrap = 134;

struct RunOptions {
  std::vector<std::string> env;
  std::vector<std::string> dirs;
  uint64_t fuel = 0;
  uint64_t timeout_ms = 0;
  wasm::CompileMode compile = wasm::CompileMode::kAuto;  // --compile, else WASMQ_COMPILE
  wasm::MemoryGuards memory_guards = wasm::MemoryGuards::kAuto;  // --memory-guards, else WASMQ_MEMORY_GUARDS
  std::string max_memory;
  std::string max_output;
  uint64_t max_output_files = 0;
  std::string invoke;
  std::string trust_policy;  // --trust-policy, else WASMQ_TRUST_POLICY (not in the engine-only build)
  std::vector<std::string> nn_models;  // --nn-model NAME=PATH|OCI-REF
  std::string nn_models_dir;           // --nn-models-dir, else <cache-dir>/models
  int nn_threads = 0;                  // --nn-threads; 0 = one per core
  std::string nn_max_graph, nn_max_tensor;  // --nn-max-graph, --nn-max-tensor (sizes)
  bool verbose = false;
};

int Usage(const std::string& msg) {
  std::cerr << "wasmq run: " << msg << "\n";
  return kExitUsage;
}

bool ReadFileBytes(const std::string& path, std::vector<uint8_t>* out, std::string* err) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    *err = std::strerror(errno);
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    *err = "is a directory";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *err = std::strerror(errno);
    return false;
  }
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) {
    *err = "read error";
    return false;
  }
  return true;
}

// An --invoke argument for a parameter of type `t`.
std::optional<wasm::Value> ParseArg(wasm::ValType t, const std::string& s) {
  auto parse_int = [&](int bits) -> std::optional<uint64_t> {
    std::string_view v = s;
    bool neg = false;
    if (!v.empty() && (v[0] == '-' || v[0] == '+')) {
      neg = v[0] == '-';
      v.remove_prefix(1);
    }
    int base = 10;
    if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
      base = 16;
      v.remove_prefix(2);
    }
    uint64_t mag = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), mag, base);
    if (v.empty() || ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
    const uint64_t umax = bits == 32 ? UINT32_MAX : UINT64_MAX;
    const uint64_t nmax = bits == 32 ? (1ull << 31) : (1ull << 63);
    if (neg ? mag > nmax : mag > umax) return std::nullopt;
    uint64_t r = neg ? (~mag + 1) : mag;
    return bits == 32 ? (r & 0xffffffffull) : r;
  };
  switch (t) {
    case wasm::ValType::I32: {
      auto v = parse_int(32);
      if (!v) return std::nullopt;
      return wasm::Value{wasm::ValType::I32, *v};
    }
    case wasm::ValType::I64: {
      auto v = parse_int(64);
      if (!v) return std::nullopt;
      return wasm::Value{wasm::ValType::I64, *v};
    }
    case wasm::ValType::F32:
    case wasm::ValType::F64: {
      if (s.empty()) return std::nullopt;
      char* end = nullptr;
      errno = 0;
      double d = std::strtod(s.c_str(), &end);
      if (end != s.c_str() + s.size()) return std::nullopt;
      if (t == wasm::ValType::F32) return wasm::Value::F32(std::strtof(s.c_str(), nullptr));
      return wasm::Value::F64(d);
    }
    default:
      return std::nullopt;
  }
}

std::string FormatFloat(double d, bool is_f32) {
  if (d != d) return "nan";
  char buf[64];
  auto r = is_f32 ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(d))
                  : std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

std::string FormatResult(const wasm::Value& v) {
  switch (v.type) {
    case wasm::ValType::I32:
      return std::to_string(v.i32());
    case wasm::ValType::I64:
      return std::to_string(v.i64());
    case wasm::ValType::F32:
      return FormatFloat(v.f32(), true);
    case wasm::ValType::F64:
      return FormatFloat(v.f64(), false);
    default:
      return v.ToString();
  }
}

// Prints a failed execution (trap, exhaustion, interruption) and returns the exit code; an Exit is the
// module's status.
class Reporter {
 public:
  Reporter(const wasi::CommandResult& result, const RunOptions& opts) : result_(result), opts_(opts) {}

  int Fail(const wasm::Error& err) const {
    switch (err.kind) {
      case wasm::ErrorKind::Exit:
        return ExitStatus(static_cast<uint32_t>(err.exit_code));
      case wasm::ErrorKind::Interrupted:
        if (result_.stopped_by == wasi::StopCause::Deadline) {
          std::cerr << "trap: interrupted (timeout after " << opts_.timeout_ms << " ms)\n";
        } else if (result_.stopped_by == wasi::StopCause::Fuel) {
          std::cerr << "trap: interrupted (out of fuel: --fuel " << opts_.fuel << ")\n";
        } else {
          std::cerr << "trap: interrupted (" << err.message << ")\n";
        }
        PrintBacktrace();
        return kExitInterrupted;
      default:
        std::cerr << "trap: " << err.message << "\n";
        PrintBacktrace();
        return kExitTrap;
    }
  }

  static int ExitStatus(uint32_t code) { return code > 255 ? 255 : static_cast<int>(code); }

 private:
  // Innermost first. A run of frames of the same function (deep recursion) is one line, and at most
  // kMaxLines lines are printed.
  void PrintBacktrace() const {
    constexpr size_t kMaxLines = 50;
    const auto& frames = result_.backtrace;
    if (frames.empty()) return;
    std::cerr << "wasm backtrace:\n";
    size_t lines = 0;
    for (size_t i = 0; i < frames.size();) {
      size_t j = i + 1;
      while (j < frames.size() && frames[j].function == frames[i].function) ++j;
      if (++lines > kMaxLines) {
        std::cerr << "  ... " << frames.size() - i << " more frames\n";
        break;
      }
      if (j - i >= 3) {
        std::cerr << "  " << i << ".." << j - 1 << ": " << frames[i].function << " (" << j - i
                  << " recursive frames)\n";
      } else {
        for (size_t k = i; k < j; ++k) std::cerr << "  " << k << ": " << frames[k].function << "\n";
      }
      i = j;
    }
  }
  const wasi::CommandResult& result_;
  const RunOptions& opts_;
};

// --invoke FUNC [ARGS...] as what wasi::RunCommand runs instead of `_start`: looks FUNC up, parses ARGS
// per its parameter types, runs a reactor's `_initialize`, then calls FUNC. When it refuses before FUNC
// runs (no such function, wrong arguments) it has said why and exit_code() is `wasmq run`'s exit code.
class Invocation {
 public:
  Invocation(const std::string& path, const RunOptions& opts, const std::vector<std::string>& args)
      : path_(path), opts_(opts), args_(args) {}

  wasm::Result<uint32_t> operator()(wasm::Store& store, const wasm::Instance& inst) {
    wasm::FuncInst* fn = inst.GetFunc(opts_.invoke);
    if (!fn) {
      std::cerr << "wasmq: " << path_ << ": no exported function '" << opts_.invoke << "'\n";
      return Refuse(kExitCannotStart);
    }
    const wasm::FuncType& type = wasm::GetFuncType(fn);
    if (args_.size() != type.params.size()) {
      return Refuse(Usage("--invoke " + opts_.invoke + ": expects " + std::to_string(type.params.size()) +
                          " argument(s) " + wasm::FuncTypeString(type) + ", got " +
                          std::to_string(args_.size())));
    }
    std::vector<wasm::Value> values;
    for (size_t i = 0; i < args_.size(); ++i) {
      auto v = ParseArg(type.params[i], args_[i]);
      if (!v) {
        return Refuse(Usage("--invoke " + opts_.invoke + ": argument " + std::to_string(i + 1) + " '" +
                            args_[i] + "' is not a valid " + wasm::ValTypeName(type.params[i])));
      }
      values.push_back(*v);
    }
    if (wasm::FuncInst* init = inst.GetFunc("_initialize")) {  // a reactor's constructors
      auto r = store.Call(init, {});
      if (!r) return r.error();
    }
    auto results = store.Call(fn, values);
    if (!results) return results.error();
    results_ = std::move(*results);
    called_ = true;
    return 0u;
  }

  std::optional<int> exit_code() const { return exit_code_; }
  bool called() const { return called_; }  // FUNC returned results()
  const std::vector<wasm::Value>& results() const { return results_; }

 private:
  wasm::Error Refuse(int exit_code) {
    exit_code_ = exit_code;
    return wasm::MakeError(wasm::ErrorKind::Unlinkable, "--invoke refused");
  }
  const std::string& path_;
  const RunOptions& opts_;
  const std::vector<std::string>& args_;
  std::optional<int> exit_code_;
  bool called_ = false;
  std::vector<wasm::Value> results_;
};

// --verbose: which tier ran the module and, when compiled, what the compile (or the cache load) cost.
void ReportTier(const wasm::Module& module) {
  const auto stats = module.compile_stats();
  if (!stats) {
    std::cerr << "wasmq: tier: "
              << (module.tier() == wasm::Module::Tier::kCompiling ? "interpreted (compile still under way)"
                                                                  : "interpreted")
              << "\n";
    return;
  }
  const double kb = static_cast<double>(stats->wasm_code_bytes) / 1024.0;
  std::cerr << "wasmq: tier: compiled, " << (stats->from_cache ? "loaded from the cache in " : "compiled in ")
            << std::fixed << std::setprecision(3) << stats->ms << " ms (" << std::setprecision(1) << kb
            << " KiB of wasm code -> " << static_cast<double>(stats->machine_code_bytes) / 1024.0
            << " KiB of machine code; " << std::setprecision(2)
            << (kb > 0 ? stats->ms * 100.0 / kb : 0.0) << " ms per 100 KiB)\n";
}

#ifndef WASMQ_ENGINE_ONLY
// --verbose: every WASI-NN model the run knew, with what it holds in memory (docs/nn.md, "Memory").
void ReportNn(const nn::Host& host, const nn::Instance& instance) {
  for (const nn::ModelReport& m : host.models().Report()) {
    std::cerr << "wasmq: nn model " << m.name << " (" << m.source << "): ";
    if (!m.loaded) {
      std::cerr << "not loaded\n";
      continue;
    }
    std::cerr << m.file_bytes << " bytes of ONNX, " << m.digest << "; " << m.nets << " net(s) of "
              << m.bytes_per_net << " bytes (weights " << m.weight_bytes << "); resident " << m.resident_bytes
              << " bytes\n";
  }
  std::cerr << "wasmq: nn total resident " << host.models().MemoryBytes() << " bytes; the module held "
            << instance.bytes_held() << " bytes of tensors and graphs";
  if (const std::string err = instance.last_error(); !err.empty()) std::cerr << "; last error: " << err;
  std::cerr << "\n";
}
#endif

int Run(const RunOptions& opts, const std::vector<std::string>& rest) {
  if (rest.empty()) return Usage("a MODULE.wasm is required (wasmq run [OPTIONS] MODULE.wasm [ARGS...])");
  const std::string& path = rest[0];
  if (path.size() > 1 && path[0] == '-')
    return Usage("unknown option '" + path + "' (options go before MODULE.wasm; see 'wasmq run --help')");
  const std::vector<std::string> args(rest.begin() + 1, rest.end());

  // Limits and the WASI configuration, all validated before the module is read.
  wasm::EngineConfig config;
  if (!opts.max_memory.empty()) {
    auto bytes = base::ParseBytes(opts.max_memory);
    if (!bytes)
      return Usage("--max-memory: '" + opts.max_memory + "' is not a size (e.g. 65536, 64KiB, 16MiB, 1GiB)");
    config.max_memory_bytes = std::min<uint64_t>(*bytes, config.max_memory_bytes);
  }
  config.compile = opts.compile;
  config.memory_guards = opts.memory_guards;
#ifndef WASMQ_ENGINE_ONLY  // the engine-only (sanitizer) build has no OCI cache to keep compiled code beside
  if (config.compile != wasm::CompileMode::kNever) config.compile_cache_dir = CompiledCodeDir("");
#endif
  wasi::WasiConfig wc;
  wc.stdin_mode = wc.stdout_mode = wc.stderr_mode = wasi::StdioMode::Inherit;
  wc.args.push_back(path);
  if (opts.invoke.empty()) wc.args.insert(wc.args.end(), args.begin(), args.end());
  if (!opts.max_output.empty()) {
    auto bytes = base::ParseBytes(opts.max_output);
    if (!bytes || *bytes == 0)
      return Usage("--max-output: '" + opts.max_output +
                   "' is not a size above 0 (e.g. 65536, 64KiB, 256MiB)");
    wc.max_output_bytes = *bytes;
  }
  wc.max_output_files = opts.max_output_files;
  for (const std::string& e : opts.env) {
    size_t eq = e.find('=');
    if (eq == 0) return Usage("--env '" + e + "': the variable name is empty");
    if (eq == std::string::npos) {  // --env NAME passes the host's value, if any
      if (const char* v = std::getenv(e.c_str())) wc.env.push_back(e + "=" + v);
      continue;
    }
    wc.env.push_back(e);
  }
  for (const std::string& d : opts.dirs) {
    wasi::Preopen p;
    size_t colon = d.find(':');
    if (colon == std::string::npos) {
      p.guest_path = p.host_path = d;
    } else {
      p.guest_path = d.substr(0, colon);
      p.host_path = d.substr(colon + 1);
    }
    if (p.guest_path.empty() || p.host_path.empty())
      return Usage("--dir '" + d + "': expected GUEST:HOST or HOST");
    wc.preopens.push_back(std::move(p));
  }
  auto ctx = wasi::Wasi::Create(std::move(wc));
  if (!ctx) return Usage("--dir: " + ctx.error().message);

  std::vector<uint8_t> bytes;
  std::string read_err;
  std::string module_file = path;
#ifndef WASMQ_ENGINE_ONLY
  // With a trust policy the module is admitted first; a signed registry module is then pulled by the
  // digest that verified, so a tag moved in between cannot change what runs.
  struct stat st {};
  const bool is_file = stat(path.c_str(), &st) == 0;
  std::string pull_ref = path;
  std::string policy = opts.trust_policy;
  if (const char* env = std::getenv("WASMQ_TRUST_POLICY"); policy.empty() && env) policy = env;
  if (!policy.empty()) {
    std::string trust_err;
    const int rc = CheckRunTrust(policy, path, is_file, &pull_ref, &trust_err);
    if (rc != 0) {
      std::cerr << "wasmq run: " << trust_err << "\n";
      return rc == 2 ? kExitUsage : kExitCannotStart;
    }
  }
  // `wasmq run OCI-REF`: a MODULE that is no file but a registry reference is pulled through the cache.
  if (!is_file) {
    std::string pull_err;
    if (auto pulled = PullModuleForRun(pull_ref, &pull_err)) {
      module_file = *pulled;
    } else if (!pull_err.empty()) {
      std::cerr << "wasmq: " << pull_err << "\n";
      return kExitCannotStart;
    }
  }
#endif
  if (!ReadFileBytes(module_file, &bytes, &read_err)) {
    std::cerr << "wasmq: cannot read '" << path << "': " << read_err << "\n";
    return kExitCannotStart;
  }

#ifndef WASMQ_ENGINE_ONLY
  // WASI-NN: the models are checked here (a missing file is a usage error); they are parsed on first use.
  nn::HostConfig nn_config;
  nn_config.threads = opts.nn_threads;
  for (const auto& [flag, text, bound] :
       {std::tuple{"--nn-max-graph", &opts.nn_max_graph, &nn_config.limits.max_graph_bytes},
        std::tuple{"--nn-max-tensor", &opts.nn_max_tensor, &nn_config.limits.max_tensor_bytes}}) {
    if (text->empty()) continue;
    auto size = base::ParseBytes(*text);
    if (!size || *size == 0) return Usage(std::string(flag) + ": '" + *text + "' is not a size above 0 (e.g. 64MiB)");
    *bound = *size;
  }
  nn_config.models_dir = opts.nn_models_dir.empty() ? ModelsDir("") : opts.nn_models_dir;
  nn_config.resolve_ref = NnModelResolver("");  // NAME=OCI-REF: pulled through the cache on first use
  nn::Host& nn_host = nn::ConfigureDefaultHost(std::move(nn_config));
  for (const std::string& spec : opts.nn_models)
    if (auto added = nn_host.models().Add(spec); !added) return Usage(added.error().message);
  nn::Instance nn_instance(nn_host);
#endif

  wasm::Engine engine(config);
  auto module = wasm::Module::Compile(engine, bytes);
  if (!module) {
    const char* what =
        module.error().kind == wasm::ErrorKind::Malformed ? "malformed module" : "invalid module";
    std::cerr << "wasmq: " << path << ": " << what << ": " << module.error().message << "\n";
    return kExitCannotStart;
  }

  wasi::CommandRequest req;
  req.engine = &engine;
  req.module = module->get();
  req.context = ctx->get();  // made above, to report a bad --dir before reading the module
  req.fuel = opts.fuel;
  if (opts.timeout_ms > 0)
    req.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(opts.timeout_ms);
#ifndef WASMQ_ENGINE_ONLY
  nn_instance.SetDeadline(req.deadline);
  req.add_imports = [&nn_instance](wasm::Store& store, wasm::Imports& imports) { nn_instance.AddTo(store, imports); };
#endif
  Invocation invocation(path, opts, args);
  if (!opts.invoke.empty())
    req.entry = [&invocation](wasm::Store& store, const wasm::Instance& inst) {
      return invocation(store, inst);
    };
  const wasi::CommandResult result = wasi::RunCommand(std::move(req));
  Reporter report(result, opts);
  if (opts.verbose) ReportTier(**module);
#ifndef WASMQ_ENGINE_ONLY
  if (opts.verbose) ReportNn(nn_host, nn_instance);
#endif

  if (result.phase == wasi::CommandResult::Phase::Instantiate) {
    const wasm::Error& err = result.error;
    if (err.kind == wasm::ErrorKind::Unlinkable || err.kind == wasm::ErrorKind::Resource) {
      std::cerr << "wasmq: " << path << ": " << err.message;
      if (err.kind == wasm::ErrorKind::Resource && !opts.max_memory.empty())
        std::cerr << " (--max-memory " << opts.max_memory << ")";
      std::cerr << "\n";
      return kExitCannotStart;
    }
    return report.Fail(err);
  }

  // A module that went over the output quota fails whatever it did about the EDQUOT it got.
  auto over_quota = [&]() -> bool {
    const auto& why = result.output_quota_exceeded;
    if (!why) return false;
    std::cerr << "wasmq: " << path << ": the module wrote " << *why << " (--max-output "
              << (opts.max_output.empty() ? "unlimited" : opts.max_output) << ", --max-output-files "
              << (opts.max_output_files ? std::to_string(opts.max_output_files) : "unlimited") << ")\n";
    return true;
  };
  if (opts.invoke.empty()) {
    if (result.exit_code) return over_quota() ? kExitOutputQuota : Reporter::ExitStatus(*result.exit_code);
    if (result.error.kind == wasm::ErrorKind::Exit && over_quota()) return kExitOutputQuota;
    if (result.error.kind == wasm::ErrorKind::Unlinkable) {
      std::cerr << "wasmq: " << path << ": " << result.error.message
                << " (use --invoke FUNC to call an export)\n";
      return kExitCannotStart;
    }
    over_quota();  // said too, when that is what the module was doing
    return report.Fail(result.error);
  }

  // --invoke FUNC [ARGS...]
  if (invocation.exit_code()) return *invocation.exit_code();
  if (!invocation.called()) return report.Fail(result.error);
  for (const wasm::Value& v : invocation.results()) std::cout << FormatResult(v) << "\n";
  std::cout.flush();
  return over_quota() ? kExitOutputQuota : 0;
}

}  // namespace

void AddRunCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<RunOptions>();
  CLI::App* cmd =
      app.add_subcommand("run", "Run a WASI command module: wasmq run [OPTIONS] MODULE.wasm [ARGS...]");
  cmd->add_option("--env", opts->env,
                  "Set an environment variable of the module (K=V), or pass the host's value of K")
      ->type_name("K=V")
      ->allow_extra_args(false);
  cmd->add_option("--dir", opts->dirs,
                  "Preopen host directory HOST as GUEST (GUEST:HOST), or as its own path (HOST)")
      ->type_name("GUEST:HOST")
      ->allow_extra_args(false);
  cmd->add_option("--fuel", opts->fuel, "Stop the module after N units of fuel (loop iterations and calls)")
      ->type_name("N");
  cmd->add_option("--timeout-ms", opts->timeout_ms, "Stop the module after N milliseconds of wall-clock time")
      ->type_name("N");
  cmd->add_option("--compile", opts->compile,
                  "Which tier runs the module: never (the interpreter), auto (the default: interpret until its "
                  "machine code is ready, compiling in the background; compiled code is cached) or always "
                  "(compile first)")
      ->envname("WASMQ_COMPILE")
      ->transform(CLI::CheckedTransformer(std::map<std::string, wasm::CompileMode>{
          {"never", wasm::CompileMode::kNever}, {"auto", wasm::CompileMode::kAuto},
          {"always", wasm::CompileMode::kAlways}}));
  cmd->add_option(
         "--memory-guards", opts->memory_guards,
         "Compiled code's linear memories: on (guard pages instead of bounds checks; 8 GiB of address "
         "space each), off (bounds checks) or auto (on unless the address space is limited; the default)")
      ->envname("WASMQ_MEMORY_GUARDS")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, wasm::MemoryGuards>{{"auto", wasm::MemoryGuards::kAuto},
                                                    {"on", wasm::MemoryGuards::kOn},
                                                    {"off", wasm::MemoryGuards::kOff}}));
  cmd->add_option("--max-memory", opts->max_memory,
                  "Cap each linear memory at BYTES (65536, 64KiB, 16MiB, 1GiB; whole 64 KiB pages)")
      ->type_name("BYTES");
  cmd->add_option("--max-output", opts->max_output,
                  "Let the module add at most BYTES to the --dir directories (EDQUOT past it; exit 123). "
                  "Default: no limit")
      ->type_name("BYTES");
  cmd->add_option("--max-output-files", opts->max_output_files,
                  "Let the module create at most N files, directories and links there (EDQUOT past it; "
                  "exit 123). Default: no limit")
      ->type_name("N");
  cmd->add_option("--invoke", opts->invoke,
                  "Call the exported FUNC with ARGS (parsed per its parameter types) instead of _start, "
                  "and print its results")
      ->type_name("FUNC");
#ifndef WASMQ_ENGINE_ONLY
  cmd->add_option("--trust-policy", opts->trust_policy,
                  "Admit the module only as this trust policy says (JSON rules: glob → public keys; see "
                  "docs/sign.md); default $WASMQ_TRUST_POLICY")
      ->type_name("FILE");
  cmd->add_option("--nn-model", opts->nn_models,
                  "Give the module a WASI-NN model it loads by NAME (load_by_name): an ONNX file, or an OCI reference "
                  "pulled through the cache on first use (repeatable)")
      ->type_name("NAME=PATH|REF")
      ->allow_extra_args(false);
  cmd->add_option("--nn-models-dir", opts->nn_models_dir,
                  "Directory of NAME.json model index files known by name too (default <cache-dir>/models)")
      ->type_name("DIR");
  cmd->add_option("--nn-threads", opts->nn_threads, "WASI-NN computes run at once (default: one per core)")
      ->type_name("N");
  cmd->add_option("--nn-max-graph", opts->nn_max_graph,
                  "Largest model the module may give WASI-NN's load (too_large past it). Default 512MiB")
      ->type_name("BYTES");
  cmd->add_option("--nn-max-tensor", opts->nn_max_tensor,
                  "Largest WASI-NN input or output tensor, as given and as f32 (too_large past it). Default 256MiB")
      ->type_name("BYTES");
  cmd->add_flag("--verbose", opts->verbose, "After the run, report the tier (compile time and throughput), WASI-NN models and their memory on stderr");
#endif
  cmd->footer(
      "Options go before MODULE.wasm; every word after it is passed to the module (or, with --invoke, to\n"
      "FUNC). The module sees only the --env variables and --dir directories given.\n"
      "Exit codes: the module's status (0-255); 2 usage error; 123 over --max-output or --max-output-files;\n"
      "124 interrupted by --timeout-ms or --fuel;\n"
      "125 the module could not be started (unreadable, malformed, invalid, missing import, no _start,\n"
      "refused by --trust-policy);\n"
      "134 trap (the reason and a Wasm backtrace on stderr).");
  cmd->prefix_command();  // MODULE and everything after it land in remaining()
  cmd->callback([cmd, opts, exit_code] { *exit_code = Run(*opts, cmd->remaining()); });
}

}  // namespace wasmq::cli
