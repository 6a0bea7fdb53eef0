// bench/policy: policy decision latency, wasmq's policy part next to OPA's npm SDK on node's V8, on the same
// OPA-compiled policies, data and inputs (the opa-wasm fixtures), in one run. tests/policy's own C modules
// are left out: they exercise the builtin dispatch and say nothing about how fast real policies run.
//
//   policy_bench --opa-wasm-dir DIR [--iterations N] [--node-script node_bench.mjs] [--case SUBSTRING]
//                [--compiled-only 1]    (the last two: to profile one case's compiled decisions under perf)
//
// For each case: load the policy once, 2,000 warm-up decisions, then N decisions timed one by one
// (steady_clock around Policy::Eval: the input as JSON text in, the result set as JSON text out — the
// SDK's evaluate() likewise takes an object and returns one). wasmq is measured on the interpreter and on
// the compiling tier (Compile::kAlways: the steady state, after the one compile Load does; the compile
// itself, into an empty cache, is reported as its own column), on the opa_eval path (ABI 1.2+) and, for
// the compiled tier, the opa_eval_ctx_* sequence too. Then the node script does the same with the SDK, and
// the table shows p50/p99 per case side by side. See docs/benchmarks.md.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "policy/policy.h"

namespace fs = std::filesystem;
using nlohmann::json;
namespace policy = wasmq::policy;

namespace {

struct Stats {
  double p50 = 0, p99 = 0, mean = 0;
  double cpu_p99 = 0;  // of the thread's CPU time per decision: what p99 is without preemption
  double load_ms = 0;  // Policy::Load: decode, validate, instantiate, and (compiled tier) compile
};

double ThreadCpuUs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

Stats Summarise(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  Stats s;
  s.p50 = us[us.size() / 2];
  s.p99 = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  double sum = 0;
  for (double v : us) sum += v;
  s.mean = sum / static_cast<double>(us.size());
  return s;
}

json ReadJson(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

std::vector<json> Cases(const fs::path& shared) {
  std::vector<json> out;
  auto add = [&](const fs::path& dir, const char* file) {
    if (!fs::exists(dir / file)) return;
    json doc = ReadJson(dir / file);
    int n = 0;
    for (json c : doc["cases"]) {
      ++n;
      if (c.contains("expect_abort_prefix")) continue;
      json k;
      k["wasm"] = (dir / c["wasm"].get<std::string>()).string();
      k["data"] = c.contains("data_file") ? ReadJson(dir / c["data_file"].get<std::string>())
                                          : c.value("data", json::object());
      k["input"] = c.contains("input_file") ? ReadJson(dir / c["input_file"].get<std::string>())
                                            : c.value("input", json::object());
      k["entrypoint"] = c.value("entrypoint", 0);
      std::string stem = fs::path(c["wasm"].get<std::string>()).stem().string();
      k["name"] = stem + "#" + std::to_string(n);
      out.push_back(k);
    }
  };
  add(shared, "expected.json");
  return out;
}

Stats RunWasmq(const json& c, bool ctx_path, policy::Compile compile, const std::string& cache_dir,
               int iterations) {
  std::ifstream in(c["wasm"].get<std::string>(), std::ios::binary);
  std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
  policy::Options o;
  o.data_json = c["data"].dump();
  o.ctx_path = ctx_path;
  o.max_instances = 1;
  o.compile = compile;
  o.compile_cache_dir = cache_dir;
  auto l0 = std::chrono::steady_clock::now();
  auto p = policy::Policy::Load(bytes, std::move(o));
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - l0).count();
  if (!p) {
    std::cerr << "policy_bench: " << c["wasm"] << ": " << p.error().message << "\n";
    std::exit(1);
  }
  const std::string input = c["input"].dump();
  const int32_t ep = c["entrypoint"].get<int32_t>();
  for (int i = 0; i < std::min(2000, iterations); ++i) (void)(*p)->Eval(input, ep);
  std::vector<double> us(iterations);
  for (int i = 0; i < iterations; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = (*p)->Eval(input, ep);
    auto t1 = std::chrono::steady_clock::now();
    if (!r) {
      std::cerr << "policy_bench: " << c["name"] << ": " << r.error().message << "\n";
      std::exit(1);
    }
    us[i] = std::chrono::duration<double, std::micro>(t1 - t0).count();
  }
  Stats wall = Summarise(us);
  // Again, timed by the thread's CPU clock: on a shared machine a decision that a scheduler tick
  // preempts waits for other processes' slices, which wall time counts and CPU time does not.
  for (int i = 0; i < iterations; ++i) {
    double c0 = ThreadCpuUs();
    (void)(*p)->Eval(input, ep);
    us[i] = ThreadCpuUs() - c0;
  }
  wall.cpu_p99 = Summarise(std::move(us)).p99;
  wall.load_ms = load_ms;
  return wall;
}

}  // namespace

