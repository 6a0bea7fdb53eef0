# cmake -DWAT=module.wat -DMINOR=N -P set_abi_version.cmake: gives the ABI version globals of a policy test
# module (opa_abi.h) their values, 1 and N, as immutable globals. clang 14 emits them as mutable globals
# initialised to 0, and a C initialiser cannot change that; hosts read them right after instantiation.
file(READ "${WAT}" text)
foreach(pair "opa_wasm_abi_version;1" "opa_wasm_abi_minor_version;${MINOR}")
  list(GET pair 0 name)
  list(GET pair 1 value)
  set(from "(global $${name} (mut i32) (i32.const 0))")
  string(FIND "${text}" "${from}" at)
  if(at LESS 0)
    message(FATAL_ERROR "${WAT}: no '${from}' to set (did the compiler change how it emits globals?)")
  endif()
  string(REPLACE "${from}" "(global $${name} i32 (i32.const ${value}))" text "${text}")
endforeach()
file(WRITE "${WAT}" "${text}")
