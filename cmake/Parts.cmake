# wasmq_part(TARGET PART PUBLIC_HEADERS h...): the include layout that keeps a part's internals its own.
#
# Every part is a library under src/PART/. Other code includes it as "PART/x.h", but only the headers named
# here can be found that way from outside: they are linked into BUILD/parts/PART/public/PART/, which is the
# one include directory the library gives to what links it. The part's own sources reach all of
# src/PART/ through BUILD/parts/PART/private/PART (a link to the folder), which stays private. So an include
# of another part's internal header is a compile error, not a review comment. A public header may include
# only public headers (of its own part or of parts it links): list the ones it pulls in.
#
# Tests, benchmarks and fuzzers (outside src/) look inside parts on purpose: their CMakeLists put the whole
# src/ tree on their include path.
function(wasmq_part target part)
  cmake_parse_arguments(P "" "" "PUBLIC_HEADERS" ${ARGN})
  set(root ${PROJECT_BINARY_DIR}/parts/${part})
  file(REMOVE_RECURSE ${root})
  file(MAKE_DIRECTORY ${root}/public/${part} ${root}/private)
  foreach(h IN LISTS P_PUBLIC_HEADERS)
    if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${h})
      message(FATAL_ERROR "wasmq_part(${part}): no public header ${h} in ${CMAKE_CURRENT_SOURCE_DIR}")
    endif()
    file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR}/${h} ${root}/public/${part}/${h} SYMBOLIC)
  endforeach()
  file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR} ${root}/private/${part} SYMBOLIC)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(${target} INTERFACE ${root}/public)
  else()
    target_include_directories(${target} BEFORE PRIVATE ${root}/private)
    target_include_directories(${target} PUBLIC ${root}/public)
  endif()
endfunction()
