// File: src/cli/spectest.cc
//
// `wasmq spectest PATH...`: runs WebAssembly spec test scripts in wast2json's format (a .json command
// script plus the .wasm module files next to it) against wasmq's engine, through its public API only.
//
// PATH is a .json script or a directory; a directory is searched recursively and every *.json in it
// runs, sorted by path. Each script runs with its own Engine and one Store (so tables, memories and
// globals are shared between the script's instances, as the spec requires) and has the `spectest` host
// module registered.
//
// Counting. The summary line `N passed, N failed, N skipped` counts assertions (assert_return,
// assert_trap, assert_exhaustion, assert_invalid, assert_malformed, assert_unlinkable,
// assert_uninstantiable): each is one pass, one failure or one skip. The other commands (module,
// register, action) are not counted when they succeed, but each one that fails counts as a failure, so a
// module that does not load can never go unnoticed; the assertions on it then fail too, with a message
// naming the module. A fully passing run therefore reads `<number of assertions> passed, 0 failed, ...`.
// Only text-form modules (.wat: assert_malformed/assert_invalid "text", which test a text parser that
// wasmq does not have) are skipped.
//
// Strictness. assert_trap, assert_exhaustion, assert_uninstantiable and assert_unlinkable pass only when
// the error is of the asserted class (a trap is no link error) and its message names the same kind of
// failure as the script's text ("integer divide by zero" is not "unreachable"; see FailureKinds).
// assert_invalid and assert_malformed pass on any compile error: the boundary between the two differs
// between engines, and their texts are notes.
//
// Output: each failure as `FILE.wast:LINE: <command>: <expected> / <what happened>`; a summary line per
// script when several run (not with --quiet); last line the totals. Exit code 0 when nothing failed, 1
// when something did, 2 when a script could not be read or parsed (or no script was found).
#include <algorithm>
#include <bit>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "wasm/wasm.h"

namespace wasmq::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using wasm::Error;
using wasm::ErrorKind;
using wasm::Extern;
using wasm::ExternKind;
using wasm::Instance;
using wasm::ValType;
using wasm::Value;

struct Options {
  std::vector<std::string> paths;
  bool verbose = false;
  bool quiet = false;
  wasm::CompileMode compile = wasm::CompileMode::kNever;
};

struct Totals {
  uint64_t passed = 0;
  uint64_t failed = 0;
  uint64_t skipped = 0;
};

// A malformed script (bad value string, missing key): fails the command it is in, never the process.
struct ScriptError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const char* KindName(ErrorKind k) {
  switch (k) {
    case ErrorKind::Malformed:
      return "malformed";
    case ErrorKind::Invalid:
      return "invalid";
    case ErrorKind::Unlinkable:
      return "unlinkable";
    case ErrorKind::Trap:
      return "trap";
    case ErrorKind::Exhaustion:
      return "exhaustion";
    case ErrorKind::Interrupted:
      return "interrupted";
    case ErrorKind::Exit:
      return "exit";
    case ErrorKind::Resource:
      return "resource";
  }
  return "error";
}

std::string DescribeError(const Error& e) { return std::string(KindName(e.kind)) + " \"" + e.message + "\""; }

// The kinds of failure the spec's assert_trap / assert_exhaustion / assert_uninstantiable /
// assert_unlinkable texts name, each with the phrases that mean it. The spec compares messages by prefix
// (its interpreter's texts may carry a detail after them: "uninitialized element 2"); an engine's message
// names its kind the same way, with detail before or after. Two failures of the same kind are the same
// failure, whatever else their messages say.
struct FailureKind {
  const char* name;
  std::vector<std::string_view> phrases;
};
const std::vector<FailureKind>& FailureKinds() {
  static const std::vector<FailureKind> kinds = {
      {"unreachable", {"unreachable"}},
      {"integer divide by zero", {"integer divide by zero"}},
      {"integer overflow", {"integer overflow"}},
      {"invalid conversion to integer", {"invalid conversion to integer"}},
      {"out of bounds memory access", {"out of bounds memory access"}},
      {"out of bounds table access", {"out of bounds table access"}},
      {"undefined element", {"undefined element"}},
      {"uninitialized element", {"uninitialized element"}},
      {"indirect call type mismatch", {"indirect call type mismatch"}},
      {"call stack exhausted", {"call stack exhausted"}},
      {"unknown import", {"unknown import"}},
      {"incompatible import type", {"incompatible import type"}},
  };
  return kinds;
}

// The kind an expected text names (it starts with one of its phrases), or null for a text outside the
// table, which is then compared as text.
const FailureKind* KindOfExpected(std::string_view text) {
  for (const FailureKind& k : FailureKinds())
    for (std::string_view p : k.phrases)
      if (text.substr(0, p.size()) == p) return &k;
  return nullptr;
}

