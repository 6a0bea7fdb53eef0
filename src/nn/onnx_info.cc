// File: src/nn/onnx_info.cc
#include "nn/onnx_info.h"

#include <cstdint>
#include <set>

namespace wasmq::nn {

namespace {

// One protobuf message's fields, read one at a time; any malformed byte ends it with ok() false.
class Fields {
 public:
  explicit Fields(std::string_view bytes) : p_(bytes) {}

  // The next field: its number, wire type, and (length-delimited) its bytes. False at the end or on error.
  bool Next(uint32_t* number, uint32_t* wire, std::string_view* bytes) {
    if (p_.empty() || !ok_) return false;
    uint64_t key = 0;
    if (!Varint(&key)) return Fail();
    *number = static_cast<uint32_t>(key >> 3);
    *wire = static_cast<uint32_t>(key & 7);
    if (*number == 0) return Fail();
    uint64_t v = 0;
    switch (*wire) {
      case 0:
        return Varint(&v) || Fail();
      case 1:
        return Skip(8);
      case 2:
        if (!Varint(&v) || v > p_.size()) return Fail();
        *bytes = p_.substr(0, static_cast<size_t>(v));
        p_.remove_prefix(static_cast<size_t>(v));
        return true;
      case 5:
        return Skip(4);
      default:
        return Fail();
    }
  }
  bool ok() const { return ok_; }

 private:
  bool Varint(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && !p_.empty(); shift += 7) {
      const auto b = static_cast<uint8_t>(p_[0]);
      p_.remove_prefix(1);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        *out = v;
        return true;
      }
    }
    return false;
  }
  bool Skip(size_t n) {
    if (p_.size() < n) return Fail();
    p_.remove_prefix(n);
    return true;
  }
  bool Fail() {
    ok_ = false;
    return false;
  }
  std::string_view p_;
  bool ok_ = true;
};

// The string field `want` (wire type 2) of a message, or "" when it has none.
std::string StringField(std::string_view message, uint32_t want) {
  Fields f(message);
  uint32_t n = 0, w = 0;
  std::string_view b;
  std::string out;
  while (f.Next(&n, &w, &b))
    if (n == want && w == 2) out.assign(b);
  return out;
}

}  // namespace

std::optional<OnnxInfo> ParseOnnxInfo(std::string_view bytes) {
  // ModelProto: ir_version = 1 (varint), graph = 7 (GraphProto).
  Fields model(bytes);
  uint32_t n = 0, w = 0;
  std::string_view b, graph;
  bool has_graph = false, has_ir_version = false;
  while (model.Next(&n, &w, &b)) {
    if (n == 1 && w == 0) has_ir_version = true;
    if (n == 7 && w == 2) {
      graph = b;
      has_graph = true;
    }
  }
  if (!model.ok() || !has_graph || !has_ir_version) return std::nullopt;
  // GraphProto: initializer = 5 (TensorProto, name = 8), input = 11, output = 12 (ValueInfoProto, name = 1).
  OnnxInfo info;
  std::set<std::string> initializers;
  std::vector<std::string> inputs;
  Fields g(graph);
  while (g.Next(&n, &w, &b)) {
    if (w != 2) continue;
    if (n == 5) initializers.insert(StringField(b, 8));
    if (n == 11) inputs.push_back(StringField(b, 1));
    if (n == 12) info.outputs.push_back(StringField(b, 1));
  }
  if (!g.ok()) return std::nullopt;
  for (std::string& in : inputs)
    if (!initializers.count(in)) info.inputs.push_back(std::move(in));
  return info;
}

}  // namespace wasmq::nn