int main(int argc, char** argv) {
  std::string shared, node_script, only_case;
  bool compiled_only = false;
  int iterations = 20000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--opa-wasm-dir")
      shared = argv[i + 1];
    else if (a == "--iterations")
      iterations = std::max(100, std::atoi(argv[i + 1]));
    else if (a == "--node-script")
      node_script = argv[i + 1];
    else if (a == "--case")
      only_case = argv[i + 1];
    else if (a == "--compiled-only")
      compiled_only = std::string(argv[i + 1]) != "0";
  }
  if (shared.empty()) {
    std::cerr << "usage: policy_bench --opa-wasm-dir DIR [--iterations N] [--node-script F]\n";
    return 2;
  }
  std::vector<json> cases = Cases(fs::path(shared) / "dotnet-opa-wasm");
  std::erase_if(cases, [&](const json& c) {
    return c["name"].get<std::string>().find(only_case) == std::string::npos;
  });
  std::map<std::string, Stats> interp, jit, jit_ctx, node;
  // Each case compiles into an empty cache (its load_ms is the compile); the ctx-path run then loads the
  // same code from it.
  const fs::path cache = fs::temp_directory_path() / ("policy_bench_cache_" + std::to_string(getpid()));
  for (const json& c : cases) {
    if (!compiled_only) interp[c["name"]] = RunWasmq(c, false, policy::Compile::kNever, "", iterations);
    fs::remove_all(cache);
    jit[c["name"]] = RunWasmq(c, false, policy::Compile::kAlways, cache.string(), iterations);
    if (!compiled_only) jit_ctx[c["name"]] = RunWasmq(c, true, policy::Compile::kAlways, cache.string(), iterations);
  }
  fs::remove_all(cache);
  if (!node_script.empty()) {
    fs::path list = fs::temp_directory_path() / ("policy_bench_cases_" + std::to_string(getpid()) + ".json");
    std::ofstream(list) << json(cases).dump();
    std::string cmd = "node '" + node_script + "' '" + list.string() + "' " + std::to_string(iterations);
    if (FILE* f = popen(cmd.c_str(), "r")) {
      char line[4096];
      while (std::fgets(line, sizeof line, f)) {
        json j = json::parse(line, nullptr, false);
        if (j.is_object()) node[j["name"]] = {j["p50_us"], j["p99_us"], j["mean_us"]};
      }
      pclose(f);
    }
    fs::remove(list);
  }
  std::printf("%d decisions per case after 2000 warm-up; microseconds per decision (load: ms)\n\n", iterations);
  std::printf(
      "| case | interp p50 | interp p99 | compiled p50 | compiled p99 | compiled p99 (CPU) | compiled ctx-path "
      "p50 | npm SDK (V8) p50 | npm SDK p99 | compiled/V8 p50 | compiled/V8 p99 | load interp | load "
      "compiled (uncached) | load compiled (cached) |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const json& c : cases) {
    std::string n = c["name"];
    const Stats& i = interp[n];
    const Stats& f = jit[n];
    const Stats& x = jit_ctx[n];
    std::string v50 = "–", v99 = "–", r50 = "–", r99 = "–";
    if (node.contains(n)) {
      const Stats& v = node[n];
      char b[4][32];
      std::snprintf(b[0], sizeof b[0], "%.1f", v.p50);
      std::snprintf(b[1], sizeof b[1], "%.1f", v.p99);
      std::snprintf(b[2], sizeof b[2], "%.2f", f.p50 / v.p50);
      std::snprintf(b[3], sizeof b[3], "%.2f", f.p99 / v.p99);
      v50 = b[0], v99 = b[1], r50 = b[2], r99 = b[3];
    }
    std::printf("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %s | %s | %s | %s | %.1f | %.1f | %.1f |\n",
                n.c_str(), i.p50, i.p99, f.p50, f.p99, f.cpu_p99, x.p50, v50.c_str(), v99.c_str(), r50.c_str(),
                r99.c_str(), i.load_ms, f.load_ms, x.load_ms);
  }
  return 0;
}