// The kind an engine message names (it contains one of its phrases), or null.
const FailureKind* KindOfMessage(std::string_view message) {
  for (const FailureKind& k : FailureKinds())
    for (std::string_view p : k.phrases)
      if (message.find(p) != std::string_view::npos) return &k;
  return nullptr;
}

// Empty when `message` is a failure of the kind `expected` names; else why not.
std::string MismatchedMessage(const std::optional<std::string>& expected, const std::string& message) {
  if (!expected) return "";
  if (const FailureKind* want = KindOfExpected(*expected)) {
    const FailureKind* got = KindOfMessage(message);
    if (got == want) return "";
    return "message of another kind: \"" + message + "\" (" + (got ? got->name : "no known kind") + ")";
  }
  if (message.find(*expected) != std::string::npos) return "";
  return "message differs: \"" + message + "\"";
}

ValType ParseType(const std::string& s) {
  if (s == "i32") return ValType::I32;
  if (s == "i64") return ValType::I64;
  if (s == "f32") return ValType::F32;
  if (s == "f64") return ValType::F64;
  if (s == "funcref") return ValType::FuncRef;
  if (s == "externref") return ValType::ExternRef;
  if (s == "v128") return ValType::V128;
  throw ScriptError("unknown value type \"" + s + "\"");
}

uint64_t ParseU64(const std::string& s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
    throw ScriptError("bad number \"" + s + "\"");
  }
  return v;
}

const json& Get(const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key)) throw ScriptError(std::string("missing \"") + key + "\"");
  return obj.at(key);
}

std::string GetString(const json& obj, const char* key) {
  const json& v = Get(obj, key);
  if (!v.is_string()) throw ScriptError(std::string("\"") + key + "\" is not a string");
  return v.get<std::string>();
}

std::optional<std::string> GetOptString(const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj.at(key).is_string()) return std::nullopt;
  return obj.at(key).get<std::string>();
}

// Masks a result to its type's width (an engine may leave garbage above bit 31 for i32/f32).
uint64_t Canonical(ValType t, uint64_t bits) {
  return (t == ValType::I32 || t == ValType::F32) ? (bits & 0xffffffffu) : bits;
}

std::string FormatValue(const Value& v) {
  char buf[96];
  switch (v.type) {
    case ValType::I32: {
      auto u = static_cast<uint32_t>(v.bits);
      std::snprintf(buf, sizeof buf, "i32:%" PRIu32 " (0x%08" PRIx32 ")", u, u);
      break;
    }
    case ValType::I64:
      std::snprintf(buf, sizeof buf, "i64:%" PRIu64 " (0x%016" PRIx64 ")", v.bits, v.bits);
      break;
    case ValType::F32: {
      auto u = static_cast<uint32_t>(v.bits);
      std::snprintf(buf, sizeof buf, "f32:0x%08" PRIx32 " (%.9g)", u,
                    static_cast<double>(std::bit_cast<float>(u)));
      break;
    }
    case ValType::F64:
      std::snprintf(buf, sizeof buf, "f64:0x%016" PRIx64 " (%.17g)", v.bits, std::bit_cast<double>(v.bits));
      break;
    case ValType::V128:
      std::snprintf(buf, sizeof buf, "v128:0x%016" PRIx64 "%016" PRIx64, v.hi, v.bits);
      break;
    case ValType::FuncRef:
      return v.bits == 0 ? "funcref:null" : "funcref:non-null";
    case ValType::ExternRef:
      if (v.bits == 0) return "externref:null";
      std::snprintf(buf, sizeof buf, "externref:%" PRIu64, v.bits - 1);
      break;
    default:
      return ValTypeName(v.type);
  }
  return buf;
}

std::string FormatValues(const std::vector<Value>& vs) {
  std::string out = "(";
  for (size_t i = 0; i < vs.size(); ++i) {
    if (i) out += ", ";
    out += FormatValue(vs[i]);
  }
  return out + ")";
}

