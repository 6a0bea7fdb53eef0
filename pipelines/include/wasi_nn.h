// wasi_nn.h — WASI-NN for pipelines, seen from C: the `wasi_ephemeral_nn` import module.
//
// This is the witx ("preview1") ABI of wasi-nn that Wasmtime and WasmEdge implement, numbered as
// Wasmtime's crates/wasi-nn/witx/wasi-nn.witx numbers it; wasmq implements it for every module it runs
// (pipelines, `wasmq run`, the `wasm` engine), backed by OpenCV's DNN module (ONNX graphs). A module built
// against this header runs unchanged on any of them.
//
// Every function returns a wasi_nn_errno. Pointers and lengths are into the module's own linear memory.
// The host bounds what a module may ask for (model bytes, tensor bytes, graphs and contexts per instance):
// over a bound the call returns WASI_NN_ERRNO_TOO_LARGE instead of allocating. A graph loaded by name
// (`load_by_name`) is one of the models the host was given (`--nn-model NAME=PATH|OCI-REF`, the models
// cache); it is loaded once per process and shared by every module that asks for it.
#ifndef WASMQ_WASI_NN_H_
#define WASMQ_WASI_NN_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__wasm__)
#define WASI_NN_IMPORT(name) __attribute__((import_module("wasi_ephemeral_nn"), import_name(name)))
#else
// Native builds (benchmarks) link a host shim that provides the same functions.
#define WASI_NN_IMPORT(name)
#endif

typedef uint16_t wasi_nn_errno;
enum {
  WASI_NN_ERRNO_SUCCESS = 0,
  WASI_NN_ERRNO_INVALID_ARGUMENT = 1,
  WASI_NN_ERRNO_INVALID_ENCODING = 2,
  WASI_NN_ERRNO_MISSING_MEMORY = 3,
  WASI_NN_ERRNO_BUSY = 4,
  WASI_NN_ERRNO_RUNTIME_ERROR = 5,
  WASI_NN_ERRNO_UNSUPPORTED_OPERATION = 6,
  WASI_NN_ERRNO_TOO_LARGE = 7,
  WASI_NN_ERRNO_NOT_FOUND = 8,
};

typedef uint8_t wasi_nn_tensor_type;
enum {
  WASI_NN_TYPE_F16 = 0,
  WASI_NN_TYPE_F32 = 1,
  WASI_NN_TYPE_F64 = 2,
  WASI_NN_TYPE_U8 = 3,
  WASI_NN_TYPE_I32 = 4,
  WASI_NN_TYPE_I64 = 5,
};

typedef uint8_t wasi_nn_graph_encoding;
enum {
  WASI_NN_ENCODING_OPENVINO = 0,
  WASI_NN_ENCODING_ONNX = 1,
  WASI_NN_ENCODING_TENSORFLOW = 2,
  WASI_NN_ENCODING_PYTORCH = 3,
  WASI_NN_ENCODING_TENSORFLOWLITE = 4,
  WASI_NN_ENCODING_AUTODETECT = 5,
};

typedef uint8_t wasi_nn_execution_target;
enum { WASI_NN_TARGET_CPU = 0, WASI_NN_TARGET_GPU = 1, WASI_NN_TARGET_TPU = 2 };

typedef uint32_t wasi_nn_graph;
typedef uint32_t wasi_nn_graph_execution_context;

// A list<u8> in the witx ABI: pointer and length.
typedef struct {
  const uint8_t* buf;
  uint32_t buf_len;
} wasi_nn_graph_builder;

// The tensor record, 20 bytes on wasm32: dimensions (pointer, count), type (u8, padded), data (pointer,
// byte length). Data is dense, row-major, in the tensor type's little-endian representation.
typedef struct {
  const uint32_t* dimensions;
  uint32_t dimensions_len;
  wasi_nn_tensor_type type;
  const uint8_t* data;
  uint32_t data_len;
} wasi_nn_tensor;

#if defined(__wasm__)
_Static_assert(sizeof(wasi_nn_tensor) == 20, "the witx tensor record is 20 bytes");
_Static_assert(sizeof(wasi_nn_graph_builder) == 8, "a witx list is 8 bytes");
#endif

// Loads a graph from its serialized bytes (ONNX: one builder holding the model file).
WASI_NN_IMPORT("load")
wasi_nn_errno wasi_nn_load(const wasi_nn_graph_builder* builders, uint32_t builders_len,
                           uint32_t encoding /* wasi_nn_graph_encoding */,
                           uint32_t target /* wasi_nn_execution_target */, wasi_nn_graph* graph);

// Loads a graph the host knows by name (UTF-8, not NUL-terminated).
WASI_NN_IMPORT("load_by_name")
wasi_nn_errno wasi_nn_load_by_name(const char* name, uint32_t name_len, wasi_nn_graph* graph);

WASI_NN_IMPORT("init_execution_context")
wasi_nn_errno wasi_nn_init_execution_context(wasi_nn_graph graph, wasi_nn_graph_execution_context* context);

WASI_NN_IMPORT("set_input")
wasi_nn_errno wasi_nn_set_input(wasi_nn_graph_execution_context context, uint32_t index,
                                const wasi_nn_tensor* tensor);

// Runs the graph on the inputs set so far. It counts against the task's timeout and stops when the task
// is cancelled: the module is then stopped as it would be in its own code.
WASI_NN_IMPORT("compute")
wasi_nn_errno wasi_nn_compute(wasi_nn_graph_execution_context context);

// Copies output `index` (dense, the output's own type) into out (out_max bytes) and writes its size in
// bytes to *written; WASI_NN_ERRNO_TOO_LARGE (nothing copied) when out_max is smaller.
WASI_NN_IMPORT("get_output")
wasi_nn_errno wasi_nn_get_output(wasi_nn_graph_execution_context context, uint32_t index, uint8_t* out,
                                 uint32_t out_max, uint32_t* written);

#ifdef __cplusplus
}
#endif

#endif  // WASMQ_WASI_NN_H_
