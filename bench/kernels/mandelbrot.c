// mandelbrot: escape-time iteration over a grid — f64 arithmetic and compares in a tight loop.
#include "kernel.h"

int main(int argc, char** argv) {
  int size = kernel_arg(argc, argv, 800);
  const int max_iter = 100;
  uint64_t sum = 0;
  for (int y = 0; y < size; y++) {
    double ci = 2.0 * y / size - 1.0;
    for (int x = 0; x < size; x++) {
      double cr = 2.5 * x / size - 2.0;
      double zr = 0, zi = 0, zr2 = 0, zi2 = 0;
      int it = 0;
      while (it < max_iter && zr2 + zi2 <= 4.0) {
        zi = 2.0 * zr * zi + ci;
        zr = zr2 - zi2 + cr;
        zr2 = zr * zr;
        zi2 = zi * zi;
        it++;
      }
      sum = sum * 1099511628211ull + (uint64_t)it;
    }
  }
  kernel_print("mandelbrot", sum);
  return 0;
}