// A v128 in wast2json's form: "lane_type" (i8 ... f64) and "value", an array of lane strings (unsigned
// decimal bit patterns). Lane widths in bytes, or 0 for an unknown lane type.
size_t LaneBytes(const std::string& lane_type) {
  if (lane_type == "i8") return 1;
  if (lane_type == "i16") return 2;
  if (lane_type == "i32" || lane_type == "f32") return 4;
  if (lane_type == "i64" || lane_type == "f64") return 8;
  return 0;
}
const json& Lanes(const json& j, size_t* width) {
  *width = LaneBytes(GetString(j, "lane_type"));
  const json& lanes = Get(j, "value");
  if (*width == 0 || !lanes.is_array() || lanes.size() * *width != 16) throw ScriptError("bad v128 value");
  return lanes;
}
Value ParseV128(const json& j) {
  size_t width = 0;
  const json& lanes = Lanes(j, &width);
  uint8_t bytes[16] = {};
  for (size_t i = 0; i < lanes.size(); ++i) {
    if (!lanes[i].is_string()) throw ScriptError("bad v128 lane");
    uint64_t v = ParseU64(lanes[i].get<std::string>());
    std::memcpy(bytes + i * width, &v, width);  // little-endian host: the low `width` bytes
  }
  Value v{ValType::V128, 0, 0};
  std::memcpy(&v.bits, bytes, 8);
  std::memcpy(&v.hi, bytes + 8, 8);
  return v;
}

// A script argument: `ref.extern N` becomes host word N+1 (0 is null).
Value ParseArg(const json& j) {
  if (GetString(j, "type") == "v128") return ParseV128(j);
  ValType t = ParseType(GetString(j, "type"));
  std::string s = GetString(j, "value");
  if (wasm::IsRef(t)) {
    if (s == "null") return Value::NullRef(t);
    if (t == ValType::FuncRef) throw ScriptError("a non-null funcref argument cannot be expressed");
    uint64_t n = ParseU64(s);
    return Value::ExternRef(n + 1);
  }
  uint64_t bits = ParseU64(s);
  if ((t == ValType::I32 || t == ValType::F32) && bits > 0xffffffffu) throw ScriptError("value out of range");
  return Value{t, bits};
}

// One expected result (one position). `either` holds alternatives (any may match).
struct Expected {
  enum Kind { Exact, CanonicalNan, ArithmeticNan, NonNull, Any } kind = Exact;
  ValType type = ValType::I32;
  uint64_t bits = 0;
  std::vector<Expected> either;
  std::vector<Expected> lanes;  // v128: one per lane, each an f32/f64 (NaN patterns) or i<N> lane
  size_t lane_bytes = 0;
};

Expected ParseExpected(const json& j) {
  Expected e;
  std::string type = GetString(j, "type");
  if (type == "either") {
    const json& vals = Get(j, "values");
    if (!vals.is_array() || vals.empty()) throw ScriptError("bad \"either\"");
    for (const json& v : vals) e.either.push_back(ParseExpected(v));
    return e;
  }
  e.type = ParseType(type);
  if (e.type == ValType::V128) {
    if (!j.contains("value")) {
      e.kind = Expected::Any;
      return e;
    }
    const std::string lane_type = GetString(j, "lane_type");
    const json& lanes = Lanes(j, &e.lane_bytes);
    for (const json& lane : lanes) {
      // Each lane parses as a scalar of its own: f32/f64 lanes may be NaN patterns.
      json scalar = {{"type", lane_type[0] == 'f' ? lane_type : (e.lane_bytes == 8 ? "i64" : "i32")},
                     {"value", lane}};
      e.lanes.push_back(ParseExpected(scalar));
    }
    return e;
  }
  auto value = GetOptString(j, "value");
  if (wasm::IsRef(e.type)) {
    if (!value) {
      e.kind = Expected::NonNull;  // `(ref.extern)` / `(ref.func)`: any non-null reference
    } else if (*value == "null") {
      e.kind = Expected::Exact;
      e.bits = 0;
    } else if (e.type == ValType::FuncRef) {
      e.kind = Expected::NonNull;  // funcrefs compare only by null / non-null
    } else {
      e.kind = Expected::Exact;
      e.bits = ParseU64(*value) + 1;
    }
    return e;
  }
  if (!value) {
    e.kind = Expected::Any;  // only the type is given (assert_trap's "expected")
    return e;
  }
  if (*value == "nan:canonical" || *value == "nan:arithmetic") {
    if (e.type != ValType::F32 && e.type != ValType::F64)
      throw ScriptError("NaN pattern on a non-float type");
    e.kind = *value == "nan:canonical" ? Expected::CanonicalNan : Expected::ArithmeticNan;
    return e;
  }
  e.bits = ParseU64(*value);
  return e;
}

