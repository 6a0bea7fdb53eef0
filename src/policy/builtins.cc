// File: src/policy/builtins.cc
//
// The host builtins a compiled policy may call through opa_builtin0..4: the set OPA's npm SDK implements
// (sprintf, regex.split, json.is_valid, yaml.is_valid/marshal/unmarshal). Everything else OPA compiles
// into the module itself. We follow the SDK's observable behaviour, because that is what policies run
// with elsewhere: sprintf is sprintf-js's vsprintf (JavaScript's number formatting, `%v`, `%j`, `%T`),
// regex.split is String.prototype.split with a RegExp (captured groups included), yaml.marshal writes
// block YAML. Differences that remain (UTF-16 vs UTF-8 in regexes, YAML quoting style) are in
// docs/policy.md.
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <regex>
#include <stdexcept>
#include <string>

#include "policy/policy.h"

namespace wasmq::policy {
namespace {

using nlohmann::json;

// JavaScript's Number.prototype.toString() (ECMA-262 Number::toString): the shortest round-trip digits,
// plain notation for exponents in [-7, 21), else d.ddde±x.
std::string JsNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v < 0 ? "-Infinity" : "Infinity";
  if (v == 0) return "0";
  std::string sign = v < 0 ? "-" : "";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, std::fabs(v), std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  size_t e = sci.find('e');
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (sci[i] != '.') digits += sci[i];
  int exp10 = std::stoi(sci.substr(e + 1));
  int k = static_cast<int>(digits.size()), n = exp10 + 1;
  if (k <= n && n <= 21) return sign + digits + std::string(n - k, '0');
  if (0 < n && n <= 21) return sign + digits.substr(0, n) + "." + digits.substr(n);
  if (-6 < n && n <= 0) return sign + "0." + std::string(-n, '0') + digits;
  std::string out = sign + digits.substr(0, 1);
  if (k > 1) out += "." + digits.substr(1);
  out += "e";
  out += (n - 1 >= 0 ? "+" : "-");
  out += std::to_string(std::abs(n - 1));
  return out;
}

// JavaScript's String(value) for a JSON value.
std::string JsString(const json& v) {
  switch (v.type()) {
    case json::value_t::string:
      return v.get<std::string>();
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return JsNumber(v.get<double>());
    case json::value_t::array: {
      std::string out;
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += ",";
        if (!v[i].is_null()) out += JsString(v[i]);
      }
      return out;
    }
    default:
      return "[object Object]";
  }
}

// JavaScript's Number(value): what sprintf-js's "expecting number" check (isNaN) uses.
double JsToNumber(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  if (v.is_null()) return 0;
  if (v.is_array()) return JsToNumber(json(JsString(v)));
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    size_t b = s.find_first_not_of(" \t\n\r\f\v");
    if (b == std::string::npos) return 0;
    s = s.substr(b, s.find_last_not_of(" \t\n\r\f\v") - b + 1);
    if (s == "Infinity" || s == "+Infinity") return INFINITY;
    if (s == "-Infinity") return -INFINITY;
    if (s.find_first_of("iInN") != std::string::npos && s.rfind("0x", 0) != 0) return NAN;  // no "inf", "nan"
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    return *end == 0 ? d : NAN;
  }
  return NAN;
}

// JavaScript's parseFloat(String(value)): the longest numeric prefix.
double JsParseFloat(const json& v) {
  std::string s = v.is_string() ? v.get<std::string>() : JsString(v);
  size_t b = s.find_first_not_of(" \t\n\r\f\v");
  if (b == std::string::npos) return NAN;
  s = s.substr(b);
  if (s.rfind("Infinity", 0) == 0 || s.rfind("+Infinity", 0) == 0) return INFINITY;
  if (s.rfind("-Infinity", 0) == 0) return -INFINITY;
  size_t n = 0;
  if (n < s.size() && (s[n] == '+' || s[n] == '-')) ++n;
  size_t digits = 0;
  while (n < s.size() && std::isdigit(static_cast<unsigned char>(s[n]))) ++n, ++digits;
  if (n < s.size() && s[n] == '.') {
    ++n;
    while (n < s.size() && std::isdigit(static_cast<unsigned char>(s[n]))) ++n, ++digits;
  }
  if (digits == 0) return NAN;
  if (n < s.size() && (s[n] == 'e' || s[n] == 'E')) {
    size_t m = n + 1;
    if (m < s.size() && (s[m] == '+' || s[m] == '-')) ++m;
    if (m < s.size() && std::isdigit(static_cast<unsigned char>(s[m]))) {
      while (m < s.size() && std::isdigit(static_cast<unsigned char>(s[m]))) ++m;
      n = m;
    }
  }
  return std::strtod(s.substr(0, n).c_str(), nullptr);
}

