// File: src/wasm/jit/object_load.cc
//
// Loads the relocatable object the compiler emits (ELF64, x86-64, position-independent, small code model)
// into executable memory, without LLVM: a cached compiled module starts in microseconds, and a process
// that only runs cached modules never maps libLLVM (~45 ms, and ~100 MB of address space).
//
// What such an object holds is small and regular: .text, constant pools (.rodata.cst*), maybe .rodata,
// .data or .bss, and RELA relocations against them and against the helpers compiled code calls. One
// mapping holds the sections, a stub per external function (an indirect jump, because the helpers live in
// the executable, further than a 32-bit displacement reaches) and a GOT slot per external symbol loaded
// through the GOT. Unwind tables (.eh_frame) are left out: no unwinder ever walks compiled frames (a trap
// siglongjmps over them). Anything the object holds that this loader does not know is an error, and the
// caller compiles again (or reports it), never runs half-relocated code.
#include <dlfcn.h>
#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <unordered_map>

#include "wasm/jit/jit.h"

namespace wasmq::wasm {

namespace {

constexpr size_t kStubBytes = 16;  // jmp *0(%rip) (6 bytes), then the 8-byte target, padded

size_t AlignUp(size_t v, size_t a) { return a <= 1 ? v : (v + a - 1) / a * a; }

Error Bad(const std::string& what) { return MakeError(ErrorKind::Resource, "compiled object: " + what); }

struct Mapping {
  uint8_t* base = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (base != nullptr) munmap(base, size);
  }
};

}  // namespace

