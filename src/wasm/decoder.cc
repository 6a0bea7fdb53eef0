// File: src/wasm/decoder.cc
//
// Decode(): a WebAssembly 2.0 binary (MVP, sign extension, saturating truncation, multi-value, bulk
// memory, reference types; no SIMD) into a ModuleInfo (module.h). Everything that makes a binary *malformed*
// is checked here; what makes it *invalid* (index ranges, types, limits, duplicate exports, ...) is left
// to the validator in compile.cc. Function bodies are not decoded: each is recorded as a byte range for
// the compiler, which decodes its instructions once.
//
// How it reads, and why. The decoder follows the reference interpreter's decoder (the spec repository's
// interpreter/binary/decode.ml) closely, because the spec testsuite's assert_malformed messages are
// that decoder's messages, and because some of them only come out of its particular way of reading:
//
//  * One cursor over the whole binary. A section's contents are not read from a sub-range: they are read
//    from the whole stream, and afterwards the cursor must stand exactly at the section's declared end
//    ("section size mismatch"). A section whose contents claim more than its size therefore reads on
//    into the next section and fails there, as the reference does (binary.wast expects "length out of
//    bounds" for an export vector that is one entry short, because the next section's id byte is read
//    as a name length).
//  * Every length or count ("len32") must not exceed the bytes that are left in the binary, counted from
//    the start of the length itself: "length out of bounds". So no count can make the decoder allocate
//    more than the input justifies; vectors are moreover reserved for at most kMaxReserve entries and
//    grow only as entries actually decode.
//  * Reading past the end of the binary is "unexpected end of section or function" (the reference's
//    wording; spectest messages "unexpected end" match it as a substring), except in the 8-byte header,
//    where it is plain "unexpected end".
//  * Type bytes (value types, reference types, the 0x60 function type form) are signed LEB128 in the
//    grammar, so a byte with its continuation bit set is "integer representation too long"; limits flags
//    are a 1-bit unsigned LEB128: a flag above 1 is "integer too large".
//
// Constant expressions (global initialisers, segment offsets, element expressions) are decoded as
// instruction sequences up to their `end`, like the reference does. One constant instruction is
// recorded in the ConstExpr. Anything else is a *validation* error, which the spec reports only once the
// whole module decoded: "constant expression required" for a non-constant instruction, "type mismatch"
// for an empty or multi-value sequence. The decoder keeps the first such error aside, finishes decoding
// (so a later malformation still wins, as in the spec), and returns it as an ErrorKind::Invalid error at
// the end. Non-constant instructions are skipped by their immediates; an unknown opcode is malformed
// ("illegal opcode XX").
//
// The `name` custom section is parsed on a best-effort basis into ModuleInfo::module_name and
// ModuleInfo::function_names (subsections 0 and 1); if it is malformed in any way it is ignored as a whole,
// as the spec requires of custom sections. A custom section's own header (its name) must be well formed.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "wasm/module.h"
#include "wasm/reader.h"
#include "wasm/result.h"
#include "wasm/runtime.h"
#include "wasm/simd.h"

namespace wasmq::wasm {
namespace {

constexpr char kUnexpectedEnd[] = "unexpected end of section or function";
constexpr uint32_t kMaxReserve = 1024;

enum SectionId : uint8_t {
  kCustomSection = 0,
  kTypeSection = 1,
  kImportSection = 2,
  kFunctionSection = 3,
  kTableSection = 4,
  kMemorySection = 5,
  kGlobalSection = 6,
  kExportSection = 7,
  kStartSection = 8,
  kElemSection = 9,
  kCodeSection = 10,
  kDataSection = 11,
  kDataCountSection = 12,
};

// Rank of a non-custom section in the order the binary format requires (data count comes before code).
int SectionRank(uint8_t id) {
  switch (id) {
    case kDataCountSection:
      return 10;
    case kCodeSection:
      return 11;
    case kDataSection:
      return 12;
    default:
      return id;  // type (1) .. element (9)
  }
}

// True if [p, p+n) is well-formed UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF, no
// truncated sequence.
bool IsValidUtf8(const uint8_t* p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates D800..DFFF
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;  // continuation byte, overlong C0/C1, or F5..FF
    }
    if (n - i < len) return false;
    if (p[i + 1] < lo || p[i + 1] > hi) return false;
    for (size_t k = 2; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

// A length-prefixed UTF-8 name read from a sub-range reader (used for the name section only).
bool ReadNameIn(Reader& r, std::string* out) {
  uint32_t n;
  const uint8_t* p;
  if (!r.U32(&n) || !r.Bytes(n, &p) || !IsValidUtf8(p, n)) return false;
  out->assign(reinterpret_cast<const char*>(p), n);
  return true;
}

std::string IllegalOpcode(uint8_t op) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "illegal opcode %02x", op);
  return buf;
}

std::string IllegalOpcode(uint8_t op, uint32_t sub) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "illegal opcode %02x %02x", op, sub);
  return buf;
}

