// File: src/oci/tar.cc
//
// A small tar reader/writer for FROM-scratch Wasm images (the module sits in a tar or tar+gzip layer).
// Reads ustar, GNU long names ('L') and pax 'path' records; writes plain ustar. gzip via zlib.
#include <zlib.h>

#include <cstring>

#include "oci/util.h"

namespace wasmq::oci {
namespace {

constexpr size_t kBlock = 512;
constexpr size_t kMaxInflated = size_t{1} << 31;  // a layer bigger than 2 GiB is refused, not swapped in

Result<std::string> Gunzip(std::string_view in) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return MakeError(ErrorKind::Io, "zlib init failed");
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  char buf[65536];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return MakeError(ErrorKind::UnsupportedFormat, "the layer is not valid gzip");
    }
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > kMaxInflated) {
      inflateEnd(&zs);
      return MakeError(ErrorKind::UnsupportedFormat, "the layer inflates to more than 2 GiB");
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return MakeError(ErrorKind::UnsupportedFormat, "the gzip layer is truncated");
    }
  }
  inflateEnd(&zs);
  return out;
}

std::string Gzip(std::string_view in) {
  z_stream zs{};
  deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// Octal (NUL/space padded) or GNU base-256 numbers.
bool ParseNumber(std::string_view field, uint64_t* out) {
  *out = 0;
  if (!field.empty() && (static_cast<unsigned char>(field[0]) & 0x80)) {
    for (size_t i = 1; i < field.size(); ++i) {
      if (*out >> 55) return false;
      *out = (*out << 8) | static_cast<unsigned char>(field[i]);
    }
    return true;
  }
  size_t i = 0;
  while (i < field.size() && field[i] == ' ') ++i;
  for (; i < field.size() && field[i] >= '0' && field[i] <= '7'; ++i) {
    if (*out >> 60) return false;
    *out = *out * 8 + static_cast<uint64_t>(field[i] - '0');
  }
  return true;
}

std::string CString(std::string_view field) { return std::string(field.substr(0, field.find('\0'))); }

std::string Normalize(std::string p) {
  while (!p.empty() && (p[0] == '/' || p.rfind("./", 0) == 0)) p = p.substr(p[0] == '/' ? 1 : 2);
  return p;
}

// pax records: "LEN key=value\n" ...; returns the path if present.
std::string PaxPath(std::string_view data) {
  std::string path;
  size_t i = 0;
  while (i < data.size()) {
    size_t sp = data.find(' ', i);
    if (sp == std::string_view::npos) break;
    uint64_t len = 0;
    for (size_t k = i; k < sp; ++k) {
      if (data[k] < '0' || data[k] > '9') return path;
      len = len * 10 + static_cast<uint64_t>(data[k] - '0');
    }
    if (len == 0 || i + len > data.size()) break;
    std::string_view rec = data.substr(sp + 1, i + len - sp - 1);
    if (!rec.empty() && rec.back() == '\n') rec.remove_suffix(1);
    if (rec.rfind("path=", 0) == 0) path = std::string(rec.substr(5));
    i += len;
  }
  return path;
}

void PutOctal(char* field, size_t width, uint64_t v) {
  std::string s(width - 1, '0');
  for (size_t i = width - 1; i-- > 0 && v;) {
    s[i] = static_cast<char>('0' + (v & 7));
    v >>= 3;
  }
  std::memcpy(field, s.data(), width - 1);
  field[width - 1] = '\0';
}

}  // namespace

Result<std::string> ExtractFromTar(std::string_view archive, const std::string& wanted) {
  std::string inflated;
  if (archive.size() >= 2 && static_cast<unsigned char>(archive[0]) == 0x1f &&
      static_cast<unsigned char>(archive[1]) == 0x8b) {
    auto r = Gunzip(archive);
    if (!r) return r.error();
    inflated = std::move(*r);
    archive = inflated;
  }
  const std::string target = Normalize(wanted);
  std::string long_name;
  size_t off = 0;
  while (off + kBlock <= archive.size()) {
    std::string_view h = archive.substr(off, kBlock);
    if (h.find_first_not_of('\0') == std::string_view::npos) break;  // end-of-archive block
    uint64_t size = 0;
    if (!ParseNumber(h.substr(124, 12), &size) || size > archive.size())
      return MakeError(ErrorKind::UnsupportedFormat, "the tar layer has a corrupt header");
    char type = h[156];
    std::string name = CString(h.substr(0, 100));
    if (h.substr(257, 5) == "ustar") {
      std::string prefix = CString(h.substr(345, 155));
      if (!prefix.empty()) name = prefix + "/" + name;
    }
    size_t data_off = off + kBlock;
    if (data_off + size > archive.size()) return MakeError(ErrorKind::UnsupportedFormat, "the tar layer is truncated");
    std::string_view data = archive.substr(data_off, size);
    off = data_off + (size + kBlock - 1) / kBlock * kBlock;
    if (type == 'L') {
      long_name = CString(data);
      continue;
    }
    if (type == 'x') {
      long_name = PaxPath(data);
      continue;
    }
    if (!long_name.empty()) {
      name = long_name;
      long_name.clear();
    }
    if ((type == '0' || type == '\0' || type == '7') && Normalize(name) == target) return std::string(data);
  }
  return MakeError(ErrorKind::UnsupportedFormat, "the image's layers hold no file " + wanted);
}

std::string MakeTar(const std::vector<std::pair<std::string, std::string>>& files, bool gzip) {
  std::string out;
  for (const auto& [path, data] : files) {
    char h[kBlock] = {};
    std::string name = Normalize(path);
    std::memcpy(h, name.data(), std::min<size_t>(name.size(), 99));
    PutOctal(h + 100, 8, 0755);
    PutOctal(h + 108, 8, 0);
    PutOctal(h + 116, 8, 0);
    PutOctal(h + 124, 12, data.size());
    PutOctal(h + 136, 12, 0);
    h[156] = '0';
    std::memcpy(h + 257, "ustar\0" "00", 8);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    PutOctal(h + 148, 7, sum);
    h[155] = ' ';
    out.append(h, kBlock);
    out += data;
    out.append((kBlock - data.size() % kBlock) % kBlock, '\0');
  }
  out.append(2 * kBlock, '\0');
  return gzip ? Gzip(out) : out;
}

}  // namespace wasmq::oci
