// File: src/nn/internal.h
//
// Internal to the nn part: the OpenCV module (Backend), a parsed model (Graph) with the nets made from it,
// the inference pool, and the process-wide state behind nn::Host.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "nn/nn.h"
#include "nn/onnx_info.h"
#include "nn/opencv_module/nn_module.h"

namespace wasmq::nn {

// An error the module sees as an errno, with text for the host's diagnostics.
struct Failure {
  Errno code = Errno::RuntimeError;
  std::string message;
};
template <typename T>
using Outcome = base::Result<T, Failure>;

// wasmq-nn-opencv.so, opened once per process on first use.
struct Backend {
  decltype(&wasmq_nn_read_onnx) read_onnx = nullptr;
  decltype(&wasmq_nn_forward) forward = nullptr;
  decltype(&wasmq_nn_free) free_net = nullptr;
};
// The module, or why it cannot be loaded (the same answer for the life of the process).
Outcome<const Backend*> LoadBackend();

// Parses `bytes` in a forked child first (isolated_parse.cc says why): success when the child parsed them
// and lived; invalid_encoding when it refused them or crashed.
Outcome<void> ParseInChild(const Backend* backend, const std::string& bytes);

// One model, parsed: the nets made from it (OpenCV's nets cannot run two forward passes at once, nor share
// weights between nets, so each concurrent compute takes a net of its own; at most the pool's size are
// ever made) and how to make another (the bytes kept, or the file read again).
class Graph {
 public:
  // Parses the first net; Failure (invalid_encoding) when OpenCV refuses the graph.
  static Outcome<std::shared_ptr<Graph>> Make(const Backend* backend, std::string name, std::string path,
                                               std::string bytes, bool keep_bytes, std::string digest,
                                               OnnxInfo info);
  ~Graph();

  const OnnxInfo& info() const { return info_; }
  const std::string& digest() const { return digest_; }
  uint64_t size() const { return size_; }
  const Backend* backend() const { return backend_; }
  // A net for one forward pass (a free one, else a new one); give it back with ReturnNet.
  Outcome<void*> TakeNet() EXCLUDES(mu_);
  void ReturnNet(void* net) EXCLUDES(mu_);
  // The first forward pass of a net grows it by its intermediate blobs: counted once, in bytes_per_net.
  void NoteFirstRun(int64_t heap_growth) EXCLUDES(mu_);
  ModelReport Report() const EXCLUDES(mu_);

 private:
  Graph(const Backend* backend, std::string name, std::string path, std::string digest, OnnxInfo info)
      : backend_(backend), name_(std::move(name)), path_(std::move(path)), digest_(std::move(digest)),
        info_(std::move(info)) {}
  Outcome<void*> Parse(const std::string& bytes) EXCLUDES(mu_);

  const Backend* backend_;
  const std::string name_, path_, digest_;
  const OnnxInfo info_;
  uint64_t size_ = 0;
  std::string kept_bytes_;  // for graphs loaded from bytes (no file to read again)
  mutable base::Mutex mu_;
  std::vector<void*> free_ GUARDED_BY(mu_);
  int nets_ GUARDED_BY(mu_) = 0;
  uint64_t parses_ GUARDED_BY(mu_) = 0;
  uint64_t weight_bytes_ GUARDED_BY(mu_) = 0, parse_heap_bytes_ GUARDED_BY(mu_) = 0;
  int64_t run_heap_bytes_ GUARDED_BY(mu_) = -1;  // -1: not run yet
};

// N threads running forward passes. A job submitted waits for a thread; jobs are never interrupted (a
// forward pass cannot be), so the waiter abandons a job instead (Job::Abandon) and the job drops its result.
class Pool {
 public:
  explicit Pool(int threads) : threads_(threads) {}
  ~Pool();  // runs what is queued, then joins
  void Submit(std::function<void()> job) EXCLUDES(mu_);
  int threads() const { return threads_; }

 private:
  void Loop() EXCLUDES(mu_);
  const int threads_;
  base::Mutex mu_;
  base::CondVar cv_;
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  std::vector<std::thread> workers_ GUARDED_BY(mu_);
  int idle_ GUARDED_BY(mu_) = 0;  // threads waiting for a job
  bool stopping_ GUARDED_BY(mu_) = false;
};

// A model known by name.
struct NamedModel {
  std::string name;
  std::string path;  // empty until an OCI reference is resolved
  std::string ref;   // NAME=OCI-REF
  std::string index;            // the models-directory index file it came from, if any
  std::string expected_digest;  // from that index file: checked on load
  base::Mutex mu;               // one load at a time; later loads find `graph`
  std::shared_ptr<Graph> graph GUARDED_BY(mu);
};

class HostImpl {
 public:
  explicit HostImpl(HostConfig config);
  ~HostImpl();

  const HostConfig& config() const { return config_; }
  Result<void> AddModel(std::string_view spec) EXCLUDES(mu_);
  Outcome<std::shared_ptr<Graph>> LoadByName(const std::string& name) EXCLUDES(mu_);
  Outcome<std::shared_ptr<Graph>> LoadBytes(std::string bytes) EXCLUDES(mu_);
  Pool& pool() EXCLUDES(mu_);
  std::vector<ModelReport> Report() const EXCLUDES(mu_);

 private:
  // A model of the models directory (NAME.json), read defensively; nullptr when there is none.
  Outcome<std::shared_ptr<NamedModel>> FromModelsDir(const std::string& name) const;
  Outcome<std::shared_ptr<Graph>> LoadNamed(NamedModel& model);

  const HostConfig config_;
  mutable base::Mutex mu_;
  std::map<std::string, std::shared_ptr<NamedModel>> models_ GUARDED_BY(mu_);
  // Graphs loaded from bytes, by digest: shared while any instance holds them; the last few stay.
  std::map<std::string, std::weak_ptr<Graph>> by_digest_ GUARDED_BY(mu_);
  std::list<std::shared_ptr<Graph>> recent_ GUARDED_BY(mu_);
  std::unique_ptr<Pool> pool_ GUARDED_BY(mu_);
};

// True for NAME of NAME=PATH|REF and of load_by_name: [A-Za-z0-9][A-Za-z0-9._-]*, at most 100 (the models
// index's file names, src/cli/models.h).
bool IsModelName(std::string_view name);

}  // namespace wasmq::nn
