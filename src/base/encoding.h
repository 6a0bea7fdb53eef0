// Base64 (RFC 4648 §4 and the URL-safe alphabet of §5) and hex, on OpenSSL's EVP_EncodeBlock /
// EVP_DecodeBlock. Two decoders because the formats we read disagree on what is allowed:
//   Base64Decode     — either alphabet, padding optional: protobuf's JSON mapping (Sigstore bundles) allows
//                      all four forms, Go's encoding/json (cosign key files, docker config.json) writes
//                      standard with padding. No whitespace (callers that tolerate line breaks strip them).
//   Base64UrlDecode  — JWT's form (RFC 7515 §2): URL alphabet only, no padding, and canonical (the unused
//                      low bits of the last character are zero), so every byte string has one encoding.
#ifndef WASMQ_BASE_ENCODING_H_
#define WASMQ_BASE_ENCODING_H_

#include <optional>
#include <string>
#include <string_view>

namespace wasmq::base {

// Standard alphabet with padding: "f" -> "Zg==".
std::string Base64Encode(std::string_view bytes);
// URL-safe alphabet without padding: "\xfb\xff" -> "-_8".
std::string Base64UrlEncode(std::string_view bytes);
// nullopt on a character outside both alphabets, misplaced or excess padding, or an impossible length.
std::optional<std::string> Base64Decode(std::string_view text);
std::optional<std::string> Base64UrlDecode(std::string_view text);

// Percent-encoding (RFC 3986 §2.1): every byte but the unreserved ALPHA / DIGIT / "-" / "." / "_" / "~"
// becomes %XX (upper case), so the result is safe in a URL's query, a form body or a URL's userinfo.
std::string PercentEncode(std::string_view bytes);
// The reverse; `plus_is_space` for query strings and forms, where HTML sends '+' for a space. nullopt on a
// '%' not followed by two hex digits, and on %00: a NUL would cut C strings short further down.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space);

// Lowercase hex: "\x01\xab" -> "01ab".
std::string HexEncode(std::string_view bytes);
// Either case; nullopt on an odd length or a non-hex character.
std::optional<std::string> HexDecode(std::string_view text);

}  // namespace wasmq::base

#endif  // WASMQ_BASE_ENCODING_H_
