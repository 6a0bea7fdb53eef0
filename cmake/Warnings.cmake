# wasmq_warnings(target): high warnings on project code only (never on third-party headers).
# -Wshadow=local is GCC's; clang (the fuzz build) has no exact equivalent and gets the rest.
# With the sanitizers GCC reports -Wmaybe-uninitialized false positives (even inside libstdc++'s <regex>
# and <functional>; GCC's manual advises against -Werror with sanitizers): that one warning is off there.
function(wasmq_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-unused-parameter)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wshadow=local)
    if(WASMQ_SANITIZE OR WASMQ_FUZZ)
      target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
    endif()
  endif()
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # Locking is annotated (base/mutex.h, base/thread_annotations.h): a broken annotation fails every clang
    # build, the fuzz build included, whatever WASMQ_WERROR says.
    target_compile_options(${target} PRIVATE -Wthread-safety -Werror=thread-safety)
  endif()
  if(WASMQ_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
