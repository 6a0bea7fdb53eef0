// File: src/nn/nn.h
//
// WASI-NN for every module wasmq runs: the `wasi_ephemeral_nn` import module in the witx ("preview1") ABI
// of Wasmtime and WasmEdge (the C view is pipelines/include/wasi_nn.h; docs/nn.md is the contract), backed
// by OpenCV's DNN module running ONNX graphs.
//
//   nn::HostConfig config;                         // limits, pool size, models directory, OCI resolver
//   nn::ConfigureDefaultHost(config);              // once, at start-up (`wasmq run`, serve, worker)
//   nn::DefaultHost().models().Add("isnet=/models/isnet.onnx");
//   ...
//   nn::Instance nn;                               // one per module instance (per run); outlives the store
//   nn.SetDeadline(deadline);                      // the run's; compute gives up there
//   request.add_imports = [&](wasm::Store& s, wasm::Imports& i) { nn.AddTo(s, i); };
//   cancel_token.OnCancel([&] { nn.Interrupt(); }); // a cancel stops a waiting compute at once
//
// A Host is what a process shares: its Models — those it was given by name (parsed once, on first use) and
// graphs loaded from bytes (cached by SHA-256) — and the bounded inference pool. An Instance is one module's view:
// its graph and context handles and what they hold, bounded by Limits so that a hostile module cannot
// exhaust the host's memory (over a bound: WASI_NN_ERRNO_TOO_LARGE).
//
// OpenCV itself lives in wasmq-nn-opencv.so, opened with dlopen on the first load: start-up does not pay
// for OpenCV's ~140 shared libraries.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "wasm/wasm.h"

namespace wasmq::nn {

struct Error {
  std::string message;
};
template <typename T>
using Result = base::Result<T, Error>;

// The witx errno values (wasi_nn.h).
enum class Errno : uint32_t {
  Success = 0,
  InvalidArgument = 1,
  InvalidEncoding = 2,
  MissingMemory = 3,
  Busy = 4,
  RuntimeError = 5,
  UnsupportedOperation = 6,
  TooLarge = 7,
  NotFound = 8,
};

struct Limits {
  uint64_t max_graph_bytes = 512ull << 20;     // the bytes given to one `load`
  uint64_t max_tensor_bytes = 256ull << 20;    // one input (as given and as f32) or one output
  uint32_t max_rank = 8;                       // dimensions of a tensor
  uint32_t max_graphs = 16;                    // graph handles per instance
  uint32_t max_contexts = 32;                  // execution contexts per instance
  uint64_t max_instance_bytes = 1ull << 30;    // graph bytes loaded + inputs + outputs held per instance
};

// Resolves NAME=OCI-REF to the path of the model's file (pulled into the cache): the CLI passes the models
// part's pull (src/cli/models.h, ResolveModelSpec). Called on the model's first load_by_name. Without one, a
// NAME=REF model is refused with "not supported yet".
using RefResolver = std::function<Result<std::string>(const std::string& name, const std::string& ref)>;

struct HostConfig {
  Limits limits = {};
  int threads = 0;               // inference pool size; 0 = one per core
  std::string models_dir = {};   // NAME.json index files (<cache-dir>/models); empty: none
  RefResolver resolve_ref = nullptr;
};

// What `wasmq run --verbose` and the tests report of one model (docs/nn.md, "Memory").
struct ModelReport {
  std::string name;       // the name it is loaded by; "sha256:…" for graphs loaded from bytes
  std::string source;     // the file, or "bytes"
  std::string digest;     // sha256:… of the model file, once loaded
  uint64_t file_bytes = 0;
  bool loaded = false;
  int nets = 0;                      // parsed nets (one per concurrent compute, at most the pool size)
  uint64_t weight_bytes = 0;         // the weights of one net (sum of its layers' blobs)
  uint64_t bytes_per_net = 0;        // heap growth measured while one net was parsed and first run
  uint64_t resident_bytes = 0;       // what the host holds for it: nets × bytes_per_net + kept bytes
  uint64_t parses = 0;               // how many nets were parsed (a shared model: nets, not per module)
};

class HostImpl;

// The models a process knows: by name (given as NAME=PATH|REF, or found in the models directory), each
// parsed once on first use and shared by every instance; and the graphs modules loaded from bytes, shared
// by SHA-256 while in use. Part of a Host (Host::models()).
class Models {
 public:
  // NAME=PATH (a model file) or NAME=OCI-REF (through HostConfig::resolve_ref). The file must exist; it is
  // parsed on first use. NAME: a letter or digit, then letters, digits, '.', '_', '-'; at most 100.
  Result<void> Add(std::string_view spec);
  // Every model known by name or loaded from bytes and still held, with its memory.
  std::vector<ModelReport> Report() const;
  // The sum of resident_bytes over Report().
  uint64_t MemoryBytes() const;

 private:
  friend class Host;
  explicit Models(HostImpl& impl) : impl_(impl) {}
  HostImpl& impl_;
};

// What a process shares: its Models and the inference pool.
class Host {
 public:
  explicit Host(HostConfig config = {});
  ~Host();  // waits for forward passes still running in the background
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  Models& models() { return models_; }
  const Models& models() const { return models_; }
  const HostConfig& config() const;

  HostImpl& impl() { return *impl_; }

 private:
  std::unique_ptr<HostImpl> impl_;
  Models models_;
};

// The process's host: made on first use from the last ConfigureDefaultHost (defaults without one).
Host& DefaultHost();
// Replaces the process's host for what starts using it afterwards (an Instance keeps the host it was
// made with). Call at start-up.
Host& ConfigureDefaultHost(HostConfig config);

// Parses a comma-separated list of NAME=PATH|REF (the `nn-model` setting, WASMQ_NN_MODELS) into specs.
std::vector<std::string> SplitModelSpecs(std::string_view list);

class InstanceImpl;

class Instance {
 public:
  explicit Instance(Host& host = DefaultHost());
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  // Makes the wasi_ephemeral_nn functions, bound to this instance, available through `imports` (created
  // in `store` only when a module imports them). The Instance must outlive the store.
  void AddTo(wasm::Store& store, wasm::Imports& imports);
  // compute waits no later than this (it then stops the module, as the run's deadline does).
  void SetDeadline(std::chrono::steady_clock::time_point deadline);
  // From any thread: a compute waiting now (or later) returns at once and stops the module.
  void Interrupt();

  // Bytes this instance holds (graph bytes it loaded, inputs, outputs), and the last error's text (for
  // diagnostics; the module only sees the errno).
  uint64_t bytes_held() const;
  std::string last_error() const;

 private:
  std::unique_ptr<InstanceImpl> impl_;
};

// The names of the wasi_ephemeral_nn functions AddTo provides.
std::vector<std::string> FunctionNames();

}  // namespace wasmq::nn
