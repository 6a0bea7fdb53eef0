// File: src/sign/util.cc
//
// The error kinds' names. (Base64 and SHA-256, once here, are base's: base/encoding.h, base/digest.h.)
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

}  // namespace wasmq::sign
