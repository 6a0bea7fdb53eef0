# wasmq_warnings(target): high warnings on project code only (never on third-party headers).
function(wasmq_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local -Wno-unused-parameter)
  if(WASMQ_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
