# WASMQ_GIT_COMMIT: the short commit the binary was built from. Outside a git checkout (a source tarball)
# it is "unknown" unless given on the command line: cmake -DWASMQ_GIT_COMMIT=<sha> ...
#
# The commit is read at configure time. So that `wasmq --version` does not go stale when HEAD moves, the
# files git updates on a commit or checkout become configure dependencies: the next build re-runs cmake.
if(DEFINED CACHE{WASMQ_GIT_COMMIT})
  return()
endif()

execute_process(COMMAND git rev-parse --short=12 HEAD
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR} OUTPUT_VARIABLE WASMQ_GIT_COMMIT
  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _git_rc)
if(NOT _git_rc EQUAL 0 OR WASMQ_GIT_COMMIT STREQUAL "")
  set(WASMQ_GIT_COMMIT "unknown")
endif()

execute_process(COMMAND git rev-parse --absolute-git-dir
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR} OUTPUT_VARIABLE _git_dir
  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _git_rc)
if(_git_rc EQUAL 0 AND IS_DIRECTORY "${_git_dir}")
  execute_process(COMMAND git symbolic-ref -q HEAD
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR} OUTPUT_VARIABLE _git_ref
    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  # HEAD moves on a checkout; the branch's ref file is replaced (and so its folder's mtime changes) on a
  # commit, also the first one. Only paths that exist: a missing one would re-run cmake on every build.
  get_filename_component(_git_ref_dir "${_git_ref}" DIRECTORY)
  foreach(_f HEAD packed-refs ${_git_ref} ${_git_ref_dir})
    if(EXISTS "${_git_dir}/${_f}")
      set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_git_dir}/${_f}")
    endif()
  endforeach()
endif()
