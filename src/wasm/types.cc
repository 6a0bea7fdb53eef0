// File: src/wasm/types.cc
//
// Printable names of value types, function types and extern kinds, in the text format's spelling.
#include "wasm/types.h"

namespace wasmq::wasm {

const char* ValTypeName(ValType t) {
  switch (t) {
    case ValType::I32:
      return "i32";
    case ValType::I64:
      return "i64";
    case ValType::F32:
      return "f32";
    case ValType::F64:
      return "f64";
    case ValType::V128:
      return "v128";
    case ValType::FuncRef:
      return "funcref";
    case ValType::ExternRef:
      return "externref";
  }
  return "<unknown type>";
}

std::string FuncTypeString(const FuncType& t) {
  auto list = [](const std::vector<ValType>& types) {
    std::string s = "(";
    for (size_t i = 0; i < types.size(); ++i) {
      if (i != 0) s += ", ";
      s += ValTypeName(types[i]);
    }
    s += ")";
    return s;
  };
  return list(t.params) + " -> " + list(t.results);
}

const char* ExternKindName(ExternKind k) {
  switch (k) {
    case ExternKind::Func:
      return "func";
    case ExternKind::Table:
      return "table";
    case ExternKind::Memory:
      return "memory";
    case ExternKind::Global:
      return "global";
  }
  return "<unknown kind>";
}

}  // namespace wasmq::wasm
