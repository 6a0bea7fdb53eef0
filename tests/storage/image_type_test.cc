// The one image sniffer: each format's signature, and heads cut short or lying about what follows.
#include <gtest/gtest.h>

#include <string>

#include "storage/storage.h"

namespace wasmq::storage {
namespace {

const std::string kPngSig("\x89PNG\r\n\x1a\n", 8);
std::string PngBytes() { return kPngSig + std::string(64, 'p'); }
std::string JpegBytes() { return std::string("\xFF\xD8\xFF\xE0", 4) + std::string(64, 'j'); }
std::string WebpBytes() {
  return "RIFF" + std::string("\x10\x00\x00\x00", 4) + "WEBPVP8 " + std::string(64, 'w');
}
// "BM", file size, two reserved words, pixel offset, then the DIB header's size (little-endian).
std::string BmpBytes(unsigned char dib) {
  return "BM" + std::string("\x46\0\0\0\0\0\0\0\x36\0\0\0", 12) + std::string(1, static_cast<char>(dib)) +
         std::string(3, '\0') + std::string(40, 'b');
}

TEST(ImageType, KnowsImagesByTheirBytes) {
  EXPECT_EQ(SniffImageType(PngBytes()), "image/png");
  EXPECT_EQ(SniffImageType(JpegBytes()), "image/jpeg");
  EXPECT_EQ(SniffImageType(WebpBytes()), "image/webp");
  EXPECT_EQ(SniffImageType("GIF89a....."), "image/gif");
  EXPECT_EQ(SniffImageType("RIFF\x10\0\0\0WAVEfmt "), "");
  EXPECT_EQ(SniffImageType("<html>"), "");
  EXPECT_EQ(SniffImageType(""), "");
  EXPECT_EQ(SniffImageType(std::string("\x89PNG", 4)), "");
}

TEST(ImageType, Png) {
  EXPECT_EQ(SniffImageType(kPngSig), "image/png");
  EXPECT_EQ(SniffImageType(kPngSig.substr(0, 7)), "");                          // cut short
  EXPECT_EQ(SniffImageType(std::string("\x89PNG\r\n\x1a\r", 8) + "xxxx"), "");  // a line-ending mangled
  EXPECT_EQ(SniffImageType("PNG\r\n\x1a\nxxxxxxxx"), "");
}

TEST(ImageType, Jpeg) {
  for (const char* app : {"\xE0", "\xE1", "\xDB", "\xC0"})  // JFIF, Exif, a table, a frame: any next marker
    EXPECT_EQ(SniffImageType(std::string("\xFF\xD8\xFF", 3) + app), "image/jpeg") << int(app[0] & 0xff);
  EXPECT_EQ(SniffImageType(std::string("\xFF\xD8\xFF", 3)), "");  // no marker code: cut short
  EXPECT_EQ(SniffImageType(std::string("\xFF\xD8", 2)), "");
  EXPECT_EQ(SniffImageType(std::string("\xFF\xD8\x00\xE0", 4)), "");  // SOI, but no marker after it
  EXPECT_EQ(SniffImageType(std::string("\xFF\xD9\xFF\xE0", 4)), "");  // EOI first
}

TEST(ImageType, GifIsOneOfItsTwoVersions) {
  EXPECT_EQ(SniffImageType("GIF87a\x01\0\x01\0"), "image/gif");
  EXPECT_EQ(SniffImageType("GIF89a"), "image/gif");
  EXPECT_EQ(SniffImageType("GIF8"), "");  // the worker's old test; not a version
  EXPECT_EQ(SniffImageType("GIF88a...."), "");
  EXPECT_EQ(SniffImageType("GIF89b...."), "");
  EXPECT_EQ(SniffImageType("GIF89"), "");
  EXPECT_EQ(SniffImageType("gif89a...."), "");
}

TEST(ImageType, WebpIsARiffWithAWebpChunk) {
  for (const char* chunk : {"VP8 ", "VP8L", "VP8X"})
    EXPECT_EQ(SniffImageType("RIFF" + std::string("\x20\0\0\0", 4) + "WEBP" + chunk + "...."), "image/webp")
        << chunk;
  const std::string riff = "RIFF" + std::string("\x20\0\0\0", 4);
  EXPECT_EQ(SniffImageType(riff + "WEBP"), "");          // no chunk: the worker's old test took it
  EXPECT_EQ(SniffImageType(riff + "WEBPVP8"), "");       // chunk FourCC cut short
  EXPECT_EQ(SniffImageType(riff + "WEBPALPH...."), "");  // not a first chunk the format allows
  EXPECT_EQ(SniffImageType(riff + "AVI VP8 ...."), "");  // another RIFF form
  EXPECT_EQ(SniffImageType("RIFX" + std::string("\0\0\0\x20", 4) + "WEBPVP8 ...."), "");
  // A RIFF size too small to hold "WEBP" and one chunk header lies about the file.
  EXPECT_EQ(SniffImageType("RIFF" + std::string("\x04\0\0\0", 4) + "WEBPVP8 ...."), "");
  EXPECT_EQ(SniffImageType("RIFF" + std::string("\x0c\0\0\0", 4) + "WEBPVP8 "), "image/webp");
}

TEST(ImageType, BmpNeedsADibHeaderStbReads) {
  for (unsigned char dib : {12, 40, 56, 108, 124})
    EXPECT_EQ(SniffImageType(BmpBytes(dib)), "image/bmp") << +dib;
  for (unsigned char dib : {0, 13, 52, 64, 200}) EXPECT_EQ(SniffImageType(BmpBytes(dib)), "") << +dib;
  EXPECT_EQ(SniffImageType(BmpBytes(40).substr(0, 17)), "");  // the DIB header's size cut short
  EXPECT_EQ(SniffImageType("BM"), "");                        // the worker's old test took these
  EXPECT_EQ(SniffImageType("BMW owner's manual, 1998 edition"), "");
}

TEST(ImageType, ExtensionsAndWhatUploadsTake) {
  EXPECT_EQ(ImageExtension("image/png"), "png");
  EXPECT_EQ(ImageExtension("image/jpeg"), "jpg");
  EXPECT_EQ(ImageExtension("image/gif"), "gif");
  EXPECT_EQ(ImageExtension("image/webp"), "webp");
  EXPECT_EQ(ImageExtension("image/bmp"), "bmp");
  EXPECT_EQ(ImageExtension(""), "");
  EXPECT_EQ(ImageExtension("text/html"), "");
  for (const char* t : {"image/png", "image/jpeg", "image/gif", "image/webp"})
    EXPECT_TRUE(IsUploadImageType(t));
  EXPECT_FALSE(IsUploadImageType("image/bmp"));  // the API's documented set: PNG, JPEG, WebP, GIF
  EXPECT_FALSE(IsUploadImageType(""));
}

}  // namespace
}  // namespace wasmq::storage
