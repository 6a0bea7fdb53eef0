// File: src/engines/stb_image.cc
//
// stb_image's implementation for the engines part (face-detect decodes its payload with it). Only the
// formats an uploaded photo comes in; no file I/O, no HDR.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_NO_HDR
#define STBI_NO_LINEAR
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#include <stb/stb_image.h>
