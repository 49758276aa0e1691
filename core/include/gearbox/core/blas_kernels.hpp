// OpenBLAS's kernel choice. Debian 12's OpenBLAS (0.3.21, DYNAMIC_ARCH) picks its kernels from
// the CPU model when the library loads; a CPU newer than its release (e.g. Xeon family 6 model
// 207, Emerald Rapids) is unknown to it and gets the generic Prescott (SSE3) kernels, whose
// sgemm is 4 to 5 times slower than the AVX-512 ones on the same core. The one documented way to
// choose is the OPENBLAS_CORETYPE environment variable, read only when the library loads.
#pragma once

#include <string>

namespace gearbox {

// The kernel family OpenBLAS uses in this process (its corename, e.g. "SkylakeX", "Prescott").
std::string blas_core_name();

// The OPENBLAS_CORETYPE this CPU should get when OpenBLAS fell back to its generic kernels
// although the CPU has AVX-512 (F, BW, DQ, VL: "SKYLAKEX") or AVX2 + FMA ("HASWELL"); empty
// when OpenBLAS recognised the CPU or OPENBLAS_CORETYPE is already set.
std::string blas_core_override();

// When blas_core_override() is not empty: sets OPENBLAS_CORETYPE to it and re-executes this
// program (/proc/self/exe with the same argv and environment) so that OpenBLAS loads with
// kernels for this CPU. Call first thing in main, before any thread starts. Returns only when
// nothing needs doing or the re-execution failed (the program then runs on the generic
// kernels: slower, same results).
void reexec_for_blas_kernels(char** argv);

}  // namespace gearbox
