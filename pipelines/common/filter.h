// filter.h — float-plane filters shared by the pipelines (mattes and masks).
#ifndef WQ_FILTER_H_
#define WQ_FILTER_H_

#ifdef __cplusplus
extern "C" {
#endif

// Smooths a w×h plane in place with three passes of a separable box blur of `radius` (about a Gaussian
// of sigma ≈ radius), edges clamped. O(w·h) whatever the radius. 0 when out of memory.
int wq_blur(float* plane, int w, int h, int radius);

static inline float wq_smoothstep(float lo, float hi, float x) {
  if (x <= lo) return 0.f;
  if (x >= hi) return 1.f;
  float t = (x - lo) / (hi - lo);
  return t * t * (3.f - 2.f * t);
}

#ifdef __cplusplus
}
#endif

#endif  // WQ_FILTER_H_
