// Fuzz target: the oci part's parsers of what a registry (or a user) sends, in one binary. The first byte
// picks the parser — '0' + n picks parser n, so seeds stay readable — and the rest is its input:
//
//   '0' reference         `[registry/]repo[:tag][@digest]`       ParseReference, ParseRepository; a parsed
//                                                                   reference re-parses to itself
//   '1' WWW-Authenticate  a header value                          ParseWwwAuthenticate; parameter names are
//                                                                   lower-case
//   '2' manifest / index  "CONTENT-TYPE\nJSON"                    ParseManifest, then DetectLayout (image) or
//                                                                   SelectWasmPlatform (index)
//   '3' image config      "MEDIA-TYPE\nJSON"                      ParseImageConfig
//   '4' layout            "MANIFEST-JSON\n\n\nCONFIG-JSON"        DetectLayout with a parsed config
//   '5' layer             raw layer bytes (tar, tar+gzip, wasm)  ExtractFromTar, CheckCoreModule
//   '6' nearest tag       "WANTED\nTAG\nTAG…"                     NearestTag: the answer is one of the tags
//
// Besides crashes, sanitizer reports and exceptions (no exception may cross oci.h), each parser is checked
// against what its header promises (aborting on a broken promise, so libFuzzer keeps the input).
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "oci/doctor.h"
#include "oci/oci.h"

namespace {

using namespace wasmq::oci;

#define FUZZ_CHECK(cond)                                                                     \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "fuzz_oci: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

std::pair<std::string_view, std::string_view> SplitAt(std::string_view s, std::string_view sep) {
  size_t at = s.find(sep);
  if (at == std::string_view::npos) return {s, {}};
  return {s.substr(0, at), s.substr(at + sep.size())};
}

void FuzzReference(std::string_view in) {
  auto ref = ParseReference(in);
  if (ref) {
    FUZZ_CHECK(!ref->registry.empty() && !ref->repository.empty());
    FUZZ_CHECK(!ref->tag.empty() || !ref->digest.empty());
    FUZZ_CHECK(ref->digest.empty() || IsDigest(ref->digest));
    auto again = ParseReference(ref->String());
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->registry == ref->registry && again->repository == ref->repository);
    FUZZ_CHECK(again->tag == ref->tag && again->digest == ref->digest);
    (void)ref->ApiHost();
  }
  (void)ParseRepository(in);
}

void FuzzWwwAuthenticate(std::string_view in) {
  for (const Challenge& c : ParseWwwAuthenticate(in)) {
    for (const auto& [key, value] : c.params)
      for (char ch : key) FUZZ_CHECK(!std::isupper(static_cast<unsigned char>(ch)));
    (void)c.Param("realm");
  }
}

void CheckManifest(const Manifest& m) {
  for (const Descriptor& d : m.layers) FUZZ_CHECK(d.size >= 0 && IsDigest(d.digest));
  for (const Descriptor& d : m.manifests) FUZZ_CHECK(d.size >= 0 && IsDigest(d.digest));
}

void FuzzManifest(std::string_view in) {
  auto [content_type, body] = SplitAt(in, "\n");
  auto m = ParseManifest(body, content_type);
  if (!m) return;
  CheckManifest(*m);
  if (m->IsIndex()) {
    auto chosen = SelectWasmPlatform(*m);
    if (chosen) FUZZ_CHECK(IsDigest(chosen->digest));
  } else {
    auto layout = DetectLayout(*m, nullptr);
    if (layout) {
      (void)LayoutName(layout->layout);
      (void)TarLayersNewestFirst(*m);
    }
  }
}

void FuzzConfig(std::string_view in) {
  auto [media_type, body] = SplitAt(in, "\n");
  (void)ParseImageConfig(body, media_type);
}

void FuzzLayout(std::string_view in) {
  auto [manifest_json, config_json] = SplitAt(in, "\n\n\n");
  auto m = ParseManifest(manifest_json);
  if (!m || m->IsIndex()) return;
  auto config = ParseImageConfig(config_json, m->config.media_type);
  auto layout = DetectLayout(*m, config ? &*config : nullptr);
  if (layout && layout->layout == Layout::TarEntrypoint) FUZZ_CHECK(!layout->path_in_tar.empty());
}

void FuzzLayer(std::string_view in) {
  auto file = ExtractFromTar(in, "app.wasm");
  // A file comes out of the archive: at most the archive's size, or deflate's ratio (< 1100:1) of it.
  if (file) FUZZ_CHECK(file->size() <= in.size() * 1100);
  (void)CheckCoreModule(in);
  (void)IsComponent(in);
}

void FuzzNearestTag(std::string_view in) {
  auto [wanted, rest] = SplitAt(in, "\n");
  std::vector<std::string> tags;
  while (!rest.empty() && tags.size() < 256) {
    auto [tag, more] = SplitAt(rest, "\n");
    tags.emplace_back(tag);
    rest = more;
  }
  const std::string nearest = NearestTag(wanted, tags);
  if (tags.empty() || wanted.empty()) {
    FUZZ_CHECK(nearest.empty());
  } else {
    bool found = false;
    for (const std::string& t : tags) found = found || t == nearest;
    FUZZ_CHECK(found);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (static_cast<uint8_t>(data[0] - '0') % 7) {
    case 0: FuzzReference(in); break;
    case 1: FuzzWwwAuthenticate(in); break;
    case 2: FuzzManifest(in); break;
    case 3: FuzzConfig(in); break;
    case 4: FuzzLayout(in); break;
    case 5: FuzzLayer(in); break;
    case 6: FuzzNearestTag(in); break;
  }
  return 0;
}
