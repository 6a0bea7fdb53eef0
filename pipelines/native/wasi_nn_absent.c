// wasi_nn_absent.c — the wasi_nn_* functions for a native build without OpenCV's DNN module: every model
// is "not found", so the pipelines take their fallback (BACKGROUND_CHANGE estimates the matte).
#include "wasi_nn.h"

wasi_nn_errno wasi_nn_load(const wasi_nn_graph_builder* builders, uint32_t builders_len, uint32_t encoding,
                           uint32_t target, wasi_nn_graph* graph) {
  (void)builders, (void)builders_len, (void)encoding, (void)target, (void)graph;
  return WASI_NN_ERRNO_UNSUPPORTED_OPERATION;
}

wasi_nn_errno wasi_nn_load_by_name(const char* name, uint32_t name_len, wasi_nn_graph* graph) {
  (void)name, (void)name_len, (void)graph;
  return WASI_NN_ERRNO_NOT_FOUND;
}

wasi_nn_errno wasi_nn_init_execution_context(wasi_nn_graph graph, wasi_nn_graph_execution_context* context) {
  (void)graph, (void)context;
  return WASI_NN_ERRNO_INVALID_ARGUMENT;
}

wasi_nn_errno wasi_nn_set_input(wasi_nn_graph_execution_context context, uint32_t index, const wasi_nn_tensor* tensor) {
  (void)context, (void)index, (void)tensor;
  return WASI_NN_ERRNO_INVALID_ARGUMENT;
}

wasi_nn_errno wasi_nn_compute(wasi_nn_graph_execution_context context) {
  (void)context;
  return WASI_NN_ERRNO_INVALID_ARGUMENT;
}

wasi_nn_errno wasi_nn_get_output(wasi_nn_graph_execution_context context, uint32_t index, uint8_t* out,
                                 uint32_t out_max, uint32_t* written) {
  (void)context, (void)index, (void)out, (void)out_max, (void)written;
  return WASI_NN_ERRNO_INVALID_ARGUMENT;
}
