// Tests of host functions bound from shared definitions (HostFuncDef + HostContext::data()) and of
// import resolvers (Imports::AddResolver): the cheap per-instance binding WASI uses.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "wasm/wasm.h"

namespace wasmq::wasm {
namespace {

// (module (import "env" "add" (func (param i32) (result i32)))
//         (func (export "run") (param i32) (result i32) local.get 0 call 0))
const std::vector<uint8_t> kModule = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,                    // header
    0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f,                    // type 0: (i32) -> i32
    0x02, 0x0b, 0x01, 0x03, 'e', 'n', 'v', 0x03, 'a', 'd', 'd', 0x00, 0x00,  // import env.add
    0x03, 0x02, 0x01, 0x00,                                            // func 1: type 0
    0x07, 0x07, 0x01, 0x03, 'r', 'u', 'n', 0x00, 0x01,                 // export run
    0x0a, 0x08, 0x01, 0x06, 0x00, 0x20, 0x00, 0x10, 0x00, 0x0b,        // local.get 0; call 0
};

// Adds the int its data points to.
Result<void> AddData(HostContext& ctx, uint64_t* slots) {
  slots[0] = static_cast<uint32_t>(slots[0] + static_cast<uint32_t>(*static_cast<int*>(ctx.data())));
  return {};
}

const HostFuncDef& AddDef() {
  static const HostFuncDef def(FuncType{{ValType::I32}, {ValType::I32}}, &AddData, "env.add");
  return def;
}

TEST(HostFuncDef, EachBindingSeesItsOwnData) {
  Engine engine;
  auto module = Module::Compile(engine, kModule);
  ASSERT_TRUE(module.ok()) << module.error().message;
  int ten = 10, hundred = 100;
  Store a(engine), b(engine);
  Imports ia, ib;
  ia.Add("env", "add", Extern{ExternKind::Func, a.NewHostFunc(AddDef(), &ten)});
  ib.Add("env", "add", Extern{ExternKind::Func, b.NewHostFunc(AddDef(), &hundred)});
  auto inst_a = a.Instantiate(**module, ia);
  auto inst_b = b.Instantiate(**module, ib);
  ASSERT_TRUE(inst_a.ok() && inst_b.ok());
  auto ra = a.Call(inst_a->GetFunc("run"), {Value::I32(1)});
  auto rb = b.Call(inst_b->GetFunc("run"), {Value::I32(1)});
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ((*ra)[0].i32(), 11);
  EXPECT_EQ((*rb)[0].i32(), 101);
  EXPECT_EQ(GetFuncType(ia.Find("env", "add")->func()), AddDef().type);
}

TEST(HostFuncDef, ATypeMismatchIsUnlinkable) {
  static const HostFuncDef wrong(FuncType{{ValType::I64}, {ValType::I32}}, &AddData, "env.add");
  Engine engine;
  auto module = Module::Compile(engine, kModule);
  ASSERT_TRUE(module.ok());
  Store store(engine);
  int one = 1;
  Imports imports;
  imports.Add("env", "add", Extern{ExternKind::Func, store.NewHostFunc(wrong, &one)});
  auto inst = store.Instantiate(**module, imports);
  ASSERT_FALSE(inst.ok());
  EXPECT_EQ(inst.error().kind, ErrorKind::Unlinkable);
}

TEST(Imports, ResolverIsAskedOnlyForWhatAddDoesNotName) {
  Engine engine;
  auto module = Module::Compile(engine, kModule);
  ASSERT_TRUE(module.ok());
  Store store(engine);
  int seven = 7;
  std::vector<std::string> asked;
  Imports imports;
  imports.AddResolver("env", [&](std::string_view name) -> Extern {
    asked.emplace_back(name);
    if (name != "add") return {};
    return Extern{ExternKind::Func, store.NewHostFunc(AddDef(), &seven)};
  });
  EXPECT_EQ(imports.Find("other", "add"), nullptr);
  EXPECT_EQ(imports.Find("env", "missing"), nullptr);
  auto inst = store.Instantiate(**module, imports);
  ASSERT_TRUE(inst.ok()) << inst.error().message;
  EXPECT_EQ(asked, (std::vector<std::string>{"missing", "add"}));
  auto r = store.Call(inst->GetFunc("run"), {Value::I32(1)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].i32(), 8);

  // An explicit entry wins over the resolver.
  int zero = 0;
  imports.Add("env", "add", Extern{ExternKind::Func, store.NewHostFunc(AddDef(), &zero)});
  asked.clear();
  auto inst2 = store.Instantiate(**module, imports);
  ASSERT_TRUE(inst2.ok());
  EXPECT_TRUE(asked.empty());
  auto r2 = store.Call(inst2->GetFunc("run"), {Value::I32(1)});
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ((*r2)[0].i32(), 1);
}

}  // namespace
}  // namespace wasmq::wasm
