// File: src/wasm/reader.h
//
// Reader: a bounds-checked cursor over a byte range, with the binary format's LEB128 rules (a u32 takes at
// most 5 bytes and the unused bits of the last byte must be zero, or sign bits for signed values). Every
// read reports failure by returning false and recording a message; the caller turns it into a Malformed
// error. Used by the decoder (sections) and the compiler (instruction immediates).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace wasmq::wasm {

class Reader {
 public:
  Reader(const uint8_t* data, size_t begin, size_t end) : data_(data), pos_(begin), end_(end) {}

  size_t pos() const { return pos_; }
  size_t end() const { return end_; }
  bool eof() const { return pos_ >= end_; }
  size_t remaining() const { return end_ - pos_; }
  const std::string& error() const { return error_; }
  bool failed() const { return !error_.empty(); }
  bool Fail(const std::string& msg) {
    if (error_.empty()) error_ = msg;
    return false;
  }

  bool U8(uint8_t* out) {
    if (pos_ >= end_) return Fail("unexpected end");
    *out = data_[pos_++];
    return true;
  }
  bool Bytes(size_t n, const uint8_t** out) {
    if (n > remaining()) return Fail("unexpected end");
    *out = data_ + pos_;
    pos_ += n;
    return true;
  }
  bool Fixed32(uint32_t* out) {
    const uint8_t* p;
    if (!Bytes(4, &p)) return false;
    std::memcpy(out, p, 4);
    return true;
  }
  bool Fixed64(uint64_t* out) {
    const uint8_t* p;
    if (!Bytes(8, &p)) return false;
    std::memcpy(out, p, 8);
    return true;
  }

  bool U32(uint32_t* out) {
    uint64_t v;
    if (!Leb(32, false, &v)) return false;
    *out = static_cast<uint32_t>(v);
    return true;
  }
  bool U64(uint64_t* out) { return Leb(64, false, out); }
  bool S32(int32_t* out) {
    uint64_t v;
    if (!Leb(32, true, &v)) return false;
    *out = static_cast<int32_t>(static_cast<uint32_t>(v));
    return true;
  }
  bool S33(int64_t* out) {
    uint64_t v;
    if (!Leb(33, true, &v)) return false;
    *out = static_cast<int64_t>(v);
    return true;
  }
  bool S64(int64_t* out) {
    uint64_t v;
    if (!Leb(64, true, &v)) return false;
    *out = static_cast<int64_t>(v);
    return true;
  }

 private:
  // Reads an unsigned or signed LEB128 of at most `bits` bits; the result is sign-extended to 64 bits
  // when `is_signed`.
  bool Leb(unsigned bits, bool is_signed, uint64_t* out) {
    uint64_t result = 0;
    unsigned shift = 0;
    const unsigned max_bytes = (bits + 6) / 7;
    for (unsigned i = 0;; ++i) {
      if (pos_ >= end_) return Fail("unexpected end");
      uint8_t b = data_[pos_++];
      bool last_allowed = (i + 1 == max_bytes);
      if (last_allowed) {
        // The final byte may only use the bits that remain; the rest must be zero (unsigned) or copies
        // of the sign bit (signed). Its continuation bit must be clear.
        if (b & 0x80) return Fail("integer representation too long");
        unsigned used = bits - shift;  // 1..7
        uint8_t rest_mask = static_cast<uint8_t>((0x7F >> used) << used) & 0x7F;
        uint8_t rest = b & rest_mask;
        if (is_signed) {
          bool sign = (b >> (used - 1)) & 1;
          if (rest != (sign ? rest_mask : 0)) return Fail("integer too large");
        } else if (rest != 0) {
          return Fail("integer too large");
        }
      }
      result |= static_cast<uint64_t>(b & 0x7F) << shift;
      shift += 7;
      if (!(b & 0x80)) {
        if (is_signed && shift < 64 && (b & 0x40)) result |= ~uint64_t{0} << shift;
        break;
      }
    }
    if (!is_signed && bits < 64) result &= (uint64_t{1} << bits) - 1;
    *out = result;
    return true;
  }

  const uint8_t* data_;
  size_t pos_, end_;
  std::string error_;
};

}  // namespace wasmq::wasm