// parseInt(String(v), 10).
double JsParseInt(const json& v) {
  std::string s = v.is_string() ? v.get<std::string>() : JsString(v);
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  size_t start = i;
  double out = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) out = out * 10 + (s[i++] - '0');
  if (i == start) return NAN;
  return neg ? -out : out;
}

uint32_t ToUint32(double d) {  // JavaScript's `x >>> 0`
  if (!std::isfinite(d)) return 0;
  double t = std::trunc(d);
  double m = std::fmod(t, 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return static_cast<uint32_t>(m);
}

std::string ToBase(uint32_t v, int base, bool upper) {
  if (v == 0) return "0";
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  while (v) {
    out.insert(out.begin(), digits[v % base]);
    v /= base;
  }
  return out;
}

// Number.prototype.toExponential() without a precision: as many digits as the shortest round trip.
std::string JsExponentShortest(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  return std::string(buf, r.ptr);
}

// JavaScript's exponent notation: "1.5e+2", not printf's "1.5e+02".
std::string JsExponent(std::string printed) {
  size_t e = printed.find('e');
  if (e == std::string::npos) return printed;
  std::string mant = printed.substr(0, e);
  char sign = printed[e + 1];
  std::string exp = printed.substr(e + 2);
  while (exp.size() > 1 && exp[0] == '0') exp.erase(0, 1);
  return mant + "e" + sign + exp;
}

bool JsTruthy(const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0 && !std::isnan(v.get<double>());
  if (v.is_string()) return !v.get<std::string>().empty();
  return !v.is_null();  // arrays and objects are truthy, even empty
}

// Number.prototype.toString(radix) for an integer-valued number.
std::string JsIntegerInBase(double v, int base) {
  if (!std::isfinite(v)) return JsNumber(v);
  std::string out;
  double a = std::fabs(std::trunc(v));
  const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  do {
    out.insert(out.begin(), digits[static_cast<int>(std::fmod(a, base))]);
    a = std::floor(a / base);
  } while (a >= 1);
  return (v < 0 ? "-" : "") + out;
}

// A UTF-16 code unit as UTF-8 (String.fromCharCode; a lone surrogate becomes U+FFFD).
std::string Utf8(uint32_t c) {
  if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
  std::string out;
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xc0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else {
    out += static_cast<char>(0xe0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  }
  return out;
}

std::string TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::string:
      return "string";
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    default:
      return "number";
  }
}

