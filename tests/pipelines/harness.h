// File: tests/pipelines/harness.h
//
// Shared by the pipeline tests: small RGB images made by the tests (and written as PNG), and two ways to
// run a built-in pipeline on them —
//   Wasm():   worker::RunPipeline on the module compiled into the binary (pipelines::BuiltinModules()), with
//             /in and /out temporary directories and an optional engine registry: exactly what the worker
//             does for one attempt;
//   Native(): the same C compiled for the host (pipelines/native/wasmq_native.c provides the imports).
// Both give an Outcome: the decoded /out/result.*, the stdout summary, or the wasmq.fail code.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "builtin_pipelines.h"
#include "engines/engines.h"
#include "worker/registry.h"
#include "worker/runner.h"

extern "C" {
int stbi_write_png_to_func(void (*func)(void*, void*, int), void* context, int w, int h, int comp,
                           const void* data, int stride_in_bytes);
unsigned char* stbi_load_from_memory(const unsigned char* buffer, int len, int* x, int* y, int* channels_in_file,
                                     int desired_channels);
void stbi_image_free(void* retval_from_stbi_load);
}

namespace wasmq::pipelines::testing {

using Json = nlohmann::json;

struct Rgb {
  uint8_t r, g, b;
  bool operator==(const Rgb&) const = default;
};

struct Image {
  int w = 0, h = 0;
  std::vector<uint8_t> px;  // RGB

  Image() = default;
  Image(int width, int height, Rgb fill = {0, 0, 0}) : w(width), h(height), px(size_t(width) * height * 3) {
    for (int i = 0; i < w * h; ++i) set(i % w, i / w, fill);
  }
  Rgb at(int x, int y) const {
    const uint8_t* p = &px[(size_t(y) * w + x) * 3];
    return {p[0], p[1], p[2]};
  }
  void set(int x, int y, Rgb c) {
    uint8_t* p = &px[(size_t(y) * w + x) * 3];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }
};

inline std::ostream& operator<<(std::ostream& o, const Rgb& c) {
  return o << "rgb(" << int(c.r) << "," << int(c.g) << "," << int(c.b) << ")";
}

// A deterministic pseudo-random generator (tests must not flake).
class Lcg {
 public:
  explicit Lcg(uint32_t seed) : s_(seed) {}
  uint32_t Next() { return s_ = s_ * 1664525u + 1013904223u; }
  int Noise(int amplitude) { return int(Next() >> 16) % (2 * amplitude + 1) - amplitude; }

 private:
  uint32_t s_;
};

inline uint8_t Clamp8(int v) { return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v); }

inline std::string EncodePng(const Image& img) {
  std::string out;
  stbi_write_png_to_func(
      [](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size); },
      &out, img.w, img.h, 3, img.px.data(), img.w * 3);
  return out;
}

inline Image DecodeImage(const std::string& bytes) {
  Image img;
  int comp = 0;
  unsigned char* px = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(bytes.data()), int(bytes.size()),
                                            &img.w, &img.h, &comp, 3);
  if (!px) return Image{};
  img.px.assign(px, px + size_t(img.w) * img.h * 3);
  stbi_image_free(px);
  return img;
}

// A PNG signature and IHDR for a w×h RGB image, CRCs included, then no image data.
inline std::string PngHeader(uint32_t w, uint32_t h) {
  auto be = [](uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  std::string chunk = "IHDR" + be(w) + be(h) + std::string("\x08\x02\x00\x00\x00", 5);
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : chunk) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
  }
  return std::string("\x89PNG\r\n\x1a\n", 8) + be(13) + chunk + be(~crc);
}

// Peak signal-to-noise ratio in dB over all channels (infinity for identical images).
inline double Psnr(const Image& a, const Image& b) {
  if (a.w != b.w || a.h != b.h) return -1;
  double se = 0;
  for (size_t i = 0; i < a.px.size(); ++i) se += (double(a.px[i]) - b.px[i]) * (double(a.px[i]) - b.px[i]);
  if (se == 0) return INFINITY;
  return 10 * std::log10(255.0 * 255.0 / (se / double(a.px.size())));
}

