// wasi_nn_opencv.cc — the wasi_nn_* functions of include/wasi_nn.h for a pipeline compiled natively
// (benchmarks, tests), over OpenCV's DNN module: the same C that calls WASI-NN inside wasmq runs here with
// the same model, so the benchmark's native column is "the same model called natively with OpenCV".
//
// Models by name (load_by_name), looked up in this order:
//   WASMQ_NN_MODEL      "NAME=PATH[,NAME=PATH...]", as `wasmq --nn-model NAME=PATH` takes them (also
//                       read from WASMQ_NN_MODELS, the serve and worker setting of the same form)
//   WASMQ_NN_MODEL_DIR  a folder holding NAME.onnx (or NAME with '-' written '_': isnet_512.onnx)
//   the models cache    <cache>/models/NAME.json's "path" (`wasmq models fetch`; <cache> is
//                       $WASMQ_CACHE_DIR, else $XDG_CACHE_HOME/wasmq, else ~/.cache/wasmq); the digest is
//                       the host's business, not this shim's
// Anything else is WASI_NN_ERRNO_NOT_FOUND, which the pipelines answer with their fallback.
// Inputs and outputs are matched to the ONNX graph's own order (read from the file: OpenCV has no API for
// the output order), so index 0 is the graph's first declared input/output, as in the host.
// A graph loaded by name is kept for the process; WASMQ_NN_TIMING=1 logs load and compute times on
// stderr (bench/pipelines takes the load out of the native column: the host loads once per process).
#include <nlohmann/json.hpp>
#include <opencv2/dnn.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "wasi_nn.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Graph {
  cv::dnn::Net net;
  std::vector<std::string> inputs, outputs;  // the graph's declared order
};

struct Context {
  Graph* graph;
  std::vector<cv::Mat> inputs;
  std::vector<cv::Mat> outputs;
};

std::vector<std::unique_ptr<Graph>> g_graphs;   // handle = index
std::vector<std::unique_ptr<Context>> g_contexts;
std::map<std::string, wasi_nn_graph> g_by_name;

bool Timing() { return std::getenv("WASMQ_NN_TIMING") != nullptr; }
double MsSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// ---- just enough protobuf to read ModelProto.graph.{input,output,initializer} names ----
struct Reader {
  const uint8_t* p;
  const uint8_t* end;
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; p < end && shift < 64; shift += 7) {
      uint8_t b = *p++;
      *v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  // Next field: its number and, for length-delimited ones, the bytes; others are skipped.
  bool Next(uint32_t* field, Reader* sub) {
    uint64_t key, len;
    if (p >= end || !Varint(&key)) return false;
    *field = uint32_t(key >> 3);
    *sub = {nullptr, nullptr};
    switch (key & 7) {
      case 0: return Varint(&len);
      case 1: p += 8; return p <= end;
      case 5: p += 4; return p <= end;
      case 2:
        if (!Varint(&len) || len > uint64_t(end - p)) return false;
        *sub = {p, p + len};
        p += len;
        return true;
      default: return false;
    }
  }
  std::string String() const { return std::string(reinterpret_cast<const char*>(p), size_t(end - p)); }
};

// The `name` (field 1 of ValueInfoProto, 8 of TensorProto) of a message.
std::string NameField(Reader m, uint32_t number) {
  uint32_t f;
  Reader sub;
  while (m.Next(&f, &sub))
    if (f == number && sub.p) return sub.String();
  return "";
}

bool ReadOnnxNames(const std::string& bytes, Graph* g) {
  Reader model{reinterpret_cast<const uint8_t*>(bytes.data()), reinterpret_cast<const uint8_t*>(bytes.data()) + bytes.size()};
  uint32_t f;
  Reader sub;
  while (model.Next(&f, &sub)) {
    if (f != 7 || !sub.p) continue;  // ModelProto.graph
    std::vector<std::string> inputs;
    std::set<std::string> initializers;
    Reader graph = sub;
    while (graph.Next(&f, &sub)) {
      if (!sub.p) continue;
      if (f == 11) inputs.push_back(NameField(sub, 1));       // GraphProto.input
      if (f == 12) g->outputs.push_back(NameField(sub, 1));   // GraphProto.output
      if (f == 5) initializers.insert(NameField(sub, 8));     // GraphProto.initializer (old IRs list them as inputs)
    }
    for (const std::string& in : inputs)
      if (!initializers.count(in)) g->inputs.push_back(in);
    return !g->inputs.empty() && !g->outputs.empty();
  }
  return false;
}

