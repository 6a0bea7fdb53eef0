// image.c — see image.h.
#include "image.h"
#include "png_write.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <stb/stb_image_write.h>

static wq_image_status check_header(const uint8_t* data, size_t size, int* w, int* h, int* comp,
                                    const char** reason) {
  if (size == 0) {
    *reason = "the file is empty";
    return WQ_IMG_NOT_AN_IMAGE;
  }
  if (size > 0x7fffffff || !stbi_info_from_memory(data, (int)size, w, h, comp)) {
    // stb refuses a PNG over 1 GiB of pixels as corrupt (and its reason is overwritten by the formats it
    // tries next): read the IHDR size to tell "too large" from "not an image".
    static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size >= 24 && memcmp(data, kPng, 8) == 0 && memcmp(data + 12, "IHDR", 4) == 0) {
      uint64_t pw = (uint64_t)data[16] << 24 | data[17] << 16 | data[18] << 8 | data[19];
      uint64_t ph = (uint64_t)data[20] << 24 | data[21] << 16 | data[22] << 8 | data[23];
      if (pw * ph > (uint64_t)WQ_MAX_PIXELS) {
        *reason = "the image has more than " WQ_MAX_PIXELS_TEXT;
        return WQ_IMG_TOO_LARGE;
      }
    }
    *reason = "not an image (PNG, JPEG, BMP, GIF or PNM expected)";
    return WQ_IMG_NOT_AN_IMAGE;
  }
  if (*w <= 0 || *h <= 0) {
    *reason = "the image has no pixels";
    return WQ_IMG_EMPTY;
  }
  if ((long long)*w * *h > WQ_MAX_PIXELS) {
    *reason = "the image has more than " WQ_MAX_PIXELS_TEXT;
    return WQ_IMG_TOO_LARGE;
  }
  return WQ_IMG_OK;
}

static wq_image_status decode_failure(const char** reason) {
  const char* why = stbi_failure_reason();
  if (why && strcmp(why, "outofmem") == 0) {
    *reason = "out of memory while decoding";
    return WQ_IMG_NO_MEMORY;
  }
  *reason = "corrupt or truncated image data";
  return WQ_IMG_NOT_AN_IMAGE;
}

wq_image_status wq_image_decode(const uint8_t* data, size_t size, wq_image* out, const char** reason) {
  int w, h, comp;
  wq_image_status s = check_header(data, size, &w, &h, &comp, reason);
  if (s != WQ_IMG_OK) return s;
  int dw, dh, dc;
  uint8_t* px = stbi_load_from_memory(data, (int)size, &dw, &dh, &dc, 3);
  if (!px) return decode_failure(reason);
  out->w = dw;
  out->h = dh;
  out->px = px;
  return WQ_IMG_OK;
}

wq_image_status wq_mask_decode(const uint8_t* data, size_t size, int* w, int* h, uint8_t** out,
                               const char** reason) {
  int comp;
  wq_image_status s = check_header(data, size, w, h, &comp, reason);
  if (s != WQ_IMG_OK) return s;
  int dc;
  uint8_t* ga = stbi_load_from_memory(data, (int)size, w, h, &dc, 2);  // grey + alpha
  if (!ga) return decode_failure(reason);
  size_t n = (size_t)*w * (size_t)*h;
  int use_alpha = 0;
  for (size_t i = 0; i < n && !use_alpha; ++i) use_alpha = ga[2 * i + 1] != 255;
  for (size_t i = 0; i < n; ++i) ga[i] = ga[2 * i + use_alpha];  // compacts in place (i <= 2i)
  *out = ga;
  return WQ_IMG_OK;
}

int wq_image_alloc(wq_image* img, int w, int h) {
  img->w = w;
  img->h = h;
  img->px = malloc((size_t)w * (size_t)h * 3);
  return img->px != NULL;
}

void wq_image_free(wq_image* img) {
  free(img->px);  // stbi_image_free is free() with the default allocator
  img->px = NULL;
  img->w = img->h = 0;
}

static void append(void* ctx, void* data, int size) {
  wq_buffer* b = ctx;
  if (!b->data && b->cap == (size_t)-1) return;  // an earlier allocation failed
  if (b->size + (size_t)size > b->cap) {
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->size + (size_t)size) cap *= 2;
    uint8_t* d = realloc(b->data, cap);
    if (!d) {
      free(b->data);
      b->data = NULL;
      b->cap = (size_t)-1;
      return;
    }
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->size, data, (size_t)size);
  b->size += (size_t)size;
}

int wq_image_encode(const wq_image* img, const char* format, int quality, wq_buffer* buf) {
  int ok;
  if (strcmp(format, "jpeg") == 0)
    ok = stbi_write_jpg_to_func(append, buf, img->w, img->h, 3, img->px, quality);
  else if (buf->cap == (size_t)-1)
    ok = 0;
  else  // not stb's PNG writer: its per-row filter trials and match search are slow in the sandbox
    ok = wq_png_write(img->px, img->w, img->h, 3, (size_t)img->w * 3, &buf->data, &buf->size, &buf->cap);
  return ok && buf->data != NULL;
}

void wq_buffer_free(wq_buffer* buf) {
  free(buf->data);
  buf->data = NULL;
  buf->size = buf->cap = 0;
}

int wq_image_resize(const wq_image* src, int sx, int sy, int sw, int sh, wq_image* dst, int w, int h) {
  if (!wq_image_alloc(dst, w, h)) return 0;
  const uint8_t* origin = src->px + ((size_t)sy * (size_t)src->w + (size_t)sx) * 3;
  if (!stbir_resize_uint8_srgb(origin, sw, sh, src->w * 3, dst->px, w, h, w * 3, 3, STBIR_ALPHA_CHANNEL_NONE, 0)) {
    wq_image_free(dst);
    return 0;
  }
  return 1;
}

int wq_image_cover(const wq_image* src, wq_image* dst, int w, int h) {
  // The largest centred crop of src with the aspect ratio of w×h.
  double sa = (double)src->w / src->h, da = (double)w / h;
  int cw = src->w, ch = src->h;
  if (sa > da) cw = (int)lround(src->h * da);
  else ch = (int)lround(src->w / da);
  if (cw < 1) cw = 1;
  if (ch < 1) ch = 1;
  return wq_image_resize(src, (src->w - cw) / 2, (src->h - ch) / 2, cw, ch, dst, w, h);
}

int wq_image_sample(const wq_image* img, double x, double y, float rgb[3]) {
  if (x < -0.5 || y < -0.5 || x > img->w - 0.5 || y > img->h - 0.5) return 0;
  if (x < 0) x = 0;
  if (y < 0) y = 0;
  if (x > img->w - 1) x = img->w - 1;
  if (y > img->h - 1) y = img->h - 1;
  int x0 = (int)x, y0 = (int)y;
  int x1 = x0 + 1 < img->w ? x0 + 1 : x0, y1 = y0 + 1 < img->h ? y0 + 1 : y0;
  float fx = (float)(x - x0), fy = (float)(y - y0);
  const uint8_t* a = img->px + ((size_t)y0 * img->w + x0) * 3;
  const uint8_t* b = img->px + ((size_t)y0 * img->w + x1) * 3;
  const uint8_t* c = img->px + ((size_t)y1 * img->w + x0) * 3;
  const uint8_t* d = img->px + ((size_t)y1 * img->w + x1) * 3;
  for (int k = 0; k < 3; ++k) {
    float top = a[k] + (b[k] - a[k]) * fx, bottom = c[k] + (d[k] - c[k]) * fx;
    rgb[k] = top + (bottom - top) * fy;
  }
  return 1;
}
