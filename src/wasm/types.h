// File: src/wasm/types.h
//
// Value types, function types and limits shared by the decoder, the validator/compiler, the runtime and
// the public API. Kept free of any other wasmq header so that every layer can include it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wasmq::wasm {

// Encodings are the binary format's type bytes, so the decoder can cast a validated byte directly.
enum class ValType : uint8_t {
  I32 = 0x7F,
  I64 = 0x7E,
  F32 = 0x7D,
  F64 = 0x7C,
  V128 = 0x7B,
  FuncRef = 0x70,
  ExternRef = 0x6F,
};

inline bool IsRef(ValType t) { return t == ValType::FuncRef || t == ValType::ExternRef; }
// How many 64-bit slots a value of type t takes in a frame or an argument array: v128 two, others one.
inline uint32_t SlotWidth(ValType t) { return t == ValType::V128 ? 2 : 1; }
inline uint32_t SlotCount(const std::vector<ValType>& ts) {
  uint32_t n = 0;
  for (ValType t : ts) n += SlotWidth(t);
  return n;
}
const char* ValTypeName(ValType t);

struct FuncType {
  std::vector<ValType> params;
  std::vector<ValType> results;
  bool operator==(const FuncType&) const = default;
};
std::string FuncTypeString(const FuncType& t);  // e.g. "(i32, i64) -> (f32)"

struct Limits {
  uint64_t min = 0;
  std::optional<uint64_t> max;
  bool operator==(const Limits&) const = default;
};

struct TableType {
  ValType elem = ValType::FuncRef;
  Limits limits;
};

struct MemoryType {
  Limits limits;  // in 64 KiB pages
};

struct GlobalType {
  ValType type = ValType::I32;
  bool mut = false;
};

enum class ExternKind : uint8_t { Func = 0, Table = 1, Memory = 2, Global = 3 };
const char* ExternKindName(ExternKind k);

constexpr uint64_t kPageSize = 65536;
constexpr uint64_t kMaxPages = 65536;  // 4 GiB, the wasm32 limit

}  // namespace wasmq::wasm
