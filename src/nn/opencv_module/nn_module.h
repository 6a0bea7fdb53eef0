// File: src/nn/opencv_module/nn_module.h
//
// The C interface of wasmq-nn-opencv.so, the module that holds WASI-NN's OpenCV DNN code. OpenCV pulls in
// ~140 shared libraries; linked into `wasmq` they would cost every process start, so src/nn/backend.cc
// opens this module with dlopen on the first WASI-NN load only. Tensors cross it as f32 (the host converts
// the other WASI-NN types); nothing here knows of Wasm.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// What parsing one net cost, for the host's memory report.
typedef struct WasmqNnNetStats {
  uint64_t weight_bytes;  // the sum of every layer's blobs
  uint64_t heap_bytes;    // heap growth while parsing (approximate: other threads allocate too)
} WasmqNnNetStats;

typedef struct WasmqNnInput {
  const char* name;  // the ONNX input's name; "" = the first input
  const int32_t* dims;
  int32_t rank;
  const float* data;  // dense, row-major, product(dims) floats
} WasmqNnInput;

// Called once per output, in order, with the output as dense f32.
typedef void (*WasmqNnOutputFn)(void* user, int32_t index, const int32_t* dims, int32_t rank, const float* data,
                                uint64_t count);

// Parses an ONNX model from memory. NULL on failure, with a reason in err (err_cap bytes, NUL-terminated).
void* wasmq_nn_read_onnx(const uint8_t* bytes, size_t len, WasmqNnNetStats* stats, char* err, size_t err_cap);

// Sets the inputs and runs the net up to `out_names` (NULL or n_out 0: its unconnected outputs), calling
// `fn` for each output. Returns the number of outputs, or -1 with a reason in err. Not safe to call
// concurrently on one net; different nets may run at once. *heap_growth (if not NULL) gets the heap growth
// over the call (the first run allocates the net's intermediate blobs).
int32_t wasmq_nn_forward(void* net, const WasmqNnInput* inputs, int32_t n_in, const char* const* out_names,
                         int32_t n_out, WasmqNnOutputFn fn, void* user, int64_t* heap_growth, char* err,
                         size_t err_cap);

void wasmq_nn_free(void* net);

// The symbol names backend.cc looks up (kept next to the declarations they name).
#define WASMQ_NN_READ_ONNX_SYMBOL "wasmq_nn_read_onnx"
#define WASMQ_NN_FORWARD_SYMBOL "wasmq_nn_forward"
#define WASMQ_NN_FREE_SYMBOL "wasmq_nn_free"

#ifdef __cplusplus
}
#endif
