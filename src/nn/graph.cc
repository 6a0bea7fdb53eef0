// File: src/nn/graph.cc
#include <fstream>
#include <iterator>

#include "base/digest.h"
#include "nn/internal.h"

namespace wasmq::nn {

Outcome<std::shared_ptr<Graph>> Graph::Make(const Backend* backend, std::string name, std::string path,
                                             std::string bytes, bool keep_bytes, std::string digest,
                                             OnnxInfo info) {
  std::shared_ptr<Graph> g(new Graph(backend, std::move(name), std::move(path), std::move(digest), std::move(info)));
  g->size_ = bytes.size();
  Outcome<void*> first = g->Parse(bytes);
  if (!first) return first.error();
  g->ReturnNet(*first);
  if (keep_bytes) g->kept_bytes_ = std::move(bytes);
  return g;
}

Graph::~Graph() {
  base::MutexLock lock(mu_);
  for (void* net : free_) backend_->free_net(net);
}

Outcome<void*> Graph::Parse(const std::string& bytes) {
  WasmqNnNetStats stats{};
  char err[512] = "";
  void* net = backend_->read_onnx(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &stats, err,
                                  sizeof err);
  if (!net) return Failure{Errno::InvalidEncoding, err};
  base::MutexLock lock(mu_);
  ++nets_;
  ++parses_;
  weight_bytes_ = stats.weight_bytes;
  if (parses_ == 1) parse_heap_bytes_ = stats.heap_bytes;
  return net;
}

Outcome<void*> Graph::TakeNet() {
  {
    base::MutexLock lock(mu_);
    if (!free_.empty()) {
      void* net = free_.back();
      free_.pop_back();
      return net;
    }
  }
  // Every net is in a forward pass: parse another (the pool bounds how many are ever made).
  if (!kept_bytes_.empty()) return Parse(kept_bytes_);
  std::ifstream in(path_, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) return Failure{Errno::RuntimeError, "cannot read " + path_ + " again"};
  // The file is read again for each further net: it must still be the model the first net was made from.
  if ("sha256:" + base::Sha256Hex(bytes) != digest_)
    return Failure{Errno::RuntimeError, path_ + " changed since it was loaded (" + digest_ + ")"};
  return Parse(bytes);
}

void Graph::ReturnNet(void* net) {
  base::MutexLock lock(mu_);
  free_.push_back(net);
}

void Graph::NoteFirstRun(int64_t heap_growth) {
  base::MutexLock lock(mu_);
  if (run_heap_bytes_ < 0) run_heap_bytes_ = heap_growth < 0 ? 0 : heap_growth;
}

ModelReport Graph::Report() const {
  base::MutexLock lock(mu_);
  ModelReport r;
  r.name = name_;
  r.source = path_.empty() ? "bytes" : path_;
  r.digest = digest_;
  r.file_bytes = size_;
  r.loaded = true;
  r.nets = nets_;
  r.parses = parses_;
  r.weight_bytes = weight_bytes_;
  r.bytes_per_net = std::max(parse_heap_bytes_, weight_bytes_) + static_cast<uint64_t>(std::max<int64_t>(0, run_heap_bytes_));
  r.resident_bytes = r.bytes_per_net * static_cast<uint64_t>(nets_) + kept_bytes_.size();
  return r;
}

}  // namespace wasmq::nn
