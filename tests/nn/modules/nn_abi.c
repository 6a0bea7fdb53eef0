// The WASI-NN test module: every wasi_ephemeral_nn function through pipelines/include/wasi_nn.h, as a
// pipeline would call them. argv[1] names the scenario; it prints what it saw on stdout and exits 0 when
// every check held (1 otherwise, naming the first that did not). Models come by name (the host's) or as
// files under the preopened /models.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasi_nn.h"

static int failures = 0;

#define EXPECT(call, want)                                                             \
  do {                                                                                 \
    int got_ = (call);                                                                 \
    if (got_ != (want)) {                                                              \
      printf("FAIL line %d: %s = %d, want %d\n", __LINE__, #call, got_, (int)(want));  \
      failures++;                                                                      \
    }                                                                                  \
  } while (0)

static uint8_t* read_file(const char* path, uint32_t* len) {
  FILE* f = fopen(path, "rb");
  if (!f) {
    printf("FAIL cannot open %s\n", path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t* buf = malloc((size_t)n);
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) exit(1);
  fclose(f);
  *len = (uint32_t)n;
  return buf;
}

static wasi_nn_tensor f32_tensor(const uint32_t* dims, uint32_t rank, const float* data, uint32_t bytes) {
  wasi_nn_tensor t = {dims, rank, WASI_NN_TYPE_F32, (const uint8_t*)data, bytes};
  return t;
}

// y = 2x + 1 on a context of `g`, with x given as f32, then as u8 and f64 (converted by the host).
static void check_affine(wasi_nn_graph g) {
  wasi_nn_graph_execution_context c;
  EXPECT(wasi_nn_init_execution_context(g, &c), WASI_NN_ERRNO_SUCCESS);
  uint32_t dims[2] = {1, 4};
  float x[4] = {0, 1, 2.5f, -3}, y[4] = {0};
  wasi_nn_tensor t = f32_tensor(dims, 2, x, sizeof x);
  EXPECT(wasi_nn_set_input(c, 0, &t), WASI_NN_ERRNO_SUCCESS);
  EXPECT(wasi_nn_compute(c), WASI_NN_ERRNO_SUCCESS);
  uint32_t written = 0;
  EXPECT(wasi_nn_get_output(c, 0, (uint8_t*)y, sizeof y, &written), WASI_NN_ERRNO_SUCCESS);
  EXPECT(written, 16);
  printf("affine f32: %g %g %g %g\n", y[0], y[1], y[2], y[3]);
  if (y[0] != 1 || y[1] != 3 || y[2] != 6 || y[3] != -5) failures++;

  uint8_t xu[4] = {0, 1, 2, 255};
  wasi_nn_tensor tu = {dims, 2, WASI_NN_TYPE_U8, xu, sizeof xu};
  EXPECT(wasi_nn_set_input(c, 0, &tu), WASI_NN_ERRNO_SUCCESS);
  EXPECT(wasi_nn_compute(c), WASI_NN_ERRNO_SUCCESS);
  EXPECT(wasi_nn_get_output(c, 0, (uint8_t*)y, sizeof y, &written), WASI_NN_ERRNO_SUCCESS);
  printf("affine u8: %g %g %g %g\n", y[0], y[1], y[2], y[3]);
  if (y[0] != 1 || y[1] != 3 || y[2] != 5 || y[3] != 511) failures++;

  double xd[4] = {0.5, 1, 2, 3};
  wasi_nn_tensor td = {dims, 2, WASI_NN_TYPE_F64, (const uint8_t*)xd, sizeof xd};
  EXPECT(wasi_nn_set_input(c, 0, &td), WASI_NN_ERRNO_SUCCESS);
  EXPECT(wasi_nn_compute(c), WASI_NN_ERRNO_SUCCESS);
  EXPECT(wasi_nn_get_output(c, 0, (uint8_t*)y, sizeof y, &written), WASI_NN_ERRNO_SUCCESS);
  printf("affine f64: %g %g %g %g\n", y[0], y[1], y[2], y[3]);
  if (y[0] != 2 || y[3] != 7) failures++;

  uint16_t xh[4] = {0x3c00, 0x4000, 0xbc00, 0x3800};  // f16: 1, 2, -1, 0.5
  wasi_nn_tensor th = {dims, 2, WASI_NN_TYPE_F16, (const uint8_t*)xh, sizeof xh};
  EXPECT(wasi_nn_set_input(c, 0, &th), WASI_NN_ERRNO_SUCCESS);
  EXPECT(wasi_nn_compute(c), WASI_NN_ERRNO_SUCCESS);
  EXPECT(wasi_nn_get_output(c, 0, (uint8_t*)y, sizeof y, &written), WASI_NN_ERRNO_SUCCESS);
  printf("affine f16: %g %g %g %g\n", y[0], y[1], y[2], y[3]);
  if (y[0] != 3 || y[1] != 5 || y[2] != -1 || y[3] != 2) failures++;
}

static wasi_nn_graph load_file(const char* path, uint32_t encoding) {
  uint32_t len = 0;
  uint8_t* bytes = read_file(path, &len);
  wasi_nn_graph_builder b = {bytes, len};
  wasi_nn_graph g = 0;
  EXPECT(wasi_nn_load(&b, 1, encoding, WASI_NN_TARGET_CPU, &g), WASI_NN_ERRNO_SUCCESS);
  free(bytes);
  return g;
}

static int by_name(void) {
  wasi_nn_graph g;
  int e = wasi_nn_load_by_name("affine", 6, &g);
  EXPECT(e, WASI_NN_ERRNO_SUCCESS);
  if (e != WASI_NN_ERRNO_SUCCESS) return failures;  // the host's last error stays this load's
  check_affine(g);
  return failures;
}

static int from_bytes(void) {
  check_affine(load_file("/models/affine.onnx", WASI_NN_ENCODING_ONNX));
  check_affine(load_file("/models/affine.onnx", WASI_NN_ENCODING_AUTODETECT));
  return failures;
}

static int conv(void) {
  wasi_nn_graph g = load_file("/models/conv.onnx", WASI_NN_ENCODING_ONNX);
  wasi_nn_graph_execution_context c;
  EXPECT(wasi_nn_init_execution_context(g, &c), WASI_NN_ERRNO_SUCCESS);
  uint32_t dims[4] = {1, 1, 4, 4};
  float x[16], y[4] = {0};
  for (int i = 0; i < 16; ++i) x[i] = (float)i;
  wasi_nn_tensor t = f32_tensor(dims, 4, x, sizeof x);
  EXPECT(wasi_nn_set_input(c, 0, &t), WASI_NN_ERRNO_SUCCESS);
  EXPECT(wasi_nn_compute(c), WASI_NN_ERRNO_SUCCESS);
  uint32_t written = 0;
  EXPECT(wasi_nn_get_output(c, 0, (uint8_t*)y, sizeof y, &written), WASI_NN_ERRNO_SUCCESS);
  printf("conv: %g %g %g %g (%u bytes)\n", y[0], y[1], y[2], y[3], written);
  if (y[0] != 45 || y[1] != 54 || y[2] != 81 || y[3] != 90 || written != 16) failures++;
  // A shape the graph cannot take (a 2-D input to a 2-D convolution): OpenCV refuses it, a runtime error.
  wasi_nn_graph_execution_context c2;
  EXPECT(wasi_nn_init_execution_context(g, &c2), WASI_NN_ERRNO_SUCCESS);
  uint32_t flat[2] = {1, 16};
  wasi_nn_tensor bad = f32_tensor(flat, 2, x, sizeof x);
  EXPECT(wasi_nn_set_input(c2, 0, &bad), WASI_NN_ERRNO_SUCCESS);
  EXPECT(wasi_nn_compute(c2), WASI_NN_ERRNO_RUNTIME_ERROR);
  return failures;
}

static int two_inputs(void) {
  wasi_nn_graph g = load_file("/models/two_in.onnx", WASI_NN_ENCODING_ONNX);
  wasi_nn_graph_execution_context c;
  EXPECT(wasi_nn_init_execution_context(g, &c), WASI_NN_ERRNO_SUCCESS);
  uint32_t dims[2] = {1, 3};
  float a[3] = {1, 2, 3}, b[3] = {10, 20, 30}, y[3];
  wasi_nn_tensor ta = f32_tensor(dims, 2, a, sizeof a), tb = f32_tensor(dims, 2, b, sizeof b);
  EXPECT(wasi_nn_set_input(c, 0, &ta), WASI_NN_ERRNO_SUCCESS);
  EXPECT(wasi_nn_compute(c), WASI_NN_ERRNO_INVALID_ARGUMENT);  // input 1 not set
  EXPECT(wasi_nn_set_input(c, 1, &tb), WASI_NN_ERRNO_SUCCESS);
  EXPECT(wasi_nn_set_input(c, 2, &tb), WASI_NN_ERRNO_INVALID_ARGUMENT);  // the graph has two
  EXPECT(wasi_nn_compute(c), WASI_NN_ERRNO_SUCCESS);
  uint32_t written = 0;
  EXPECT(wasi_nn_get_output(c, 0, (uint8_t*)y, sizeof y, &written), WASI_NN_ERRNO_SUCCESS);
  printf("two_in: %g %g %g\n", y[0], y[1], y[2]);
  if (y[0] != 11 || y[1] != 22 || y[2] != 33) failures++;
  return failures;
}

static int errors(void) {
  wasi_nn_graph g = 99;
  wasi_nn_graph_execution_context c = 99;
  static const uint8_t garbage[] = "this is no ONNX model";
  wasi_nn_graph_builder junk = {garbage, sizeof garbage};
  EXPECT(wasi_nn_load(&junk, 1, WASI_NN_ENCODING_OPENVINO, WASI_NN_TARGET_CPU, &g), WASI_NN_ERRNO_INVALID_ENCODING);
  EXPECT(wasi_nn_load(&junk, 1, WASI_NN_ENCODING_TENSORFLOWLITE, WASI_NN_TARGET_CPU, &g),
         WASI_NN_ERRNO_INVALID_ENCODING);
  EXPECT(wasi_nn_load(&junk, 1, WASI_NN_ENCODING_ONNX, WASI_NN_TARGET_CPU, &g), WASI_NN_ERRNO_INVALID_ENCODING);
  EXPECT(wasi_nn_load(&junk, 1, WASI_NN_ENCODING_AUTODETECT, WASI_NN_TARGET_CPU, &g), WASI_NN_ERRNO_INVALID_ENCODING);
  EXPECT(wasi_nn_load(&junk, 1, WASI_NN_ENCODING_ONNX, WASI_NN_TARGET_GPU, &g), WASI_NN_ERRNO_UNSUPPORTED_OPERATION);
  EXPECT(wasi_nn_load(&junk, 1, WASI_NN_ENCODING_ONNX, 7, &g), WASI_NN_ERRNO_INVALID_ARGUMENT);
  EXPECT(wasi_nn_load(&junk, 0, WASI_NN_ENCODING_ONNX, WASI_NN_TARGET_CPU, &g), WASI_NN_ERRNO_INVALID_ARGUMENT);
  EXPECT(wasi_nn_load_by_name("no-such-model", 13, &g), WASI_NN_ERRNO_NOT_FOUND);
  EXPECT(wasi_nn_load_by_name("../etc/passwd", 13, &g), WASI_NN_ERRNO_NOT_FOUND);
  if (g != 99) {
    printf("FAIL a failed load wrote the handle\n");
    failures++;
  }
  EXPECT(wasi_nn_init_execution_context(12345, &c), WASI_NN_ERRNO_INVALID_ARGUMENT);
  EXPECT(wasi_nn_compute(12345), WASI_NN_ERRNO_INVALID_ARGUMENT);

  EXPECT(wasi_nn_load_by_name("affine", 6, &g), WASI_NN_ERRNO_SUCCESS);
  EXPECT(wasi_nn_init_execution_context(g, &c), WASI_NN_ERRNO_SUCCESS);
  uint32_t dims[2] = {1, 4};
  float x[4] = {1, 2, 3, 4}, y[4];
  wasi_nn_tensor t = f32_tensor(dims, 2, x, sizeof x);
  EXPECT(wasi_nn_set_input(12345, 0, &t), WASI_NN_ERRNO_INVALID_ARGUMENT);
  EXPECT(wasi_nn_set_input(c, 1, &t), WASI_NN_ERRNO_INVALID_ARGUMENT);  // affine has one input
  EXPECT(wasi_nn_compute(c), WASI_NN_ERRNO_INVALID_ARGUMENT);            // no input yet
  uint32_t written = 77;
  EXPECT(wasi_nn_get_output(c, 0, (uint8_t*)y, sizeof y, &written), WASI_NN_ERRNO_INVALID_ARGUMENT);  // not computed

  wasi_nn_tensor bad_type = t;
  bad_type.type = 9;
  EXPECT(wasi_nn_set_input(c, 0, &bad_type), WASI_NN_ERRNO_INVALID_ARGUMENT);
  uint32_t zero_dims[2] = {1, 0};
  wasi_nn_tensor zero = f32_tensor(zero_dims, 2, x, sizeof x);
  EXPECT(wasi_nn_set_input(c, 0, &zero), WASI_NN_ERRNO_INVALID_ARGUMENT);
  wasi_nn_tensor no_dims = f32_tensor(dims, 0, x, sizeof x);
  EXPECT(wasi_nn_set_input(c, 0, &no_dims), WASI_NN_ERRNO_INVALID_ARGUMENT);
  uint32_t huge[4] = {65536, 65536, 65536, 65536};  // 2^64 elements: the product overflows 64 bits
  wasi_nn_tensor overflow = f32_tensor(huge, 4, x, sizeof x);
  EXPECT(wasi_nn_set_input(c, 0, &overflow), WASI_NN_ERRNO_TOO_LARGE);
  uint32_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 4};
  wasi_nn_tensor rank9 = f32_tensor(nine, 9, x, sizeof x);
  EXPECT(wasi_nn_set_input(c, 0, &rank9), WASI_NN_ERRNO_TOO_LARGE);
  wasi_nn_tensor short_data = f32_tensor(dims, 2, x, sizeof x - 4);
  EXPECT(wasi_nn_set_input(c, 0, &short_data), WASI_NN_ERRNO_INVALID_ARGUMENT);
  wasi_nn_tensor wrong_shape = f32_tensor(huge, 1, x, sizeof x);  // 65536 elements, 16 bytes
  EXPECT(wasi_nn_set_input(c, 0, &wrong_shape), WASI_NN_ERRNO_INVALID_ARGUMENT);
  EXPECT(wasi_nn_set_input(c, 0, &t), WASI_NN_ERRNO_SUCCESS);
  EXPECT(wasi_nn_compute(c), WASI_NN_ERRNO_SUCCESS);
  memset(y, 0xab, sizeof y);
  written = 77;
  EXPECT(wasi_nn_get_output(c, 0, (uint8_t*)y, sizeof y - 1, &written), WASI_NN_ERRNO_TOO_LARGE);
  const uint8_t* yb = (const uint8_t*)y;
  for (size_t i = 0; i < sizeof y; ++i)
    if (yb[i] != 0xab) {
      printf("FAIL too_large copied something\n");
      failures++;
      break;
    }
  EXPECT(wasi_nn_get_output(c, 1, (uint8_t*)y, sizeof y, &written), WASI_NN_ERRNO_INVALID_ARGUMENT);
  EXPECT(wasi_nn_get_output(12345, 0, (uint8_t*)y, sizeof y, &written), WASI_NN_ERRNO_INVALID_ARGUMENT);
  EXPECT(wasi_nn_get_output(c, 0, (uint8_t*)y, sizeof y, &written), WASI_NN_ERRNO_SUCCESS);
  EXPECT(written, 16);
  return failures;
}

// Bounds (the test host sets max_tensor_bytes 4096, max_contexts 4, max_graphs 3).
static int bounds(void) {
  wasi_nn_graph g;
  EXPECT(wasi_nn_load_by_name("affine", 6, &g), WASI_NN_ERRNO_SUCCESS);
  wasi_nn_graph_execution_context c;
  int made = 0;
  for (int i = 0; i < 10; ++i) {
    int e = wasi_nn_init_execution_context(g, &c);
    if (e == WASI_NN_ERRNO_SUCCESS) {
      made++;
    } else {
      EXPECT(e, WASI_NN_ERRNO_TOO_LARGE);
      break;
    }
  }
  printf("contexts made: %d\n", made);
  if (made != 4) failures++;
  static float big[2048];
  uint32_t dims[2] = {1, 2048};  // 8 KiB: over the 4 KiB bound
  wasi_nn_tensor t = f32_tensor(dims, 2, big, sizeof big);
  EXPECT(wasi_nn_set_input(c, 0, &t), WASI_NN_ERRNO_TOO_LARGE);
  static uint8_t bytes8[2048];
  uint32_t dims8[2] = {1, 2048};  // 2 KiB as u8, 8 KiB as f32: over too
  wasi_nn_tensor t8 = {dims8, 2, WASI_NN_TYPE_U8, bytes8, sizeof bytes8};
  EXPECT(wasi_nn_set_input(c, 0, &t8), WASI_NN_ERRNO_TOO_LARGE);
  int graphs = 1;
  for (int i = 0; i < 10; ++i) {
    int e = wasi_nn_load_by_name("affine", 6, &g);
    if (e != WASI_NN_ERRNO_SUCCESS) {
      EXPECT(e, WASI_NN_ERRNO_TOO_LARGE);
      break;
    }
    graphs++;
  }
  printf("graphs loaded: %d\n", graphs);
  if (graphs != 3) failures++;
  return failures;
}

// The slow model: computes until the host stops it (deadline or cancel); reaching the end is a failure.
static int slow(void) {
  wasi_nn_graph g;
  EXPECT(wasi_nn_load_by_name("slow", 4, &g), WASI_NN_ERRNO_SUCCESS);
  wasi_nn_graph_execution_context c;
  EXPECT(wasi_nn_init_execution_context(g, &c), WASI_NN_ERRNO_SUCCESS);
  uint32_t n = (uint32_t)atoi(getenv("SLOW_N") ? getenv("SLOW_N") : "512");
  uint32_t dims[2] = {n, n};
  float* x = calloc(n * n, sizeof(float));
  wasi_nn_tensor t = f32_tensor(dims, 2, x, n * n * 4);
  EXPECT(wasi_nn_set_input(c, 0, &t), WASI_NN_ERRNO_SUCCESS);
  printf("computing\n");
  fflush(stdout);
  int e = wasi_nn_compute(c);
  printf("compute returned %d\n", e);
  return 1;
}

// Pointers outside memory trap (argv[2] says which call).
static int outside(const char* which) {
  const uint32_t far = 0xfffffff0u;
  wasi_nn_graph g;
  wasi_nn_graph_execution_context c;
  if (!strcmp(which, "load")) wasi_nn_load((const wasi_nn_graph_builder*)far, 1, 1, 0, &g);
  if (!strcmp(which, "load_bytes")) {
    wasi_nn_graph_builder b = {(const uint8_t*)far, 64};
    wasi_nn_load(&b, 1, 1, 0, &g);
  }
  if (!strcmp(which, "load_by_name")) wasi_nn_load_by_name((const char*)far, 64, &g);
  if (!strcmp(which, "handle")) wasi_nn_load_by_name("affine", 6, (wasi_nn_graph*)far);
  EXPECT(wasi_nn_load_by_name("affine", 6, &g), WASI_NN_ERRNO_SUCCESS);
  EXPECT(wasi_nn_init_execution_context(g, &c), WASI_NN_ERRNO_SUCCESS);
  uint32_t dims[2] = {1, 4};
  float x[4] = {0};
  wasi_nn_tensor t = f32_tensor(dims, 2, x, sizeof x);
  if (!strcmp(which, "tensor")) wasi_nn_set_input(c, 0, (const wasi_nn_tensor*)far);
  if (!strcmp(which, "dims")) {
    t.dimensions = (const uint32_t*)far;
    wasi_nn_set_input(c, 0, &t);
  }
  if (!strcmp(which, "data")) {
    t.data = (const uint8_t*)far;
    wasi_nn_set_input(c, 0, &t);
  }
  EXPECT(wasi_nn_set_input(c, 0, &t), WASI_NN_ERRNO_SUCCESS);
  EXPECT(wasi_nn_compute(c), WASI_NN_ERRNO_SUCCESS);
  uint32_t written;
  if (!strcmp(which, "output")) wasi_nn_get_output(c, 0, (uint8_t*)far, 64, &written);
  if (!strcmp(which, "written")) wasi_nn_get_output(c, 0, (uint8_t*)x, sizeof x, (uint32_t*)far);
  printf("no trap\n");
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 1) return 2;
  const char* s = argc >= 2 ? argv[1] : argv[0];  // run as a `wasm` engine, argv is [engine name]
  int r = 2;
  if (!strcmp(s, "by_name")) r = by_name();
  if (!strcmp(s, "from_bytes")) r = from_bytes();
  if (!strcmp(s, "conv")) r = conv();
  if (!strcmp(s, "two_inputs")) r = two_inputs();
  if (!strcmp(s, "errors")) r = errors();
  if (!strcmp(s, "bounds")) r = bounds();
  if (!strcmp(s, "slow")) r = slow();
  if (!strcmp(s, "outside")) r = outside(argc > 2 ? argv[2] : "");
  if (r == 0) printf("ok\n");
  return r == 0 ? 0 : 1;
}
