// matmul: dense double-precision matrix multiply (i-k-j order) — f64 loads, mul/add, address arithmetic.
#include <string.h>

#include "kernel.h"

#define N 160
static double a[N][N], b[N][N], c[N][N];

int main(int argc, char** argv) {
  int reps = kernel_arg(argc, argv, 10);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      a[i][j] = ((double)(int)(kernel_rand() % 2001) - 1000.0) / 1000.0;
      b[i][j] = ((double)(int)(kernel_rand() % 2001) - 1000.0) / 1000.0;
    }
  double total = 0;
  for (int r = 0; r < reps; r++) {
    memset(c, 0, sizeof c);
    for (int i = 0; i < N; i++)
      for (int k = 0; k < N; k++) {
        double aik = a[i][k];
        for (int j = 0; j < N; j++) c[i][j] += aik * b[k][j];
      }
    for (int i = 0; i < N; i++) total += c[i][(i * 7 + r) % N];
    a[r % N][r % N] += 0.5;  // vary the input between repetitions
  }
  // A checksum of the result's bits, rounded so that native FMA contraction cannot change it.
  long long q = (long long)(total * 1e6);
  kernel_print("matmul", (uint64_t)q);
  return 0;
}