bool Matches(const Expected& e, const Value& v) {
  if (!e.either.empty()) {
    return std::any_of(e.either.begin(), e.either.end(),
                       [&](const Expected& alt) { return Matches(alt, v); });
  }
  if (v.type != e.type) return false;
  if (e.type == ValType::V128 && e.kind == Expected::Exact) {
    uint8_t bytes[16];
    std::memcpy(bytes, &v.bits, 8);
    std::memcpy(bytes + 8, &v.hi, 8);
    for (size_t i = 0; i < e.lanes.size(); ++i) {
      uint64_t lane = 0;
      std::memcpy(&lane, bytes + i * e.lane_bytes, e.lane_bytes);
      Expected le = e.lanes[i];
      if (le.kind == Expected::Exact && e.lane_bytes < 4) lane &= (1ull << (8 * e.lane_bytes)) - 1;
      if (!Matches(le, Value{le.type, lane, 0})) return false;
    }
    return true;
  }
  uint64_t bits = Canonical(v.type, v.bits);
  bool f32 = e.type == ValType::F32;
  switch (e.kind) {
    case Expected::Exact:
      return bits == e.bits;
    case Expected::Any:
      return true;
    case Expected::NonNull:
      return bits != 0;
    case Expected::CanonicalNan:
      return f32 ? (bits & 0x7fffffffu) == 0x7fc00000u
                 : (bits & 0x7fffffffffffffffull) == 0x7ff8000000000000ull;
    case Expected::ArithmeticNan:
      return f32 ? (bits & 0x7fc00000u) == 0x7fc00000u
                 : (bits & 0x7ff8000000000000ull) == 0x7ff8000000000000ull;
  }
  return false;
}

std::string FormatExpected(const Expected& e) {
  if (!e.either.empty()) {
    std::string out = "either(";
    for (size_t i = 0; i < e.either.size(); ++i) out += (i ? " | " : "") + FormatExpected(e.either[i]);
    return out + ")";
  }
  std::string t = ValTypeName(e.type);
  if (e.type == ValType::V128 && e.kind == Expected::Exact) {
    std::string out = "v128(";
    for (size_t i = 0; i < e.lanes.size(); ++i) out += (i ? " " : "") + FormatExpected(e.lanes[i]);
    return out + ")";
  }
  switch (e.kind) {
    case Expected::Exact:
      return FormatValue(Value{e.type, e.bits});
    case Expected::Any:
      return t;
    case Expected::NonNull:
      return t + ":non-null";
    case Expected::CanonicalNan:
      return t + ":nan:canonical";
    case Expected::ArithmeticNan:
      return t + ":nan:arithmetic";
  }
  return t;
}

std::string FormatExpectedList(const std::vector<Expected>& es) {
  std::string out = "(";
  for (size_t i = 0; i < es.size(); ++i) out += (i ? ", " : "") + FormatExpected(es[i]);
  return out + ")";
}

// Runs one wast2json script.
class ScriptRunner {
 public:
  ScriptRunner(fs::path json_path, const Options& opts) : json_path_(std::move(json_path)), opts_(opts) {}