// sprintf-js's vsprintf(format, args): %[argnum$][+][0|'c][-][width][.precision]type.
std::string VSprintf(const std::string& fmt, const json& args) {
  std::string out;
  size_t cursor = 0;
  auto next_arg = [&](std::optional<size_t> index) -> std::optional<json> {
    size_t i = index ? *index : cursor++;
    if (!args.is_array() || i >= args.size()) return std::nullopt;
    return args[i];
  };
  for (size_t i = 0; i < fmt.size();) {
    if (fmt[i] != '%') {
      out += fmt[i++];
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '%') {
      out += '%';
      i += 2;
      continue;
    }
    size_t p = i + 1;
    std::optional<size_t> argnum;
    size_t q = p;
    while (q < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[q]))) ++q;
    if (q > p && q < fmt.size() && fmt[q] == '$') {
      size_t n = std::stoul(fmt.substr(p, q - p));
      if (n == 0) throw std::runtime_error("sprintf: argument index 0");
      argnum = n - 1;
      p = q + 1;
    }
    bool plus = false, left = false;
    char pad = ' ';
    for (;;) {
      if (p < fmt.size() && fmt[p] == '+') {
        plus = true;
        ++p;
      } else if (p < fmt.size() && fmt[p] == '0') {
        pad = '0';
        ++p;
      } else if (p + 1 < fmt.size() && fmt[p] == '\'') {
        pad = fmt[p + 1];
        p += 2;
      } else if (p < fmt.size() && fmt[p] == '-') {
        left = true;
        ++p;
      } else {
        break;
      }
    }
    size_t width = 0;
    bool has_width = false;
    while (p < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[p]))) {
      width = std::min<size_t>(width * 10 + (fmt[p++] - '0'), 1 << 20);
      has_width = true;
    }
    std::optional<int> precision;
    if (p < fmt.size() && fmt[p] == '.') {
      ++p;
      int pr = 0;
      while (p < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[p])))
        pr = std::min(pr * 10 + (fmt[p++] - '0'), 100);
      precision = pr;
    }
    if (p >= fmt.size() || std::string_view("bcdieufgostTvxXj").find(fmt[p]) == std::string_view::npos)
      throw std::runtime_error("sprintf: unexpected placeholder in '" + fmt + "'");
    char type = fmt[p];
    i = p + 1;
    std::optional<json> arg = next_arg(argnum);  // nullopt: JavaScript's undefined (too few arguments)
    const bool numeric_arg = std::string_view("bcdiefguxX").find(type) != std::string_view::npos;
    if (numeric_arg && (!arg || std::isnan(JsToNumber(*arg))))
      throw std::runtime_error(std::string("sprintf: expecting number but found ") +
                               (arg ? TypeName(*arg) : "undefined"));
    const bool number_type = std::string_view("diefg").find(type) != std::string_view::npos;
    const bool is_positive = number_type && JsToNumber(*arg) >= 0;
    std::string s;
    auto cut = [&](std::string v) { return precision && *precision > 0 ? v.substr(0, *precision) : v; };
    char buf[512];
    switch (type) {
      case 'b':
        s = JsIntegerInBase(JsParseInt(*arg), 2);
        break;
      case 'c':
        s = Utf8(static_cast<uint32_t>(ToUint32(JsParseInt(*arg)) & 0xffff));
        break;
      case 'd':
      case 'i':
        s = JsNumber(JsParseInt(*arg));
        break;
      case 'j':
        out += arg ? arg->dump(has_width ? static_cast<int>(std::min<size_t>(width, 10)) : -1, ' ', false,
                               json::error_handler_t::replace)
                   : "undefined";
        continue;
      case 'e': {
        double num = JsParseFloat(*arg);
        if (!std::isfinite(num)) {
          s = JsNumber(num);
        } else if (precision) {
          std::snprintf(buf, sizeof buf, "%.*e", *precision, num);
          s = JsExponent(buf);
        } else {
          s = JsExponent(JsExponentShortest(num));
        }
        break;
      }
      case 'f': {
        double num = JsParseFloat(*arg);
        if (precision && std::isfinite(num) && std::fabs(num) < 1e21) {
          std::snprintf(buf, sizeof buf, "%.*f", *precision, num);
          s = buf;
        } else {
          s = JsNumber(num);
        }
        break;
      }
      case 'g': {
        double num = JsParseFloat(*arg);
        if (precision && std::isfinite(num)) {
          std::snprintf(buf, sizeof buf, "%.*e", std::max(*precision, 1) - 1, num);
          s = JsNumber(std::strtod(buf, nullptr));
        } else {
          s = JsNumber(num);
        }
        break;
      }
      case 'o':
        s = ToBase(ToUint32(JsParseInt(*arg)), 8, false);
        break;
      case 's':
        s = cut(arg ? JsString(*arg) : "undefined");
        break;
      case 't':
        s = cut(arg && JsTruthy(*arg) ? "true" : "false");
        break;
      case 'T':
        s = cut(arg ? TypeName(*arg) : "undefined");
        break;
      case 'u':
        s = JsNumber(ToUint32(JsParseInt(*arg)));
        break;
      case 'v':
        s = arg ? (arg->is_string() ? cut(JsString(*arg)) : JsString(*arg)) : "undefined";
        break;
      case 'x':
        s = ToBase(ToUint32(JsParseInt(*arg)), 16, false);
        break;
      case 'X':
        s = ToBase(ToUint32(JsParseInt(*arg)), 16, true);
        break;
    }
    std::string sign;
    if (number_type && (!is_positive || plus)) {
      sign = is_positive ? "+" : "-";
      if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.erase(0, 1);
    }
    size_t len = sign.size() + s.size();
    std::string padding = has_width && width > len ? std::string(width - len, pad) : "";
    if (left)
      out += sign + s + padding;
    else if (pad == '0')
      out += sign + padding + s;
    else
      out += padding + sign + s;
  }
  return out;
}

