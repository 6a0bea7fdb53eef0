// File: src/sign/util.cc
//
// The small shared pieces of the sign part: error names, base64 and SHA-256 on top of OpenSSL's EVP. The
// base64 decoder accepts both alphabets with or without padding because protobuf's JSON mapping (Sigstore
// bundles) allows all four, while Go's encoding/json (cosign's key files) writes standard with padding.
#include <openssl/evp.h>

#include <string>
#include <string_view>

#include "sign/sign.h"

namespace wasmq::sign {

std::string_view KindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidArgument:
      return "invalid-argument";
    case ErrorKind::BadKey:
      return "bad-key";
    case ErrorKind::BadPassword:
      return "bad-password";
    case ErrorKind::NoSignature:
      return "no-signature";
    case ErrorKind::WrongKey:
      return "wrong-key";
    case ErrorKind::DigestMismatch:
      return "digest-mismatch";
    case ErrorKind::MalformedBundle:
      return "malformed-bundle";
    case ErrorKind::Registry:
      return "registry";
    case ErrorKind::Io:
      return "io";
    case ErrorKind::Untrusted:
      return "untrusted";
  }
  return "unknown";
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

bool Base64Decode(std::string_view text, std::string* out) {
  std::string s;
  s.reserve(text.size() + 3);
  size_t padding = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '=') {
      // Padding only at the end, at most two.
      for (size_t j = i; j < text.size(); ++j)
        if (text[j] != '=') return false;
      padding = text.size() - i;
      if (padding > 2) return false;
      break;
    }
    if (c == '-') c = '+';
    if (c == '_') c = '/';
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!ok) return false;
    s.push_back(c);
  }
  if (s.size() % 4 == 1) return false;
  if (padding != 0 && (s.size() + padding) % 4 != 0) return false;
  size_t added = 0;
  while (s.size() % 4 != 0) {
    s.push_back('=');
    ++added;
  }
  out->assign(s.size() / 4 * 3, '\0');
  if (s.empty()) return true;
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out->data()),
                                reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0) return false;
  // EVP_DecodeBlock counts the bytes the padding stands for; drop them.
  out->resize(static_cast<size_t>(n) - added);
  return true;
}

std::string Sha256(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string Sha256Hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : Sha256(bytes)) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace wasmq::sign
