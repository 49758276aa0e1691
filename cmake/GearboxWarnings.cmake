# gearbox_warnings: an interface target carrying the project's warning flags.
add_library(gearbox_warnings INTERFACE)
target_compile_options(gearbox_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wno-psabi
  # g++ 12 reports false -Wrestrict on std::string concatenation at -O2+ (GCC bug 105329).
  -Wno-restrict>)
if(GEARBOX_WERROR)
  target_compile_options(gearbox_warnings INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endif()
# Native code on the machine that builds it: kernels are vectorised for AVX2/FMA where present.
include(CheckCXXCompilerFlag)
check_cxx_compiler_flag(-march=native GEARBOX_HAS_MARCH_NATIVE)
if(GEARBOX_HAS_MARCH_NATIVE)
  target_compile_options(gearbox_warnings INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
endif()
