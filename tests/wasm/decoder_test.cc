// File: tests/wasm/decoder_test.cc
//
// Tests of the binary decoder (src/wasm/decoder.cc) on hand-assembled binaries, and of the type names in
// src/wasm/types.cc. Error messages are the spec testsuite's wording.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "wasm/module.h"
#include "wasm/runtime.h"
#include "wasm/types.h"

namespace wasmq::wasm {
namespace {

using Bytes = std::vector<uint8_t>;

// ---- A tiny assembler ----

Bytes B(std::initializer_list<int> bytes) {
  Bytes out;
  for (int b : bytes) out.push_back(static_cast<uint8_t>(b));
  return out;
}

Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Bytes Leb(uint64_t v) {
  Bytes out;
  do {
    uint8_t b = v & 0x7F;
    v >>= 7;
    if (v != 0) b |= 0x80;
    out.push_back(b);
  } while (v != 0);
  return out;
}

Bytes SLeb(int64_t v) {
  Bytes out;
  for (;;) {
    uint8_t b = v & 0x7F;
    v >>= 7;  // arithmetic
    bool done = (v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40));
    if (!done) b |= 0x80;
    out.push_back(b);
    if (done) return out;
  }
}

Bytes Str(std::string_view s) {
  Bytes out = Leb(s.size());
  out.insert(out.end(), s.begin(), s.end());
  return out;
}

Bytes Raw(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes Vec(std::initializer_list<Bytes> items) {
  Bytes out = Leb(items.size());
  for (const Bytes& i : items) out = out + i;
  return out;
}

Bytes Section(uint8_t id, const Bytes& content) { return Bytes{id} + Leb(content.size()) + content; }

const Bytes kHeader = B({0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00});

Bytes Mod(std::initializer_list<Bytes> sections) {
  Bytes out = kHeader;
  for (const Bytes& s : sections) out = out + s;
  return out;
}

// A function type section with one `() -> ()` type, and matching function/code sections for n bodies.
const Bytes kOneType = Section(1, Vec({B({0x60, 0x00, 0x00})}));
const Bytes kOneFunc = Section(3, Vec({B({0x00})}));
const Bytes kOneBody = Section(10, Vec({B({0x02, 0x00, 0x0B})}));

constexpr int I32 = 0x7F, I64 = 0x7E, F32 = 0x7D, F64 = 0x7C, FUNCREF = 0x70, EXTERNREF = 0x6F;
constexpr int END = 0x0B;

testing::AssertionResult Fails(const Bytes& bytes, ErrorKind kind, std::string_view message) {
  auto r = Decode(bytes);
  if (r.ok()) return testing::AssertionFailure() << "decoded fine, expected \"" << message << "\"";
  if (r.error().kind != kind || r.error().message.find(message) == std::string::npos) {
    return testing::AssertionFailure() << "got kind " << static_cast<int>(r.error().kind) << " \""
                                       << r.error().message << "\", expected \"" << message << "\"";
  }
  return testing::AssertionSuccess();
}

testing::AssertionResult Malformed(const Bytes& bytes, std::string_view message) {
  return Fails(bytes, ErrorKind::Malformed, message);
}

testing::AssertionResult Invalid(const Bytes& bytes, std::string_view message) {
  return Fails(bytes, ErrorKind::Invalid, message);
}

ModuleInfo MustDecode(const Bytes& bytes) {
  auto r = Decode(bytes);
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (!r.ok()) return ModuleInfo{};
  return std::move(r).value();
}

// ---- A module with every section ----

TEST(DecoderTest, EmptyModule) {
  ModuleInfo m = MustDecode(kHeader);
  EXPECT_EQ(m.bytes, kHeader);
  EXPECT_TRUE(m.types.empty());
  EXPECT_FALSE(m.start.has_value());
  EXPECT_FALSE(m.data_count.has_value());
  EXPECT_EQ(m.NumFuncs(), 0u);
}

TEST(DecoderTest, RepresentativeModule) {
  Bytes types = Section(1, Vec({
                               B({0x60}) + Vec({B({I32}), B({I64})}) + Vec({B({F32})}),
                               B({0x60}) + Vec({}) + Vec({B({F64}), B({FUNCREF}), B({EXTERNREF})}),
                               B({0x60, 0x00, 0x00}),
                           }));
  Bytes imports = Section(2, Vec({
                                 Str("env") + Str("f") + B({0x00}) + Leb(1),
                                 Str("env") + Str("t") + B({0x01, EXTERNREF, 0x01}) + Leb(1) + Leb(10),
                                 Str("env") + Str("m") + B({0x02, 0x00}) + Leb(2),
                                 Str("env") + Str("g") + B({0x03, I32, 0x00}),
                             }));
  Bytes funcs = Section(3, Vec({Leb(0), Leb(2)}));
  Bytes tables = Section(4, Vec({B({FUNCREF, 0x00}) + Leb(3)}));
  Bytes memories = Section(5, Vec({B({0x01}) + Leb(1) + Leb(65536)}));
  Bytes globals = Section(6, Vec({
                                 B({I32, 0x01, 0x41}) + SLeb(-5) + B({END}),
                                 B({F64, 0x00, 0x44}) + B({0, 0, 0, 0, 0, 0, 0xF0, 0x3F}) + B({END}),
                                 B({EXTERNREF, 0x00, 0xD0, EXTERNREF, END}),
                                 B({FUNCREF, 0x00, 0xD2}) + Leb(1) + B({END}),
                                 B({I32, 0x00, 0x23}) + Leb(0) + B({END}),
                                 B({I64, 0x00, 0x42}) + SLeb(INT64_MIN) + B({END}),
                                 B({F32, 0x00, 0x43, 0x00, 0x00, 0xC0, 0x7F, END}),
                             }));
  Bytes exports = Section(7, Vec({
                                 Str("run") + B({0x00}) + Leb(1),
                                 Str("tab") + B({0x01}) + Leb(1),
                                 Str("mem") + B({0x02}) + Leb(0),
                                 Str("glob") + B({0x03}) + Leb(1),
                             }));
  Bytes start = Section(8, Leb(2));
  Bytes i32_0 = B({0x41, 0x00, END});
  Bytes elems = Section(9, Vec({
                               B({0x00}) + i32_0 + Vec({Leb(0), Leb(2)}),
                               B({0x01, 0x00}) + Vec({Leb(1)}),
                               B({0x02}) + Leb(1) + i32_0 + B({0x00}) + Vec({Leb(2)}),
                               B({0x03, 0x00}) + Vec({Leb(0)}),
                               B({0x04}) + i32_0 + Vec({B({0xD2, 0x01, END}), B({0xD0, FUNCREF, END})}),
                               B({0x05, EXTERNREF}) + Vec({B({0xD0, EXTERNREF, END})}),
                               B({0x06}) + Leb(1) + i32_0 + B({FUNCREF}) + Vec({}),
                               B({0x07, FUNCREF}) + Vec({B({0xD2, 0x02, END})}),
                           }));
  Bytes datacount = Section(12, Leb(3));
  Bytes body1 = Vec({Leb(2) + B({I32}), Leb(1) + B({F64})}) + B({0x20, 0x00, 0x1A, END});
  Bytes body2 = Vec({}) + B({0x01, END});
  Bytes code = Section(10, Vec({Leb(body1.size()) + body1, Leb(body2.size()) + body2}));
  Bytes datas = Section(11, Vec({
                                B({0x00}) + B({0x41, 0x08, END}) + Str("abc"),
                                B({0x01}) + Str(""),
                                B({0x02}) + Leb(0) + B({0x41, 0x10, END}) + Str("xy"),
                            }));
  Bytes custom = Section(0, Str("producers") + Raw("payload"));
  Bytes names = Section(0, Str("name") + Section(0, Str("mymod")) +
                               Section(1, Vec({Leb(0) + Str("imported"), Leb(2) + Str("start_fn")})) +
                               Section(2, Vec({})));  // local names: skipped

  Bytes bin = Mod({custom, types, imports, funcs, tables, memories, globals, exports, start, elems, datacount,
                   code, datas, names});
  ModuleInfo m = MustDecode(bin);
  EXPECT_EQ(m.bytes, bin);

  ASSERT_EQ(m.types.size(), 3u);
  EXPECT_EQ(FuncTypeString(m.types[0]), "(i32, i64) -> (f32)");
  EXPECT_EQ(FuncTypeString(m.types[1]), "() -> (f64, funcref, externref)");
  EXPECT_EQ(FuncTypeString(m.types[2]), "() -> ()");

  ASSERT_EQ(m.imports.size(), 4u);
  EXPECT_EQ(m.imports[0].module, "env");
  EXPECT_EQ(m.imports[0].name, "f");
  EXPECT_EQ(m.imports[0].kind, ExternKind::Func);
  EXPECT_EQ(m.imports[0].type_index, 1u);
  EXPECT_EQ(m.imports[1].kind, ExternKind::Table);
  EXPECT_EQ(m.imports[1].table.elem, ValType::ExternRef);
  EXPECT_EQ(m.imports[1].table.limits, (Limits{1, 10}));
  EXPECT_EQ(m.imports[2].kind, ExternKind::Memory);
  EXPECT_EQ(m.imports[2].memory.limits, (Limits{2, std::nullopt}));
  EXPECT_EQ(m.imports[3].kind, ExternKind::Global);
  EXPECT_EQ(m.imports[3].global.type, ValType::I32);
  EXPECT_FALSE(m.imports[3].global.mut);
  EXPECT_EQ(m.num_imported_funcs, 1u);
  EXPECT_EQ(m.num_imported_tables, 1u);
  EXPECT_EQ(m.num_imported_memories, 1u);
  EXPECT_EQ(m.num_imported_globals, 1u);

  EXPECT_EQ(m.functions, (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(m.NumFuncs(), 3u);
  ASSERT_EQ(m.tables.size(), 1u);
  EXPECT_EQ(m.tables[0].elem, ValType::FuncRef);
  EXPECT_EQ(m.tables[0].limits, (Limits{3, std::nullopt}));
  EXPECT_EQ(m.NumTables(), 2u);
  ASSERT_EQ(m.memories.size(), 1u);
  EXPECT_EQ(m.memories[0].limits, (Limits{1, 65536}));

  ASSERT_EQ(m.globals.size(), 7u);
  EXPECT_EQ(m.globals[0].type.type, ValType::I32);
  EXPECT_TRUE(m.globals[0].type.mut);
  EXPECT_EQ(m.globals[0].init.op, ConstExpr::Op::I32Const);
  EXPECT_EQ(m.globals[0].init.bits, 0xFFFFFFFBu);
  EXPECT_EQ(m.globals[1].init.op, ConstExpr::Op::F64Const);
  EXPECT_EQ(m.globals[1].init.bits, 0x3FF0000000000000u);  // 1.0
  EXPECT_EQ(m.globals[2].init.op, ConstExpr::Op::RefNull);
  EXPECT_EQ(m.globals[2].init.ref_type, ValType::ExternRef);
  EXPECT_EQ(m.globals[3].init.op, ConstExpr::Op::RefFunc);
  EXPECT_EQ(m.globals[3].init.index, 1u);
  EXPECT_EQ(m.globals[4].init.op, ConstExpr::Op::GlobalGet);
  EXPECT_EQ(m.globals[4].init.index, 0u);
  EXPECT_EQ(m.globals[5].init.op, ConstExpr::Op::I64Const);
  EXPECT_EQ(m.globals[5].init.bits, 0x8000000000000000u);
  EXPECT_EQ(m.globals[6].init.op, ConstExpr::Op::F32Const);
  EXPECT_EQ(m.globals[6].init.bits, 0x7FC00000u);  // NaN bits kept exactly

  ASSERT_EQ(m.exports.size(), 4u);
  EXPECT_EQ(m.exports[0].name, "run");
  EXPECT_EQ(m.exports[0].kind, ExternKind::Func);
  EXPECT_EQ(m.exports[0].index, 1u);
  EXPECT_EQ(m.exports[1].kind, ExternKind::Table);
  EXPECT_EQ(m.exports[2].kind, ExternKind::Memory);
  EXPECT_EQ(m.exports[3].kind, ExternKind::Global);
  EXPECT_EQ(m.exports[3].name, "glob");
  EXPECT_EQ(m.start, 2u);

  ASSERT_EQ(m.elems.size(), 8u);
  const ElemSegment& e0 = m.elems[0];
  EXPECT_EQ(e0.mode, SegmentMode::Active);
  EXPECT_EQ(e0.table_index, 0u);
  EXPECT_EQ(e0.offset.op, ConstExpr::Op::I32Const);
  EXPECT_EQ(e0.type, ValType::FuncRef);
  ASSERT_EQ(e0.inits.size(), 2u);
  EXPECT_EQ(e0.inits[0].op, ConstExpr::Op::RefFunc);
  EXPECT_EQ(e0.inits[1].index, 2u);
  EXPECT_EQ(m.elems[1].mode, SegmentMode::Passive);
  EXPECT_EQ(m.elems[1].inits.size(), 1u);
  EXPECT_EQ(m.elems[2].mode, SegmentMode::Active);
  EXPECT_EQ(m.elems[2].table_index, 1u);
  EXPECT_EQ(m.elems[3].mode, SegmentMode::Declarative);
  EXPECT_EQ(m.elems[4].mode, SegmentMode::Active);
  ASSERT_EQ(m.elems[4].inits.size(), 2u);
  EXPECT_EQ(m.elems[4].inits[0].op, ConstExpr::Op::RefFunc);
  EXPECT_EQ(m.elems[4].inits[1].op, ConstExpr::Op::RefNull);
  EXPECT_EQ(m.elems[5].mode, SegmentMode::Passive);
  EXPECT_EQ(m.elems[5].type, ValType::ExternRef);
  EXPECT_EQ(m.elems[6].mode, SegmentMode::Active);
  EXPECT_EQ(m.elems[6].table_index, 1u);
  EXPECT_TRUE(m.elems[6].inits.empty());
  EXPECT_EQ(m.elems[7].mode, SegmentMode::Declarative);
  EXPECT_EQ(m.elems[7].inits[0].index, 2u);

  EXPECT_EQ(m.data_count, 3u);
  ASSERT_EQ(m.code.size(), 2u);
  const FunctionBody& f1 = m.code[0];
  ASSERT_EQ(f1.locals.size(), 2u);
  EXPECT_EQ(f1.locals[0].count, 2u);
  EXPECT_EQ(f1.locals[0].type, ValType::I32);
  EXPECT_EQ(f1.locals[1].type, ValType::F64);
  ASSERT_EQ(f1.body_end - f1.body_begin, 4u);
  EXPECT_EQ(m.bytes[f1.body_begin], 0x20);
  EXPECT_EQ(m.bytes[f1.body_end - 1], END);
  const FunctionBody& f2 = m.code[1];
  EXPECT_TRUE(f2.locals.empty());
  EXPECT_EQ(f2.body_end - f2.body_begin, 2u);
  EXPECT_EQ(m.bytes[f2.body_begin], 0x01);

  ASSERT_EQ(m.datas.size(), 3u);
  EXPECT_EQ(m.datas[0].mode, SegmentMode::Active);
  EXPECT_EQ(m.datas[0].offset.bits, 8u);
  EXPECT_EQ(
      std::string(m.bytes.begin() + m.datas[0].begin, m.bytes.begin() + m.datas[0].begin + m.datas[0].size),
      "abc");
  EXPECT_EQ(m.datas[1].mode, SegmentMode::Passive);
  EXPECT_EQ(m.datas[1].size, 0u);
  EXPECT_EQ(m.datas[2].memory_index, 0u);
  EXPECT_EQ(m.datas[2].offset.bits, 16u);
  EXPECT_EQ(m.datas[2].size, 2u);

  ASSERT_EQ(m.customs.size(), 2u);
  EXPECT_EQ(m.customs[0].name, "producers");
  EXPECT_EQ(std::string(m.bytes.begin() + m.customs[0].begin,
                        m.bytes.begin() + m.customs[0].begin + m.customs[0].size),
            "payload");
  EXPECT_EQ(m.customs[1].name, "name");
  EXPECT_EQ(m.module_name, "mymod");
  ASSERT_EQ(m.function_names.size(), 2u);
  EXPECT_EQ(m.function_names.at(0), "imported");
  EXPECT_EQ(m.function_names.at(2), "start_fn");
}

// ---- Header ----

TEST(DecoderTest, Header) {
  EXPECT_TRUE(Malformed({}, "unexpected end"));
  EXPECT_TRUE(Malformed(B({0x01}), "unexpected end"));
  EXPECT_TRUE(Malformed(B({0x00, 0x61, 0x73}), "unexpected end"));
  EXPECT_TRUE(Malformed(Raw("asm") + B({0x00}), "magic header not detected"));
  EXPECT_TRUE(Malformed(B({0x00, 'A', 'S', 'M', 0x01, 0x00, 0x00, 0x00}), "magic header not detected"));
  EXPECT_TRUE(Malformed(B({0x00, 0x61, 0x73, 0x6D}), "unexpected end"));
  EXPECT_TRUE(Malformed(B({0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00}), "unexpected end"));
  EXPECT_TRUE(Malformed(B({0x00, 0x61, 0x73, 0x6D, 0x02, 0x00, 0x00, 0x00}), "unknown binary version"));
  EXPECT_TRUE(Malformed(B({0x00, 0x61, 0x73, 0x6D, 0x00, 0x00, 0x00, 0x01}), "unknown binary version"));
}

// ---- Section framing ----

TEST(DecoderTest, SectionIds) {
  EXPECT_TRUE(Malformed(kHeader + B({0x0D, 0x00}), "malformed section id"));
  EXPECT_TRUE(Malformed(kHeader + B({0x7F, 0x00}), "malformed section id"));
  EXPECT_TRUE(Malformed(kHeader + B({0x80, 0x00, 0x01, 0x00}), "malformed section id"));
}

TEST(DecoderTest, SectionOrder) {
  Bytes start = Section(8, Leb(0));
  EXPECT_TRUE(
      Malformed(Mod({kOneType, kOneFunc, start, start, kOneBody}), "unexpected content after last section"));
  EXPECT_TRUE(Malformed(Mod({kOneFunc, kOneType}), "unexpected content after last section"));
  // The data count section goes between element and code sections.
  EXPECT_TRUE(
      Malformed(Mod({Section(11, Vec({})), Section(12, Leb(0))}), "unexpected content after last section"));
  EXPECT_TRUE(
      Malformed(Mod({Section(10, Vec({})), Section(12, Leb(0))}), "unexpected content after last section"));
  MustDecode(Mod({Section(12, Leb(0)), Section(10, Vec({})), Section(11, Vec({}))}));
  // Custom sections go anywhere, any number of times.
  Bytes custom = Section(0, Str("c"));
  ModuleInfo m = MustDecode(Mod({custom, kOneType, custom, kOneFunc, custom, kOneBody, custom, custom}));
  EXPECT_EQ(m.customs.size(), 5u);
  EXPECT_EQ(m.customs[0].size, 0u);
}

TEST(DecoderTest, SectionSizes) {
  // Declared size shorter than the contents.
  EXPECT_TRUE(Malformed(kHeader + B({0x01, 0x07, 0x01, 0x60, 0x00, 0x00, 0x60, 0x00, 0x00}),
                        "section size mismatch"));
  // Declared size longer than what is left of the binary.
  EXPECT_TRUE(Malformed(kHeader + B({0x01, 0x07, 0x02, 0x60, 0x00, 0x00}), "length out of bounds"));
  // Contents shorter than the declared size.
  EXPECT_TRUE(
      Malformed(kHeader + B({0x01, 0x05, 0x01, 0x60, 0x00, 0x00}) + kOneFunc, "section size mismatch"));
  // A vector one entry short reads on into the next section, as the reference decoder does.
  EXPECT_TRUE(Malformed(kHeader + B({0x06, 0x06, 0x02, I32, 0x00, 0x41, 0x00, END}), "unexpected end"));
  EXPECT_TRUE(Malformed(kHeader + B({0x05, 0x01, 0x01}), "unexpected end of section or function"));
  // A section size whose LEB bytes are counted: points a byte past the end of the binary.
  EXPECT_TRUE(Malformed(kHeader + B({0x00, 0x83, 0x00, 0x01, 'a'}), "unexpected end"));
}

TEST(DecoderTest, TruncatedEverywhereNeverSucceeds) {
  Bytes full = Mod({kOneType, Section(2, Vec({Str("m") + Str("g") + B({0x03, I32, 0x00})})), kOneFunc,
                    Section(6, Vec({B({I64, 0x00, 0x42}) + SLeb(-1) + B({END})})), kOneBody,
                    Section(11, Vec({B({0x01}) + Str("data")}))});
  MustDecode(full);
  for (size_t n = 0; n < full.size(); ++n) {
    Bytes cut(full.begin(), full.begin() + n);
    auto r = Decode(cut);
    // Cutting at a section boundary leaves a valid prefix only when nothing is left inconsistent.
    if (r.ok()) {
      EXPECT_EQ(r.value().functions.size(), r.value().code.size()) << n;
    } else {
      EXPECT_EQ(r.error().kind, ErrorKind::Malformed) << n;
    }
  }
}

// ---- LEB128 ----

TEST(DecoderTest, LebNonMinimalIsAccepted) {
  ModuleInfo m = MustDecode(Mod({Section(5, B({0x01, 0x00, 0x82, 0x80, 0x80, 0x80, 0x00}))}));
  ASSERT_EQ(m.memories.size(), 1u);
  EXPECT_EQ(m.memories[0].limits.min, 2u);
  m = MustDecode(Mod({Section(6, B({0x01, I32, 0x00, 0x41, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, END}))}));
  EXPECT_EQ(m.globals[0].init.bits, 0xFFFFFFFFu);
  m = MustDecode(Mod({Section(
      6, B({0x01, I64, 0x00, 0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, END}))}));
  EXPECT_EQ(m.globals[0].init.bits, 0u);
  // Segment flags are LEB128 too.
  m = MustDecode(Mod({Section(5, B({0x01, 0x00, 0x00})),
                      Section(11, B({0x01, 0x82, 0x00, 0x80, 0x00, 0x41, 0x00, END, 0x00}))}));
  EXPECT_EQ(m.datas[0].mode, SegmentMode::Active);
}

TEST(DecoderTest, LebTooLongOrTooLarge) {
  EXPECT_TRUE(Malformed(Mod({Section(5, B({0x01, 0x00, 0x82, 0x80, 0x80, 0x80, 0x80, 0x00}))}),
                        "integer representation too long"));
  EXPECT_TRUE(
      Malformed(Mod({Section(5, B({0x01, 0x00, 0x82, 0x80, 0x80, 0x80, 0x70}))}), "integer too large"));
  EXPECT_TRUE(
      Malformed(Mod({Section(6, B({0x01, I32, 0x00, 0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, END}))}),
                "integer representation too long"));
  EXPECT_TRUE(Malformed(Mod({Section(6, B({0x01, I32, 0x00, 0x41, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, END}))}),
                        "integer too large"));
  EXPECT_TRUE(Malformed(Mod({Section(6, B({0x01, I64, 0x00, 0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                           0x80, 0x80, 0x7E, END}))}),
                        "integer too large"));
  // Export index with unused bits set.
  EXPECT_TRUE(
      Malformed(Mod({kOneType, kOneFunc,
                     Section(7, Vec({Str("f") + B({0x00, 0x80, 0x80, 0x80, 0x80, 0x10})})), kOneBody}),
                "integer too large"));
  // A type byte is a signed LEB128: a continuation bit makes it too long.
  EXPECT_TRUE(
      Malformed(Mod({Section(1, B({0x01, 0xE0, 0x7F, 0x00, 0x00}))}), "integer representation too long"));
  EXPECT_TRUE(Malformed(Mod({Section(6, B({0x01, 0xFF, 0x7F, 0x00, 0x41, 0x00, END}))}),
                        "integer representation too long"));
}

// ---- Names and UTF-8 ----

Bytes ImportNamed(const Bytes& module_name) {
  return Mod({kOneType, Section(2, Vec({module_name + Str("f") + B({0x00, 0x00})}))});
}

TEST(DecoderTest, Utf8Accepted) {
  for (std::string s : {"", "plain", "\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF", "\xEE\x80\x80",
                        "\xEF\xBF\xBF", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF", "\x7F"}) {
    ModuleInfo m = MustDecode(ImportNamed(Str(s)));
    ASSERT_EQ(m.imports.size(), 1u);
    EXPECT_EQ(m.imports[0].module, s);
  }
  // An embedded NUL is a valid name character.
  ModuleInfo m = MustDecode(ImportNamed(B({0x02, 'a', 0x00})));
  EXPECT_EQ(m.imports[0].module, std::string("a\0", 2));
}

TEST(DecoderTest, Utf8Rejected) {
  for (std::string s : {
           "\x80",              // lone continuation byte
           "\xBF",              //
           "\xC0\x80",          // overlong NUL
           "\xC1\xBF",          // overlong
           "\xC2",              // truncated
           "\xC2\x41",          // bad continuation
           "\xE0\x80\x80",      // overlong 3-byte
           "\xE0\x9F\xBF",      // overlong 3-byte
           "\xED\xA0\x80",      // surrogate D800
           "\xED\xBF\xBF",      // surrogate DFFF
           "\xE1\x80",          // truncated
           "\xF0\x80\x80\x80",  // overlong 4-byte
           "\xF0\x8F\xBF\xBF",  // overlong 4-byte
           "\xF4\x90\x80\x80",  // U+110000
           "\xF5\x80\x80\x80",  // beyond
           "\xF8\x88\x80\x80\x80",
           "\xFE",
           "\xFF",
           "a\xF0\x90\x80",  // truncated at the end
       }) {
    EXPECT_TRUE(Malformed(ImportNamed(Str(s)), "malformed UTF-8 encoding")) << testing::PrintToString(s);
    // Field names and custom section names are checked the same way.
    EXPECT_TRUE(Malformed(Mod({kOneType, Section(2, Vec({Str("m") + Str(s) + B({0x00, 0x00})}))}),
                          "malformed UTF-8 encoding"));
    EXPECT_TRUE(Malformed(Mod({Section(0, Str(s) + Raw("payload"))}), "malformed UTF-8 encoding"));
    EXPECT_TRUE(Malformed(Mod({kOneType, kOneFunc, Section(7, Vec({Str(s) + B({0x00, 0x00})})), kOneBody}),
                          "malformed UTF-8 encoding"));
  }
}

TEST(DecoderTest, NameLengthOutOfBounds) {
  EXPECT_TRUE(Malformed(Mod({Section(0, B({0x10}) + Raw("short"))}), "length out of bounds"));
  EXPECT_TRUE(Malformed(kHeader + B({0x00, 0x02, 0x7F, 'a'}), "length out of bounds"));
  // Custom section name longer than the section: the rest cannot be skipped.
  EXPECT_TRUE(Malformed(kHeader + B({0x00, 0x01, 0x03, 'a', 'b', 'c'}), "unexpected end"));
}

// ---- Huge counts fail fast, without allocating ----

TEST(DecoderTest, HugeCounts) {
  Bytes huge = B({0xFF, 0xFF, 0xFF, 0xFF, 0x0F});
  for (uint8_t id : {1, 2, 3, 4, 5, 6, 7, 9, 10, 11}) {
    EXPECT_TRUE(Malformed(Mod({Section(id, huge + B({0x00, 0x00, 0x00}))}), "length out of bounds"))
        << "section " << int(id);
  }
  // Counts inside entries.
  EXPECT_TRUE(Malformed(Mod({Section(1, B({0x01, 0x60}) + huge)}), "length out of bounds"));
  EXPECT_TRUE(Malformed(Mod({kOneType, kOneFunc, Section(10, B({0x01, 0x07}) + huge + B({END}))}),
                        "length out of bounds"));
  EXPECT_TRUE(Malformed(Mod({Section(5, B({0x01, 0x00, 0x00})), Section(11, B({0x01, 0x01}) + huge)}),
                        "length out of bounds"));
  EXPECT_TRUE(Malformed(Mod({Section(9, B({0x01, 0x01, 0x00}) + huge)}), "length out of bounds"));
  EXPECT_TRUE(Malformed(Mod({Section(9, B({0x01, 0x05, FUNCREF}) + huge)}), "length out of bounds"));
  // A count that the bytes left could hold, though the entries are not there.
  EXPECT_TRUE(Malformed(Mod({Section(3, B({0x02, 0x00}))}), "unexpected end"));
}

// ---- Types, limits, globals ----

TEST(DecoderTest, TypeErrors) {
  EXPECT_TRUE(Malformed(Mod({Section(1, B({0x01, 0x61, 0x00, 0x00}))}), "malformed function type"));
  EXPECT_TRUE(Malformed(Mod({Section(1, B({0x01, 0x60, 0x01, 0x40, 0x00}))}), "malformed value type"));
  EXPECT_TRUE(Malformed(Mod({Section(1, B({0x01, 0x60, 0x01, 0x7A, 0x00}))}), "malformed value type"));
  // v128 (0x7B) is a value type since the engine has SIMD.
  EXPECT_TRUE(Decode(Mod({Section(1, B({0x01, 0x60, 0x01, 0x7B, 0x00}))})).ok());
  EXPECT_TRUE(Malformed(Mod({Section(4, B({0x01, I32, 0x00, 0x00}))}), "malformed reference type"));
  EXPECT_TRUE(Malformed(Mod({Section(6, B({0x01, I32, 0x00, 0xD0, I32, END}))}), "malformed reference type"));
}

TEST(DecoderTest, Limits) {
  ModuleInfo m =
      MustDecode(Mod({Section(5, B({0x02, 0x00, 0x00, 0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F}))}));
  ASSERT_EQ(m.memories.size(), 2u);
  EXPECT_EQ(m.memories[0].limits, (Limits{0, std::nullopt}));
  EXPECT_EQ(m.memories[1].limits, (Limits{0, 0xFFFFFFFFu}));
  // min > max and huge sizes are for the validator, not the decoder.
  MustDecode(Mod({Section(5, B({0x01, 0x01, 0x05, 0x01}))}));
  MustDecode(Mod({Section(4, B({0x01, FUNCREF, 0x01, 0x05, 0x01}))}));

  EXPECT_TRUE(Malformed(Mod({Section(5, B({0x01, 0x02, 0x00}))}), "integer too large"));
  EXPECT_TRUE(Malformed(Mod({Section(5, B({0x01, 0x03, 0x00, 0x00}))}), "integer too large"));
  EXPECT_TRUE(
      Malformed(Mod({Section(5, B({0x01, 0x81, 0x00, 0x00, 0x00}))}), "integer representation too long"));
  EXPECT_TRUE(Malformed(Mod({Section(4, B({0x01, FUNCREF, 0x02, 0x00}))}), "integer too large"));
  EXPECT_TRUE(Malformed(Mod({Section(4, B({0x01, FUNCREF, 0x81, 0x00, 0x00, 0x00}))}),
                        "integer representation too long"));
  EXPECT_TRUE(
      Malformed(Mod({Section(5, B({0x01, 0x00, 0x80, 0x80, 0x80, 0x80, 0x10}))}), "integer too large"));
}

TEST(DecoderTest, Mutability) {
  EXPECT_TRUE(Malformed(Mod({Section(6, B({0x01, I32, 0x02, 0x41, 0x00, END}))}), "malformed mutability"));
  EXPECT_TRUE(Malformed(Mod({Section(6, B({0x01, I32, 0xFF, 0x41, 0x00, END}))}), "malformed mutability"));
  EXPECT_TRUE(Malformed(Mod({Section(2, Vec({Str("m") + Str("g") + B({0x03, I32, 0x02})}))}),
                        "malformed mutability"));
}

// ---- Constant expressions ----

Bytes GlobalWith(const Bytes& expr) { return Mod({Section(6, Vec({B({I32, 0x00}) + expr}))}); }

TEST(DecoderTest, ConstExprValidationErrors) {
  // Non-constant instructions, alone or with a constant.
  EXPECT_TRUE(Invalid(GlobalWith(B({0x41, 0x00, 0x41, 0x00, 0x6A, END})), "constant expression required"));
  EXPECT_TRUE(Invalid(GlobalWith(B({0x01, END})), "constant expression required"));
  EXPECT_TRUE(Invalid(GlobalWith(B({0x41, 0x00, 0x01, END})), "constant expression required"));
  EXPECT_TRUE(Invalid(GlobalWith(B({0x20, 0x00, END})), "constant expression required"));
  EXPECT_TRUE(Invalid(GlobalWith(B({0x02, 0x40, 0x41, 0x00, 0x1A, END, 0x41, 0x00, END})),
                      "constant expression required"));
  EXPECT_TRUE(Invalid(GlobalWith(B({0x04, 0x7F, 0x41, 0x00, 0x05, 0x41, 0x01, END, END})),
                      "constant expression required"));
  EXPECT_TRUE(Invalid(GlobalWith(B({0xFC, 0x00, END})), "constant expression required"));
  // Zero or two constants.
  EXPECT_TRUE(Invalid(GlobalWith(B({END})), "type mismatch"));
  EXPECT_TRUE(Invalid(GlobalWith(B({0x41, 0x00, 0x41, 0x00, END})), "type mismatch"));
  // In segment offsets and element expressions too.
  EXPECT_TRUE(Invalid(Mod({Section(5, B({0x01, 0x00, 0x01})), Section(11, Vec({B({0x00, END, 0x00})}))}),
                      "type mismatch"));
  EXPECT_TRUE(Invalid(Mod({Section(9, Vec({B({0x05, FUNCREF, 0x01, 0xD2, 0x00, 0x1A, END})}))}),
                      "constant expression required"));
}

TEST(DecoderTest, ConstExprMalformed) {
  EXPECT_TRUE(Malformed(GlobalWith(B({0x41, 0x00})), "unexpected end"));
  EXPECT_TRUE(Malformed(GlobalWith(B({0xF3, 0x00, END})), "illegal opcode"));
  EXPECT_TRUE(Malformed(GlobalWith(B({0xFC, 0x20, END})), "illegal opcode"));
  EXPECT_TRUE(Malformed(GlobalWith(B({0x41, 0x00, 0x05, END})), "END opcode expected"));
  EXPECT_TRUE(Malformed(GlobalWith(B({0x3F, 0x01, END})), "zero byte expected"));
  // A malformation later in the binary wins over an earlier validation error, as in the spec.
  EXPECT_TRUE(Malformed(GlobalWith(B({0x01, END})) + B({0x0D, 0x00}), "malformed section id"));
  EXPECT_TRUE(
      Malformed(GlobalWith(B({END})) + kOneBody, "function and code section have inconsistent lengths"));
}

// ---- Imports, exports, segments ----

TEST(DecoderTest, ImportExportKinds) {
  for (int kind : {0x04, 0x05, 0x80}) {
    EXPECT_TRUE(Malformed(Mod({Section(2, Vec({Str("") + Str("") + B({kind})}))}), "malformed import kind"));
    EXPECT_TRUE(
        Malformed(Mod({Section(2, Vec({Str("") + Str("") + B({kind, 0x00})}))}), "malformed import kind"));
    EXPECT_TRUE(Malformed(Mod({Section(7, Vec({Str("x") + B({kind, 0x00})}))}), "malformed export kind"));
  }
}

TEST(DecoderTest, ElementSegmentErrors) {
  EXPECT_TRUE(Malformed(Mod({Section(9, Vec({B({0x08})}))}), "malformed elements segment kind"));
  EXPECT_TRUE(Malformed(Mod({Section(9, Vec({B({0x01, 0x01, 0x00})}))}), "malformed element kind"));
  EXPECT_TRUE(Malformed(Mod({Section(9, Vec({B({0x05, I32, 0x00})}))}), "malformed reference type"));
  EXPECT_TRUE(
      Malformed(Mod({Section(9, Vec({B({0x05, FUNCREF, 0x01, 0xF3, 0x00, END})}))}), "illegal opcode"));
}

TEST(DecoderTest, DataSegmentErrors) {
  Bytes mem = Section(5, B({0x01, 0x00, 0x01}));
  EXPECT_TRUE(Malformed(Mod({mem, Section(11, Vec({B({0x03})}))}), "malformed data segment kind"));
  // 7 bytes declared, 6 given; 5 declared, 6 given.
  EXPECT_TRUE(Malformed(Mod({mem, Section(11, B({0x01, 0x00, 0x41, 0x03, END, 0x07}) + Raw("abcdef"))}),
                        "unexpected end of section or function"));
  EXPECT_TRUE(Malformed(Mod({mem, Section(11, B({0x01, 0x00, 0x41, 0x00, END, 0x05}) + Raw("abcdef"))}),
                        "section size mismatch"));
}

// ---- Cross-section checks ----

TEST(DecoderTest, FunctionAndCodeCounts) {
  Bytes two_funcs = Section(3, Vec({Leb(0), Leb(0)}));
  EXPECT_TRUE(Malformed(Mod({kOneType, two_funcs}), "function and code section have inconsistent lengths"));
  EXPECT_TRUE(Malformed(Mod({kOneBody}), "function and code section have inconsistent lengths"));
  EXPECT_TRUE(
      Malformed(Mod({kOneType, two_funcs, kOneBody}), "function and code section have inconsistent lengths"));
  MustDecode(Mod({Section(3, Vec({}))}));
  MustDecode(Mod({Section(10, Vec({}))}));
}

TEST(DecoderTest, DataCount) {
  Bytes two_passive = Section(11, Vec({B({0x01, 0x00}), B({0x01, 0x00})}));
  EXPECT_TRUE(Malformed(Mod({Section(12, Leb(3)), two_passive}),
                        "data count and data section have inconsistent lengths"));
  EXPECT_TRUE(Malformed(Mod({Section(12, Leb(1)), two_passive}),
                        "data count and data section have inconsistent lengths"));
  EXPECT_TRUE(Malformed(Mod({Section(12, Leb(1))}), "data count and data section have inconsistent lengths"));
  ModuleInfo m = MustDecode(Mod({Section(12, Leb(2)), two_passive}));
  EXPECT_EQ(m.data_count, 2u);
  m = MustDecode(Mod({Section(12, Leb(0))}));
  EXPECT_EQ(m.data_count, 0u);
  m = MustDecode(Mod({two_passive}));
  EXPECT_FALSE(m.data_count.has_value());
}

// ---- Function bodies ----

Bytes CodeWith(const Bytes& entry) { return Mod({kOneType, kOneFunc, Section(10, Vec({entry}))}); }

TEST(DecoderTest, Locals) {
  // Local counts can be zero.
  ModuleInfo m = MustDecode(CodeWith(B({0x08, 0x03, 0x00, I32, 0x00, I64, 0x02, F32, END})));
  ASSERT_EQ(m.code[0].locals.size(), 3u);
  EXPECT_EQ(m.code[0].locals[2].count, 2u);
  EXPECT_EQ(m.code[0].body_end - m.code[0].body_begin, 1u);
  // At most 2^32 - 1 locals in total.
  MustDecode(CodeWith(B({0x08, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, I32, END})));
  EXPECT_TRUE(Malformed(CodeWith(B({0x0A, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, I32, 0x02, I64, END})),
                        "too many locals"));
  EXPECT_TRUE(
      Malformed(CodeWith(B({0x1A, 0x04, 0x80, 0x80, 0x80, 0x80, 0x04, I32,  0x80, 0x80, 0x80, 0x80, 0x04, I64,
                            0x80, 0x80, 0x80, 0x80, 0x04, F32,  0x80, 0x80, 0x80, 0x80, 0x04, F64,  END})),
                "too many locals"));
  EXPECT_TRUE(Malformed(CodeWith(B({0x0A, 0x02, 0x80, 0x80, 0x80, 0x80, 0x10, I32, 0x02, I64, END})),
                        "integer too large"));
  EXPECT_TRUE(Malformed(CodeWith(B({0x04, 0x01, 0x01, 0x40, END})), "malformed value type"));
  // Locals running past the end of their entry.
  EXPECT_TRUE(Malformed(CodeWith(B({0x02, 0x01, 0x01, I32})), "section size mismatch"));
}

TEST(DecoderTest, BodiesAreNotDecoded) {
  // Instructions (even bad ones) are the compiler's business; only the entry size frames them.
  ModuleInfo m = MustDecode(CodeWith(B({0x04, 0x00, 0xFF, 0xFE, 0x41})));
  EXPECT_EQ(m.code[0].body_end - m.code[0].body_begin, 3u);
  m = MustDecode(CodeWith(B({0x01, 0x00})));  // empty body, no `end`: the compiler reports it
  EXPECT_EQ(m.code[0].body_begin, m.code[0].body_end);
  // An entry size past the end of the binary.
  EXPECT_TRUE(
      Malformed(Mod({kOneType, kOneFunc, Section(10, B({0x01, 0x84, 0x00, 0x00, END}))}), "unexpected end"));
  EXPECT_TRUE(
      Malformed(Mod({kOneType, kOneFunc, Section(10, B({0x01, 0x05, 0x00, END}))}), "length out of bounds"));
}

// ---- The name section ----

TEST(DecoderTest, MalformedNameSectionIsIgnored) {
  auto names = [](const Bytes& payload) {
    return MustDecode(Mod({kOneType, kOneFunc, kOneBody, Section(0, Str("name") + payload)}));
  };
  ModuleInfo ok = names(Section(1, Vec({Leb(0) + Str("f")})));
  EXPECT_EQ(ok.function_names.at(0), "f");

  for (const Bytes& bad : {
           Section(1, Vec({Leb(0) + Str("\xFF")})),                      // bad UTF-8
           Section(1, B({0x05, 0x00, 0x01, 'f'})),                       // count too large
           Section(0, Str("m")) + B({0x01, 0x10, 0x01}),                 // subsection size too large
           Section(1, Vec({Leb(0) + Str("f")})) + Section(0, Str("m")),  // out of order
           Section(0, Str("m") + B({0x00})),                             // trailing bytes
           B({0x00}),                                                    // truncated subsection header
       }) {
    ModuleInfo m = names(bad);
    EXPECT_TRUE(m.module_name.empty());
    EXPECT_TRUE(m.function_names.empty());
    ASSERT_EQ(m.customs.size(), 1u);
    EXPECT_EQ(m.customs[0].name, "name");
  }
}

// ---- types.cc ----

TEST(TypesTest, Names) {
  EXPECT_STREQ(ValTypeName(ValType::I32), "i32");
  EXPECT_STREQ(ValTypeName(ValType::I64), "i64");
  EXPECT_STREQ(ValTypeName(ValType::F32), "f32");
  EXPECT_STREQ(ValTypeName(ValType::F64), "f64");
  EXPECT_STREQ(ValTypeName(ValType::V128), "v128");
  EXPECT_STREQ(ValTypeName(ValType::FuncRef), "funcref");
  EXPECT_STREQ(ValTypeName(ValType::ExternRef), "externref");
  EXPECT_STREQ(ExternKindName(ExternKind::Func), "func");
  EXPECT_STREQ(ExternKindName(ExternKind::Table), "table");
  EXPECT_STREQ(ExternKindName(ExternKind::Memory), "memory");
  EXPECT_STREQ(ExternKindName(ExternKind::Global), "global");
  EXPECT_EQ(FuncTypeString(FuncType{}), "() -> ()");
  EXPECT_EQ(FuncTypeString(FuncType{{ValType::I32, ValType::I64}, {ValType::F32}}), "(i32, i64) -> (f32)");
}

}  // namespace
}  // namespace wasmq::wasm
