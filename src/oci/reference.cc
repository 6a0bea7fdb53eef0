// File: src/oci/reference.cc
//
// Image references with Docker's defaults (distribution/reference's grammar, simplified to what registries
// accept): [registry/]repo[:tag][@sha256:hex].
#include <algorithm>

#include "oci/oci.h"

namespace wasmq::oci {
namespace {

constexpr std::string_view kDockerHub = "docker.io";

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// A path component: lowercase alphanumerics separated by '.', '_', '__', or runs of '-'.
bool ValidComponent(std::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) return false;
  return std::all_of(c.begin(), c.end(), [](char ch) { return IsLowerAlnum(ch) || ch == '.' || ch == '_' || ch == '-'; });
}

bool ValidTag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; };
  if (!word(t.front())) return false;
  return std::all_of(t.begin(), t.end(), [&](char c) { return word(c) || c == '.' || c == '-'; });
}

bool ValidRegistry(std::string_view r) {
  if (r.empty()) return false;
  return std::all_of(r.begin(), r.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == ':' || c == '[' || c == ']';
  });
}

Error Bad(std::string_view text, const std::string& why) {
  return MakeError(ErrorKind::InvalidArgument, "invalid reference \"" + std::string(text) + "\": " + why);
}

Result<Reference> Parse(std::string_view text, bool default_tag) {
  Reference ref;
  std::string_view rest = text;
  if (rest.empty()) return Bad(text, "empty");
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    ref.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (!IsDigest(ref.digest)) return Bad(text, "digest must be sha256: and 64 lowercase hex digits");
  }
  auto slash = rest.find('/');
  if (slash != std::string_view::npos) {
    std::string_view first = rest.substr(0, slash);
    if (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
        first == "localhost") {
      ref.registry = std::string(first);
      rest = rest.substr(slash + 1);
    }
  }
  if (ref.registry.empty()) ref.registry = kDockerHub;
  if (ref.registry == "index.docker.io" || ref.registry == "registry-1.docker.io") ref.registry = kDockerHub;
  if (!ValidRegistry(ref.registry)) return Bad(text, "bad registry name");
  auto last_slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!ValidTag(ref.tag)) return Bad(text, "bad tag \"" + ref.tag + "\"");
  }
  if (rest.empty()) return Bad(text, "no repository");
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = rest.find('/', start);
    if (end == std::string_view::npos) end = rest.size();
    if (!ValidComponent(rest.substr(start, end - start)))
      return Bad(text, "repository components are lowercase letters, digits and . _ -");
    start = end + 1;
  }
  ref.repository = std::string(rest);
  if (ref.registry == kDockerHub && ref.repository.find('/') == std::string::npos)
    ref.repository = "library/" + ref.repository;
  if (default_tag && ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  if (ref.repository.size() > 255) return Bad(text, "repository longer than 255 characters");
  return ref;
}

}  // namespace

bool IsDigest(std::string_view text) {
  if (text.size() != 71 || text.substr(0, 7) != "sha256:") return false;
  return std::all_of(text.begin() + 7, text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string Reference::ApiHost() const { return registry == kDockerHub ? "registry-1.docker.io" : registry; }

std::string Reference::String() const {
  std::string s = registry + "/" + repository;
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

Result<Reference> ParseReference(std::string_view text) { return Parse(text, true); }
Result<Reference> ParseRepository(std::string_view text) { return Parse(text, false); }

}  // namespace wasmq::oci
