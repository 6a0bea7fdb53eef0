// blend.h — seamless compositing: multi-band (Laplacian pyramid) blending, so that fine detail switches
// from one image to the other over a few pixels while the broad shading blends over a wide band, and no
// seam shows (HEAD_SWAP).
#ifndef WQ_BLEND_H_
#define WQ_BLEND_H_

#ifdef __cplusplus
extern "C" {
#endif

// Blends `top` over `base` (both w*h*3 floats, interleaved RGB) with the weights `alpha` (w*h, 0..1), one
// band of each `levels`-level Laplacian pyramid at a time with the matching level of alpha's Gaussian
// pyramid; the result replaces `base`. levels = 1 is a plain alpha blend. 0 when out of memory.
int wq_multiband_blend(float* base, const float* top, const float* alpha, int w, int h, int levels);

#ifdef __cplusplus
}
#endif

#endif  // WQ_BLEND_H_
