# ASan + UBSan for the whole build when WASMQ_SANITIZE is on (and always for WASMQ_FUZZ, so that a fuzzer
# finds memory errors and undefined behaviour, not only crashes). UBSan aborts on the first report so that
# a test run cannot pass with undefined behaviour in it.
if(WASMQ_SANITIZE OR WASMQ_FUZZ)
  set(_san -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_compile_options(${_san})
  add_link_options(${_san})
endif()

# libFuzzer (WASMQ_FUZZ, clang only): every target gets libFuzzer's coverage instrumentation; each fuzz
# target in fuzz/ links libFuzzer's main with -fsanitize=fuzzer.
if(WASMQ_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "WASMQ_FUZZ needs clang's libFuzzer: configure with CC=clang CXX=clang++")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