inline int MaxDiff(const Image& a, const Image& b) {
  int m = 0;
  for (size_t i = 0; i < a.px.size(); ++i) m = std::max(m, std::abs(int(a.px[i]) - int(b.px[i])));
  return m;
}

inline std::string Slurp(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wasmq-pipelines-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct Outcome {
  bool ok = false;                       // exit 0 with a result image
  std::string code, message;             // wasmq.fail, or "EXIT <n>" / "ERROR <what>"
  bool retryable = false;
  Json summary;                          // stdout, parsed
  Image image;                           // /out/result.*
  std::string output_name;               // "result.png"
  std::vector<std::pair<int, std::string>> progress;  // Wasm() only
  std::string stdout_data, stderr_data;
};

inline std::ostream& operator<<(std::ostream& o, const Outcome& r) {
  return o << "ok=" << r.ok << " code=" << r.code << " message=" << r.message << " stdout=" << r.stdout_data
           << " stderr=" << r.stderr_data.substr(0, 2000);
}

// The built-in modules, compiled once for the whole test binary.
inline const worker::PipelineRegistry& Builtins() {
  static worker::PipelineRegistry* registry = [] {
    auto* r = new worker::PipelineRegistry();
    auto added = r->AddBuiltins(pipelines::BuiltinModules());
    if (!added) ADD_FAILURE() << added.error().message;
    return r;
  }();
  return *registry;
}

// One pipeline run: inputs go in in(), the outcome comes from out().
class PipelineRun {
 public:
  explicit PipelineRun(std::string mode) : mode_(std::move(mode)) {
    std::filesystem::create_directories(dir_.path() / "in");
    std::filesystem::create_directories(dir_.path() / "out");
  }

  void Input(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_.path() / "in" / name, std::ios::binary) << bytes;
  }
  void InputPng(const std::string& stem, const Image& img) { Input(stem + ".png", EncodePng(img)); }
  // A file the last run left in /out besides the result (e.g. BACKGROUND_CHANGE's mask.png).
  std::filesystem::path OutFile(const std::string& name) const { return dir_.path() / "out" / name; }

  std::string TaskJson(const Json& config, const std::string& source_image = "img_source") const {
    Json task = {{"task_id", "task_test"}, {"mode", mode_}, {"status", "processing"}, {"attempt", 1},
                 {"source_image", source_image}, {"config", config}};
    return task.dump();
  }

  Outcome Wasm(const Json& config, const engines::EngineRegistry* engines = nullptr) {
    return WasmRaw(TaskJson(config), engines);
  }

  // Runs the modules of `registry` (e.g. compiled under other limits) instead of Builtins().
  void UseRegistry(const worker::PipelineRegistry* registry) { registry_ = registry; }

  Outcome WasmRaw(const std::string& stdin_data, const engines::EngineRegistry* engines = nullptr) {
    Clean();
    const worker::Pipeline* p = registry_->Find(mode_);
    Outcome r;
    if (!p) {
      r.code = "ERROR no built-in module for " + mode_;
      return r;
    }
    worker::RunRequest req;
    req.engine = &registry_->engine();
    req.module = p->module.get();
    req.stdin_data = stdin_data;
    req.args = {mode_};
    req.env = {"WASMQ_TASK_ID=task_test", "WASMQ_MODE=" + mode_, "WASMQ_ATTEMPT=1"};
    req.dirs = {(dir_.path() / "in").string(), (dir_.path() / "out").string()};
    req.engines = engines;
    req.on_progress = [&r](int percent, std::string_view msg) {
      r.progress.emplace_back(percent, std::string(msg));
      return true;
    };
    worker::RunOutcome out = worker::RunPipeline(req);
    r.stdout_data = out.stdout_data;
    r.stderr_data = out.stderr_data;
    if (out.failure) {
      r.code = out.failure->code;
      r.message = out.failure->message;
      r.retryable = out.failure->retryable;
      return r;
    }
    if (!out.exit_code) {
      r.code = "ERROR " + out.error.message;
      return r;
    }
    if (*out.exit_code != 0) {
      r.code = "EXIT " + std::to_string(*out.exit_code);
      return r;
    }
    return Collect(std::move(r));
  }

  // The native build: WASMQ_FACES names a JSON file the shim answers face-detect with.
  Outcome Native(const Json& config, const std::string& faces_json = "") {
    Clean();
    std::filesystem::path stdin_file = dir_.path() / "task.json", out_file = dir_.path() / "stdout",
                          err_file = dir_.path() / "stderr", faces = dir_.path() / "faces.json";
    std::ofstream(stdin_file) << TaskJson(config);
    if (!faces_json.empty()) std::ofstream(faces) << faces_json;
    std::string binary = std::string(NATIVE_PIPELINES_DIR) + "/pipeline_" + Lower(mode_);
    pid_t pid = fork();
    if (pid == 0) {
      int in = open(stdin_file.c_str(), O_RDONLY), out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644),
          err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(in, 0), dup2(out, 1), dup2(err, 2);
      setenv("WASMQ_IN_DIR", (dir_.path() / "in").c_str(), 1);
      setenv("WASMQ_OUT_DIR", (dir_.path() / "out").c_str(), 1);
      if (!faces_json.empty()) setenv("WASMQ_FACES", faces.c_str(), 1);
      execl(binary.c_str(), binary.c_str(), mode_.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    Outcome r;
    r.stdout_data = Slurp(out_file);
    r.stderr_data = Slurp(err_file);
    if (size_t at = r.stderr_data.find("wasmq_fail "); at != std::string::npos) {
      Json f = Json::parse(r.stderr_data.substr(at + 11, r.stderr_data.find('\n', at) - at - 11));
      r.code = f["code"];
      r.message = f["message"];
      r.retryable = f["retryable"];
      return r;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      r.code = "EXIT " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
      return r;
    }
    return Collect(std::move(r));
  }

 private:
  static std::string Lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  void Clean() {
    for (const auto& e : std::filesystem::directory_iterator(dir_.path() / "out")) std::filesystem::remove_all(e);
  }
  Outcome Collect(Outcome r) {
    r.summary = Json::parse(r.stdout_data, nullptr, /*allow_exceptions=*/false);
    if (r.summary.is_discarded() || !r.summary.contains("output")) {
      r.code = "ERROR stdout is not the summary";
      return r;
    }
    r.output_name = r.summary["output"];
    r.image = DecodeImage(Slurp(dir_.path() / "out" / r.output_name));
    r.ok = r.image.w > 0;
    if (!r.ok) r.code = "ERROR the output does not decode";
    return r;
  }

  std::string mode_;
  const worker::PipelineRegistry* registry_ = &Builtins();
  TempDir dir_;
};

// A stand-in for the face-detect engine: answers a fixed JSON (or fails with `status`) and records what
// it was asked.
class FakeFaceEngine : public engines::Engine {
 public:
  FakeFaceEngine(std::string answer, engines::Status status = engines::Status::Ok)
      : answer_(std::move(answer)), status_(status) {}
  std::string_view kind() const override { return "test"; }
  engines::Response Call(const engines::Request& request, const engines::CallContext&) const override {
    std::lock_guard l(mu_);
    requests_.push_back(request);
    if (status_ != engines::Status::Ok) return engines::Failure(status_, answer_);
    engines::Response ok;
    ok.json = answer_;
    return ok;
  }
  std::vector<engines::Request> requests() const {
    std::lock_guard l(mu_);
    return requests_;
  }

 private:
  std::string answer_;
  engines::Status status_;
  mutable std::mutex mu_;
  mutable std::vector<engines::Request> requests_;
};

// A registry with the built-in engines and `face-detect` replaced by `fake` (owned by the registry).
inline std::unique_ptr<engines::EngineRegistry> WithFaces(std::unique_ptr<FakeFaceEngine> fake) {
  auto loaded = engines::EngineRegistry::Load("");
  if (!loaded) ADD_FAILURE() << loaded.error().message;
  (*loaded)->Add("face-detect", std::move(fake));
  return loaded.ok() ? std::move(*loaded) : nullptr;
}

}  // namespace wasmq::pipelines::testing
