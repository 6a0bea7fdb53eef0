// image.h — 8-bit RGB images for the pipelines: decode (stb_image: PNG, JPEG, BMP, GIF, PNM), encode
// (PNG or JPEG), resize (stb_image_resize), and bilinear sampling. Errors are returned, never fatal:
// the caller turns them into a TaskError.
#ifndef WQ_IMAGE_H_
#define WQ_IMAGE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int w, h;
  uint8_t* px;  // w*h*3 bytes, row-major RGB
} wq_image;

typedef struct {
  uint8_t* data;
  size_t size, cap;
} wq_buffer;

// The largest image a pipeline accepts: 2048×2048 pixels. The decoded images, their float working copies
// (BACKGROUND_CHANGE keeps several full-size planes for the matte, the blur and the composite) and the
// encoded output must fit in the worker's default 256 MiB of linear memory: 4096×4096 did not
// (OUT_OF_MEMORY after about 20 s), 2048×2048 does, with two full-size inputs
// (tests/pipelines/limits_test.cc runs it under the default cap, and one pixel more is refused).
// Raising it means lowering the pipelines' peak memory or raising --max-memory's default.
#define WQ_MAX_SIDE 2048L
#define WQ_MAX_PIXELS (WQ_MAX_SIDE * WQ_MAX_SIDE)
#define WQ_MAX_PIXELS_TEXT "4194304 pixels (2048x2048)"

typedef enum { WQ_IMG_OK = 0, WQ_IMG_NOT_AN_IMAGE, WQ_IMG_TOO_LARGE, WQ_IMG_EMPTY, WQ_IMG_NO_MEMORY } wq_image_status;

// Reads the header first, so a huge image is refused before any pixel is decoded.
wq_image_status wq_image_decode(const uint8_t* data, size_t size, wq_image* out, const char** reason);
// Like wq_image_decode for a single-channel mask: the alpha channel when the file has one that is not
// all opaque, the grey level otherwise. `out` gets w*h bytes.
wq_image_status wq_mask_decode(const uint8_t* data, size_t size, int* w, int* h, uint8_t** out,
                               const char** reason);

int wq_image_alloc(wq_image* img, int w, int h);  // 0 on failure
void wq_image_free(wq_image* img);

// Encodes as "png" or "jpeg" (quality 1..100) into buf (appended). 0 on failure.
int wq_image_encode(const wq_image* img, const char* format, int quality, wq_buffer* buf);
void wq_buffer_free(wq_buffer* buf);

// Resamples `src` (or a sub-rectangle of it) to w×h (Mitchell filter down, Catmull-Rom up). 0 on failure.
int wq_image_resize(const wq_image* src, int sx, int sy, int sw, int sh, wq_image* dst, int w, int h);
// Resizes to cover w×h and crops the centre (like CSS object-fit: cover).
int wq_image_cover(const wq_image* src, wq_image* dst, int w, int h);

// Bilinear sample at (x, y) in pixel-centre coordinates; returns 0 (and leaves rgb) when (x, y) is more
// than half a pixel outside the image; edges are clamped inside that band.
int wq_image_sample(const wq_image* img, double x, double y, float rgb[3]);

#ifdef __cplusplus
}
#endif

#endif  // WQ_IMAGE_H_
