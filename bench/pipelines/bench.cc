// bench/pipelines/bench.cc — each built-in pipeline on a 1024×1024 image:
//   wasmq    worker::RunPipeline on the module compiled into the binary (what the worker does per attempt:
//            new store, WASI with /in and /out, the wasmq imports, _start), in-process, interpreted
//   compiled the same on the compiling tier (EngineConfig::compile = kAlways): the modules are compiled
//            once, before timing (as a worker's registry does at start-up); that compile is reported apart,
//            with the time to load the same code again from the compiled-code cache
//   native   the same C compiled by the host compiler (-O2), as a process (pipeline_<name>)
//   node     the same .wasm under node's V8 with node:wasi (node_pipeline.mjs), compiled once
// Median wall time and median CPU time (user+system: of this process for wasmq, of the child for native) of
// RUNS runs each (default 5); node's is the wall time it measures itself. Ratios compiled/native, /node.
// Then, when WASMQ_BENCH_ISNET names an ISNet ONNX file (of input size WASMQ_BENCH_ISNET_SIZE, default 640,
// the size `isnet` stands for) and WASMQ_BENCH_PHOTO a photo: BACKGROUND_CHANGE with the model on that
// photo resized to 1024×1024 (teal background), wasmq + WASI-NN against native (the same model through
// OpenCV's DNN, pipelines/native/wasi_nn_opencv.cc). Both keep the graph loaded as a worker does: wasmq's
// host loads it once (a warm-up run before timing), and the native column subtracts the load the native
// process does on every run (it reports it: WASMQ_NN_TIMING=1).
//   pipelines_bench NATIVE_DIR WASM_DIR NODE_SCRIPT [RUNS]
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "builtin_pipelines.h"
#ifdef WASMQ_BENCH_WASI_NN
#include "nn/nn.h"
#endif
#include "worker/registry.h"
#include "worker/runner.h"

extern "C" {
int stbi_write_png(const char* filename, int w, int h, int comp, const void* data, int stride_in_bytes);
unsigned char* stbi_load(const char* filename, int* x, int* y, int* comp, int req_comp);
void stbi_image_free(void* retval_from_stbi_load);
int stbir_resize_uint8(const unsigned char* input_pixels, int input_w, int input_h, int input_stride_in_bytes,
                       unsigned char* output_pixels, int output_w, int output_h, int output_stride_in_bytes,
                       int num_channels);
}

namespace fs = std::filesystem;
namespace wasm = wasmq::wasm;
using Clock = std::chrono::steady_clock;

namespace {

struct Case {
  std::string mode, native, config;
};

// User+system CPU milliseconds of this process (who = RUSAGE_SELF) or its waited-for children.
double CpuMs(int who) {
  rusage ru{};
  getrusage(who, &ru);
  auto ms = [](const timeval& t) { return double(t.tv_sec) * 1e3 + double(t.tv_usec) / 1e3; };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}

// Per-run wall and CPU milliseconds.
struct Times {
  std::vector<double> wall, cpu;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? NAN : v[v.size() / 2];
}

// A 1024×1024 "photo": a shaded disk on a noisy two-tone backdrop.
void WriteImage(const std::string& path, uint32_t seed) {
  const int n = 1024;
  std::vector<uint8_t> px(size_t(n) * n * 3);
  uint32_t s = seed;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      s = s * 1664525u + 1013904223u;
      int noise = int(s >> 28) - 8;
      double r = std::hypot(x - 512.0, y - 480.0);
      uint8_t* p = &px[(size_t(y) * n + x) * 3];
      if (r < 300) {
        p[0] = uint8_t(std::clamp(200 - int(r / 4) + noise, 0, 255));
        p[1] = uint8_t(std::clamp(120 + int(r / 8) + noise, 0, 255));
        p[2] = uint8_t(std::clamp(90 + noise, 0, 255));
      } else {
        p[0] = uint8_t(std::clamp(40 + noise, 0, 255));
        p[1] = uint8_t(std::clamp((y < 600 ? 170 : 140) + noise, 0, 255));
        p[2] = uint8_t(std::clamp(60 + noise, 0, 255));
      }
    }
  stbi_write_png(path.c_str(), n, n, 3, px.data(), n * 3);
}

std::string TaskJson(const Case& c) {
  return nlohmann::json{{"task_id", "bench"}, {"mode", c.mode}, {"source_image", "img_source"},
                        {"config", nlohmann::json::parse(c.config)}}
      .dump();
}

void EmptyDir(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) fs::remove_all(e);
}

