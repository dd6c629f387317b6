# Compiler settings shared by every mailsim target.
add_library(mailsim_options INTERFACE)
target_compile_options(mailsim_options INTERFACE -Wall -Wextra -Wpedantic -Wnon-virtual-dtor)
# GCC 12 reports Asio's coroutine frame allocator as mismatched new/delete (a
# false positive: the frame's class-specific operator new and delete do match).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(mailsim_options INTERFACE -Wshadow=local -Wno-mismatched-new-delete)
else()
  target_compile_options(mailsim_options INTERFACE -Wshadow)
endif()
if(MAILSIM_WERROR)
  target_compile_options(mailsim_options INTERFACE -Werror)
endif()
# libFuzzer builds instrument every library for coverage; the fuzz targets add
# the fuzzer's main themselves (tests/fuzz).
if(MAILSIM_FUZZ)
  target_compile_options(mailsim_options INTERFACE -fsanitize=fuzzer-no-link,address,undefined)
  target_link_options(mailsim_options INTERFACE -fsanitize=address,undefined)
endif()
if(MAILSIM_SANITIZE)
  set(_san -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_compile_options(mailsim_options INTERFACE ${_san})
  target_link_options(mailsim_options INTERFACE ${_san})
endif()

# mailsim_library(NAME SOURCES...) : a component library with the shared options.
function(mailsim_library name)
  add_library(${name} STATIC ${ARGN})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC mailsim_options)
endfunction()