// String.prototype.split(new RegExp(pattern)) (ECMA-262 @@split): captured groups are spliced into the
// result; an empty match at the current position does not split.
json RegexSplit(const std::string& pattern, const std::string& s) {
  // libstdc++'s regex matcher recurses per character: bounded inputs keep a hostile input from
  // exhausting the stack.
  constexpr size_t kMaxPattern = 1000, kMaxSubject = 10'000;
  if (pattern.size() > kMaxPattern || s.size() > kMaxSubject)
    throw std::runtime_error("regex.split: pattern or string too long for wasmq's regex engine");
  std::regex re;
  try {
    re = std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw std::runtime_error("regex.split: invalid pattern '" + pattern + "': " + e.what());
  }
  json out = json::array();
  std::smatch m;
  auto match_at = [&](size_t q) {
    return std::regex_search(s.begin() + static_cast<std::ptrdiff_t>(q), s.end(), m, re,
                             std::regex_constants::match_continuous);
  };
  if (s.empty()) {
    if (!match_at(0)) out.push_back(s);
    return out;
  }
  size_t p = 0, q = 0;
  while (q < s.size()) {
    if (!match_at(q)) {
      ++q;
      continue;
    }
    size_t e = q + static_cast<size_t>(m.length(0));
    if (e == p) {
      ++q;
      continue;
    }
    out.push_back(s.substr(p, q - p));
    for (size_t g = 1; g < m.size(); ++g) {
      if (m[g].matched)
        out.push_back(m[g].str());
      else
        out.push_back(nullptr);
    }
    p = e;
    q = p;
  }
  out.push_back(s.substr(p));
  return out;
}

// YAML 1.2 core schema resolution of a plain scalar.
json ResolvePlainScalar(const std::string& s) {
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (std::regex_match(s, kInt)) {
    json j = json::parse(s[0] == '+' ? s.substr(1) : s, nullptr, false);
    if (!j.is_discarded()) return j;
  }
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    try {
      return static_cast<int64_t>(std::stoll(s.substr(2), nullptr, s[1] == 'x' ? 16 : 8));
    } catch (const std::exception&) {
    }
  }
  if (std::regex_match(s, kFloat)) return std::strtod(s.c_str(), nullptr);
  return s;
}

constexpr int kMaxYamlDepth = 512;
constexpr size_t kMaxYamlNodes = 100'000;  // aliases can expand exponentially ("billion laughs")

json YamlToJson(const YAML::Node& n, int depth, size_t* budget) {
  if (depth > kMaxYamlDepth || (*budget)-- == 0) throw YAML::Exception(YAML::Mark(), "document too large");
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      if (n.Tag() == "!") return n.Scalar();  // quoted: always a string
      if (n.Tag() == "tag:yaml.org,2002:str") return n.Scalar();
      return ResolvePlainScalar(n.Scalar());
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : n) out.push_back(YamlToJson(item, depth + 1, budget));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : n) {
        json key = YamlToJson(kv.first, depth + 1, budget);
        out[key.is_string() ? key.get<std::string>() : key.dump()] = YamlToJson(kv.second, depth + 1, budget);
      }
      return out;
    }
  }
  return nullptr;
}

// Whether a string would read back as something else when written plain (a number, a bool, null) or
// cannot be written plain at all.
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  json resolved = ResolvePlainScalar(s);
  if (!resolved.is_string()) return true;
  return s != "" && (std::isspace(static_cast<unsigned char>(s.front())) ||
                     std::isspace(static_cast<unsigned char>(s.back())));
}

