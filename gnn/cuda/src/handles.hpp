// Library handles (one per process, created on first use; shared by threads, so threads that
// run on different streams at once must not share them) and status checks for the CUDA
// runtime, cuBLAS and cuSPARSE: a failed call becomes gearbox::Error::runtime naming it.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusparse.h>

namespace gearbox::gnn::cuda::detail {

void check_cuda(cudaError_t e, const char* what);
void check_cublas(cublasStatus_t s, const char* what);
void check_cusparse(cusparseStatus_t s, const char* what);

// Set to this thread's current stream (launch.hpp) on every call.
cublasHandle_t cublas_handle();
cusparseHandle_t cusparse_handle();

// Multiprocessor count of device 0 (132 when it cannot be read).
int sm_count();

}  // namespace gearbox::gnn::cuda::detail
