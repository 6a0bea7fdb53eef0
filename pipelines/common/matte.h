// matte.h — from a segmentation model's low-resolution foreground probabilities to a full-resolution soft
// matte, and compositing with it. The modules run in an interpreter, so the full-resolution work is two
// passes of a few multiply-adds per pixel (one to average the picture into the work grid, one to apply the
// matte and composite); everything that needs neighbourhoods (hole filling, the guided filter, colour
// estimates) runs on the work grid, half the model's resolution.
#ifndef WQ_MATTE_H_
#define WQ_MATTE_H_

#include <stddef.h>
#include <stdint.h>

#include "image.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int w, h;          // the work grid
  float* a;          // guided-filter coefficients: alpha ≈ a · grey + b (grey in 0..1)
  float* b;
  float* fg;         // 3 planes (R, G, B): the colour of the solid foreground nearby
  float* bg;         // 3 planes: the colour of the old background nearby
  int holes_filled;  // background islands inside the foreground that were put back (small ones only)
} wq_matte;

// Builds the matte for src from `prob`, a size×size map of foreground probabilities covering the whole
// image (stretched, as the model saw it), on a work grid of (size/2)×(size/2) at most:
//   1. small holes in the foreground (p < 0.5 islands) are filled; more than r samples from the 0.5
//      contour the map is made solid (0 or 1), so softness stays at the edge;
//   2. a guided filter (He et al., box-filter form) with the grey levels as the guide fits alpha ≈ a·I + b
//      per window, in the uncertain band only (elsewhere a = 0, b = the map); `feather` px (full
//      resolution) blurs a and b further;
//   3. wq_matte_apply upsamples a and b bilinearly and applies them to the full-resolution grey levels,
//      so edges (hair) follow the image's own detail (the "fast guided filter").
void wq_matte_build(wq_matte* m, const wq_image* src, const float* prob, int size, int feather);

// Composites src over bg in place with the matte and returns the sum of alpha over the pixels; alpha8
// (w*h bytes, or NULL) receives the matte. Where alpha is fractional the foreground colour is solved from
// I = a·F + (1 − a)·B_old with the old background's colour nearby (leaning on the solid foreground's
// colour nearby where a is small), so a soft edge does not carry the old background along. Solid
// foreground keeps its own pixels exactly.
double wq_matte_apply(const wq_matte* m, wq_image* src, const wq_image* bg, uint8_t* alpha8);

void wq_matte_free(wq_matte* m);

// An 8-bit matte (w*h) as a grey PNG in /out/<name>.
void wq_matte_write_png(const char* name, const uint8_t* alpha8, int w, int h);

#ifdef __cplusplus
}
#endif

#endif  // WQ_MATTE_H_