  // Returns false when the script could not be read or parsed (an IO/usage error, not a test failure).
  bool Run() {
    json doc;
    {
      std::ifstream in(json_path_, std::ios::binary);
      if (!in) {
        std::cerr << "wasmq spectest: cannot open " << json_path_.string() << "\n";
        return false;
      }
      doc = json::parse(in, nullptr, /*allow_exceptions=*/false);
    }
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("commands") || !doc["commands"].is_array()) {
      std::cerr << "wasmq spectest: " << json_path_.string() << ": not a wast2json script\n";
      return false;
    }
    source_ = GetOptString(doc, "source_filename").value_or(json_path_.filename().string());
    dir_ = json_path_.parent_path();
    RegisterSpectestModule();
    for (const json& cmd : doc["commands"]) {
      line_ = 0;
      type_ = "command";
      try {
        if (cmd.is_object() && cmd.contains("line") && cmd["line"].is_number_unsigned()) {
          line_ = cmd["line"].get<uint64_t>();
        }
        if (cmd.is_object() && cmd.contains("type") && cmd["type"].is_string()) {
          type_ = cmd["type"].get<std::string>();
        }
        RunCommand(cmd);
      } catch (const ScriptError& e) {
        // The script is wrong, or it refers to a module that did not load: a failure, not a crash.
        Fail(std::string("runnable command / ") + e.what(), /*assertion=*/true);
      } catch (const std::exception& e) {
        Fail(std::string("runnable command / error: ") + e.what(), /*assertion=*/true);
      }
    }
    return true;
  }

  const Totals& totals() const { return totals_; }
  const std::string& source() const { return source_; }

 private:
  // --- reporting -------------------------------------------------------------------------------------
  std::string Where() const { return source_ + ":" + std::to_string(line_) + ": " + type_; }

  void Pass(bool assertion) {
    if (assertion) ++totals_.passed;
    if (opts_.verbose) std::cout << Where() << ": ok\n";
  }
  void Fail(const std::string& what, bool assertion) {
    (void)assertion;  // every failure counts, assertion or not (see the file comment)
    ++totals_.failed;
    std::cout << Where() << ": " << what << "\n";
  }
  void Skip(const std::string& why) {
    ++totals_.skipped;
    if (opts_.verbose) std::cout << Where() << ": skipped (" << why << ")\n";
  }
  void Note(const std::string& what) {
    if (opts_.verbose) std::cout << Where() << ": note: " << what << "\n";
  }

  // --- the spectest host module ----------------------------------------------------------------------
  void RegisterSpectestModule() {
    auto& m = registry_["spectest"];
    auto print = [this](const std::string& name, const std::vector<ValType>& params) {
      wasm::FuncType type{params, {}};
      return store_.NewHostFunc(
          type,
          [this, name, params](wasm::HostContext&, uint64_t* slots) -> wasm::Result<void> {
            if (opts_.verbose) {
              std::vector<Value> args;
              for (size_t i = 0; i < params.size(); ++i) args.push_back(Value{params[i], slots[i]});
              std::cout << "spectest." << name << FormatValues(args) << "\n";
            }
            return {};
          },
          "spectest." + name);
    };
    auto func = [](wasm::FuncInst* f) { return Extern{ExternKind::Func, f}; };
    m["print"] = func(print("print", {}));
    m["print_i32"] = func(print("print_i32", {ValType::I32}));
    m["print_i64"] = func(print("print_i64", {ValType::I64}));
    m["print_f32"] = func(print("print_f32", {ValType::F32}));
    m["print_f64"] = func(print("print_f64", {ValType::F64}));
    m["print_i32_f32"] = func(print("print_i32_f32", {ValType::I32, ValType::F32}));
    m["print_f64_f64"] = func(print("print_f64_f64", {ValType::F64, ValType::F64}));
    auto global = [this](ValType t, uint64_t bits) {
      return Extern{ExternKind::Global, store_.NewGlobal(wasm::GlobalType{t, false}, Value{t, bits})};
    };
    m["global_i32"] = global(ValType::I32, 666);
    m["global_i64"] = global(ValType::I64, 666);
    m["global_f32"] = global(ValType::F32, std::bit_cast<uint32_t>(666.6f));
    m["global_f64"] = global(ValType::F64, std::bit_cast<uint64_t>(666.6));
    wasm::TableType table;
    table.elem = ValType::FuncRef;
    table.limits = wasm::Limits{10, 20};
    m["table"] = Extern{ExternKind::Table, store_.NewTable(table, Value::NullRef(ValType::FuncRef))};
    wasm::MemoryType memory;
    memory.limits = wasm::Limits{1, 2};
    m["memory"] = Extern{ExternKind::Memory, store_.NewMemory(memory)};
  }

  // --- modules ---------------------------------------------------------------------------------------
  // Reads and compiles a module file; on failure returns the Error (IO problems become Malformed-less
  // ScriptErrors, since they are the script's fault, not the engine's).
  wasm::Result<std::shared_ptr<const wasm::Module>> CompileFile(const std::string& filename) {
    fs::path p = dir_ / filename;
    std::ifstream in(p, std::ios::binary);
    if (!in) throw ScriptError("cannot open module file " + p.string());
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto m = wasm::Module::Compile(engine_, bytes);
    if (m.ok()) modules_.push_back(m.value());
    return m;
  }

  wasm::Imports BuildImports(const wasm::Module& module) const {
    wasm::Imports imports;
    for (const auto& d : module.imports()) {
      auto it = registry_.find(d.module);
      if (it == registry_.end()) continue;
      auto jt = it->second.find(d.name);
      if (jt == it->second.end()) continue;
      imports.Add(d.module, d.name, jt->second);  // a kind/type mismatch is the engine's to report
    }
    return imports;
  }

  wasm::Result<Instance> Instantiate(const wasm::Module& module) {
    return store_.Instantiate(module, BuildImports(module));
  }

  // The instance an action or register refers to. Throws a ScriptError naming why there is none.
  Instance FindInstance(const std::optional<std::string>& name) const {
    const ModuleSlot* slot = nullptr;
    if (name) {
      auto it = named_.find(*name);
      if (it == named_.end()) throw ScriptError("no module named " + *name);
      slot = &it->second;
    } else {
      if (!current_.defined) throw ScriptError("no module defined yet");
      slot = &current_;
    }
    if (!slot->instance) {
      throw ScriptError("module " + (name ? *name + " " : std::string()) + "(line " +
                        std::to_string(slot->line) + ") failed to load");
    }
    return *slot->instance;
  }

  // --- actions ---------------------------------------------------------------------------------------
  struct Outcome {
    bool ok = false;
    std::vector<Value> values;
    Error error;
  };

  Outcome RunAction(const json& action) {
    std::string kind = GetString(action, "type");
    std::string field = GetString(action, "field");
    Instance inst = FindInstance(GetOptString(action, "module"));
    Outcome out;
    if (kind == "get") {
      wasm::GlobalInst* g = inst.GetGlobal(field);
      if (!g) throw ScriptError("no global export \"" + field + "\"");
      out.ok = true;
      out.values.push_back(wasm::GetGlobalValue(g));
      return out;
    }
    if (kind != "invoke") throw ScriptError("unknown action type \"" + kind + "\"");
    wasm::FuncInst* f = inst.GetFunc(field);
    if (!f) throw ScriptError("no function export \"" + field + "\"");
    std::vector<Value> args;
    if (action.contains("args")) {
      const json& a = action["args"];
      if (!a.is_array()) throw ScriptError("\"args\" is not an array");
      for (const json& v : a) args.push_back(ParseArg(v));
    }
    if (opts_.verbose) std::cout << Where() << ": invoke \"" << field << "\" " << FormatValues(args) << "\n";
    auto r = store_.Call(f, std::span<const Value>(args.data(), args.size()));
    if (r.ok()) {
      out.ok = true;
      out.values = std::move(r.value());
    } else {
      out.error = r.error();
    }
    return out;
  }

  // --- commands --------------------------------------------------------------------------------------
  struct ModuleSlot {
    bool defined = false;
    std::optional<Instance> instance;  // nullopt: the module failed to load
    uint64_t line = 0;
  };

  bool IsText(const json& cmd) const {
    auto mt = GetOptString(cmd, "module_type");
    if (mt) return *mt == "text";
    auto fn = GetOptString(cmd, "filename");
    return fn && fn->size() > 4 && fn->substr(fn->size() - 4) == ".wat";
  }

  std::string ExpectedText(const json& cmd) const {
    auto t = GetOptString(cmd, "text");
    return t ? " \"" + *t + "\"" : std::string();
  }

  void RunCommand(const json& cmd) {
    if (!cmd.is_object()) throw ScriptError("command is not an object");
    const std::string& type = type_;
    if (type == "module") return CmdModule(cmd);
    if (type == "register") return CmdRegister(cmd);
    if (type == "action") return CmdAction(cmd);
    if (type == "assert_return") return CmdAssertReturn(cmd);
    if (type == "assert_trap" || type == "assert_exhaustion") return CmdAssertTrap(cmd);
    if (type == "assert_invalid" || type == "assert_malformed") return CmdAssertBad(cmd);
    if (type == "assert_unlinkable" || type == "assert_uninstantiable") return CmdAssertNoInstance(cmd);
    throw ScriptError("unknown command type");
  }

  void CmdModule(const json& cmd) {
    ModuleSlot slot;
    slot.defined = true;
    slot.line = line_;
    auto name = GetOptString(cmd, "name");
    // Define the slot first, so that later commands on a module that fails to load say so.
    current_ = slot;
    if (name) named_[*name] = slot;
    if (IsText(cmd)) {
      Fail("module: a text module cannot be loaded", false);
      return;
    }
    auto m = CompileFile(GetString(cmd, "filename"));
    if (!m.ok()) {
      Fail("module loads / " + DescribeError(m.error()), false);
      return;
    }
    auto inst = Instantiate(*m.value());
    if (!inst.ok()) {
      Fail("module instantiates / " + DescribeError(inst.error()), false);
      return;
    }
    slot.instance = inst.value();
    current_ = slot;
    if (name) named_[*name] = slot;
    Pass(false);
  }

  void CmdRegister(const json& cmd) {
    std::string as = GetString(cmd, "as");
    Instance inst = FindInstance(GetOptString(cmd, "name"));
    auto& exports = registry_[as];
    exports.clear();
    for (auto& [name, ext] : inst.exports()) exports[name] = ext;
    Pass(false);
  }

  void CmdAction(const json& cmd) {
    Outcome r = RunAction(Get(cmd, "action"));
    if (!r.ok) {
      Fail("action succeeds / " + DescribeError(r.error), false);
      return;
    }
    Pass(false);
  }

  void CmdAssertReturn(const json& cmd) {
    // "expected": one expectation per result. wabt writes `(either A B ...)` as "either": [A, B, ...]
    // instead, each alternative a whole result list (a single value object for one result).
    std::vector<std::vector<Expected>> alternatives;
    if (!cmd.contains("expected") && cmd.contains("either")) {
      const json& ei = cmd["either"];
      if (!ei.is_array() || ei.empty()) throw ScriptError("\"either\" is not a non-empty array");
      for (const json& alt : ei) {
        std::vector<Expected> list;
        if (alt.is_array()) {
          for (const json& e : alt) list.push_back(ParseExpected(e));
        } else {
          list.push_back(ParseExpected(alt));
        }
        alternatives.push_back(std::move(list));
      }
    } else {
      const json& ex = Get(cmd, "expected");
      if (!ex.is_array()) throw ScriptError("\"expected\" is not an array");
      std::vector<Expected> list;
      for (const json& e : ex) list.push_back(ParseExpected(e));
      alternatives.push_back(std::move(list));
    }
    Outcome r = RunAction(Get(cmd, "action"));
    std::string want;
    for (const auto& alt : alternatives) want += (want.empty() ? "" : " or ") + FormatExpectedList(alt);
    if (!r.ok) {
      Fail(want + " / " + DescribeError(r.error), true);
      return;
    }
    bool ok = std::any_of(alternatives.begin(), alternatives.end(), [&](const std::vector<Expected>& alt) {
      if (alt.size() != r.values.size()) return false;
      for (size_t i = 0; i < alt.size(); ++i) {
        if (!Matches(alt[i], r.values[i])) return false;
      }
      return true;
    });
    if (!ok) {
      Fail(FieldOf(cmd) + want + " / " + FormatValues(r.values), true);
      return;
    }
    Pass(true);
  }

  static std::string FieldOf(const json& cmd) {
    auto f = cmd.contains("action") ? GetOptString(cmd["action"], "field") : std::nullopt;
    return f ? "\"" + *f + "\" " : std::string();
  }

  // assert_trap / assert_exhaustion, on an action or (assert_trap) on a module's instantiation.
  void CmdAssertTrap(const json& cmd) {
    ErrorKind want = type_ == "assert_exhaustion" ? ErrorKind::Exhaustion : ErrorKind::Trap;
    std::string want_text = std::string(KindName(want)) + ExpectedText(cmd);
    std::optional<Error> err;
    std::string got;
    if (cmd.contains("action")) {
      Outcome r = RunAction(cmd["action"]);
      if (r.ok) {
        Fail(FieldOf(cmd) + want_text + " / returned " + FormatValues(r.values), true);
        return;
      }
      err = r.error;
    } else {
      if (IsText(cmd)) return Skip("text module");
      auto m = CompileFile(GetString(cmd, "filename"));
      if (!m.ok()) {
        Fail(want_text + " / module does not compile: " + DescribeError(m.error()), true);
        return;
      }
      auto inst = Instantiate(*m.value());
      if (inst.ok()) {
        Fail(want_text + " / module instantiated", true);
        return;
      }
      err = inst.error();
    }
    if (err->kind != want) {
      Fail(FieldOf(cmd) + want_text + " / " + DescribeError(*err), true);
      return;
    }
    if (std::string why = MismatchedMessage(GetOptString(cmd, "text"), err->message); !why.empty()) {
      Fail(FieldOf(cmd) + want_text + " / " + KindName(err->kind) + " with a " + why, true);
      return;
    }
    Pass(true);
  }

  // assert_invalid / assert_malformed: the module must not compile.
  void CmdAssertBad(const json& cmd) {
    if (IsText(cmd)) return Skip("text module");
    ErrorKind want = type_ == "assert_invalid" ? ErrorKind::Invalid : ErrorKind::Malformed;
    std::string want_text = std::string(KindName(want)) + ExpectedText(cmd);
    auto m = CompileFile(GetString(cmd, "filename"));
    if (m.ok()) {
      Fail(want_text + " / module compiled", true);
      return;
    }
    const Error& e = m.error();
    if (e.kind != want)
      Note("error kind differs: expected " + want_text + ", got " + DescribeError(e));
    else if (auto t = GetOptString(cmd, "text"); t && e.message.find(*t) == std::string::npos) {
      Note("message differs: expected \"" + *t + "\", got \"" + e.message + "\"");
    }
    Pass(true);
  }

  // assert_unlinkable / assert_uninstantiable: the module compiles, and instantiation fails with a link
  // error, or a trap respectively, of the kind the text names. A trap is no link error: an engine that
  // linked the module and then trapped in its start function or a segment did not do what was asserted.
  void CmdAssertNoInstance(const json& cmd) {
    if (IsText(cmd)) return Skip("text module");
    bool unlinkable = type_ == "assert_unlinkable";
    ErrorKind want = unlinkable ? ErrorKind::Unlinkable : ErrorKind::Trap;
    std::string want_text = std::string(KindName(want)) + ExpectedText(cmd);
    auto m = CompileFile(GetString(cmd, "filename"));
    if (!m.ok()) {
      Fail(want_text + " / module does not compile: " + DescribeError(m.error()), true);
      return;
    }
    auto inst = Instantiate(*m.value());
    if (inst.ok()) {
      Fail(want_text + " / module instantiated", true);
      return;
    }
    const Error& e = inst.error();
    if (e.kind != want) {
      Fail(want_text + " / " + DescribeError(e), true);
      return;
    }
    if (std::string why = MismatchedMessage(GetOptString(cmd, "text"), e.message); !why.empty()) {
      Fail(want_text + " / " + KindName(e.kind) + " with a " + why, true);
      return;
    }
    Pass(true);
  }

  fs::path json_path_;
  const Options& opts_;
  wasm::Engine engine_{wasm::EngineConfig{.compile = opts_.compile}};
  wasm::Store store_{engine_};  // after engine_: constructed after it, destroyed before it
  std::vector<std::shared_ptr<const wasm::Module>> modules_;
  std::map<std::string, std::map<std::string, Extern>> registry_;  // import module name -> exports
  std::map<std::string, ModuleSlot> named_;                        // "$M" -> instance
  ModuleSlot current_;
  std::string source_;
  fs::path dir_;
  uint64_t line_ = 0;
  std::string type_;
  Totals totals_;
};

