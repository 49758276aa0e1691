#include "gearbox/core/blas_kernels.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

extern "C" char* openblas_get_corename(void);

namespace gearbox {

std::string blas_core_name() {
  const char* name = openblas_get_corename();
  return name != nullptr ? name : "";
}

std::string blas_core_override() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return "";
  // Prescott is DYNAMIC_ARCH's fallback for an x86-64 CPU it does not know.
  if (strcasecmp(blas_core_name().c_str(), "prescott") != 0) return "";
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return "SKYLAKEX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "HASWELL";
  return "";
}

void reexec_for_blas_kernels(char** argv) {
  const std::string core = blas_core_override();
  if (core.empty() || argv == nullptr || argv[0] == nullptr) return;
  if (setenv("OPENBLAS_CORETYPE", core.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  // execv returned: it failed; keep running with the generic kernels. OPENBLAS_CORETYPE stays
  // set, so child processes of this one load OpenBLAS with the right kernels.
}

}  // namespace gearbox
