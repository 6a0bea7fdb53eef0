// File: src/nn/onnx_info.h
//
// Internal to the nn part: what the host needs of an ONNX model before OpenCV sees it — whether the bytes
// are an ONNX ModelProto at all (autodetect) and the names of the graph's inputs and outputs in order
// (WASI-NN addresses them by index; OpenCV by name). A small protobuf walk, no protobuf library.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wasmq::nn {

struct OnnxInfo {
  std::vector<std::string> inputs;   // graph inputs that are not initializers
  std::vector<std::string> outputs;  // graph outputs
};

// nullopt when `bytes` is not a well-formed ModelProto with a graph.
std::optional<OnnxInfo> ParseOnnxInfo(std::string_view bytes);

}  // namespace wasmq::nn
