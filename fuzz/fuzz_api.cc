// Fuzz target: every request-parsing layer of the api part, in one binary (each fuzzer binary costs CI its
// own run time). The first byte picks the layer — '0' + n picks layer n, so seeds stay readable — and the
// rest is its input:
//
//   '0' multipart      "BOUNDARY\n" then the body            ParseMultipart (+ ParseMediaType of a header)
//   '1' query          a query string                         ParseQuery, PercentDecode
//   '2' media type     a Content-Type value                   ParseMediaType, the upload's name parameter
//   '3' JWT, raw       a token                                VerifyJwt with the fixed secret, base64url
//   '4' JWT, signed    "HEADER-JSON\nPAYLOAD-JSON"            signed with the secret, then VerifyJwt: the
//                                                              claim checks behind the signature
//   '5' magic          file bytes / a file name               SniffImageType, ContentTypeForName, …
//   '6' router         "PATTERN\nPATH", "METHOD\nPATH"        MatchPattern, the App's route table
//   '7' HTTP, auth off raw bytes from a client                the whole request path (api_app_harness.h)
//   '8' HTTP, auth on  idem, against a server requiring JWTs, with CORS and a rate limit
//
// Besides crashes and sanitizer reports, each layer checks what its header promises (aborting on a
// broken promise, so libFuzzer keeps the input).
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/content_type.h"
#include "api/jwt.h"
#include "api/multipart.h"
#include "api/query.h"
#include "api/router.h"
#include "base/encoding.h"
#include "storage/storage.h"
#include "api_app_harness.h"

namespace {

using namespace wasmq::api;
using wasmq::base::Base64UrlDecode;
using wasmq::base::Base64UrlEncode;

constexpr std::string_view kSecret = "fuzz-secret-that-is-at-least-32-bytes-long";
constexpr int64_t kNow = 1'800'000'000;  // a fixed clock: the same input always takes the same path

#define FUZZ_CHECK(cond)                                                        \
  do {                                                                          \
    if (!(cond)) {                                                              \
      std::fprintf(stderr, "fuzz_api: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                             \
    }                                                                           \
  } while (0)

std::pair<std::string_view, std::string_view> SplitLine(std::string_view s) {
  size_t nl = s.find('\n');
  if (nl == std::string_view::npos) return {s, {}};
  return {s.substr(0, nl), s.substr(nl + 1)};
}

bool Within(std::string_view inner, std::string_view outer) {
  return inner.empty() || (inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size());
}

void FuzzMultipart(std::string_view in) {
  auto [boundary, body] = SplitLine(in);
  (void)ParseMediaType("multipart/form-data; boundary=" + std::string(boundary));
  auto parts = ParseMultipart(body, boundary);
  if (!parts) return;
  FUZZ_CHECK(parts->size() <= kMaxParts);
  for (const Part& p : *parts) FUZZ_CHECK(Within(p.data, body));
}

void FuzzQuery(std::string_view in) {
  // The contract: no NUL comes out of a decode unless the text held one raw (an HTTP target cannot: the
  // request parser refuses control characters there).
  bool raw_nul = in.find('\0') != std::string_view::npos;
  auto params = ParseQuery(in);
  if (params) {
    FUZZ_CHECK(params->size() <= kMaxQueryParams);
    for (const auto& [k, v] : *params)
      FUZZ_CHECK(raw_nul || (k.find('\0') == std::string::npos && v.find('\0') == std::string::npos));
    (void)QueryValue(*params, "token");
  }
  for (bool plus : {false, true})
    if (auto d = PercentDecode(in, plus))
      FUZZ_CHECK(d->size() <= in.size() && (raw_nul || d->find('\0') == std::string::npos));
}

void FuzzMediaType(std::string_view in) {
  auto mt = ParseMediaType(in);
  if (mt) {
    FUZZ_CHECK(mt->type.find('/') != std::string::npos);
    FUZZ_CHECK(mt->params.size() <= 16);
  }
  // routes_files.cc reads a raw upload's name by parsing Content-Disposition as a media type's parameters.
  if (auto cd = ParseMediaType("x/" + std::string(in))) (void)cd->params["filename"];
}

void FuzzJwtRaw(std::string_view in) {
  JwtCheck check{.secret = kSecret, .now_s = kNow, .leeway_s = 30};
  auto claims = VerifyJwt(in, check);
  (void)claims;
  // base64url has one encoding per byte string: decoding then encoding gives the text back.
  if (auto bytes = Base64UrlDecode(in)) FUZZ_CHECK(Base64UrlEncode(*bytes) == in);
  FUZZ_CHECK(Base64UrlDecode(Base64UrlEncode(in)) == std::string(in));
}

std::string Hmac(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

void FuzzJwtSigned(std::string_view in) {
  auto [header, payload] = SplitLine(in);
  std::string signing_input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
  std::string token = signing_input + "." + Base64UrlEncode(Hmac(signing_input));
  for (bool strict : {false, true}) {
    JwtCheck check{.secret = kSecret, .now_s = kNow, .leeway_s = 30};
    if (strict) {
      check.issuer = "https://auth.formy.example";
      check.audience = "wasmq";
    }
    auto claims = VerifyJwt(token, check);
    if (!claims) continue;
    FUZZ_CHECK(!claims->subject.empty() && claims->subject.size() <= kMaxSubjectBytes);
    FUZZ_CHECK(claims->expires_at > kNow - 30);
  }
}

void FuzzMagic(std::string_view in) {
  std::string_view type = wasmq::storage::SniffImageType(in);
  FUZZ_CHECK(type.empty() || type.starts_with("image/"));
  (void)ContentTypeForName(in);
  auto [content_type, name] = SplitLine(in);
  std::string cd = ContentDisposition(content_type, name);
  FUZZ_CHECK(cd.find_first_of("\r\n\"", cd.find('"') + 1) == cd.size() - 1);  // the name cannot break out
}

void FuzzRouter(std::string_view in) {
  auto [first, path] = SplitLine(in);
  if (auto params = MatchPattern(first, path))
    for (const auto& [name, value] : params->values) FUZZ_CHECK(!value.empty());
  (void)wasmq::fuzz::FindRoute(first, path);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (static_cast<uint8_t>(data[0] - '0') % 9) {
    case 0: FuzzMultipart(in); break;
    case 1: FuzzQuery(in); break;
    case 2: FuzzMediaType(in); break;
    case 3: FuzzJwtRaw(in); break;
    case 4: FuzzJwtSigned(in); break;
    case 5: FuzzMagic(in); break;
    case 6: FuzzRouter(in); break;
    case 7: wasmq::fuzz::DriveHttpRequests(in, wasmq::fuzz::AuthMode::Off); break;
    case 8: wasmq::fuzz::DriveHttpRequests(in, wasmq::fuzz::AuthMode::On); break;
  }
  return 0;
}
