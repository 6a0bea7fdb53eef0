// File: src/wasm/module.h
//
// The decoded form of a module: what the binary says, section by section, before validation. The
// decoder (decoder.cc) fills it and checks everything that makes a binary *malformed*; the validator
// (compile.cc) checks everything that makes it *invalid* and turns function bodies into internal code.
// Function bodies stay as byte ranges into `bytes` so they are decoded once, by the compiler.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "wasm/types.h"

namespace wasmq::wasm {

// A constant expression. WebAssembly 2.0 allows exactly one of these instructions followed by `end`.
struct ConstExpr {
  enum class Op : uint8_t { I32Const, I64Const, F32Const, F64Const, RefNull, RefFunc, GlobalGet, V128Const };
  Op op = Op::I32Const;
  uint64_t bits = 0;            // the constant's bits (f32/f64 as their IEEE bit patterns; v128's low half)
  uint64_t hi = 0;              // V128Const: the high 64 bits
  uint32_t index = 0;           // function index (RefFunc) or global index (GlobalGet)
  ValType ref_type = ValType::FuncRef;  // RefNull's type
};

struct Import {
  std::string module;
  std::string name;
  ExternKind kind = ExternKind::Func;
  uint32_t type_index = 0;  // Func: index into ModuleInfo::types
  TableType table;          // Table
  MemoryType memory;        // Memory
  GlobalType global;        // Global
};

struct Export {
  std::string name;
  ExternKind kind = ExternKind::Func;
  uint32_t index = 0;
};

struct Global {
  GlobalType type;
  ConstExpr init;
};

enum class SegmentMode : uint8_t { Active, Passive, Declarative };

struct ElemSegment {
  SegmentMode mode = SegmentMode::Active;
  uint32_t table_index = 0;
  ConstExpr offset;              // Active only
  ValType type = ValType::FuncRef;
  std::vector<ConstExpr> inits;  // one per element (function indices decode as RefFunc)
};

struct DataSegment {
  SegmentMode mode = SegmentMode::Active;  // Active or Passive
  uint32_t memory_index = 0;
  ConstExpr offset;  // Active only
  uint32_t begin = 0, size = 0;  // byte range into ModuleInfo::bytes
};

struct LocalGroup {
  uint32_t count = 0;
  ValType type = ValType::I32;
};

struct FunctionBody {
  std::vector<LocalGroup> locals;  // as declared (compressed); total fits in uint32 (checked by decoder)
  uint32_t body_begin = 0;         // first instruction, offset into ModuleInfo::bytes
  uint32_t body_end = 0;           // one past the final `end` opcode
};

struct CustomSection {
  std::string name;
  uint32_t begin = 0, size = 0;  // payload range into ModuleInfo::bytes
};

// Named ModuleInfo (not Module): wasm::Module is the public compiled-module handle in wasm.h.
struct ModuleInfo {
  std::vector<uint8_t> bytes;  // the whole binary; every range above points into it

  std::vector<FuncType> types;
  std::vector<Import> imports;
  std::vector<uint32_t> functions;  // type index of each *defined* function (function section)
  std::vector<TableType> tables;    // defined tables
  std::vector<MemoryType> memories; // defined memories
  std::vector<Global> globals;      // defined globals
  std::vector<Export> exports;
  std::optional<uint32_t> start;
  std::vector<ElemSegment> elems;
  std::optional<uint32_t> data_count;
  std::vector<FunctionBody> code;  // one per defined function
  std::vector<DataSegment> datas;
  std::vector<CustomSection> customs;

  // From the `name` custom section, when present and well formed (a bad name section is ignored,
  // as the spec requires of custom sections). Keyed by function index (imports included).
  std::string module_name;
  std::unordered_map<uint32_t, std::string> function_names;

  // Counts of imports by kind, filled by the decoder, so index spaces are easy to compute.
  uint32_t num_imported_funcs = 0, num_imported_tables = 0, num_imported_memories = 0,
           num_imported_globals = 0;

  uint32_t NumFuncs() const { return num_imported_funcs + static_cast<uint32_t>(functions.size()); }
  uint32_t NumTables() const { return num_imported_tables + static_cast<uint32_t>(tables.size()); }
  uint32_t NumMemories() const { return num_imported_memories + static_cast<uint32_t>(memories.size()); }
  uint32_t NumGlobals() const { return num_imported_globals + static_cast<uint32_t>(globals.size()); }
};

}  // namespace wasmq::wasm
