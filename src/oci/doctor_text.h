// File: src/oci/doctor_text.h
//
// Internal to `wasmq doctor`: the words of a diagnosis — an HTTP exchange as an evidence line, and the fix
// for a cause as commands and snippets to copy. No secret ever enters these: the fix names the user at most
// and writes PASSWORD where the secret goes.
#pragma once

#include <string>
#include <vector>

#include "oci/doctor.h"

namespace wasmq::oci {

// "GET http://host/v2/ → 401 (www-authenticate: Basic realm="x") 2 ms", or "… → no answer: <error>".
std::string FormatExchange(const Exchange& e);

struct FixContext {
  Reference ref;
  std::string username;                   // of the credentials found, or ""
  std::vector<std::string> places_looked;  // where credentials were searched
  std::vector<std::string> found_types;    // unsupported-format: the media types found
  std::string secret_name;                 // Kubernetes secret name for snippets
  std::string layout;                      // the layout found, when there is one
  bool plain_http = false;                 // the registry is spoken to over http (loopback, --insecure)
};

// The fix entries for d.cause (empty for ok).
std::vector<std::string> BuildFix(const Diagnosis& d, const FixContext& ctx);

}  // namespace wasmq::oci
