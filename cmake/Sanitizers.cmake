# ASan + UBSan for the whole build when WASMQ_SANITIZE is on. UBSan aborts on the first report so that a
# test run cannot pass with undefined behaviour in it.
if(WASMQ_SANITIZE)
  set(_san -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_compile_options(${_san})
  add_link_options(${_san})
endif()

# libFuzzer (WASMQ_FUZZ, clang only): every target gets coverage instrumentation, and fuzz/ declares its
# fuzzers with wasmq_fuzzer(). Combine with WASMQ_SANITIZE so that a fuzzer finds memory errors and UB,
# not only crashes.
if(WASMQ_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "WASMQ_FUZZ needs clang's libFuzzer: configure with CC=clang CXX=clang++")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# wasmq_fuzzer(name source.cc lib...): a libFuzzer binary `name` built from one source file that defines
# LLVMFuzzerTestOneInput, linked against the given part libraries.
function(wasmq_fuzzer name source)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE ${ARGN})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  wasmq_warnings(${name})
endfunction()