wasi_nn_errno LoadBytes(const std::string& bytes, wasi_nn_graph* handle) {
  auto g = std::make_unique<Graph>();
  if (!ReadOnnxNames(bytes, g.get())) return WASI_NN_ERRNO_INVALID_ENCODING;
  try {
    g->net = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
  } catch (const cv::Exception& e) {
    std::fprintf(stderr, "log warn wasi-nn (native): OpenCV cannot read the model: %s\n", e.what());
    return WASI_NN_ERRNO_INVALID_ENCODING;
  }
  if (g->net.empty()) return WASI_NN_ERRNO_INVALID_ENCODING;
  g_graphs.push_back(std::move(g));
  *handle = wasi_nn_graph(g_graphs.size() - 1);
  return WASI_NN_ERRNO_SUCCESS;
}

std::string ModelPath(const std::string& name) {
  for (const char* var : {"WASMQ_NN_MODEL", "WASMQ_NN_MODELS"}) {  // the second is the serve/worker setting's
    const char* list = std::getenv(var);
    if (!list) continue;
    std::stringstream ss(list);
    std::string item;
    while (std::getline(ss, item, ','))
      if (size_t eq = item.find('='); eq != std::string::npos && item.substr(0, eq) == name) return item.substr(eq + 1);
  }
  if (const char* dir = std::getenv("WASMQ_NN_MODEL_DIR"); dir && *dir) {
    std::string underscored = name;
    for (char& c : underscored)
      if (c == '-') c = '_';
    for (const std::string& stem : {name, underscored}) {
      std::string path = std::string(dir) + "/" + stem + ".onnx";
      if (std::ifstream(path).good()) return path;
    }
  }
  std::string cache;
  if (const char* c = std::getenv("WASMQ_CACHE_DIR"); c && *c) cache = c;
  else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) cache = std::string(x) + "/wasmq";
  else if (const char* home = std::getenv("HOME"); home && *home) cache = std::string(home) + "/.cache/wasmq";
  if (!cache.empty() && name.find('/') == std::string::npos) {
    std::ifstream index(cache + "/models/" + name + ".json");
    nlohmann::json j = nlohmann::json::parse(index, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("path") && j["path"].is_string()) return j["path"].get<std::string>();
  }
  return "";
}

Context* FindContext(wasi_nn_graph_execution_context c) {
  return c < g_contexts.size() ? g_contexts[c].get() : nullptr;
}

size_t TypeBytes(wasi_nn_tensor_type t) {
  switch (t) {
    case WASI_NN_TYPE_F32: case WASI_NN_TYPE_I32: return 4;
    case WASI_NN_TYPE_U8: return 1;
    default: return 0;
  }
}

}  // namespace

