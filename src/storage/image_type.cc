// File: src/storage/image_type.cc
//
// The one image sniffer: the API decides by it what an upload is, the worker which extension a staged input
// gets. Each format is recognised by the start its specification fixes, no looser (a text file starting
// "BM" or "GIF8" is not an image) and no stricter than the decoders the pipelines use (stb_image) need:
//
//   PNG   the 8-byte signature 89 50 4E 47 0D 0A 1A 0A (PNG spec, §5.2).
//   JPEG  the SOI marker FF D8, then the first byte of the next marker, FF (ITU T.81, B.1.1.2–B.1.1.3),
//         and at least one byte more (the marker's code).
//   GIF   "GIF" then the version "87a" or "89a" (GIF89a spec, §17); stb accepts exactly these two.
//   WebP  a RIFF container: "RIFF", a 32-bit little-endian size, "WEBP", then the first chunk's FourCC,
//         "VP8 " (lossy), "VP8L" (lossless) or "VP8X" (extended) (RFC 9649, §2). The size counts from the
//         "WEBP" on, so one smaller than "WEBP" plus a chunk header (12) is a lie. stb cannot decode WebP
//         (the built-in pipelines answer that they cannot read it); uploads still take it, as documented,
//         for modules that can.
//   BMP   "BM", then, after the 14-byte file header, the size of the DIB header: 12 (BITMAPCOREHEADER),
//         40 (BITMAPINFOHEADER), 56 (V3), 108 (V4) or 124 (V5) — the ones stb decodes. "BM" alone is too
//         common a start to mean anything.
#include <array>
#include <cstdint>

#include "storage/storage.h"

namespace wasmq::storage {
namespace {

uint32_t Le32(std::string_view b, size_t at) {
  auto u = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(b[at + i])); };
  return u(0) | u(1) << 8 | u(2) << 16 | u(3) << 24;
}

bool IsWebp(std::string_view b) {
  if (b.size() < 16 || !b.starts_with("RIFF") || b.substr(8, 4) != "WEBP") return false;
  const std::string_view chunk = b.substr(12, 4);
  return (chunk == "VP8 " || chunk == "VP8L" || chunk == "VP8X") && Le32(b, 4) >= 12;
}

bool IsBmp(std::string_view b) {
  if (b.size() < 18 || !b.starts_with("BM")) return false;
  const uint32_t dib = Le32(b, 14);
  return dib == 12 || dib == 40 || dib == 56 || dib == 108 || dib == 124;
}

struct Format {
  std::string_view media_type, extension;
  bool upload;  // accepted as an upload
};
constexpr std::array<Format, 5> kFormats = {{
    {"image/png", "png", true},
    {"image/jpeg", "jpg", true},
    {"image/gif", "gif", true},
    {"image/webp", "webp", true},
    {"image/bmp", "bmp", false},
}};

const Format* Find(std::string_view media_type) {
  for (const Format& f : kFormats)
    if (f.media_type == media_type) return &f;
  return nullptr;
}

}  // namespace

std::string_view SniffImageType(std::string_view b) {
  if (b.starts_with(std::string_view("\x89PNG\r\n\x1a\n", 8))) return "image/png";
  if (b.size() >= 4 && b.starts_with("\xFF\xD8\xFF")) return "image/jpeg";
  if (b.starts_with("GIF87a") || b.starts_with("GIF89a")) return "image/gif";
  if (IsWebp(b)) return "image/webp";
  if (IsBmp(b)) return "image/bmp";
  return {};
}

std::string_view ImageExtension(std::string_view media_type) {
  const Format* f = Find(media_type);
  return f ? f->extension : std::string_view();
}

bool IsUploadImageType(std::string_view media_type) {
  const Format* f = Find(media_type);
  return f && f->upload;
}

}  // namespace wasmq::storage
