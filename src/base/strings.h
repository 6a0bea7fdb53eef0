// ASCII string helpers shared by every part. ASCII on purpose: the inputs are protocol text (HTTP header
// names, auth schemes, registry hosts, units), where the C locale's rules are the right ones and a
// locale-dependent std::tolower would be wrong.
#ifndef WASMQ_BASE_STRINGS_H_
#define WASMQ_BASE_STRINGS_H_

#include <string>
#include <string_view>

namespace wasmq::base {

inline constexpr std::string_view kAsciiWhitespace = " \t\r\n\f\v";

// "Content-Type" -> "content-type"; only A-Z change.
std::string Lower(std::string_view s);
// `s` without leading and trailing characters from `chars` (HTTP's optional whitespace is " \t").
std::string_view Trim(std::string_view s, std::string_view chars = kAsciiWhitespace);
// Equal ignoring ASCII case: "Bearer" == "bearer".
bool IEquals(std::string_view a, std::string_view b);

}  // namespace wasmq::base

#endif  // WASMQ_BASE_STRINGS_H_