ModuleInfo ModuleWithBytes(std::span<const uint8_t> bytes) {
  ModuleInfo m;
  m.bytes.assign(bytes.begin(), bytes.end());
  return m;
}

class Decoder {
 public:
  explicit Decoder(std::span<const uint8_t> bytes)
      : m_(ModuleWithBytes(bytes)), r_(m_.bytes.data(), 0, m_.bytes.size()) {}

  Result<ModuleInfo> Run() {
    if (!Header()) return MakeError(ErrorKind::Malformed, r_.error());
    if (!Sections() || !FinalChecks()) {
      std::string msg = r_.error();
      if (msg == "unexpected end") msg = kUnexpectedEnd;
      return MakeError(ErrorKind::Malformed, std::move(msg));
    }
    if (invalid_) return *invalid_;
    return std::move(m_);
  }

 private:
  // ---- Primitives. Each returns false after recording the first error in r_. ----

  bool Fail(const std::string& msg) { return r_.Fail(msg); }

  // Records a validation error to be returned if decoding otherwise succeeds.
  void Invalid(const char* msg) {
    if (!invalid_) invalid_ = MakeError(ErrorKind::Invalid, msg);
  }

  // A vector length or byte count: at most the number of bytes left, counted from the length itself.
  bool Len32(uint32_t* n) {
    size_t before = r_.pos();
    if (!r_.U32(n)) return false;
    if (*n > r_.end() - before) return Fail("length out of bounds");
    return true;
  }

  bool Skip(size_t n) {
    const uint8_t* p;
    return r_.Bytes(n, &p);
  }

  bool Name(std::string* out) {
    uint32_t n;
    const uint8_t* p;
    if (!Len32(&n) || !r_.Bytes(n, &p)) return false;
    if (!IsValidUtf8(p, n)) return Fail("malformed UTF-8 encoding");
    out->assign(reinterpret_cast<const char*>(p), n);
    return true;
  }

  bool ValueType(ValType* out) {
    uint8_t b;
    if (!r_.U8(&b)) return false;
    if (b & 0x80) return Fail("integer representation too long");
    switch (b) {
      case 0x7F:
      case 0x7E:
      case 0x7D:
      case 0x7C:
      case 0x7B:
      case 0x70:
      case 0x6F:
        *out = static_cast<ValType>(b);
        return true;
      default:
        return Fail("malformed value type");
    }
  }

  bool RefType(ValType* out) {
    uint8_t b;
    if (!r_.U8(&b)) return false;
    if (b & 0x80) return Fail("integer representation too long");
    if (b != 0x70 && b != 0x6F) return Fail("malformed reference type");
    *out = static_cast<ValType>(b);
    return true;
  }

  bool ValueTypes(std::vector<ValType>* out) {
    uint32_t n;
    if (!Len32(&n)) return false;
    out->reserve(std::min(n, kMaxReserve));
    for (uint32_t i = 0; i < n; ++i) {
      ValType t;
      if (!ValueType(&t)) return false;
      out->push_back(t);
    }
    return true;
  }

  bool ReadLimits(Limits* out) {
    uint8_t flag;
    if (!r_.U8(&flag)) return false;
    if ((flag & 0x7F) > 1) return Fail("integer too large");
    if (flag & 0x80) return Fail("integer representation too long");
    uint32_t min;
    if (!r_.U32(&min)) return false;
    out->min = min;
    out->max.reset();
    if (flag == 1) {
      uint32_t max;
      if (!r_.U32(&max)) return false;
      out->max = max;
    }
    return true;
  }