extern "C" {

wasi_nn_errno wasi_nn_load(const wasi_nn_graph_builder* builders, uint32_t builders_len, uint32_t encoding,
                           uint32_t target, wasi_nn_graph* graph) {
  if (builders_len != 1 || (encoding != WASI_NN_ENCODING_ONNX && encoding != WASI_NN_ENCODING_AUTODETECT))
    return WASI_NN_ERRNO_INVALID_ARGUMENT;
  if (target != WASI_NN_TARGET_CPU) return WASI_NN_ERRNO_UNSUPPORTED_OPERATION;
  return LoadBytes(std::string(reinterpret_cast<const char*>(builders[0].buf), builders[0].buf_len), graph);
}

wasi_nn_errno wasi_nn_load_by_name(const char* name, uint32_t name_len, wasi_nn_graph* graph) {
  std::string key(name, name_len);
  if (auto it = g_by_name.find(key); it != g_by_name.end()) {
    *graph = it->second;
    return WASI_NN_ERRNO_SUCCESS;
  }
  std::string path = ModelPath(key);
  if (path.empty()) return WASI_NN_ERRNO_NOT_FOUND;
  auto t0 = Clock::now();
  std::ifstream f(path, std::ios::binary);
  if (!f) return WASI_NN_ERRNO_NOT_FOUND;
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  wasi_nn_errno rc = LoadBytes(bytes, graph);
  if (rc == WASI_NN_ERRNO_SUCCESS) g_by_name[key] = *graph;
  if (Timing()) std::fprintf(stderr, "nn_timing load %.1f\n", MsSince(t0));
  return rc;
}

wasi_nn_errno wasi_nn_init_execution_context(wasi_nn_graph graph, wasi_nn_graph_execution_context* context) {
  if (graph >= g_graphs.size()) return WASI_NN_ERRNO_INVALID_ARGUMENT;
  auto c = std::make_unique<Context>();
  c->graph = g_graphs[graph].get();
  c->inputs.resize(c->graph->inputs.size());
  g_contexts.push_back(std::move(c));
  *context = wasi_nn_graph_execution_context(g_contexts.size() - 1);
  return WASI_NN_ERRNO_SUCCESS;
}

wasi_nn_errno wasi_nn_set_input(wasi_nn_graph_execution_context context, uint32_t index, const wasi_nn_tensor* tensor) {
  Context* c = FindContext(context);
  if (!c || !tensor || index >= c->inputs.size() || tensor->dimensions_len == 0 || tensor->dimensions_len > 8)
    return WASI_NN_ERRNO_INVALID_ARGUMENT;
  size_t elem = TypeBytes(tensor->type);
  if (!elem) return WASI_NN_ERRNO_UNSUPPORTED_OPERATION;
  std::vector<int> dims;
  size_t count = 1;
  for (uint32_t i = 0; i < tensor->dimensions_len; ++i) {
    dims.push_back(int(tensor->dimensions[i]));
    count *= tensor->dimensions[i];
  }
  if (count * elem != tensor->data_len) return WASI_NN_ERRNO_INVALID_ARGUMENT;
  int type = tensor->type == WASI_NN_TYPE_F32 ? CV_32F : tensor->type == WASI_NN_TYPE_I32 ? CV_32S : CV_8U;
  cv::Mat m(int(dims.size()), dims.data(), type);
  std::memcpy(m.data, tensor->data, tensor->data_len);
  if (type != CV_32F) m.convertTo(m, CV_32F);  // OpenCV's DNN computes in f32
  c->inputs[index] = m;
  return WASI_NN_ERRNO_SUCCESS;
}

wasi_nn_errno wasi_nn_compute(wasi_nn_graph_execution_context context) {
  Context* c = FindContext(context);
  if (!c) return WASI_NN_ERRNO_INVALID_ARGUMENT;
  for (const cv::Mat& in : c->inputs)
    if (in.empty()) return WASI_NN_ERRNO_INVALID_ARGUMENT;
  auto t0 = Clock::now();
  try {
    for (size_t i = 0; i < c->inputs.size(); ++i) c->graph->net.setInput(c->inputs[i], c->graph->inputs[i]);
    std::vector<cv::Mat> outs;
    c->graph->net.forward(outs, c->graph->outputs);
    c->outputs.clear();
    for (cv::Mat& o : outs) c->outputs.push_back(o.clone());  // the net reuses its buffers
  } catch (const cv::Exception& e) {
    std::fprintf(stderr, "log warn wasi-nn (native): compute failed: %s\n", e.what());
    return WASI_NN_ERRNO_RUNTIME_ERROR;
  }
  if (Timing()) std::fprintf(stderr, "nn_timing compute %.1f\n", MsSince(t0));
  return WASI_NN_ERRNO_SUCCESS;
}

wasi_nn_errno wasi_nn_get_output(wasi_nn_graph_execution_context context, uint32_t index, uint8_t* out,
                                 uint32_t out_max, uint32_t* written) {
  Context* c = FindContext(context);
  if (!c || index >= c->outputs.size() || !written) return WASI_NN_ERRNO_INVALID_ARGUMENT;
  const cv::Mat& m = c->outputs[index];
  size_t bytes = m.total() * m.elemSize();
  if (bytes > out_max) return WASI_NN_ERRNO_TOO_LARGE;
  std::memcpy(out, m.ptr(), bytes);
  *written = uint32_t(bytes);
  return WASI_NN_ERRNO_SUCCESS;
}

}  // extern "C"