Result<std::shared_ptr<const JitCode>> LoadJitObject(std::string_view object, size_t num_funcs,
                                                     const JitSymbols& helpers) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(object.data());
  const size_t size = object.size();
  auto in_file = [&](uint64_t off, uint64_t len) { return off <= size && len <= size - off; };
  if (size < sizeof(Elf64_Ehdr) || std::memcmp(bytes, ELFMAG, SELFMAG) != 0) return Bad("not ELF");
  Elf64_Ehdr eh;
  std::memcpy(&eh, bytes, sizeof eh);
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_type != ET_REL ||
      eh.e_machine != EM_X86_64 || eh.e_shentsize != sizeof(Elf64_Shdr) ||
      !in_file(eh.e_shoff, uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr)))
    return Bad("not an x86-64 relocatable object");
  std::vector<Elf64_Shdr> sh(eh.e_shnum);
  std::memcpy(sh.data(), bytes + eh.e_shoff, sh.size() * sizeof(Elf64_Shdr));
  for (const Elf64_Shdr& s : sh)
    if (s.sh_type != SHT_NOBITS && !in_file(s.sh_offset, s.sh_size)) return Bad("section out of the file");

  // The symbol table and its strings.
  const Elf64_Shdr* symtab = nullptr;
  for (const Elf64_Shdr& s : sh)
    if (s.sh_type == SHT_SYMTAB) symtab = &s;
  if (symtab == nullptr || symtab->sh_link >= sh.size() || symtab->sh_entsize != sizeof(Elf64_Sym))
    return Bad("no symbol table");
  const Elf64_Shdr& strtab = sh[symtab->sh_link];
  const size_t nsyms = symtab->sh_size / sizeof(Elf64_Sym);
  auto sym = [&](size_t i) {
    Elf64_Sym s;
    std::memcpy(&s, bytes + symtab->sh_offset + i * sizeof(Elf64_Sym), sizeof s);
    return s;
  };
  auto name_of = [&](const Elf64_Sym& s) -> std::string_view {
    if (s.st_name >= strtab.sh_size) return {};
    const char* p = reinterpret_cast<const char*>(bytes + strtab.sh_offset + s.st_name);
    return std::string_view(p, strnlen(p, strtab.sh_size - s.st_name));
  };

  // The external symbols: the helpers by name, anything else (memcpy, memset, ...) from the process.
  std::unordered_map<std::string_view, void*> helper_addr;
  for (const auto& [name, address] : helpers) helper_addr[name] = address;
  std::vector<void*> ext_addr(nsyms, nullptr);
  std::vector<size_t> ext_index(nsyms, SIZE_MAX);
  size_t num_ext = 0;
  for (size_t i = 1; i < nsyms; ++i) {
    Elf64_Sym s = sym(i);
    if (s.st_shndx != SHN_UNDEF) continue;
    std::string_view name = name_of(s);
    auto it = helper_addr.find(name);
    void* address = it != helper_addr.end() ? it->second : dlsym(RTLD_DEFAULT, std::string(name).c_str());
    if (address == nullptr) return Bad("unresolved symbol " + std::string(name));
    ext_addr[i] = address;
    ext_index[i] = num_ext++;
  }

  // Layout: [executable sections][a stub per external symbol] then, from the next page, [the other
  // sections][a GOT slot per external symbol]. Unwind tables are left out.
  const Elf64_Shdr& shstr = sh[eh.e_shstrndx < sh.size() ? eh.e_shstrndx : 0];
  auto section_name = [&](const Elf64_Shdr& s) -> std::string_view {
    if (s.sh_name >= shstr.sh_size) return {};
    const char* p = reinterpret_cast<const char*>(bytes + shstr.sh_offset + s.sh_name);
    return std::string_view(p, strnlen(p, shstr.sh_size - s.sh_name));
  };
  auto loaded = [&](const Elf64_Shdr& s) {
    return (s.sh_flags & SHF_ALLOC) != 0 && s.sh_type != SHT_X86_64_UNWIND && s.sh_size != 0 &&
           section_name(s) != ".eh_frame";
  };
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<size_t> where(sh.size(), SIZE_MAX);
  size_t end = 0, exec_end = 0, stubs_start = 0, data_start = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < sh.size(); ++i) {
      const Elf64_Shdr& s = sh[i];
      if (!loaded(s) || ((s.sh_flags & SHF_EXECINSTR) != 0) != (pass == 0)) continue;
      if (s.sh_type != SHT_PROGBITS && s.sh_type != SHT_NOBITS) return Bad("unknown section type");
      end = AlignUp(end, std::max<uint64_t>(s.sh_addralign, 1));
      where[i] = end;
      end += s.sh_size;
    }
    if (pass == 0) {
      exec_end = end;
      stubs_start = AlignUp(end, kStubBytes);
      data_start = AlignUp(stubs_start + num_ext * kStubBytes, page);
      end = data_start;
    }
  }
  const size_t got_start = AlignUp(end, 8);
  const size_t total = AlignUp(got_start + num_ext * 8, page);
  auto stub_of = [&](size_t i) { return stubs_start + ext_index[i] * kStubBytes; };
  auto got_of = [&](size_t i) { return got_start + ext_index[i] * 8; };

  auto map = std::make_shared<Mapping>();
  void* mem = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return MakeError(ErrorKind::Resource, "compiled object: out of address space");
  map->base = static_cast<uint8_t*>(mem);
  map->size = total;
  uint8_t* base = map->base;
  for (size_t i = 0; i < sh.size(); ++i)
    if (where[i] != SIZE_MAX && sh[i].sh_type == SHT_PROGBITS)
      std::memcpy(base + where[i], bytes + sh[i].sh_offset, sh[i].sh_size);
  for (size_t i = 1; i < nsyms; ++i) {
    if (ext_index[i] == SIZE_MAX) continue;
    uint8_t* stub = base + stub_of(i);
    static constexpr uint8_t kJmp[6] = {0xFF, 0x25, 0, 0, 0, 0};  // jmp *0(%rip): the address follows
    std::memcpy(stub, kJmp, sizeof kJmp);
    auto target = reinterpret_cast<uint64_t>(ext_addr[i]);
    std::memcpy(stub + 6, &target, 8);
    std::memcpy(base + got_of(i), &target, 8);
  }

  // The address of symbol `i` (S of the relocation formulas), and where a call to it may go (a stub when
  // the symbol is external).
  auto sym_addr = [&](size_t i, bool call, uint64_t* out) -> bool {
    if (i >= nsyms) return false;
    Elf64_Sym s = sym(i);
    if (s.st_shndx == SHN_UNDEF) {
      *out = call ? reinterpret_cast<uint64_t>(base + stub_of(i)) : reinterpret_cast<uint64_t>(ext_addr[i]);
      return true;
    }
    if (s.st_shndx == SHN_ABS) {
      *out = s.st_value;
      return true;
    }
    if (s.st_shndx >= sh.size() || where[s.st_shndx] == SIZE_MAX) return false;
    *out = reinterpret_cast<uint64_t>(base + where[s.st_shndx]) + s.st_value;
    return true;
  };

  for (const Elf64_Shdr& rs : sh) {
    if (rs.sh_type == SHT_REL) return Bad("REL relocations");
    if (rs.sh_type != SHT_RELA || rs.sh_info >= sh.size() || where[rs.sh_info] == SIZE_MAX) continue;
    if (rs.sh_entsize != sizeof(Elf64_Rela)) return Bad("bad relocation section");
    const Elf64_Shdr& target = sh[rs.sh_info];
    for (size_t k = 0; k < rs.sh_size / sizeof(Elf64_Rela); ++k) {
      Elf64_Rela r;
      std::memcpy(&r, bytes + rs.sh_offset + k * sizeof r, sizeof r);
      const uint32_t type = ELF64_R_TYPE(r.r_info);
      const size_t si = ELF64_R_SYM(r.r_info);
      const uint64_t width = (type == R_X86_64_64 || type == R_X86_64_PC64) ? 8 : 4;
      if (r.r_offset > target.sh_size || width > target.sh_size - r.r_offset) return Bad("relocation out of its section");
      uint8_t* at = base + where[rs.sh_info] + r.r_offset;
      const auto place = reinterpret_cast<uint64_t>(at);
      uint64_t s = 0;
      int64_t value = 0;
      switch (type) {
        case R_X86_64_NONE: continue;
        case R_X86_64_64:
          if (!sym_addr(si, false, &s)) return Bad("bad symbol");
          value = static_cast<int64_t>(s + r.r_addend);
          std::memcpy(at, &value, 8);
          continue;
        case R_X86_64_PC64:
          if (!sym_addr(si, false, &s)) return Bad("bad symbol");
          value = static_cast<int64_t>(s + r.r_addend - place);
          std::memcpy(at, &value, 8);
          continue;
        case R_X86_64_PC32:
        case R_X86_64_PLT32:
          if (!sym_addr(si, type == R_X86_64_PLT32 || sym(si).st_shndx == SHN_UNDEF, &s)) return Bad("bad symbol");
          value = static_cast<int64_t>(s + r.r_addend - place);
          break;
        case R_X86_64_GOTPCREL:
        case R_X86_64_GOTPCRELX:
        case R_X86_64_REX_GOTPCRELX: {
          if (si >= nsyms) return Bad("bad symbol");
          uint64_t slot;
          if (ext_index[si] != SIZE_MAX) {
            slot = reinterpret_cast<uint64_t>(base + got_of(si));
          } else {
            return Bad("GOT reference to a defined symbol");
          }
          value = static_cast<int64_t>(slot + r.r_addend - place);
          break;
        }
        default: return Bad("relocation type " + std::to_string(type));
      }
      if (value != static_cast<int32_t>(value)) return Bad("relocation out of range");
      const auto v32 = static_cast<int32_t>(value);
      std::memcpy(at, &v32, 4);
    }
  }

  // The functions, by name.
  std::unordered_map<std::string_view, uint64_t> defined;
  for (size_t i = 1; i < nsyms; ++i) {
    Elf64_Sym s = sym(i);
    if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_shndx == SHN_UNDEF) continue;
    uint64_t address;
    if (!sym_addr(i, false, &address)) return Bad("function in an unloaded section");
    defined[name_of(s)] = address;
  }
  auto code = std::make_shared<JitCode>();
  for (size_t i = 0; i < num_funcs; ++i) {
    auto it = defined.find(JitFuncSymbol(i));
    if (it == defined.end()) return Bad("missing " + JitFuncSymbol(i));
    code->funcs.push_back(reinterpret_cast<JitFn>(it->second));
  }

  if (mprotect(base, data_start, PROT_READ | PROT_EXEC) != 0)
    return MakeError(ErrorKind::Resource, "compiled object: cannot make code executable");
  code->owner = std::move(map);
  code->code_bytes = exec_end;
  return std::shared_ptr<const JitCode>(std::move(code));
}

}  // namespace wasmq::wasm
