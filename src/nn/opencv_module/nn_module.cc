// File: src/nn/opencv_module/nn_module.cc
//
// wasmq-nn-opencv.so: ONNX graphs on OpenCV's DNN module (CPU, its own backend). Every OpenCV exception
// stops here and becomes an error string: nothing of C++ crosses the C interface.
#include "nn/opencv_module/nn_module.h"

#include <malloc.h>

#include <memory>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>
#include <string>
#include <vector>

#define WASMQ_NN_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

void SetError(char* err, size_t cap, const std::string& msg) {
  if (!err || cap == 0) return;
  std::snprintf(err, cap, "%s", msg.c_str());
}

// Bytes the allocator has handed out (arena and mmapped chunks).
int64_t HeapInUse() {
  struct mallinfo2 mi = mallinfo2();
  return static_cast<int64_t>(mi.uordblks + mi.hblkhd);
}

struct Net {
  cv::dnn::Net net;
};

// OpenCV logs a failing layer on stderr, in the middle of the module's own output; the reason comes back
// to the host as the error string instead.
[[maybe_unused]] const bool kQuiet = [] {
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
  return true;
}();

}  // namespace

WASMQ_NN_EXPORT void* wasmq_nn_read_onnx(const uint8_t* bytes, size_t len, WasmqNnNetStats* stats, char* err,
                                         size_t err_cap) {
  try {
    const int64_t before = HeapInUse();
    auto net = std::make_unique<Net>();
    net->net = cv::dnn::readNetFromONNX(reinterpret_cast<const char*>(bytes), len);
    if (net->net.empty()) {
      SetError(err, err_cap, "the ONNX graph has no layers");
      return nullptr;
    }
    net->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    if (stats) {
      uint64_t weights = 0;
      for (const std::string& name : net->net.getLayerNames()) {
        const int id = net->net.getLayerId(name);
        if (id < 0) continue;
        for (const cv::Mat& blob : net->net.getLayer(id)->blobs) weights += blob.total() * blob.elemSize();
      }
      stats->weight_bytes = weights;
      stats->heap_bytes = static_cast<uint64_t>(std::max<int64_t>(0, HeapInUse() - before));
    }
    return net.release();
  } catch (const cv::Exception& e) {
    SetError(err, err_cap, "OpenCV cannot read the ONNX graph: " + std::string(e.err));
  } catch (const std::exception& e) {
    SetError(err, err_cap, std::string("cannot read the ONNX graph: ") + e.what());
  }
  return nullptr;
}

WASMQ_NN_EXPORT int32_t wasmq_nn_forward(void* handle, const WasmqNnInput* inputs, int32_t n_in,
                                         const char* const* out_names, int32_t n_out, WasmqNnOutputFn fn,
                                         void* user, int64_t* heap_growth, char* err, size_t err_cap) {
  auto* net = static_cast<Net*>(handle);
  try {
    const int64_t before = HeapInUse();
    for (int32_t i = 0; i < n_in; ++i) {
      const WasmqNnInput& in = inputs[i];
      // A header over the host's buffer; setInput copies it into the net.
      cv::Mat blob(in.rank, in.dims, CV_32F, const_cast<float*>(in.data));
      net->net.setInput(blob, in.name ? in.name : "");
    }
    std::vector<std::string> names;
    for (int32_t i = 0; out_names && i < n_out; ++i) {
      // Only names the net knows as layers; otherwise its own list of outputs (same order for the graphs
      // OpenCV imports: one layer per ONNX output).
      if (net->net.getLayerId(out_names[i]) < 0) {
        names.clear();
        break;
      }
      names.emplace_back(out_names[i]);
    }
    if (names.empty()) names = net->net.getUnconnectedOutLayersNames();
    std::vector<cv::Mat> outs;
    net->net.forward(outs, names);
    for (size_t i = 0; i < outs.size(); ++i) {
      cv::Mat out = outs[i];
      if (out.depth() != CV_32F) out.convertTo(out, CV_32F);
      if (!out.isContinuous()) out = out.clone();
      std::vector<int32_t> dims(static_cast<size_t>(out.dims));
      for (int d = 0; d < out.dims; ++d) dims[static_cast<size_t>(d)] = out.size[d];
      fn(user, static_cast<int32_t>(i), dims.data(), out.dims, out.ptr<float>(), out.total() * out.channels());
    }
    if (heap_growth) *heap_growth = HeapInUse() - before;
    return static_cast<int32_t>(outs.size());
  } catch (const cv::Exception& e) {
    SetError(err, err_cap, "OpenCV failed to run the graph: " + std::string(e.err));
  } catch (const std::exception& e) {
    SetError(err, err_cap, std::string("the graph failed: ") + e.what());
  }
  return -1;
}

WASMQ_NN_EXPORT void wasmq_nn_free(void* handle) { delete static_cast<Net*>(handle); }