  bool ReadTableType(TableType* out) { return RefType(&out->elem) && ReadLimits(&out->limits); }

  bool ReadGlobalType(GlobalType* out) {
    if (!ValueType(&out->type)) return false;
    uint8_t m;
    if (!r_.U8(&m)) return false;
    if (m > 1) return Fail("malformed mutability");
    out->mut = m == 1;
    return true;
  }

  bool ZeroByte() {
    uint8_t b;
    if (!r_.U8(&b)) return false;
    return b == 0 || Fail("zero byte expected");
  }

  // ---- Constant expressions ----

  // Skips the immediates of non-constant instruction `op` (already read). `blocks` tracks the opcodes
  // of the open block/loop/if instructions.
  bool SkipInstruction(uint8_t op, std::vector<uint8_t>* blocks) {
    uint32_t u;
    if ((op >= 0x45 && op <= 0xC4) || op == 0x00 || op == 0x01 || op == 0x0F || op == 0x1A || op == 0x1B ||
        op == 0xD1) {
      return true;  // no immediates
    }
    if (op >= 0x28 && op <= 0x3E) return r_.U32(&u) && r_.U32(&u);  // memarg: align, offset
    switch (op) {
      case 0x02:
      case 0x03:
      case 0x04: {  // block, loop, if: block type
        if (r_.eof()) return Fail(kUnexpectedEnd);
        uint8_t b = m_.bytes[r_.pos()];
        if (b == 0x40) {
          if (!Skip(1)) return false;
        } else if ((b & 0xC0) == 0x40) {
          ValType t;
          if (!ValueType(&t)) return false;
        } else {
          int64_t x;
          if (!r_.S33(&x)) return false;
        }
        blocks->push_back(op);
        return true;
      }
      case 0x0C:
      case 0x0D:
      case 0x10:
      case 0x20:
      case 0x21:
      case 0x22:
      case 0x24:
      case 0x25:
      case 0x26:
        return r_.U32(&u);
      case 0x11:
        return r_.U32(&u) && r_.U32(&u);
      case 0x0E: {  // br_table
        uint32_t n;
        if (!Len32(&n)) return false;
        for (uint64_t i = 0; i <= n; ++i) {
          if (!r_.U32(&u)) return false;
        }
        return true;
      }
      case 0x1C: {  // select with types
        std::vector<ValType> types;
        return ValueTypes(&types);
      }
      case 0x3F:
      case 0x40:
        return ZeroByte();
      case 0xFC: {
        uint32_t sub;
        if (!r_.U32(&sub)) return false;
        switch (sub) {
          case 0:
          case 1:
          case 2:
          case 3:
          case 4:
          case 5:
          case 6:
          case 7:
            return true;
          case 8:
            return r_.U32(&u) && ZeroByte();  // memory.init
          case 9:
          case 13:
            return r_.U32(&u);  // data.drop, elem.drop
          case 10:
            return ZeroByte() && ZeroByte();  // memory.copy
          case 11:
            return ZeroByte();  // memory.fill
          case 12:
          case 14:
            return r_.U32(&u) && r_.U32(&u);  // table.init, table.copy
          case 15:
          case 16:
          case 17:
            return r_.U32(&u);  // table.grow, .size, .fill
          default:
            return Fail(IllegalOpcode(op, sub));
        }
      }
      case 0xFD: {
        uint32_t sub;
        return r_.U32(&sub) && SkipSimd(sub);
      }
      default:
        return Fail(IllegalOpcode(op));
    }
  }

  // The immediates of SIMD instruction `sub` (its sub-opcode already read).
  bool SkipSimd(uint32_t sub) {
    const SimdInfo& info = SimdOpInfo(sub);
    uint32_t u;
    const uint8_t* p;
    switch (info.shape) {
      case SimdShape::kNone: return Fail(IllegalOpcode(0xFD, sub));
      case SimdShape::kLoad:
      case SimdShape::kStore: return r_.U32(&u) && r_.U32(&u);
      case SimdShape::kLoadLane:
      case SimdShape::kStoreLane: return r_.U32(&u) && r_.U32(&u) && r_.Bytes(1, &p);
      case SimdShape::kConst:
      case SimdShape::kShuffle: return r_.Bytes(16, &p);
      case SimdShape::kExtract:
      case SimdShape::kReplace: return r_.Bytes(1, &p);
      default: return true;
    }
  }