std::string FormatTotals(const Totals& t) {
  return std::to_string(t.passed) + " passed, " + std::to_string(t.failed) + " failed, " +
         std::to_string(t.skipped) + " skipped";
}

// Expands the PATH arguments: files as given, directories to their *.json files (recursively, sorted).
bool CollectScripts(const std::vector<std::string>& paths, std::vector<fs::path>* out) {
  bool ok = true;
  for (const std::string& p : paths) {
    std::error_code ec;
    fs::file_status st = fs::status(p, ec);
    if (ec || !fs::exists(st)) {
      std::cerr << "wasmq spectest: " << p << ": no such file or directory\n";
      ok = false;
      continue;
    }
    if (!fs::is_directory(st)) {
      out->emplace_back(p);
      continue;
    }
    std::vector<fs::path> found;
    for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->is_regular_file(ec) && it->path().extension() == ".json") found.push_back(it->path());
    }
    if (ec) {
      std::cerr << "wasmq spectest: " << p << ": " << ec.message() << "\n";
      ok = false;
    }
    if (found.empty()) {
      std::cerr << "wasmq spectest: " << p << ": no .json scripts in this directory\n";
      ok = false;
    }
    std::sort(found.begin(), found.end());
    out->insert(out->end(), found.begin(), found.end());
  }
  return ok;
}

