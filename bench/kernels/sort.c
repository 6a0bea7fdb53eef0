// sort: quicksort (median of three, insertion sort for small ranges) and a merge sort of 32-bit keys —
// compares, swaps, recursion and array indexing.
#include "kernel.h"

#define N 200000
static uint32_t a[N], tmp[N];

static void insertion(uint32_t* v, int lo, int hi) {
  for (int i = lo + 1; i <= hi; i++) {
    uint32_t x = v[i];
    int j = i - 1;
    while (j >= lo && v[j] > x) { v[j + 1] = v[j]; j--; }
    v[j + 1] = x;
  }
}

static void quicksort(uint32_t* v, int lo, int hi) {
  while (hi - lo > 16) {
    int mid = lo + (hi - lo) / 2;
    if (v[mid] < v[lo]) { uint32_t t = v[mid]; v[mid] = v[lo]; v[lo] = t; }
    if (v[hi] < v[lo]) { uint32_t t = v[hi]; v[hi] = v[lo]; v[lo] = t; }
    if (v[hi] < v[mid]) { uint32_t t = v[hi]; v[hi] = v[mid]; v[mid] = t; }
    uint32_t p = v[mid];
    int i = lo, j = hi;
    while (i <= j) {
      while (v[i] < p) i++;
      while (v[j] > p) j--;
      if (i <= j) { uint32_t t = v[i]; v[i] = v[j]; v[j] = t; i++; j--; }
    }
    if (j - lo < hi - i) { quicksort(v, lo, j); lo = i; }
    else { quicksort(v, i, hi); hi = j; }
  }
  insertion(v, lo, hi);
}

static void mergesort(uint32_t* v, uint32_t* t, int lo, int hi) {  // [lo, hi)
  if (hi - lo < 2) return;
  int mid = lo + (hi - lo) / 2;
  mergesort(v, t, lo, mid);
  mergesort(v, t, mid, hi);
  int i = lo, j = mid, k = lo;
  while (i < mid && j < hi) t[k++] = v[i] <= v[j] ? v[i++] : v[j++];
  while (i < mid) t[k++] = v[i++];
  while (j < hi) t[k++] = v[j++];
  for (k = lo; k < hi; k++) v[k] = t[k];
}

int main(int argc, char** argv) {
  int reps = kernel_arg(argc, argv, 5);
  uint64_t sum = 0;
  for (int r = 0; r < reps; r++) {
    for (int i = 0; i < N; i++) a[i] = (uint32_t)kernel_rand();
    if (r & 1) mergesort(a, tmp, 0, N); else quicksort(a, 0, N - 1);
    for (int i = 1; i < N; i++)
      if (a[i - 1] > a[i]) { kernel_print("sort-unsorted", (uint64_t)i); return 1; }
    for (int i = 0; i < N; i += 997) sum = sum * 31 + a[i];
  }
  kernel_print("sort", sum);
  return 0;
}
