// png_write.h — a PNG encoder made for speed inside the sandbox.
//
// stb_image_write tries five filters per row and searches LZ77 matches through hash chains: fine natively,
// but under an interpreter that search is most of a pipeline's time for a 1024×1024 output. This encoder
// does the least work per byte that still compresses photos and flat areas well: one cheap filter (Sub on
// the first row, Average below it), then per 256 KiB of filtered bytes one deflate block with Huffman codes
// built for that block, where runs of a repeated byte (a flat colour, a replaced background) become
// distance-1 matches. Photos come out a little larger than stb's; flat areas as small. Any PNG decoder reads
// the result (8-bit grey, RGB or RGBA, no interlace).
#ifndef WASMQ_PIPELINES_PNG_WRITE_H_
#define WASMQ_PIPELINES_PNG_WRITE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Appends a PNG of w×h pixels of `channels` bytes each (1 grey, 3 RGB, 4 RGBA; rows `stride` bytes apart) to
// a buffer grown with realloc: *out (may be NULL) holding *size bytes of *cap. Returns 0 on a bad argument or
// when memory runs out (then *out is freed and NULL).
int wq_png_write(const uint8_t* px, int w, int h, int channels, size_t stride, uint8_t** out, size_t* size,
                 size_t* cap);

#ifdef __cplusplus
}
#endif

#endif  // WASMQ_PIPELINES_PNG_WRITE_H_