void EmitYaml(YAML::Emitter& e, const json& v) {
  switch (v.type()) {
    case json::value_t::object:
      e << YAML::BeginMap;
      for (const auto& [k, item] : v.items()) {
        e << YAML::Key;
        if (NeedsQuotes(k)) e << YAML::DoubleQuoted;
        e << k << YAML::Value;
        EmitYaml(e, item);
      }
      e << YAML::EndMap;
      break;
    case json::value_t::array:
      e << YAML::BeginSeq;
      for (const auto& item : v) EmitYaml(e, item);
      e << YAML::EndSeq;
      break;
    case json::value_t::string: {
      const std::string& s = v.get_ref<const std::string&>();
      if (NeedsQuotes(s)) e << YAML::DoubleQuoted;
      e << s;
      break;
    }
    case json::value_t::boolean:
      e << (v.get<bool>() ? "true" : "false");
      break;
    case json::value_t::null:
      e << YAML::Null;
      break;
    case json::value_t::number_integer:
      e << v.get<int64_t>();
      break;
    case json::value_t::number_unsigned:
      e << v.get<uint64_t>();
      break;
    default:
      e << JsNumber(v.get<double>());
      break;
  }
}

std::optional<json> YamlParse(const json& arg, bool* ok) {
  *ok = false;
  if (!arg.is_string()) return std::nullopt;
  try {
    YAML::Node n = YAML::Load(arg.get<std::string>());
    size_t budget = kMaxYamlNodes;
    json out = YamlToJson(n, 0, &budget);
    *ok = true;
    return out;
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
}

const json& Arg(const std::vector<json>& args, size_t i, const char* name) {
  if (i >= args.size()) throw std::runtime_error(std::string(name) + ": missing argument");
  return args[i];
}

const std::map<std::string, Builtin, std::less<>>& Table() {
  static const auto* table = new std::map<std::string, Builtin, std::less<>>{
      {"sprintf",
       [](const std::vector<json>& a) -> std::optional<json> {
         const json& f = Arg(a, 0, "sprintf");
         if (!f.is_string()) throw std::runtime_error("sprintf: format must be a string");
         return VSprintf(f.get<std::string>(), Arg(a, 1, "sprintf"));
       }},
      {"regex.split",
       [](const std::vector<json>& a) -> std::optional<json> {
         const json& pattern = Arg(a, 0, "regex.split");
         const json& s = Arg(a, 1, "regex.split");
         if (!pattern.is_string() || !s.is_string())
           throw std::runtime_error("regex.split: operands must be strings");
         return RegexSplit(pattern.get<std::string>(), s.get<std::string>());
       }},
      {"json.is_valid",
       [](const std::vector<json>& a) -> std::optional<json> {
         const json& s = Arg(a, 0, "json.is_valid");
         if (!s.is_string()) return std::nullopt;
         return json::accept(s.get<std::string>());
       }},
      {"yaml.is_valid",
       [](const std::vector<json>& a) -> std::optional<json> {
         bool ok = false;
         const json& s = Arg(a, 0, "yaml.is_valid");
         if (!s.is_string()) return std::nullopt;
         (void)YamlParse(s, &ok);
         return ok;
       }},
      {"yaml.marshal",
       [](const std::vector<json>& a) -> std::optional<json> {
         YAML::Emitter e;
         e.SetNullFormat(YAML::LowerNull);
         EmitYaml(e, Arg(a, 0, "yaml.marshal"));
         if (!e.good()) throw std::runtime_error(std::string("yaml.marshal: ") + e.GetLastError());
         return std::string(e.c_str()) + "\n";
       }},
      {"yaml.unmarshal",
       [](const std::vector<json>& a) -> std::optional<json> {
         bool ok = false;
         return YamlParse(Arg(a, 0, "yaml.unmarshal"), &ok);
       }},
  };
  return *table;
}

}  // namespace

std::vector<std::string> HostBuiltinNames() {
  std::vector<std::string> out;
  for (const auto& [name, fn] : Table()) out.push_back(name);
  return out;
}

const Builtin* FindHostBuiltin(std::string_view name) {
  auto it = Table().find(name);
  return it == Table().end() ? nullptr : &it->second;
}

}  // namespace wasmq::policy