  // Reads an instruction sequence up to and including its `end`. The first constant instruction goes to
  // `out`; a non-constant instruction or a count other than one is recorded as a validation error.
  bool ReadConstExpr(ConstExpr* out) {
    int constants = 0;
    bool non_constant = false;
    std::vector<uint8_t> blocks;
    for (;;) {
      uint8_t op;
      if (!r_.U8(&op)) return false;
      if (op == 0x0B) {
        if (blocks.empty()) break;
        blocks.pop_back();
        continue;
      }
      if (op == 0x05) {  // else: only inside an `if`
        if (blocks.empty() || blocks.back() != 0x04) {
          return Fail(blocks.empty() ? "END opcode expected" : "misplaced ELSE opcode");
        }
        blocks.back() = 0x05;  // no second else
        continue;
      }
      ConstExpr c;
      switch (op) {
        case 0x41: {
          int32_t v;
          if (!r_.S32(&v)) return false;
          c.op = ConstExpr::Op::I32Const;
          c.bits = static_cast<uint32_t>(v);
          break;
        }
        case 0x42: {
          int64_t v;
          if (!r_.S64(&v)) return false;
          c.op = ConstExpr::Op::I64Const;
          c.bits = static_cast<uint64_t>(v);
          break;
        }
        case 0x43: {
          const uint8_t* p;
          if (!r_.Bytes(4, &p)) return false;
          c.op = ConstExpr::Op::F32Const;
          c.bits = uint64_t{p[0]} | uint64_t{p[1]} << 8 | uint64_t{p[2]} << 16 | uint64_t{p[3]} << 24;
          break;
        }
        case 0x44: {
          const uint8_t* p;
          if (!r_.Bytes(8, &p)) return false;
          c.op = ConstExpr::Op::F64Const;
          c.bits = 0;
          for (int k = 7; k >= 0; --k) c.bits = c.bits << 8 | p[k];
          break;
        }
        case 0xFD: {  // v128.const is the only constant SIMD instruction
          uint32_t sub;
          if (!r_.U32(&sub)) return false;
          if (sub != 0x0C) {
            non_constant = true;
            if (!SkipSimd(sub)) return false;
            continue;
          }
          const uint8_t* p;
          if (!r_.Bytes(16, &p)) return false;
          c.op = ConstExpr::Op::V128Const;
          std::memcpy(&c.bits, p, 8);
          std::memcpy(&c.hi, p + 8, 8);
          break;
        }
        case 0xD0:
          c.op = ConstExpr::Op::RefNull;
          if (!RefType(&c.ref_type)) return false;
          break;
        case 0xD2:
          c.op = ConstExpr::Op::RefFunc;
          if (!r_.U32(&c.index)) return false;
          break;
        case 0x23:
          c.op = ConstExpr::Op::GlobalGet;
          if (!r_.U32(&c.index)) return false;
          break;
        default:
          non_constant = true;
          if (!SkipInstruction(op, &blocks)) return false;
          continue;
      }
      if (constants++ == 0) *out = c;
    }
    if (non_constant) {
      Invalid("constant expression required");
    } else if (constants != 1) {
      Invalid("type mismatch");
    }
    return true;
  }

  // ---- Header and section framing ----

  bool Header() {
    static constexpr uint8_t kMagic[4] = {0x00, 0x61, 0x73, 0x6D};
    static constexpr uint8_t kVersion[4] = {0x01, 0x00, 0x00, 0x00};
    const uint8_t* p;
    if (!r_.Bytes(4, &p)) return false;
    if (std::memcmp(p, kMagic, 4) != 0) return Fail("magic header not detected");
    if (!r_.Bytes(4, &p)) return false;
    if (std::memcmp(p, kVersion, 4) != 0) return Fail("unknown binary version");
    return true;
  }