Times RunWasmq(const wasmq::worker::PipelineRegistry& reg, const Case& c, const fs::path& in,
               const fs::path& out, int runs) {
  Times ms;
  for (int i = 0; i < runs; ++i) {
    EmptyDir(out);
    wasmq::worker::RunRequest req;
    req.engine = &reg.engine();
    req.module = reg.Find(c.mode)->module.get();
    req.stdin_data = TaskJson(c);
    req.args = {c.mode};
    req.dirs = {in.string(), out.string()};
    double c0 = CpuMs(RUSAGE_SELF);
    auto t0 = Clock::now();
    auto outcome = wasmq::worker::RunPipeline(req);
    ms.wall.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    ms.cpu.push_back(CpuMs(RUSAGE_SELF) - c0);
    if (outcome.failure || !outcome.exit_code || *outcome.exit_code != 0) {
      std::fprintf(stderr, "%s failed under wasmq: %s %s\n", c.mode.c_str(),
                   outcome.failure ? outcome.failure->message.c_str() : outcome.error.message.c_str(),
                   outcome.stderr_data.c_str());
      std::exit(1);
    }
  }
  return ms;
}

int Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& stdin_path,
          const std::string& stdout_path, const std::string& stderr_path = "") {
  pid_t pid = fork();
  if (pid == 0) {
    int in = open(stdin_path.c_str(), O_RDONLY), out = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(in, 0), dup2(out, 1);
    if (!stderr_path.empty()) dup2(open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
    for (const std::string& e : env) putenv(strdup(e.c_str()));
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

Times RunNative(const std::string& dir, const Case& c, const fs::path& in, const fs::path& out,
                const fs::path& task, int runs) {
  Times ms;
  for (int i = 0; i < runs; ++i) {
    EmptyDir(out);
    double c0 = CpuMs(RUSAGE_CHILDREN);
    auto t0 = Clock::now();
    int rc = Spawn({dir + "/pipeline_" + c.native}, {"WASMQ_IN_DIR=" + in.string(), "WASMQ_OUT_DIR=" + out.string(),
                                                     "WASMQ_QUIET=1"},
                   task.string(), "/dev/null");
    ms.wall.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    ms.cpu.push_back(CpuMs(RUSAGE_CHILDREN) - c0);
    if (rc != 0) {
      std::fprintf(stderr, "%s failed natively (exit %d)\n", c.mode.c_str(), rc);
      std::exit(1);
    }
  }
  return ms;
}

std::vector<double> RunNode(const std::string& script, const std::string& wasm, const fs::path& in,
                            const fs::path& out, const fs::path& task, const fs::path& tmp, int runs) {
  // One node process per run: node 20 segfaults when one process runs a module's _start on a third fresh
  // instance (seen with HEAD_SWAP). The script times instantiate + _start only, not node's start-up.
  std::vector<double> ms;
  fs::path result = tmp / "node.json";
  for (int i = 0; i < runs; ++i) {
    int rc = Spawn({"node", "--no-warnings", script, wasm, in.string(), out.string(), task.string(), "1"}, {},
                   task.string(), result.string());
    std::ifstream f(result);
    std::stringstream ss;
    ss << f.rdbuf();
    auto j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (rc != 0 || !j.is_array() || j.empty()) {
      std::fprintf(stderr, "node run of %s failed (exit %d): %s\n", wasm.c_str(), rc, ss.str().c_str());
      return {};
    }
    ms.push_back(j[0].get<double>());
  }
  return ms;
}

// The photo resized to n×n (a real picture for the model: a synthetic disk says nothing about a matte).
bool WritePhoto(const std::string& from, const std::string& to, int n) {
  int w = 0, h = 0, comp = 0;
  unsigned char* px = stbi_load(from.c_str(), &w, &h, &comp, 3);
  if (!px) return false;
  std::vector<uint8_t> out(size_t(n) * n * 3);
  bool ok = stbir_resize_uint8(px, w, h, 0, out.data(), n, n, 0, 3) && stbi_write_png(to.c_str(), n, n, 3, out.data(), n * 3);
  stbi_image_free(px);
  return ok;
}

// The last "nn_timing KIND MS" line of the native shim's stderr.
double NnTiming(const fs::path& stderr_file, const std::string& kind) {
  std::ifstream f(stderr_file);
  std::string line;
  double ms = 0;
  while (std::getline(f, line))
    if (line.rfind("nn_timing " + kind + " ", 0) == 0) ms = std::atof(line.c_str() + 11 + kind.size());
  return ms;
}

void BenchModel(const wasmq::worker::PipelineRegistry& registry, const wasmq::worker::PipelineRegistry& compiled,
                const std::string& native_dir, const fs::path& tmp, int runs) {
  const char* model = std::getenv("WASMQ_BENCH_ISNET");
  const char* photo = std::getenv("WASMQ_BENCH_PHOTO");
  if (!model || !*model || !photo || !*photo) {
    std::printf("\nBACKGROUND_CHANGE with the model: skipped (set WASMQ_BENCH_ISNET and WASMQ_BENCH_PHOTO)\n");
    return;
  }
  const char* size_env = std::getenv("WASMQ_BENCH_ISNET_SIZE");
  std::string size = size_env && *size_env ? size_env : "640";
  std::string name = size == "640" ? "isnet" : "isnet-" + size;
  fs::path in = tmp / "in-model", out = tmp / "out";
  fs::create_directories(in);
  if (!WritePhoto(photo, (in / "source.png").string(), 1024)) {
    std::fprintf(stderr, "cannot read %s\n", photo);
    std::exit(1);
  }
  Case c{"BACKGROUND_CHANGE", "background_change", R"({"background_color":"teal","model":")" + name + R"("})"};
  fs::path task = tmp / "task-model.json", err = tmp / "stderr";
  std::ofstream(task) << TaskJson(c);
  std::vector<double> wall, loaded, compute, native_cpu;
  for (int i = 0; i < runs; ++i) {
    EmptyDir(out);
    double c0 = CpuMs(RUSAGE_CHILDREN);
    auto t0 = Clock::now();
    int rc = Spawn({native_dir + "/pipeline_background_change"},
                   {"WASMQ_IN_DIR=" + in.string(), "WASMQ_OUT_DIR=" + out.string(), "WASMQ_QUIET=1", "WASMQ_NN_TIMING=1",
                    "WASMQ_NN_MODEL=" + name + "=" + model},
                   task.string(), (tmp / "summary.json").string(), err.string());
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    native_cpu.push_back(CpuMs(RUSAGE_CHILDREN) - c0);
    std::ifstream summary(tmp / "summary.json");
    std::stringstream ss;
    ss << summary.rdbuf();
    if (rc != 0 || ss.str().find("\"matte\":\"model\"") == std::string::npos) {
      std::fprintf(stderr, "BACKGROUND_CHANGE with %s failed natively (exit %d): %s\n", model, rc, ss.str().c_str());
      std::exit(1);
    }
    wall.push_back(ms);
    loaded.push_back(ms - NnTiming(err, "load"));
    compute.push_back(NnTiming(err, "compute"));
  }
  double w = NAN, j = NAN, wc = NAN, jc = NAN;
#ifdef WASMQ_BENCH_WASI_NN
  (void)wasmq::nn::DefaultHost().models().Add(name + "=" + model);
  (void)RunWasmq(registry, c, in, out, 1);  // loads the graph into the host, as a worker's first task does
  // Interleaved, so that load from elsewhere falls on both tiers alike. CPU: this process's, the forward
  // pass's threads included.
  std::vector<double> ws, js, wcs, jcs;
  for (int i = 0; i < runs; ++i) {
    Times a = RunWasmq(registry, c, in, out, 1), b = RunWasmq(compiled, c, in, out, 1);
    ws.push_back(a.wall[0]), wcs.push_back(a.cpu[0]);
    js.push_back(b.wall[0]), jcs.push_back(b.cpu[0]);
  }
  w = Median(ws), j = Median(js), wc = Median(wcs), jc = Median(jcs);
#else
  (void)registry;
  (void)compiled;
#endif
  double n = Median(loaded);
  std::printf("\nBACKGROUND_CHANGE with the model %s (input %s) on %s resized to 1024x1024, teal (wall ms):\n",
              name.c_str(), size.c_str(), fs::path(photo).filename().c_str());
  std::printf("%-26s %10s %12s %12s %16s %14s %16s\n", "", "interp ms", "compiled ms", "native ms",
              "native+load ms", "forward ms", "compiled/native");
  std::printf("%-26s %10.1f %12.1f %12.1f %16.1f %14.1f %15.3fx\n", "BACKGROUND_CHANGE+isnet", w, j, n,
              Median(wall), Median(compute), j / n);
  std::printf("%-26s %10.1f %12.1f %12s %16.1f   (CPU ms; native's includes parsing the graph)\n",
              "  CPU", wc, jc, "", Median(native_cpu));
  if (std::isnan(w)) std::printf("(wasmq: n/a, this build has no WASI-NN host)\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s NATIVE_DIR WASM_DIR NODE_SCRIPT [RUNS]\n", argv[0]);
    return 2;
  }
  const std::string native_dir = argv[1], wasm_dir = argv[2], node_script = argv[3];
  const int runs = argc > 4 ? std::max(1, std::atoi(argv[4])) : 5;
  fs::path tmp = fs::temp_directory_path() / ("wasmq-pipelines-bench-" + std::to_string(getpid()));
  fs::path in = tmp / "in", out = tmp / "out";
  fs::create_directories(in);
  fs::create_directories(out);
  WriteImage((in / "source.png").string(), 1);
  WriteImage((in / "reference_image.png").string(), 2);

  const std::vector<Case> cases = {
      {"BACKGROUND_CHANGE", "background_change",
       R"({"background_gradient":{"from":"navy","to":"gold"},"feather":3,"matte":"estimate"})"},
      {"POSE_CHANGE", "pose_change", R"({"rotate":17,"scale":0.9,"flip":"horizontal"})"},
      {"HEAD_SWAP", "head_swap",
       R"({"reference_image":"img_ref","source_box":{"x":300,"y":250,"w":420,"h":460},"reference_box":{"x":250,"y":200,"w":520,"h":560}})"},
  };
  wasmq::worker::PipelineRegistry registry;
  if (auto r = registry.AddBuiltins(wasmq::pipelines::BuiltinModules()); !r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    return 1;
  }
  // The compiling tier: compiled once into an empty cache (timed), then a second registry loads the same
  // code from that cache (timed: what a restarted worker pays); the first one is used below.
  wasm::EngineConfig jit_config;
  jit_config.compile = wasm::CompileMode::kAlways;
  jit_config.compile_cache_dir = (tmp / "compiled").string();
  wasmq::worker::PipelineRegistry compiled(jit_config);
  double c0 = CpuMs(RUSAGE_SELF);
  auto t0 = Clock::now();
  if (auto r = compiled.AddBuiltins(wasmq::pipelines::BuiltinModules()); !r) {
    std::fprintf(stderr, "compiled tier: %s\n", r.error().message.c_str());
    return 1;
  }
  double compile_wall = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  double compile_cpu = CpuMs(RUSAGE_SELF) - c0;
  {
    wasmq::worker::PipelineRegistry again(jit_config);
    auto t1 = Clock::now();
    (void)again.AddBuiltins(wasmq::pipelines::BuiltinModules());
    double cached = std::chrono::duration<double, std::milli>(Clock::now() - t1).count();
    size_t bytes = 0;
    for (const auto& m : wasmq::pipelines::BuiltinModules()) bytes += m.bytes.size();
    std::printf("compiling the %zu built-in modules (%.0f KB of wasm): %.0f ms wall, %.0f ms CPU (%.0f ms per "
                "100 KB); loading them again from the compiled-code cache: %.1f ms\n\n",
                wasmq::pipelines::BuiltinModules().size(), double(bytes) / 1024, compile_wall, compile_cpu,
                compile_cpu / (double(bytes) / 102400), cached);
  }
  std::printf("%-18s %10s %12s %10s %10s | %10s %12s %10s | %16s %16s %14s\n", "pipeline (1024²)", "interp ms",
              "compiled ms", "native ms", "node ms", "interp cpu", "compiled cpu", "native cpu",
              "compiled/native", "(cpu)", "compiled/node");
  const char* only_model = std::getenv("WASMQ_BENCH_ONLY_MODEL");  // skip the table above: the model row only
  for (const Case& c : cases) {
    if (only_model && *only_model) break;
    fs::path task = tmp / "task.json";
    std::ofstream(task) << TaskJson(c);
    // Interleaved run by run, so that load from elsewhere falls on every column alike.
    Times w, j, n;
    std::vector<double> v;
    for (int i = 0; i < runs; ++i) {
      Times a = RunWasmq(registry, c, in, out, 1), b = RunWasmq(compiled, c, in, out, 1),
            d = RunNative(native_dir, c, in, out, task, 1);
      w.wall.push_back(a.wall[0]), w.cpu.push_back(a.cpu[0]);
      j.wall.push_back(b.wall[0]), j.cpu.push_back(b.cpu[0]);
      n.wall.push_back(d.wall[0]), n.cpu.push_back(d.cpu[0]);
      for (double x : RunNode(node_script, wasm_dir + "/" + c.mode + ".wasm", in, out, task, tmp, 1)) v.push_back(x);
    }
    double jw = Median(j.wall), nw = Median(n.wall), vw = Median(v);
    std::printf("%-18s %10.1f %12.1f %10.1f %10.1f | %10.1f %12.1f %10.1f | %15.2fx %15.2fx %13.2fx\n",
                c.mode.c_str(), Median(w.wall), jw, nw, vw, Median(w.cpu), Median(j.cpu), Median(n.cpu), jw / nw,
                Median(j.cpu) / Median(n.cpu), jw / vw);
    std::fflush(stdout);
  }
  BenchModel(registry, compiled, native_dir, tmp, runs);
  fs::remove_all(tmp);
  return 0;
}