int RunSpectest(const Options& opts) {
  std::vector<fs::path> scripts;
  bool io_ok = CollectScripts(opts.paths, &scripts);
  Totals total;
  for (const fs::path& script : scripts) {
    auto runner = std::make_unique<ScriptRunner>(script, opts);
    if (!runner->Run()) {
      io_ok = false;
      continue;
    }
    const Totals& t = runner->totals();
    total.passed += t.passed;
    total.failed += t.failed;
    total.skipped += t.skipped;
    if (!opts.quiet && scripts.size() > 1) std::cout << runner->source() << ": " << FormatTotals(t) << "\n";
  }
  std::cout << FormatTotals(total) << std::endl;
  if (!io_ok) return 2;
  return total.failed == 0 ? 0 : 1;
}

}  // namespace

void AddSpectestCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "spectest", "Run WebAssembly spec test scripts (wast2json output: .json plus its module files)");
  cmd->add_option("PATH", opts->paths, "wast2json .json scripts, or directories searched for *.json")
      ->required();
  cmd->add_flag("-v,--verbose", opts->verbose, "Print each command as it runs");
  cmd->add_flag("--quiet", opts->quiet, "Print only failures and the summary line");
  cmd->add_option("--compile", opts->compile,
                  "Which tier runs the scripts' modules: never (the interpreter), always (every module compiled "
                  "to machine code first) or auto")
      ->transform(CLI::CheckedTransformer(std::map<std::string, wasm::CompileMode>{
          {"never", wasm::CompileMode::kNever}, {"auto", wasm::CompileMode::kAuto},
          {"always", wasm::CompileMode::kAlways}}));
  cmd->callback([opts, exit_code] {
    Options o = *opts;
    if (o.verbose && o.quiet) o.quiet = false;
    *exit_code = RunSpectest(o);
  });
}

}  // namespace wasmq::cli
