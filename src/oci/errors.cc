// File: src/oci/errors.cc
#include "oci/oci.h"

namespace wasmq::oci {

std::string_view KindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidArgument: return "invalid-argument";
    case ErrorKind::Network: return "network";
    case ErrorKind::AuthRequired: return "auth-required";
    case ErrorKind::AuthRejected: return "auth-rejected";
    case ErrorKind::Denied: return "denied";
    case ErrorKind::RepoNotFound: return "repo-not-found";
    case ErrorKind::ManifestNotFound: return "manifest-not-found";
    case ErrorKind::BlobNotFound: return "blob-not-found";
    case ErrorKind::RateLimited: return "rate-limited";
    case ErrorKind::RegistryError: return "registry-error";
    case ErrorKind::DigestMismatch: return "digest-mismatch";
    case ErrorKind::UnsupportedFormat: return "unsupported-format";
    case ErrorKind::NotCached: return "not-cached";
    case ErrorKind::Io: return "io";
  }
  return "registry-error";
}

std::string_view StageName(NetworkStage stage) {
  switch (stage) {
    case NetworkStage::None: return "";
    case NetworkStage::Dns: return "dns";
    case NetworkStage::Connect: return "connect";
    case NetworkStage::Tls: return "tls";
    case NetworkStage::Timeout: return "timeout";
    case NetworkStage::Other: return "other";
  }
  return "other";
}

}  // namespace wasmq::oci