  bool Sections() {
    int last_rank = 0;
    while (!r_.eof()) {
      uint8_t id;
      if (!r_.U8(&id)) return false;
      if (id > kDataCountSection) return Fail("malformed section id");
      if (id != kCustomSection) {
        int rank = SectionRank(id);
        if (rank <= last_rank) return Fail("unexpected content after last section");
        last_rank = rank;
      }
      uint32_t size;
      if (!Len32(&size)) return false;
      size_t end = r_.pos() + size;  // may lie past the end of the binary by a few bytes
      bool ok = false;
      switch (id) {
        case kCustomSection:
          ok = ReadCustomSection(end);
          break;
        case kTypeSection:
          ok = TypeSection();
          break;
        case kImportSection:
          ok = ImportSection();
          break;
        case kFunctionSection:
          ok = FunctionSection();
          break;
        case kTableSection:
          ok = TableSection();
          break;
        case kMemorySection:
          ok = MemorySection();
          break;
        case kGlobalSection:
          ok = GlobalSection();
          break;
        case kExportSection:
          ok = ExportSection();
          break;
        case kStartSection:
          ok = StartSection();
          break;
        case kElemSection:
          ok = ElemSection();
          break;
        case kCodeSection:
          ok = CodeSection();
          break;
        case kDataSection:
          ok = DataSection();
          break;
        case kDataCountSection:
          ok = DataCountSection();
          break;
        default:
          break;
      }
      if (!ok) return false;
      if (r_.pos() != end) return Fail("section size mismatch");
    }
    return true;
  }

  bool FinalChecks() {
    if (m_.functions.size() != m_.code.size()) {
      return Fail("function and code section have inconsistent lengths");
    }
    if (m_.data_count && *m_.data_count != m_.datas.size()) {
      return Fail("data count and data section have inconsistent lengths");
    }
    return true;
  }

  // ---- Sections ----

  bool ReadCustomSection(size_t end) {
    CustomSection cs;
    if (!Name(&cs.name)) return false;
    size_t begin = r_.pos();
    if (begin > end || end > r_.end()) return Fail(kUnexpectedEnd);
    cs.begin = static_cast<uint32_t>(begin);
    cs.size = static_cast<uint32_t>(end - begin);
    if (cs.name == "name" && !name_section_seen_) {
      name_section_seen_ = true;
      ParseNameSection(begin, end);
    }
    m_.customs.push_back(std::move(cs));
    return Skip(end - begin);
  }

  // Best effort: any malformation leaves module_name and function_names empty.
  void ParseNameSection(size_t begin, size_t end) {
    Reader r(m_.bytes.data(), begin, end);
    std::string module_name;
    std::unordered_map<uint32_t, std::string> names;
    int last_id = -1;
    while (!r.eof()) {
      uint8_t id;
      uint32_t size;
      if (!r.U8(&id) || !r.U32(&size) || size > r.remaining() || id <= last_id) return;
      last_id = id;
      Reader sub(m_.bytes.data(), r.pos(), r.pos() + size);
      if (id == 0) {
        if (!ReadNameIn(sub, &module_name)) return;
      } else if (id == 1) {
        uint32_t n;
        if (!sub.U32(&n) || n > sub.remaining()) return;
        for (uint32_t i = 0; i < n; ++i) {
          uint32_t index;
          std::string name;
          if (!sub.U32(&index) || !ReadNameIn(sub, &name)) return;
          names[index] = std::move(name);
        }
      }
      if (id <= 1 && !sub.eof()) return;
      const uint8_t* p;
      if (!r.Bytes(size, &p)) return;
    }
    m_.module_name = std::move(module_name);
    m_.function_names = std::move(names);
  }

  bool TypeSection() {
    uint32_t n;
    if (!Len32(&n)) return false;
    m_.types.reserve(std::min(n, kMaxReserve));
    for (uint32_t i = 0; i < n; ++i) {
      uint8_t form;
      if (!r_.U8(&form)) return false;
      if (form & 0x80) return Fail("integer representation too long");
      if (form != 0x60) return Fail("malformed function type");
      FuncType ft;
      if (!ValueTypes(&ft.params) || !ValueTypes(&ft.results)) return false;
      m_.types.push_back(std::move(ft));
    }
    return true;
  }

  bool ImportSection() {
    uint32_t n;
    if (!Len32(&n)) return false;
    m_.imports.reserve(std::min(n, kMaxReserve));
    for (uint32_t i = 0; i < n; ++i) {
      Import imp;
      uint8_t kind;
      if (!Name(&imp.module) || !Name(&imp.name) || !r_.U8(&kind)) return false;
      switch (kind) {
        case 0:
          if (!r_.U32(&imp.type_index)) return false;
          ++m_.num_imported_funcs;
          break;
        case 1:
          if (!ReadTableType(&imp.table)) return false;
          ++m_.num_imported_tables;
          break;
        case 2:
          if (!ReadLimits(&imp.memory.limits)) return false;
          ++m_.num_imported_memories;
          break;
        case 3:
          if (!ReadGlobalType(&imp.global)) return false;
          ++m_.num_imported_globals;
          break;
        default:
          return Fail("malformed import kind");
      }
      imp.kind = static_cast<ExternKind>(kind);
      m_.imports.push_back(std::move(imp));
    }
    return true;
  }

  bool FunctionSection() {
    uint32_t n;
    if (!Len32(&n)) return false;
    m_.functions.reserve(std::min(n, kMaxReserve));
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t type_index;
      if (!r_.U32(&type_index)) return false;
      m_.functions.push_back(type_index);
    }
    return true;
  }

  bool TableSection() {
    uint32_t n;
    if (!Len32(&n)) return false;
    m_.tables.reserve(std::min(n, kMaxReserve));
    for (uint32_t i = 0; i < n; ++i) {
      TableType t;
      if (!ReadTableType(&t)) return false;
      m_.tables.push_back(t);
    }
    return true;
  }

  bool MemorySection() {
    uint32_t n;
    if (!Len32(&n)) return false;
    m_.memories.reserve(std::min(n, kMaxReserve));
    for (uint32_t i = 0; i < n; ++i) {
      MemoryType t;
      if (!ReadLimits(&t.limits)) return false;
      m_.memories.push_back(t);
    }
    return true;
  }

  bool GlobalSection() {
    uint32_t n;
    if (!Len32(&n)) return false;
    m_.globals.reserve(std::min(n, kMaxReserve));
    for (uint32_t i = 0; i < n; ++i) {
      Global g;
      if (!ReadGlobalType(&g.type) || !ReadConstExpr(&g.init)) return false;
      m_.globals.push_back(g);
    }
    return true;
  }

  bool ExportSection() {
    uint32_t n;
    if (!Len32(&n)) return false;
    m_.exports.reserve(std::min(n, kMaxReserve));
    for (uint32_t i = 0; i < n; ++i) {
      Export e;
      uint8_t kind;
      if (!Name(&e.name) || !r_.U8(&kind)) return false;
      if (kind > 3) return Fail("malformed export kind");
      e.kind = static_cast<ExternKind>(kind);
      if (!r_.U32(&e.index)) return false;
      m_.exports.push_back(std::move(e));
    }
    return true;
  }

  bool StartSection() {
    uint32_t index;
    if (!r_.U32(&index)) return false;
    m_.start = index;
    return true;
  }

  bool ElemKind() {
    uint8_t b;
    if (!r_.U8(&b)) return false;
    return b == 0x00 || Fail("malformed element kind");
  }

  // A vector of function indices, as ref.func expressions.
  bool FuncIndices(std::vector<ConstExpr>* out) {
    uint32_t n;
    if (!Len32(&n)) return false;
    out->reserve(std::min(n, kMaxReserve));
    for (uint32_t i = 0; i < n; ++i) {
      ConstExpr c;
      c.op = ConstExpr::Op::RefFunc;
      if (!r_.U32(&c.index)) return false;
      out->push_back(c);
    }
    return true;
  }

  bool ConstExprs(std::vector<ConstExpr>* out) {
    uint32_t n;
    if (!Len32(&n)) return false;
    out->reserve(std::min(n, kMaxReserve));
    for (uint32_t i = 0; i < n; ++i) {
      ConstExpr c;
      if (!ReadConstExpr(&c)) return false;
      out->push_back(c);
    }
    return true;
  }

  // Element segment flags: bit 0 passive/declarative (with bit 1: declarative), bit 1 explicit table
  // index (when active), bit 2 expressions instead of function indices.
  bool ElemSection() {
    uint32_t n;
    if (!Len32(&n)) return false;
    m_.elems.reserve(std::min(n, kMaxReserve));
    for (uint32_t i = 0; i < n; ++i) {
      ElemSegment seg;
      uint32_t flags;
      if (!r_.U32(&flags)) return false;
      if (flags > 7) return Fail("malformed elements segment kind");
      bool passive_or_declarative = flags & 1;
      bool explicit_table = flags & 2;
      bool expressions = flags & 4;
      if (passive_or_declarative) {
        seg.mode = explicit_table ? SegmentMode::Declarative : SegmentMode::Passive;
      } else {
        seg.mode = SegmentMode::Active;
        if (explicit_table && !r_.U32(&seg.table_index)) return false;
        if (!ReadConstExpr(&seg.offset)) return false;
      }
      seg.type = ValType::FuncRef;
      // Flags 0 and 4 imply funcref; the others spell out an element kind (indices) or a reference type.
      if (flags != 0 && flags != 4) {
        if (expressions ? !RefType(&seg.type) : !ElemKind()) return false;
      }
      if (expressions ? !ConstExprs(&seg.inits) : !FuncIndices(&seg.inits)) return false;
      m_.elems.push_back(std::move(seg));
    }
    return true;
  }

  bool DataCountSection() {
    uint32_t count;
    if (!r_.U32(&count)) return false;
    m_.data_count = count;
    return true;
  }

  bool CodeSection() {
    uint32_t n;
    if (!Len32(&n)) return false;
    m_.code.reserve(std::min(n, kMaxReserve));
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t size;
      if (!Len32(&size)) return false;
      size_t end = r_.pos() + size;
      FunctionBody body;
      uint32_t groups;
      if (!Len32(&groups)) return false;
      body.locals.reserve(std::min(groups, kMaxReserve));
      uint64_t total = 0;
      for (uint32_t g = 0; g < groups; ++g) {
        LocalGroup lg;
        if (!r_.U32(&lg.count) || !ValueType(&lg.type)) return false;
        total += lg.count;
        body.locals.push_back(lg);
      }
      if (total >= (uint64_t{1} << 32)) return Fail("too many locals");
      if (r_.pos() > end) return Fail("section size mismatch");
      if (end > r_.end()) return Fail(kUnexpectedEnd);
      body.body_begin = static_cast<uint32_t>(r_.pos());
      body.body_end = static_cast<uint32_t>(end);
      if (!Skip(end - r_.pos())) return false;
      m_.code.push_back(std::move(body));
    }
    return true;
  }

  bool DataSection() {
    uint32_t n;
    if (!Len32(&n)) return false;
    m_.datas.reserve(std::min(n, kMaxReserve));
    for (uint32_t i = 0; i < n; ++i) {
      DataSegment seg;
      uint32_t flags;
      if (!r_.U32(&flags)) return false;
      switch (flags) {
        case 0:
          seg.mode = SegmentMode::Active;
          if (!ReadConstExpr(&seg.offset)) return false;
          break;
        case 1:
          seg.mode = SegmentMode::Passive;
          break;
        case 2:
          seg.mode = SegmentMode::Active;
          if (!r_.U32(&seg.memory_index) || !ReadConstExpr(&seg.offset)) return false;
          break;
        default:
          return Fail("malformed data segment kind");
      }
      uint32_t size;
      if (!Len32(&size)) return false;
      seg.begin = static_cast<uint32_t>(r_.pos());
      seg.size = size;
      if (!Skip(size)) return false;
      m_.datas.push_back(seg);
    }
    return true;
  }

  ModuleInfo m_;
  Reader r_;  // over m_.bytes, the whole binary
  std::optional<Error> invalid_;
  bool name_section_seen_ = false;
};

}  // namespace

Result<ModuleInfo> Decode(std::span<const uint8_t> bytes) {
  // Every offset in a ModuleInfo is a uint32_t; a wasm32 module cannot meaningfully be larger.
  if (bytes.size() > UINT32_MAX) return MakeError(ErrorKind::Malformed, "module too large");
  return Decoder(bytes).Run();
}

}  // namespace wasmq::wasm
